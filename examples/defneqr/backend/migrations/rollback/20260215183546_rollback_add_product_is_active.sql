-- Rollback of 20260215183546_add_product_is_active.
-- AlterTable
ALTER TABLE "products" DROP COLUMN IF EXISTS "isActive";
