-- Rollback of 20260216092503_add_product_order.
-- AlterTable
ALTER TABLE "products" DROP COLUMN IF EXISTS "order";
