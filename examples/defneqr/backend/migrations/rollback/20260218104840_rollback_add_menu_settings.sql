-- Rollback of 20260218104840_add_menu_settings.
-- AlterTable
ALTER TABLE "restaurants" DROP COLUMN IF EXISTS "menuSettings";
