-- AlterTable
ALTER TABLE "products" ALTER COLUMN "basePrice" DROP NOT NULL;
