-- Rollback of 20260218121003_add_all_system_settings.
-- AlterTable
ALTER TABLE "system_settings" DROP COLUMN IF EXISTS "analyticsEnabled",
DROP COLUMN IF EXISTS "defaultCurrency",
DROP COLUMN IF EXISTS "defaultLanguage",
DROP COLUMN IF EXISTS "maxRestaurantsPerUser",
DROP COLUMN IF EXISTS "maxUploadSizeMb",
DROP COLUMN IF EXISTS "smtpFrom",
DROP COLUMN IF EXISTS "smtpHost",
DROP COLUMN IF EXISTS "smtpPort",
DROP COLUMN IF EXISTS "smtpUser",
DROP COLUMN IF EXISTS "supportEmail";
