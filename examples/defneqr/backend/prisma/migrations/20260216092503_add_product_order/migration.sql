-- AlterTable
ALTER TABLE "products" ADD COLUMN     "order" INTEGER NOT NULL DEFAULT 0;
