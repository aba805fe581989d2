-- Rollback of 20260218174944_add_plan_popular_and_extra_price.
-- AlterTable
ALTER TABLE "plans" DROP COLUMN IF EXISTS "extraRestaurantPrice",
DROP COLUMN IF EXISTS "isPopular";
