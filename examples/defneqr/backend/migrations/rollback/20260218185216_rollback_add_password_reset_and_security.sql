-- Rollback of 20260218185216_add_password_reset_and_security.
-- DropTable
DROP TABLE IF EXISTS "password_resets";

-- AlterTable
ALTER TABLE "users" DROP COLUMN IF EXISTS "failedLoginAttempts",
DROP COLUMN IF EXISTS "lastLoginAt",
DROP COLUMN IF EXISTS "lockedUntil",
DROP COLUMN IF EXISTS "passwordChangedAt";
