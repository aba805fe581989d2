"""The data generator: deterministic, and usable at any point of the migration history."""
import sys

import pytest

import paths
from fingerprint import table_fingerprint
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations
from conftest import tcp_params

sys.path.insert(0, paths.EXAMPLE)
import generate_data  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order


def migrate_and_load(pg, database, target, scale=0.05):
    conn = postgres.connect(tcp_params(pg, login_db=database))
    prisma_migrations.deploy(conn, prisma_migrations.Project(paths.BACKEND), target=target)
    counts = generate_data.load(postgres.connect(tcp_params(pg, login_db=database), autocommit=False), scale,
                                log=lambda *a: None)
    return conn, counts


@pytest.mark.parametrize('target, absent', [
    ('20260215174415_init', ['tables', 'menu_scans', 'plans']),
    ('20260218174944_add_plan_popular_and_extra_price', []),
])
def test_loads_at_any_point_of_history(pg, fresh_db, target, absent):
    conn, counts = migrate_and_load(pg, fresh_db, target)
    assert counts['restaurants'] == 20 and counts['orders'] == 20 * 150
    assert counts['order_items'] > counts['orders']
    for table in absent:
        assert table not in counts
    totals = postgres.query(conn, 'SELECT (SELECT sum("totalAmount") FROM orders) AS orders, '
                                  '(SELECT sum("totalPrice") FROM order_items) AS items')[0]
    assert totals['orders'] == totals['items']  # every order's total is the sum of its items


def test_same_seed_same_rows_and_refuses_to_double_load(pg, fresh_db):
    twin = fresh_db + '_twin'
    pg.psql('DROP DATABASE IF EXISTS "%s"' % twin)
    pg.create_database(twin)
    try:
        first, _counts = migrate_and_load(pg, fresh_db, None)
        second, _counts = migrate_and_load(pg, twin, None)
        for table in ('users', 'restaurants', 'orders', 'payments', 'menu_scans'):
            assert table_fingerprint(first, table) == table_fingerprint(second, table), table
        with pytest.raises(SystemExit) as caught:
            generate_data.load(postgres.connect(tcp_params(pg, login_db=twin), autocommit=False), 0.05,
                               log=lambda *a: None)
        assert '--replace' in str(caught.value)
    finally:
        pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % twin)
