#!/usr/bin/env bash
# The runbook's scripts/db-health-check.sh, as the operators run it today (seven psql processes).
# Kept verbatim in substance so that `make bench` compares pg_health with it.

DB_USER="${DB_USER:-postgres}"
DB_NAME="${DB_NAME:-dijitalmenu}"
DB_HOST="${DB_HOST:-localhost}"
PSQL="${PSQL:-psql}"

echo "=== Database Health Check ==="
"$PSQL" -U "$DB_USER" -h "$DB_HOST" -d "$DB_NAME" -c "SELECT pg_size_pretty(pg_database_size('$DB_NAME')) as size;"
"$PSQL" -U "$DB_USER" -h "$DB_HOST" -d "$DB_NAME" -c "
    SELECT schemaname || '.' || tablename as table_name,
        pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) as total_size,
        pg_size_pretty(pg_relation_size(schemaname||'.'||tablename)) as table_size,
        pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename) - pg_relation_size(schemaname||'.'||tablename)) as indexes_size
    FROM pg_tables WHERE schemaname = 'public'
    ORDER BY pg_total_relation_size(schemaname||'.'||tablename) DESC LIMIT 10;"
"$PSQL" -U "$DB_USER" -h "$DB_HOST" -d "$DB_NAME" -c "
    SELECT schemaname || '.' || relname as table_name, indexrelname, idx_scan as scans,
        pg_size_pretty(pg_relation_size(indexrelid)) as size
    FROM pg_stat_user_indexes WHERE schemaname = 'public' ORDER BY idx_scan DESC LIMIT 10;"
"$PSQL" -U "$DB_USER" -h "$DB_HOST" -d "$DB_NAME" -c "
    SELECT schemaname || '.' || relname as table_name, indexrelname,
        pg_size_pretty(pg_relation_size(indexrelid)) as size
    FROM pg_stat_user_indexes WHERE schemaname = 'public' AND idx_scan = 0
    ORDER BY pg_relation_size(indexrelid) DESC;"
"$PSQL" -U "$DB_USER" -h "$DB_HOST" -d "$DB_NAME" -c "
    SELECT datname, count(*) as connections, max(backend_start) as oldest_connection
    FROM pg_stat_activity WHERE datname = '$DB_NAME' GROUP BY datname;"
"$PSQL" -U "$DB_USER" -h "$DB_HOST" -d "$DB_NAME" -c "
    SELECT pid, now() - pg_stat_activity.query_start AS duration, query, state
    FROM pg_stat_activity
    WHERE (now() - pg_stat_activity.query_start) > interval '30 seconds' AND state != 'idle'
    ORDER BY duration DESC;"
"$PSQL" -U "$DB_USER" -h "$DB_HOST" -d "$DB_NAME" -c "
    SELECT schemaname || '.' || relname as table_name, n_live_tup as live_tuples, n_dead_tup as dead_tuples,
        round(n_dead_tup::numeric / NULLIF(n_live_tup + n_dead_tup, 0) * 100, 2) as dead_ratio
    FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY n_dead_tup DESC LIMIT 10;"
echo "=== Health Check Complete ==="
