-- AlterTable
ALTER TABLE "system_settings" ADD COLUMN     "analyticsEnabled" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "defaultCurrency" TEXT NOT NULL DEFAULT 'TRY',
ADD COLUMN     "defaultLanguage" TEXT NOT NULL DEFAULT 'tr',
ADD COLUMN     "maxRestaurantsPerUser" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "maxUploadSizeMb" INTEGER NOT NULL DEFAULT 5,
ADD COLUMN     "smtpFrom" TEXT,
ADD COLUMN     "smtpHost" TEXT,
ADD COLUMN     "smtpPort" INTEGER,
ADD COLUMN     "smtpUser" TEXT,
ADD COLUMN     "supportEmail" TEXT;
