"""pg_health: each check driven into its states by a real situation on a real server."""
import os
import threading
import time

import pytest

import paths
import pgcluster
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations
from conftest import tcp_params
from modrun import run_module
from test_example_migrations import RUNBOOK_INDEXES, rollback_script


def health(pg, db, **options):
    args = dict(tcp_params(pg, login_db=db), fail_on='never')
    args.update(options)
    result = run_module('pg_health', args)
    assert 'checks' in result, result.get('msg')
    return result


def sql(pg, db, statement):
    return postgres.query(postgres.connect(tcp_params(pg, login_db=db)), statement)


def test_index_checks_find_unused_duplicate_invalid_and_unindexed_foreign_keys(pg, fresh_db):
    sql(pg, fresh_db, 'CREATE TABLE parent (id int PRIMARY KEY)')
    sql(pg, fresh_db, 'CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, a int, b int, '
                      'code int)')
    sql(pg, fresh_db, 'INSERT INTO child SELECT g, NULL, g % 10, g, g % 3 FROM generate_series(1, 1000) g')
    clean = health(pg, fresh_db, checks=['unused_indexes', 'duplicate_indexes', 'invalid_indexes',
                                         'missing_fk_indexes'], thresholds=dict(unused_indexes=dict(min_bytes=0)))
    assert clean['checks']['duplicate_indexes']['status'] == 'ok'
    assert clean['checks']['invalid_indexes']['status'] == 'ok'
    assert [r['foreign_key'] for r in clean['checks']['missing_fk_indexes']['rows']] == ['child_parent_id_fkey']
    sql(pg, fresh_db, 'CREATE INDEX child_a_idx ON child (a)')
    sql(pg, fresh_db, 'CREATE INDEX child_a_b_idx ON child (a, b)')
    sql(pg, fresh_db, 'CREATE INDEX child_parent_idx ON child (parent_id)')
    with pytest.raises(postgres.psycopg2.Error):
        sql(pg, fresh_db, 'CREATE UNIQUE INDEX CONCURRENTLY child_code_key ON child (code)')  # duplicates: fails
    found = health(pg, fresh_db, checks=['unused_indexes', 'duplicate_indexes', 'invalid_indexes',
                                         'missing_fk_indexes'], thresholds=dict(unused_indexes=dict(min_bytes=0)))
    checks = found['checks']
    assert checks['duplicate_indexes']['status'] == 'warning'
    assert [(r['index_name'], r['covered_by']) for r in checks['duplicate_indexes']['rows']] == [
        ('child_a_idx', 'child_a_b_idx')]
    assert checks['invalid_indexes']['status'] == 'warning'
    assert [r['index_name'] for r in checks['invalid_indexes']['rows']] == ['child_code_key']
    assert checks['missing_fk_indexes']['status'] == 'ok'
    assert set(r['index_name'] for r in checks['unused_indexes']['rows']) >= {'child_a_idx', 'child_a_b_idx'}
    assert 'DROP INDEX CONCURRENTLY' in checks['invalid_indexes']['fix']
    assert found['status'] == 'warning' and found['healthy'] is False


def test_sequence_near_its_int4_limit(pg, fresh_db):
    sql(pg, fresh_db, 'CREATE TABLE scans (id serial PRIMARY KEY)')
    assert health(pg, fresh_db, checks=['sequence_exhaustion'])['checks']['sequence_exhaustion']['status'] == 'ok'
    sql(pg, fresh_db, "SELECT setval('scans_id_seq', 1932735283)")  # 90 % of 2147483647
    check = health(pg, fresh_db, checks=['sequence_exhaustion'])['checks']['sequence_exhaustion']
    assert check['status'] == 'warning' and check['rows'][0]['column_type'] == 'integer'
    sql(pg, fresh_db, "SELECT setval('scans_id_seq', 2040109465)")  # 95 %
    assert health(pg, fresh_db, checks=['sequence_exhaustion'])['checks']['sequence_exhaustion']['status'] == \
        'critical'


def _in_background(pg, db, statements):
    conn = postgres.connect(tcp_params(pg, login_db=db), autocommit=False)

    def work():
        try:
            for statement in statements:
                postgres.query(conn, statement)
        except postgres.psycopg2.Error:
            pass
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return conn, thread


def test_long_query_idle_transaction_and_lock_wait(pg, fresh_db):
    sql(pg, fresh_db, 'CREATE TABLE menu (id int)')
    limits = dict(long_running_queries=dict(warning_seconds=1, critical_seconds=3),
                  idle_in_transaction=dict(warning_seconds=1, critical_seconds=3),
                  blocked_queries=dict(critical_seconds=3))
    names = ['long_running_queries', 'idle_in_transaction', 'blocked_queries']
    sleeper, _t1 = _in_background(pg, fresh_db, ['SELECT pg_sleep(6)'])
    idler, _t2 = _in_background(pg, fresh_db, ['SELECT 1'])  # then idle, transaction open
    locker = postgres.connect(tcp_params(pg, login_db=fresh_db), autocommit=False)
    postgres.query(locker, 'LOCK TABLE menu IN ACCESS EXCLUSIVE MODE')
    waiter, _t3 = _in_background(pg, fresh_db, ['SELECT * FROM menu'])
    try:
        time.sleep(1.6)
        early = health(pg, fresh_db, checks=names, thresholds=limits)['checks']
        assert [early[n]['status'] for n in names] == ['warning', 'warning', 'warning']
        assert early['blocked_queries']['rows'][0]['blocked_by'] == [locker.get_backend_pid()]
        time.sleep(2.0)
        late = health(pg, fresh_db, checks=names, thresholds=limits)['checks']
        assert [late[n]['status'] for n in names] == ['critical', 'critical', 'critical']
    finally:
        locker.rollback()
        for conn in (sleeper, idler, waiter, locker):
            conn.cancel()
            conn.close()


def test_dead_tuples_after_a_large_delete_without_autovacuum(pg, fresh_db):
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    postgres.query(conn, 'CREATE TABLE orders_archive (id int) WITH (autovacuum_enabled = false)')
    postgres.query(conn, 'INSERT INTO orders_archive SELECT generate_series(1, 10000)')
    postgres.query(conn, 'SELECT pg_stat_force_next_flush()' if pg.version_num >= 150000 else 'SELECT 1')
    time.sleep(0.5)
    assert health(pg, fresh_db, checks=['dead_tuples'])['checks']['dead_tuples']['status'] == 'ok'
    postgres.query(conn, 'DELETE FROM orders_archive WHERE id <= 6000')
    postgres.query(conn, 'SELECT pg_stat_force_next_flush()')
    time.sleep(0.5)
    check = health(pg, fresh_db, checks=['dead_tuples'])['checks']['dead_tuples']
    assert check['status'] == 'critical' and check['rows'][0]['table_name'] == 'public.orders_archive'
    assert check['rows'][0]['dead_tuples'] == 6000


def test_expected_indexes_after_migration_14_and_after_its_rollback(pg, fresh_db):
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    prisma_migrations.deploy(conn, prisma_migrations.Project(paths.BACKEND))
    explain = [dict(query='SELECT * FROM users WHERE email = \'test@example.com\' AND "isDeleted" = false',
                    index='users_email_key')]
    ok = health(pg, fresh_db, checks=['invalid_indexes'], expected_indexes=RUNBOOK_INDEXES, explain_checks=explain)
    assert ok['checks']['expected_indexes']['status'] == 'ok' and ok['checks']['expected_indexes']['value'] == 39
    assert ok['checks']['explain_checks']['status'] == 'ok'
    with open(rollback_script('20260218193213_add_performance_indexes'), encoding='utf-8') as stream:
        postgres.query(conn, stream.read())
    postgres.query(conn, 'DROP INDEX "users_email_key"')
    gone = health(pg, fresh_db, checks=['invalid_indexes'], expected_indexes=RUNBOOK_INDEXES[:3] + [
        'menu_scans_restaurantId_scannedAt_idx'], explain_checks=explain)
    check = gone['checks']['expected_indexes']
    assert check['status'] == 'critical'
    assert check['message'] == 'missing: users_role_idx, users_isDeleted_idx, users_createdAt_idx'
    assert gone['checks']['explain_checks']['status'] == 'critical'


def test_probe_slowed_by_dropping_its_index_is_critical_against_the_baseline(pg, fresh_db):
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    postgres.query(conn, 'CREATE TABLE scans (id int, restaurant int, note text)')
    postgres.query(conn, "INSERT INTO scans SELECT g, g % 5000, repeat('x', 40) FROM generate_series(1, 300000) g")
    postgres.query(conn, 'CREATE INDEX scans_restaurant_idx ON scans (restaurant)')
    postgres.query(conn, 'ANALYZE scans')
    probe = [dict(name='scans_of_one_restaurant', query='SELECT count(*) FROM scans WHERE restaurant = 42', runs=5)]
    baseline = health(pg, fresh_db, checks=['database_size'], probes=probe)
    assert baseline['checks']['probes']['status'] == 'ok'
    # a generous threshold: a busy CI host may slow a 1 ms query threefold; a sequential scan of
    # 300000 rows is still far beyond it
    again = health(pg, fresh_db, checks=['database_size'], probes=probe, baseline=baseline, max_slowdown=4)
    assert again['checks']['probes']['status'] == 'ok'
    postgres.query(conn, 'DROP INDEX scans_restaurant_idx')
    slowed = health(pg, fresh_db, checks=['database_size'], probes=probe, baseline=baseline, fail_on='critical',
                    max_slowdown=4)
    assert slowed['failed'] is True and slowed['status'] == 'critical'
    [row] = slowed['checks']['probes']['rows']
    # the slowdown lasted: timed again after a pause, the better round was still slower
    assert row['slowdown'] > 4 and row['rechecked'] is True
    assert row['fastest_ms'] - row['baseline_ms'] >= 5
    assert 'rechecked' not in again['checks']['probes']['rows'][0]
    assert 'rc' not in slowed


def test_failing_archive_command_is_critical_while_postgres_keeps_running(tmp_path):
    bin_dir = None if os.environ.get('DBOPS_ARCHIVER_BIN', 'embedded') == 'embedded' else os.environ['DBOPS_ARCHIVER_BIN']
    cluster = pgcluster.Cluster(name='archiver', bin_dir=bin_dir, settings=dict(
        wal_level='replica', archive_mode='on', archive_command='/bin/false', archive_timeout='0'))
    cluster.start()
    try:
        params = dict(login_host='127.0.0.1', login_port=cluster.port, login_user='postgres',
                      login_password=cluster.superuser_password, login_db='postgres', ssl_mode='disable')
        cluster.psql('CREATE TABLE t AS SELECT 1 AS x')
        cluster.psql('SELECT pg_switch_wal()')
        for _wait in range(50):
            if int(cluster.psql('SELECT failed_count FROM pg_stat_archiver').strip()) > 0:
                break
            time.sleep(0.2)
        result = run_module('pg_health', dict(params, checks=['archiver'], fail_on='never'))
        assert result['checks']['archiver']['status'] == 'critical'
        assert 'archive_command is failing' in result['checks']['archiver']['message']
        assert cluster.psql('SELECT 1').strip() == '1'
    finally:
        cluster.stop()


def test_server_down_is_critical_not_a_crash(pg):
    result = run_module('pg_health', dict(tcp_params(pg, login_port=pgcluster.free_port()), fail_on='never'))
    assert result['status'] == 'critical' and result['healthy'] is False
    assert result['checks']['connection']['message'].startswith('Cannot reach PostgreSQL')
    assert 'rc' not in result and 'failed' not in result


def test_markdown_report_has_the_seven_sections_and_findings(pg, fresh_db, tmp_path):
    sql(pg, fresh_db, 'CREATE TABLE parent (id int PRIMARY KEY)')
    sql(pg, fresh_db, 'CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent)')
    report = tmp_path / 'health.md'
    result = health(pg, fresh_db, report=str(report))
    text = report.read_text()
    for heading in ('## 1. Database size', '## 2. Top 10 largest tables', '## 3. Index usage (top 10)',
                    '## 4. Unused indexes (consider dropping)', '## 5. Active connections',
                    '## 6. Long running queries', '## 7. Dead tuples (high values need VACUUM)', '## Findings'):
        assert heading in text
    assert '**missing_fk_indexes** (warning)' in text and 'Fix: Index the foreign key columns' in text
    assert (tmp_path / 'health.json').is_file()
    assert text == result['report_markdown']
    assert pg.app_password not in text and pg.app_password not in result['_stdout']


def test_thresholds_drive_connections_cache_and_wraparound_into_warning(pg, fresh_db):
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    postgres.query(conn, 'CREATE TABLE menu AS SELECT generate_series(1, 5000) AS id')
    postgres.query(conn, 'SELECT count(*) FROM menu')
    postgres.query(conn, 'SELECT pg_stat_force_next_flush()')
    time.sleep(0.3)
    result = health(pg, fresh_db, checks=['connections', 'txid_wraparound', 'cache_hit_ratio'], thresholds=dict(
        connections=dict(warning_ratio=0.0), txid_wraparound=dict(warning_age=0),
        cache_hit_ratio=dict(min_blocks=0, warning_ratio=1.01, critical_ratio=0)))
    assert [result['checks'][n]['status'] for n in ('connections', 'txid_wraparound', 'cache_hit_ratio')] == \
        ['warning', 'warning', 'warning']
