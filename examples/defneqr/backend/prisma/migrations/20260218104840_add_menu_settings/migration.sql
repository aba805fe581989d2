-- AlterTable
ALTER TABLE "restaurants" ADD COLUMN     "menuSettings" JSONB;
