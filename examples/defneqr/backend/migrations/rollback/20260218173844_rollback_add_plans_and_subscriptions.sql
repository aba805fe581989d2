-- Rollback of 20260218173844_add_plans_and_subscriptions.
-- DropTable
DROP TABLE IF EXISTS "subscriptions";
DROP TABLE IF EXISTS "plans";

-- DropEnum
DROP TYPE IF EXISTS "BillingPeriod";
DROP TYPE IF EXISTS "SubscriptionStatus";
