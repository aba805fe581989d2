-- Rollback of 20260216093851_add_system_settings.
-- DropTable
DROP TABLE IF EXISTS "system_settings";
