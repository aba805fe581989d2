-- Rollback of 20260215181912_make_base_price_optional: basePrice becomes required again.
-- Products saved without a price since the migration cannot keep NULL: they get 0.00 and
-- stay visible in the menu with that price, so review them after the rollback:
--   SELECT id, name FROM "products" WHERE "basePrice" = 0;
UPDATE "products" SET "basePrice" = 0 WHERE "basePrice" IS NULL;

-- AlterTable
ALTER TABLE "products" ALTER COLUMN "basePrice" SET NOT NULL;
