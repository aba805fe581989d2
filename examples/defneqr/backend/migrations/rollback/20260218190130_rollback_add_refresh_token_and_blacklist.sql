-- Rollback of 20260218190130_add_refresh_token_and_blacklist.
-- DropTable
DROP TABLE IF EXISTS "token_blacklist";
DROP TABLE IF EXISTS "refresh_tokens";
