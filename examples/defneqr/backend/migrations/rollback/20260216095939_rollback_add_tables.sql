-- Rollback of 20260216095939_add_tables.
-- DropForeignKey
ALTER TABLE "orders" DROP CONSTRAINT IF EXISTS "orders_tableId_fkey";

-- AlterTable
ALTER TABLE "orders" DROP COLUMN IF EXISTS "tableId";

-- DropTable
DROP TABLE IF EXISTS "tables";
