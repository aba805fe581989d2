-- AlterTable
ALTER TABLE "plans" ADD COLUMN     "extraRestaurantPrice" DECIMAL(10,2),
ADD COLUMN     "isPopular" BOOLEAN NOT NULL DEFAULT false;
