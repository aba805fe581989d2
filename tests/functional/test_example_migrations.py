"""The example project's 14 migrations and their rollback scripts on real servers."""
import os
import re

import pytest

import paths
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from conftest import tcp_params

MIGRATIONS = sorted(name for name in os.listdir(paths.MIGRATIONS)
                    if os.path.isdir(os.path.join(paths.MIGRATIONS, name)))

# The runbook's "Migration History" table, in order.
RUNBOOK_HISTORY = [
    '20260215174415_init', '20260215181912_make_base_price_optional', '20260215183546_add_product_is_active',
    '20260216092503_add_product_order', '20260216093851_add_system_settings', '20260216094257_add_menu_scans',
    '20260216095939_add_tables', '20260218104840_add_menu_settings', '20260218121003_add_all_system_settings',
    '20260218173844_add_plans_and_subscriptions', '20260218174944_add_plan_popular_and_extra_price',
    '20260218185216_add_password_reset_and_security', '20260218190130_add_refresh_token_and_blacklist',
    '20260218193213_add_performance_indexes',
]

# Every index the runbook's rollback script for add_performance_indexes names.
RUNBOOK_INDEXES = """
users_role_idx users_isDeleted_idx users_createdAt_idx users_email_isDeleted_idx
restaurants_ownerId_idx restaurants_isDeleted_idx restaurants_createdAt_idx restaurants_slug_isDeleted_idx
categories_restaurantId_idx categories_isGlobal_idx categories_isDeleted_idx categories_order_idx
categories_restaurantId_isDeleted_isGlobal_idx products_categoryId_idx products_restaurantId_idx
products_isGlobal_idx products_isActive_idx products_isDeleted_idx products_order_idx
products_restaurantId_categoryId_isDeleted_idx products_isGlobal_isActive_isDeleted_idx
orders_restaurantId_idx orders_tableId_idx orders_waiterId_idx orders_status_idx orders_isDeleted_idx
orders_createdAt_idx orders_restaurantId_status_isDeleted_idx orders_tableId_status_idx
payments_restaurantId_idx payments_orderId_idx payments_status_idx payments_isDeleted_idx
payments_createdAt_idx payments_restaurantId_status_isDeleted_idx
stocks_restaurantId_idx stocks_productId_idx stocks_isDeleted_idx stocks_quantity_idx
""".split()


def rollback_script(migration):
    stamp, name = migration.split('_', 1)
    return os.path.join(paths.ROLLBACKS, '%s_rollback_%s.sql' % (stamp, name))


class Database:
    """psql and pg_dump on one database as the application role, through the connection layer."""

    def __init__(self, cluster, name):
        self.params = tcp_params(cluster, login_db=name)
        self.psql_bin = postgres.find_program('psql', cluster.bin_dir)
        self.pg_dump_bin = postgres.find_program('pg_dump', cluster.bin_dir)

    def run_file(self, path):
        with postgres.client_environment(self.params) as env:
            programs.run([self.psql_bin, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', path], env)

    def schema(self):
        with postgres.client_environment(self.params) as env:
            out = programs.run([self.pg_dump_bin, '--schema-only', '--no-owner'], env).stdout.decode()
        # Version banners and pg_dump 18's random \restrict keys differ between runs.
        return '\n'.join(line for line in out.splitlines()
                         if not line.startswith(('--', '\\restrict', '\\unrestrict')) and line.strip())


def test_migrations_are_the_runbooks_fourteen():
    assert MIGRATIONS == RUNBOOK_HISTORY
    with open(os.path.join(paths.MIGRATIONS, 'migration_lock.toml'), encoding='utf-8') as stream:
        assert 'provider = "postgresql"' in stream.read()
    for migration in MIGRATIONS:
        assert os.path.isfile(rollback_script(migration)), migration


def test_all_migrations_apply_in_order_and_create_the_runbooks_indexes(pg, fresh_db):
    db = Database(pg, fresh_db)
    for migration in MIGRATIONS:
        db.run_file(os.path.join(paths.MIGRATIONS, migration, 'migration.sql'))
    conn = postgres.connect(db.params)
    present = set(row['indexname'] for row in postgres.query(
        conn, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"))
    missing = sorted(set(RUNBOOK_INDEXES) - present)
    assert missing == []
    assert len(RUNBOOK_INDEXES) == 39


def test_each_rollback_restores_the_previous_schema_exactly(pg, fresh_db):
    db = Database(pg, fresh_db)
    for migration in MIGRATIONS:
        before = db.schema()
        forward = os.path.join(paths.MIGRATIONS, migration, 'migration.sql')
        db.run_file(forward)
        after = db.schema()
        assert after != before, '%s changed nothing' % migration
        db.run_file(rollback_script(migration))
        assert db.schema() == before, 'rollback of %s left a different schema' % migration
        db.run_file(forward)


def test_last_rollback_drops_exactly_the_runbooks_indexes(pg, fresh_db):
    db = Database(pg, fresh_db)
    for migration in MIGRATIONS:
        db.run_file(os.path.join(paths.MIGRATIONS, migration, 'migration.sql'))
    db.run_file(rollback_script(MIGRATIONS[-1]))
    conn = postgres.connect(db.params)
    left = set(row['indexname'] for row in postgres.query(
        conn, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"))
    assert left & set(RUNBOOK_INDEXES) == set()
    assert 'menu_scans_restaurantId_scannedAt_idx' in left  # from an earlier migration: kept


@pytest.mark.parametrize('migration', RUNBOOK_HISTORY)
def test_migration_sql_is_in_prismas_style(migration):
    with open(os.path.join(paths.MIGRATIONS, migration, 'migration.sql'), encoding='utf-8') as stream:
        sql = stream.read()
    assert re.match(r'-- (Create|Alter|Add)', sql), 'Prisma starts each step with a -- comment'
    assert not re.search(r'CREATE (UNIQUE )?INDEX [a-z]', sql), 'index names must be quoted'
