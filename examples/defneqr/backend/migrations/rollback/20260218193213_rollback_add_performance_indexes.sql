-- File: migrations/rollback/20260218193213_rollback_add_performance_indexes.sql
-- Rollback of 20260218193213_add_performance_indexes: the runbook's list of DROP INDEX.
-- The names are quoted: Prisma created them with camelCase ("users_isDeleted_idx"), and an
-- unquoted name folds to lower case (users_isdeleted_idx), so the runbook's unquoted
-- "DROP INDEX IF EXISTS users_isDeleted_idx" silently drops nothing.

-- Users indexes
DROP INDEX IF EXISTS "users_role_idx";
DROP INDEX IF EXISTS "users_isDeleted_idx";
DROP INDEX IF EXISTS "users_createdAt_idx";
DROP INDEX IF EXISTS "users_email_isDeleted_idx";

-- Restaurants indexes
DROP INDEX IF EXISTS "restaurants_ownerId_idx";
DROP INDEX IF EXISTS "restaurants_isDeleted_idx";
DROP INDEX IF EXISTS "restaurants_createdAt_idx";
DROP INDEX IF EXISTS "restaurants_slug_isDeleted_idx";

-- Categories indexes
DROP INDEX IF EXISTS "categories_restaurantId_idx";
DROP INDEX IF EXISTS "categories_isGlobal_idx";
DROP INDEX IF EXISTS "categories_isDeleted_idx";
DROP INDEX IF EXISTS "categories_order_idx";
DROP INDEX IF EXISTS "categories_restaurantId_isDeleted_isGlobal_idx";

-- Products indexes
DROP INDEX IF EXISTS "products_categoryId_idx";
DROP INDEX IF EXISTS "products_restaurantId_idx";
DROP INDEX IF EXISTS "products_isGlobal_idx";
DROP INDEX IF EXISTS "products_isActive_idx";
DROP INDEX IF EXISTS "products_isDeleted_idx";
DROP INDEX IF EXISTS "products_order_idx";
DROP INDEX IF EXISTS "products_restaurantId_categoryId_isDeleted_idx";
DROP INDEX IF EXISTS "products_isGlobal_isActive_isDeleted_idx";

-- Orders indexes
DROP INDEX IF EXISTS "orders_restaurantId_idx";
DROP INDEX IF EXISTS "orders_tableId_idx";
DROP INDEX IF EXISTS "orders_waiterId_idx";
DROP INDEX IF EXISTS "orders_status_idx";
DROP INDEX IF EXISTS "orders_isDeleted_idx";
DROP INDEX IF EXISTS "orders_createdAt_idx";
DROP INDEX IF EXISTS "orders_restaurantId_status_isDeleted_idx";
DROP INDEX IF EXISTS "orders_tableId_status_idx";

-- Payments indexes
DROP INDEX IF EXISTS "payments_restaurantId_idx";
DROP INDEX IF EXISTS "payments_orderId_idx";
DROP INDEX IF EXISTS "payments_status_idx";
DROP INDEX IF EXISTS "payments_isDeleted_idx";
DROP INDEX IF EXISTS "payments_createdAt_idx";
DROP INDEX IF EXISTS "payments_restaurantId_status_isDeleted_idx";

-- Stocks indexes
DROP INDEX IF EXISTS "stocks_restaurantId_idx";
DROP INDEX IF EXISTS "stocks_productId_idx";
DROP INDEX IF EXISTS "stocks_isDeleted_idx";
DROP INDEX IF EXISTS "stocks_quantity_idx";
