# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health check catalogue: the runbook's seven sections plus PgHero's and check_postgres's checks.

Every check runs on one connection in one read-only transaction, inside a savepoint with its own
statement_timeout, so a slow or failing check is `unknown` and never stops the others. Catalog
reads take only ACCESS SHARE locks; lock_timeout keeps them from queueing behind a migration.
Default thresholds (overridable per check) follow PgHero 4 and check_postgres 2.26, except where
the runbook sets its own (long-running queries: 30 s).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import re
import statistics
import time

from ansible_collections.defneqr.dbops.plugins.module_utils import pgbackrest, postgres
from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError

LEVELS = dict(ok=0, unknown=1, warning=2, critical=3)
PROBE_FLOOR_MS = 2.0
# a probe is slower only by this much at least as well: on a busy host a 3 ms query reads 5 ms (x1.6) with
# nothing changed, while a lost index costs tens of milliseconds
PROBE_MIN_SLOWER_MS = 5.0
PROBE_RECHECK_PAUSE_S = 1.0

DEFAULTS = dict(
    database_size=dict(warning_bytes=None, critical_bytes=None),
    largest_tables=dict(limit=10),
    index_usage=dict(limit=10),
    unused_indexes=dict(min_bytes=10 * 2 ** 20),             # PgHero: unused_index_megabytes 10
    connections=dict(warning_ratio=0.8, critical_ratio=0.95),  # postgres_exporter 80 %, check_postgres 95 %
    long_running_queries=dict(warning_seconds=30, critical_seconds=300),  # the runbook's 30 s
    dead_tuples=dict(warning_ratio=0.2, critical_ratio=0.5, min_rows=1000),
    cache_hit_ratio=dict(warning_ratio=0.99, critical_ratio=0.95, min_blocks=10000),  # PgHero 99 %
    txid_wraparound=dict(warning_age=646000000, critical_age=1400000000),  # PgHero / check_postgres
    sequence_exhaustion=dict(warning_ratio=0.85, critical_ratio=0.95),     # check_postgres 85 / 95 %
    invalid_indexes=dict(),
    duplicate_indexes=dict(),
    missing_fk_indexes=dict(min_rows=0),
    blocked_queries=dict(critical_seconds=60),                # check_postgres lockwait 1 min
    idle_in_transaction=dict(warning_seconds=60, critical_seconds=600),
    replication=dict(warning_lag_seconds=5, critical_lag_seconds=300),  # PgHero: good below 5 s
    # check_postgres archive_ready; a daily base backup is due every 24 h (26 h leaves the run time)
    archiver=dict(warning_ready=10, critical_ready=50, warning_backup_hours=26, critical_backup_hours=50,
                  pgbackrest=None),
    vacuum_analyze_age=dict(warning_days=1, critical_days=2, min_rows=1000),  # check_postgres last_* 1 / 2 days
)
RUNBOOK_SECTIONS = ('database_size', 'largest_tables', 'index_usage', 'unused_indexes', 'connections',
                    'long_running_queries', 'dead_tuples')
FIXES = dict(
    unused_indexes='Drop indexes that are never scanned (after checking replicas and rare jobs): '
                   'DROP INDEX CONCURRENTLY ...',
    connections='Use a pooler (PgBouncer) or lower the app pool size; find the idle clients.',
    long_running_queries="Find and end them (SELECT pg_cancel_backend(pid)); bound them with "
                         "ALTER ROLE ... SET statement_timeout = '60s'.",
    dead_tuples='VACUUM (ANALYZE) the table, and check that autovacuum is enabled and keeps up.',
    cache_hit_ratio='Give PostgreSQL more memory (shared_buffers) or find the queries that read most.',
    txid_wraparound='VACUUM FREEZE the oldest tables now; check that autovacuum is not blocked.',
    sequence_exhaustion='Change the column and its sequence to bigint before they run out.',
    invalid_indexes='DROP INDEX CONCURRENTLY the invalid index and create it again.',
    duplicate_indexes='Drop the index that is a prefix of another one (keep unique ones).',
    missing_fk_indexes='Index the foreign key columns: deletes on the parent and joins scan the child otherwise.',
    blocked_queries='Find the blocking session (pg_blocking_pids) and finish or end it.',
    idle_in_transaction="End the sessions and fix the app that leaves transactions open; set "
                        "idle_in_transaction_session_timeout.",
    replication='Check the replica and drop replication slots nobody uses (they keep WAL forever).',
    archiver='Fix archive_command (see the server log); pg_wal fills up while archiving fails.',
    vacuum_analyze_age='Run VACUUM ANALYZE on these tables and check autovacuum settings.',
    expected_indexes='Create the missing indexes (deploy the migration that makes them) or rebuild invalid ones.',
    explain_checks='The planner does not use the expected index: check it exists, is valid, and ANALYZE the table.',
    probes='A query got slower than the baseline: compare plans (EXPLAIN) and check indexes and load.',
    connection='Check that the server runs and accepts connections.',
)


def _check(status='ok', value=None, threshold=None, message='', rows=None):
    return dict(status=status, value=value, threshold=threshold, message=message, rows=rows or [])


def _level(value, warning, critical, higher_is_worse=True):
    def worse(limit):
        return limit is not None and (value >= limit if higher_is_worse else value <= limit)
    if worse(critical):
        return 'critical'
    if worse(warning):
        return 'warning'
    return 'ok'


def _pretty(size):
    size = float(size or 0)
    for unit in ('B', 'kB', 'MB', 'GB', 'TB'):
        if size < 1024 or unit == 'TB':
            return '%.0f %s' % (size, unit) if unit == 'B' else '%.1f %s' % (size, unit)
        size /= 1024.0
    return str(size)


# -- the checks: each takes (conn, settings) and returns a _check dict ---------------------------

def database_size(conn, s):
    size = postgres.query(conn, 'SELECT pg_database_size(current_database()) AS n')[0]['n']
    return _check(_level(size, s['warning_bytes'], s['critical_bytes']), size,
                  dict(warning=s['warning_bytes'], critical=s['critical_bytes']), _pretty(size))


def largest_tables(conn, s):
    rows = postgres.query(conn, """
        SELECT n.nspname || '.' || c.relname AS table_name, pg_total_relation_size(c.oid) AS total_bytes,
               pg_relation_size(c.oid) AS table_bytes,
               pg_total_relation_size(c.oid) - pg_relation_size(c.oid) AS index_bytes
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname !~ '^pg_toast'
         ORDER BY total_bytes DESC LIMIT %s""", (s['limit'],))
    return _check(value=len(rows), message='largest: %s' % (rows[0]['table_name'] if rows else 'none'), rows=rows)


def index_usage(conn, s):
    rows = postgres.query(conn, """
        SELECT schemaname || '.' || relname AS table_name, indexrelname AS index_name, idx_scan AS scans,
               pg_relation_size(indexrelid) AS bytes
          FROM pg_stat_user_indexes ORDER BY idx_scan DESC, indexrelname LIMIT %s""", (s['limit'],))
    return _check(value=len(rows), rows=rows)


def unused_indexes(conn, s):
    rows = postgres.query(conn, """
        SELECT u.schemaname || '.' || u.relname AS table_name, u.indexrelname AS index_name,
               pg_relation_size(u.indexrelid) AS bytes
          FROM pg_stat_user_indexes u JOIN pg_index i ON i.indexrelid = u.indexrelid
         WHERE u.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
           AND pg_relation_size(u.indexrelid) >= %s
         ORDER BY bytes DESC, index_name""", (s['min_bytes'],))
    return _check('warning' if rows else 'ok', len(rows), dict(min_bytes=s['min_bytes']),
                  '%d unused index(es) of %s or more' % (len(rows), _pretty(s['min_bytes'])), rows)


def connections(conn, s):
    rows = postgres.query(conn, """
        SELECT coalesce(state, 'background') AS state, count(*) AS connections,
               min(backend_start) AS oldest_connection
          FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC""")
    limit = int(postgres.query(conn, "SELECT current_setting('max_connections') AS m")[0]['m'])
    total = sum(r['connections'] for r in rows)
    ratio = round(total / float(limit), 4)
    for row in rows:
        row['oldest_connection'] = str(row['oldest_connection'])
    return _check(_level(ratio, s['warning_ratio'], s['critical_ratio']), ratio,
                  dict(warning=s['warning_ratio'], critical=s['critical_ratio']),
                  '%d of max_connections %d in use' % (total, limit), rows)


def long_running_queries(conn, s):
    rows = postgres.query(conn, """
        SELECT pid, usename AS user, state, extract(epoch FROM now() - query_start)::float AS seconds,
               left(query, 300) AS query
          FROM pg_stat_activity
         WHERE state <> 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
           AND now() - query_start > make_interval(secs => %s)
         ORDER BY seconds DESC""", (s['warning_seconds'],))
    longest = max([r['seconds'] for r in rows] or [0])
    return _check(_level(longest, s['warning_seconds'], s['critical_seconds']) if rows else 'ok', round(longest, 1),
                  dict(warning=s['warning_seconds'], critical=s['critical_seconds']),
                  '%d quer(ies) running longer than %ss' % (len(rows), s['warning_seconds']), rows)


def dead_tuples(conn, s):
    rows = postgres.query(conn, """
        SELECT schemaname || '.' || relname AS table_name, n_live_tup AS live_tuples, n_dead_tup AS dead_tuples,
               round(n_dead_tup::numeric / NULLIF(n_live_tup + n_dead_tup, 0), 4)::float AS dead_ratio
          FROM pg_stat_user_tables WHERE n_live_tup + n_dead_tup >= %s
         ORDER BY dead_ratio DESC NULLS LAST, n_dead_tup DESC LIMIT 10""", (s['min_rows'],))
    worst = max([r['dead_ratio'] or 0 for r in rows] or [0])
    return _check(_level(worst, s['warning_ratio'], s['critical_ratio']), worst,
                  dict(warning=s['warning_ratio'], critical=s['critical_ratio']),
                  'highest dead tuple ratio %.0f%%%s' % (worst * 100, ' (%s)' % rows[0]['table_name'] if rows else ''),
                  rows)


def cache_hit_ratio(conn, s):
    row = postgres.query(conn, """
        SELECT sum(heap_blks_hit)::float AS hit, sum(heap_blks_read)::float AS read FROM pg_statio_user_tables""")[0]
    hit, read = row['hit'] or 0, row['read'] or 0
    if hit + read < max(s['min_blocks'], 1):
        return _check('ok', None, dict(warning=s['warning_ratio']), 'not enough reads yet (%d blocks)' % (hit + read))
    ratio = round(hit / (hit + read), 4)
    return _check(_level(ratio, s['warning_ratio'], s['critical_ratio'], higher_is_worse=False), ratio,
                  dict(warning=s['warning_ratio'], critical=s['critical_ratio']), 'table cache hit %.2f%%' % (ratio * 100))


def txid_wraparound(conn, s):
    rows = postgres.query(conn, "SELECT datname AS database, age(datfrozenxid) AS xid_age FROM pg_database "
                                "WHERE datallowconn ORDER BY 2 DESC")
    oldest = rows[0]['xid_age'] if rows else 0
    return _check(_level(oldest, s['warning_age'], s['critical_age']), oldest,
                  dict(warning=s['warning_age'], critical=s['critical_age']),
                  'oldest unfrozen transaction age %d (%s)' % (oldest, rows[0]['database'] if rows else '-'), rows)


def sequence_exhaustion(conn, s):
    rows = postgres.query(conn, """
        SELECT sn.nspname || '.' || seq.relname AS sequence, tn.nspname || '.' || tab.relname AS table_name,
               att.attname AS column_name, format_type(att.atttypid, NULL) AS column_type, ps.last_value,
               CASE att.atttypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647
                    ELSE LEAST(ps.max_value, 9223372036854775807) END AS max_value
          FROM pg_depend d
          JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S'
          JOIN pg_namespace sn ON sn.oid = seq.relnamespace
          JOIN pg_class tab ON tab.oid = d.refobjid
          JOIN pg_namespace tn ON tn.oid = tab.relnamespace
          JOIN pg_attribute att ON att.attrelid = tab.oid AND att.attnum = d.refobjsubid
          JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = seq.relname
         WHERE d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')""")
    for row in rows:
        row['used_ratio'] = round(float(row['last_value'] or 0) / float(row['max_value']), 4)
    rows.sort(key=lambda r: r['used_ratio'], reverse=True)
    worst = rows[0]['used_ratio'] if rows else 0
    return _check(_level(worst, s['warning_ratio'], s['critical_ratio']), worst,
                  dict(warning=s['warning_ratio'], critical=s['critical_ratio']),
                  'most used sequence at %.1f%% of its column\'s limit' % (worst * 100), rows[:10])


def invalid_indexes(conn, s):
    rows = postgres.query(conn, """
        SELECT n.nspname || '.' || t.relname AS table_name, c.relname AS index_name
          FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT i.indisvalid
           AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
         ORDER BY 1, 2""")
    return _check('warning' if rows else 'ok', len(rows), None, '%d invalid index(es)' % len(rows), rows)


def duplicate_indexes(conn, s):
    rows = postgres.query(conn, """
        SELECT n.nspname || '.' || t.relname AS table_name, ci.relname AS index_name, cc.relname AS covered_by
          FROM pg_index a JOIN pg_index b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
          JOIN pg_class ci ON ci.oid = a.indexrelid JOIN pg_class cc ON cc.oid = b.indexrelid
          JOIN pg_class t ON t.oid = a.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
          JOIN pg_am am_a ON am_a.oid = ci.relam JOIN pg_am am_b ON am_b.oid = cc.relam
         WHERE am_a.amname = am_b.amname AND NOT a.indisunique AND NOT a.indisprimary
           AND a.indexprs IS NULL AND b.indexprs IS NULL AND a.indpred IS NULL AND b.indpred IS NULL
           AND a.indnatts <= b.indnatts
           AND (a.indkey::int2[])[0:a.indnatts - 1] = (b.indkey::int2[])[0:a.indnatts - 1]
           AND (a.indnatts < b.indnatts OR a.indexrelid > b.indexrelid OR b.indisunique)
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         ORDER BY 1, 2""")
    return _check('warning' if rows else 'ok', len(rows), None, '%d redundant index(es)' % len(rows), rows)


def missing_fk_indexes(conn, s):
    rows = postgres.query(conn, """
        SELECT n.nspname || '.' || t.relname AS table_name, con.conname AS foreign_key,
               (SELECT string_agg(a.attname, ', ' ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
               t.reltuples::bigint AS estimated_rows
          FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE con.contype = 'f' AND (%s <= 0 OR t.reltuples >= %s)
           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = con.conrelid
                             AND (i.indkey::int2[])[0:cardinality(con.conkey) - 1] @> con.conkey
                             AND (i.indkey::int2[])[0:cardinality(con.conkey) - 1] <@ con.conkey)
         ORDER BY 1, 2""", (s['min_rows'], s['min_rows']))
    return _check('warning' if rows else 'ok', len(rows), None, '%d foreign key(s) without an index' % len(rows),
                  rows)


def blocked_queries(conn, s):
    rows = postgres.query(conn, """
        SELECT pid, usename AS user, pg_blocking_pids(pid) AS blocked_by, wait_event_type,
               extract(epoch FROM now() - coalesce(state_change, query_start))::float AS waiting_seconds,
               left(query, 300) AS query
          FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0 ORDER BY waiting_seconds DESC""")
    longest = max([r['waiting_seconds'] for r in rows] or [0])
    status = 'ok' if not rows else ('critical' if longest > s['critical_seconds'] else 'warning')
    return _check(status, len(rows), dict(critical_seconds=s['critical_seconds']),
                  '%d blocked quer(ies), longest waiting %.0fs' % (len(rows), longest), rows)


def idle_in_transaction(conn, s):
    rows = postgres.query(conn, """
        SELECT pid, usename AS user, application_name, extract(epoch FROM now() - state_change)::float AS seconds,
               left(query, 300) AS last_query
          FROM pg_stat_activity WHERE state LIKE 'idle in transaction%%' AND now() - state_change > make_interval(
               secs => %s) ORDER BY seconds DESC""", (s['warning_seconds'],))
    longest = max([r['seconds'] for r in rows] or [0])
    return _check(_level(longest, s['warning_seconds'], s['critical_seconds']) if rows else 'ok', round(longest, 1),
                  dict(warning=s['warning_seconds'], critical=s['critical_seconds']),
                  '%d session(s) idle in transaction' % len(rows), rows)


def replication(conn, s):
    slots = postgres.query(conn, "SELECT slot_name, slot_type, active, "
                                 "pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained "
                                 "FROM pg_replication_slots WHERE NOT pg_is_in_recovery() ORDER BY 1")
    lag = postgres.query(conn, """
        SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
               ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float AS lag""")[0]['lag'] or 0
    inactive = [r for r in slots if not r['active']]
    status = _level(lag, s['warning_lag_seconds'], s['critical_lag_seconds'])
    if inactive and status == 'ok':
        status = 'warning'
    return _check(status, lag, dict(warning=s['warning_lag_seconds'], critical=s['critical_lag_seconds']),
                  'replay lag %.1fs, %d inactive slot(s)' % (lag, len(inactive)), slots)


def archiver(conn, s):
    mode = postgres.query(conn, "SELECT current_setting('archive_mode') AS m")[0]['m']
    row = postgres.query(conn, """
        SELECT archived_count, failed_count, last_archived_wal, last_archived_time::text, last_failed_wal,
               last_failed_time::text,
               coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) AS failing
          FROM pg_stat_archiver""")[0]
    if mode == 'off':
        return _check('ok', None, None, 'WAL archiving is off (archive_mode=off)', [row])
    row['ready'] = _ready_segments(conn)
    findings = []
    status = 'critical' if row['failing'] else 'ok'
    if row['failing']:
        findings.append('archive_command is failing: last failure %s (%s) after the last success %s'
                        % (row['last_failed_time'], row['last_failed_wal'], row['last_archived_time']))
    if row['ready'] is not None:
        level = _level(row['ready'], s['warning_ready'], s['critical_ready'])
        if level != 'ok':
            findings.append('%d WAL segments wait to be archived' % row['ready'])
        status = max(status, level, key=LEVELS.get)
    rows = [row]
    if s.get('pgbackrest'):
        level, message, repository = _pgbackrest_state(s)
        status = max(status, level, key=LEVELS.get)
        findings += [message] if level != 'ok' else []
        rows.append(repository)
    message = '; '.join(findings) or '%d WAL files archived, last %s%s' % (
        row['archived_count'], row['last_archived_time'],
        ', ' + rows[-1]['summary'] if len(rows) > 1 else '')
    return _check(status, row['failed_count'], None, message, rows)


def _ready_segments(conn):
    """WAL segments waiting for archive_command (pg_ls_archive_statusdir needs pg_monitor); None if not allowed."""
    try:
        with _savepoint(conn, 'archive_ready'):
            return postgres.query(
                conn, "SELECT count(*) AS n FROM pg_ls_archive_statusdir() WHERE name LIKE '%%.ready'")[0]['n']
    except postgres.psycopg2.Error:
        return None


def _pgbackrest_state(s):
    """pgBackRest's view: the stanza's status, the newest backup's age, the archived WAL range."""
    try:
        state = pgbackrest.describe(pgbackrest.PgBackRest.from_params(s['pgbackrest']).info())
    except DbopsError as err:
        return 'critical', str(err), dict(source='pgbackrest', summary='unreadable')
    newest = state['backups'][0] if state['backups'] else None
    wal = state['wal'][-1] if state['wal'] else {}
    repository = dict(source='pgbackrest', status=state['status']['message'],
                      newest_backup=newest['id'] if newest else None,
                      newest_backup_age_hours=newest['age_hours'] if newest else None,
                      wal_min=wal.get('min'), wal_max=wal.get('max'))
    repository['summary'] = 'pgBackRest %s, newest backup %s (%s h old), WAL up to %s' % (
        repository['status'], repository['newest_backup'], repository['newest_backup_age_hours'], repository['wal_max'])
    if state['status']['code'] != 0:
        return 'critical', 'pgBackRest reports stanza %s: %s' % (s['pgbackrest']['stanza'], state['status']['message']), \
            repository
    if not newest:
        return 'critical', 'pgBackRest holds no backup of stanza %s' % s['pgbackrest']['stanza'], repository
    level = _level(newest['age_hours'], s['warning_backup_hours'], s['critical_backup_hours'])
    return level, 'the newest pgBackRest backup is %s hours old' % newest['age_hours'], repository


def vacuum_analyze_age(conn, s):
    rows = postgres.query(conn, """
        SELECT schemaname || '.' || relname AS table_name, n_live_tup AS live_tuples,
               greatest(last_vacuum, last_autovacuum)::text AS last_vacuum,
               greatest(last_analyze, last_autoanalyze)::text AS last_analyze,
               extract(epoch FROM now() - greatest(last_analyze, last_autoanalyze))::float / 86400 AS analyze_days
          FROM pg_stat_user_tables WHERE n_live_tup >= %s ORDER BY analyze_days DESC NULLS FIRST""", (s['min_rows'],))
    never = [r for r in rows if r['analyze_days'] is None]
    oldest = max([r['analyze_days'] for r in rows if r['analyze_days'] is not None] or [0])
    status = _level(oldest, s['warning_days'], s['critical_days'])
    if never and status == 'ok':
        status = 'warning'
    return _check(status, round(oldest, 2), dict(warning=s['warning_days'], critical=s['critical_days']),
                  '%d table(s) never analyzed, oldest analyze %.1f days ago' % (len(never), oldest), rows[:10])


CATALOGUE = dict((name, globals()[name]) for name in DEFAULTS)


# -- checks with arguments ----------------------------------------------------------------------

def expected_indexes(conn, names):
    rows = postgres.query(conn, """
        SELECT c.relname AS index_name, i.indisvalid AS valid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
         WHERE c.relname = ANY(%s)""", (list(names),))
    found = dict((r['index_name'], r['valid']) for r in rows)
    missing = [n for n in names if n not in found]
    invalid = [n for n in names if found.get(n) is False]
    problems = ['missing: %s' % ', '.join(missing)] if missing else []
    problems += ['invalid: %s' % ', '.join(invalid)] if invalid else []
    return _check('critical' if problems else 'ok', len(names) - len(missing) - len(invalid), len(names),
                  '; '.join(problems) or 'all %d expected indexes present and valid' % len(names),
                  [dict(index_name=n, present=n in found, valid=found.get(n)) for n in names])


def _plan_indexes(plan):
    found = set()
    if isinstance(plan, dict):
        if plan.get('Index Name'):
            found.add(plan['Index Name'])
        for value in plan.values():
            found |= _plan_indexes(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _plan_indexes(value)
    return found


def explain_checks(conn, checks):
    rows = []
    for item in checks:
        options = 'ANALYZE, FORMAT JSON' if item.get('analyze') else 'FORMAT JSON'
        plan = postgres.query(conn, 'EXPLAIN (%s) %s' % (options, item['query']))[0]
        used = sorted(_plan_indexes(list(plan.values())[0]))
        rows.append(dict(name=item.get('name') or item['index'], index=item['index'], used_indexes=used,
                         ok=item['index'] in used))
    bad = [r['name'] for r in rows if not r['ok']]
    return _check('critical' if bad else 'ok', len(rows) - len(bad), len(rows),
                  ('expected index not used by: %s' % ', '.join(bad)) if bad else 'every query uses its index', rows)


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def slowdown(fastest_ms, baseline_ms):
    """How many times slower; times under the floor count as the floor: scheduler noise on a busy host moves a
    0.3 ms query to 1 ms, which is no degradation anyone feels."""
    return round(max(fastest_ms, PROBE_FLOOR_MS) / max(baseline_ms, PROBE_FLOOR_MS), 3)


def degraded(row, max_slowdown):
    """A probe is degraded when it is more than max_slowdown times and at least PROBE_MIN_SLOWER_MS slower."""
    return (row.get('slowdown', 0) > max_slowdown
            and row['fastest_ms'] - row.get('baseline_ms', row['fastest_ms']) >= PROBE_MIN_SLOWER_MS)


def _baseline_ms(row):
    # reports written before fastest_ms existed (a health report's previous run) carry the median only
    return row.get('fastest_ms') or row.get('median_ms')


def _timed_probe(conn, item, baseline_ms):
    # one untimed run first: the first execution pays for catalog and buffer cache misses
    postgres.query(conn, item['query'])
    timings = []
    for _run in range(item.get('runs', 5)):
        clock = time.perf_counter()
        postgres.query(conn, item['query'])
        timings.append(time.perf_counter() - clock)
    row = dict(name=item['name'], runs=len(timings), fastest_ms=round(min(timings) * 1000, 3),
               median_ms=round(statistics.median(timings) * 1000, 3), p95_ms=round(_percentile(timings, 0.95) * 1000, 3))
    if baseline_ms:
        row.update(baseline_ms=baseline_ms, slowdown=slowdown(row['fastest_ms'], baseline_ms))
    return row


def probes(conn, items, baseline, max_slowdown):
    """Compares the fastest run with the baseline's fastest: load only ever adds time, while a worse plan slows
    every run. A degraded probe is timed again after PROBE_RECHECK_PAUSE_S and its better round counts, so a
    burst of load (an app booting on the same cores) does not read as a regression."""
    base = dict((p['name'], _baseline_ms(p)) for p in (baseline or []))
    rows = []
    for item in items:
        row = _timed_probe(conn, item, base.get(item['name']))
        if degraded(row, max_slowdown):
            time.sleep(PROBE_RECHECK_PAUSE_S)
            row = min(row, _timed_probe(conn, item, base.get(item['name'])), key=lambda r: r['fastest_ms'])
            row['rechecked'] = True
        rows.append(row)
    slow = [r for r in rows if degraded(r, max_slowdown)]
    return _check('critical' if slow else 'ok', max([r.get('slowdown', 1.0) for r in rows] or [1.0]),
                  dict(max_slowdown=max_slowdown),
                  ('slower than baseline: %s' % ', '.join('%s x%.2f' % (r['name'], r['slowdown']) for r in slow))
                  if slow else '%d probe(s) timed' % len(rows), rows)


# -- the run ------------------------------------------------------------------------------------

def _merged_settings(name, overrides):
    settings = dict(DEFAULTS[name])
    settings.update((overrides or {}).get(name) or {})
    return settings


def run_checks(params, checks=None, thresholds=None, expected=None, explains=None, probe_items=None,
               baseline=None, max_slowdown=1.5, timeout='5s'):
    """All requested checks; returns (results by name, overall status). Never raises for a down server."""
    names = list(checks or DEFAULTS)
    unknown = [n for n in names if n not in DEFAULTS]
    if unknown:
        raise postgres.PgError('Unknown check(s): %s. Known: %s.' % (', '.join(unknown), ', '.join(DEFAULTS)))
    try:
        conn = postgres.connect(params, autocommit=False)
    except postgres.PgError as err:
        results = dict(connection=_check('critical', None, None, str(err)))
        return results, 'critical'
    results = {}
    try:
        conn.set_session(readonly=True)
        postgres.query(conn, "SELECT set_config('lock_timeout', '2s', true)")
        tasks = [(n, CATALOGUE[n], _merged_settings(n, thresholds)) for n in names]
        if expected:
            tasks.append(('expected_indexes', expected_indexes, expected))
        if explains:
            tasks.append(('explain_checks', explain_checks, explains))
        if probe_items:
            tasks.append(('probes', lambda c, items: probes(c, items, baseline, max_slowdown), probe_items))
        for name, function, settings in tasks:
            results[name] = _guarded(conn, name, function, settings, timeout)
    finally:
        conn.rollback()
        conn.close()
    status = max((r['status'] for r in results.values()), key=lambda s: LEVELS[s]) if results else 'ok'
    return results, status


def failure(results, status, fail_on):
    """The message a run fails with when its status reaches fail_on (critical, warning); None otherwise."""
    if fail_on == 'never' or LEVELS[status] < LEVELS[fail_on]:
        return None
    return 'Database health is %s: %s' % (status, '; '.join(
        '%s: %s' % (name, results[name]['message']) for name in sorted(results) if results[name]['status'] != 'ok'))


@contextlib.contextmanager
def _savepoint(conn, name):
    """A failing statement inside rolls back to here, so the read-only transaction goes on with the next check."""
    postgres.query(conn, 'SAVEPOINT %s' % name)
    try:
        yield
    except postgres.psycopg2.Error:
        postgres.query(conn, 'ROLLBACK TO SAVEPOINT %s' % name)
        raise
    postgres.query(conn, 'RELEASE SAVEPOINT %s' % name)


def _guarded(conn, name, function, settings, timeout):
    clock = time.time()
    try:
        with _savepoint(conn, 'health_check'):
            postgres.query(conn, "SELECT set_config('statement_timeout', %s, true)", (timeout,))
            result = function(conn, settings)
    except postgres.psycopg2.Error as err:
        result = _check('unknown', None, None, '%s could not run: %s' % (name, postgres.first_line(err)))
    result['seconds'] = round(time.time() - clock, 4)
    if result['status'] != 'ok' and name in FIXES:
        result['fix'] = FIXES[name]
    return result


# -- the report ---------------------------------------------------------------------------------

def _cell(value):
    text = '' if value is None else str(value)
    return re.sub(r'\s+', ' ', text).replace('|', '\\|')[:120]


def _table(rows):
    if not rows:
        return '_none_\n'
    headers = list(rows[0].keys())
    lines = ['| %s |' % ' | '.join(headers), '|%s|' % '|'.join('---' for _h in headers)]
    lines += ['| %s |' % ' | '.join(_cell(r.get(h)) for h in headers) for r in rows]
    return '\n'.join(lines) + '\n'


def markdown(results, status, database, when):
    titles = dict(database_size='1. Database size', largest_tables='2. Top 10 largest tables',
                  index_usage='3. Index usage (top 10)', unused_indexes='4. Unused indexes (consider dropping)',
                  connections='5. Active connections', long_running_queries='6. Long running queries',
                  dead_tuples='7. Dead tuples (high values need VACUUM)')
    out = ['# Database health check: %s' % database, '', 'Date: %s  ' % when, 'Status: **%s**' % status.upper(), '']
    for name in RUNBOOK_SECTIONS:
        if name in results:
            result = results[name]
            out += ['## %s' % titles[name], '', '%s: %s' % (result['status'], result['message']), '']
            rows = result['rows'] or ([dict(size=_pretty(result['value']))] if name == 'database_size' else [])
            out.append(_table(rows))
    findings = [(n, r) for n, r in sorted(results.items()) if r['status'] != 'ok']
    out += ['## Findings', '']
    if not findings:
        out.append('No findings: every check is ok.\n')
    for name, result in findings:
        out.append('- **%s** (%s): %s%s' % (name, result['status'], result['message'],
                                            '  \n  Fix: %s' % result['fix'] if result.get('fix') else ''))
    return '\n'.join(out) + '\n'
