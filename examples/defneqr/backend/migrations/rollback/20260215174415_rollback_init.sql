-- Rollback of 20260215174415_init: removes the whole initial schema.
-- Run only on a database that holds no data worth keeping: every table of the app goes.

-- DropForeignKey (children first)
DROP TABLE IF EXISTS "stocks";
DROP TABLE IF EXISTS "payments";
DROP TABLE IF EXISTS "order_items";
DROP TABLE IF EXISTS "orders";
DROP TABLE IF EXISTS "products";
DROP TABLE IF EXISTS "categories";
DROP TABLE IF EXISTS "restaurants";
DROP TABLE IF EXISTS "users";

-- DropEnum
DROP TYPE IF EXISTS "PaymentMethod";
DROP TYPE IF EXISTS "PaymentStatus";
DROP TYPE IF EXISTS "OrderStatus";
DROP TYPE IF EXISTS "UserRole";
