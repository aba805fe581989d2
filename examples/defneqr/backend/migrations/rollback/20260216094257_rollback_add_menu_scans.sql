-- Rollback of 20260216094257_add_menu_scans: the QR analytics rows go with the table.
-- DropTable (its index and foreign key go with it)
DROP TABLE IF EXISTS "menu_scans";
