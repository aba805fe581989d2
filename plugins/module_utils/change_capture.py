# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change capture for a rollback that keeps the writes made after the rollback point.

Row triggers (portable: any wal_level, no restart, no superuser) write every INSERT, UPDATE and DELETE
of the application's tables into dbops.change_log, in the same transaction as the change, so the log
holds exactly the committed changes. Sessions with `dbops.capture = off` (the migration engine, this
collection's own work) are not captured.

The rollback point (a snapshot copy or a dump) carries the log as it was at that moment, so the
changes to replay are the rows of the replaced database's log whose ids the restored log does not
have. Replay folds each row's changes into one net change, applies them table by table in foreign
key order, set-based, inside one transaction; a batch that fails is split until the rows that fail
are alone, and those go to dbops.quarantine with the server's reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
import time

from ansible_collections.defneqr.dbops.plugins.module_utils.backup_store import write_private
from ansible_collections.defneqr.dbops.plugins.module_utils.postgres import PgError, identifier, query

try:
    from psycopg2 import sql as pgsql
    import psycopg2
except ImportError:  # reported by postgres.ensure_driver
    pgsql = psycopg2 = None

SCHEMA = 'dbops'
TRIGGER = 'dbops_capture'
TRUNCATE_TRIGGER = 'dbops_capture_truncate'
# the action of a net change whose first try failed; it is tried again after all the others
LATER = 'later_'

_LOG = '''
CREATE SCHEMA IF NOT EXISTS dbops;
CREATE TABLE IF NOT EXISTS dbops.change_log (
  id bigserial PRIMARY KEY,
  tbl text NOT NULL,
  op "char" NOT NULL,
  old_key jsonb,
  new_row jsonb,
  at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE OR REPLACE FUNCTION dbops.capture_row() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  old_key jsonb;
BEGIN
  IF current_setting('dbops.capture', true) = 'off' THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    -- the trigger's arguments are the primary key columns
    SELECT pg_catalog.jsonb_object_agg(k, pg_catalog.to_jsonb(OLD) -> k) INTO old_key FROM unnest(TG_ARGV) AS k;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO dbops.change_log (tbl, op, new_row) VALUES (TG_TABLE_NAME, 'I', pg_catalog.to_jsonb(NEW));
  ELSIF TG_OP = 'UPDATE' THEN
    IF OLD IS NOT DISTINCT FROM NEW THEN
      RETURN NULL;
    END IF;
    INSERT INTO dbops.change_log (tbl, op, old_key, new_row) VALUES (TG_TABLE_NAME, 'U', old_key, pg_catalog.to_jsonb(NEW));
  ELSE
    INSERT INTO dbops.change_log (tbl, op, old_key) VALUES (TG_TABLE_NAME, 'D', old_key);
  END IF;
  RETURN NULL;
END $f$;
CREATE OR REPLACE FUNCTION dbops.capture_truncate() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF current_setting('dbops.capture', true) IS DISTINCT FROM 'off' THEN
    INSERT INTO dbops.change_log (tbl, op) VALUES (TG_TABLE_NAME, 'T');
  END IF;
  RETURN NULL;
END $f$;
'''

_TABLES = '''
SELECT c.relname AS name,
       (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum))
          FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indrelid = c.oid AND i.indisprimary) AS key,
       EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = %(trigger)s) AS captured,
       pg_has_role(c.relowner, 'USAGE') AS owned
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relkind = 'r' AND NOT c.relispartition AND c.relname <> ALL(%(exclude)s)
 ORDER BY c.relname
'''


def _sql(template, *args, **kwargs):
    return pgsql.SQL(template).format(*args, **kwargs)


def _exists(conn, relation):
    return query(conn, 'SELECT to_regclass(%s) IS NOT NULL AS present', (relation,))[0]['present']


def tables(conn, schema, exclude):
    return query(conn, _TABLES, dict(schema=schema, exclude=list(exclude), trigger=TRIGGER))


def refuse_keyless(names, schema):
    if names:
        raise PgError('Change capture needs a primary key on every captured table; %s.%s %s none. Add one '
                      '(ALTER TABLE ... ADD PRIMARY KEY (...)), list the table in capture_exclude (its changes '
                      'after the rollback point are then not kept), or turn capture off.'
                      % (schema, (', %s.' % schema).join(names), 'has' if len(names) == 1 else 'have'))


def refuse_unowned(names, schema, conn):
    """Triggers are added and dropped by the tables' owner, the schema dbops made by a role with CREATE."""
    if names:
        raise PgError('Change capture adds a trigger to every table and removes it after the deploy, which only the '
                      "table's owner may do; %s.%s %s owned by a role %s is not a member of. Connect as the owner "
                      '(the role the migrations run as), GRANT the owner role to it, or list the tables in '
                      'capture_exclude.' % (schema, (', %s.' % schema).join(names), 'is' if len(names) == 1 else 'are',
                                            conn.info.user))
    may_create = query(conn, '''SELECT CASE WHEN to_regnamespace('dbops') IS NULL
                                            THEN has_database_privilege(current_database(), 'CREATE')
                                            ELSE has_schema_privilege('dbops', 'CREATE') END AS ok''')[0]['ok']
    if not may_create:
        raise PgError('Change capture keeps its log in the schema dbops, and %s may not create it (or create in it) '
                      'in database %s. GRANT CREATE ON DATABASE %s TO %s (or create the schema dbops owned by it), '
                      'or turn capture off.' % (conn.info.user, conn.info.dbname, conn.info.dbname, conn.info.user))


def install(conn, schema='public', exclude=(), check_mode=False, new_log=False):
    """Put the log and the triggers in place on every table that has none yet (also tables a migration created).
    new_log: first drop an earlier capture and its log, in the same transaction, so the log starts empty."""
    exclude = list(exclude) + ['_prisma_migrations']
    found = tables(conn, schema, exclude)
    refuse_keyless([t['name'] for t in found if not t['key']], schema)
    earlier = _remove_statements(conn) if new_log else []
    missing = [t for t in found if earlier or not t['captured']]
    refuse_unowned([t['name'] for t in missing if not t['owned']], schema, conn)
    if (missing or earlier) and not check_mode:
        with conn.cursor() as cur:
            cur.execute('BEGIN')
            for statement in earlier:
                cur.execute(statement)
            cur.execute(_LOG)
            for table in missing:
                target = identifier(schema, table['name'])
                args = pgsql.SQL(', ').join(pgsql.Literal(column) for column in table['key'])
                cur.execute(_sql('CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW '
                                 'EXECUTE FUNCTION dbops.capture_row({})', identifier(TRIGGER), target, args))
                cur.execute(_sql('CREATE TRIGGER {} BEFORE TRUNCATE ON {} FOR EACH STATEMENT '
                                 'EXECUTE FUNCTION dbops.capture_truncate()', identifier(TRUNCATE_TRIGGER), target))
            cur.execute('COMMIT')
    return dict(changed=bool(missing or earlier), tables=[t['name'] for t in found],
                added=[t['name'] for t in missing], ended_earlier=bool(earlier))


def info(conn):
    """Whether a change log is here, and its size (the monitor step compares it with its limit)."""
    if not _exists(conn, 'dbops.change_log'):
        return dict(installed=False, changes=0, bytes=0, tables=[])
    row = query(conn, '''SELECT (SELECT count(*) FROM dbops.change_log) AS changes,
                                pg_total_relation_size('dbops.change_log') AS bytes,
                                (SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}')
                                   FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                                  WHERE t.tgname = %s) AS tables''', (TRIGGER,))[0]
    return dict(installed=True, changes=row['changes'], bytes=row['bytes'], tables=row['tables'])


def _remove_statements(conn):
    triggers = query(conn, '''SELECT n.nspname AS schema, c.relname AS table, t.tgname AS name
                                FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                                JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE t.tgname IN (%s, %s) ORDER BY 1, 2, 3''', (TRIGGER, TRUNCATE_TRIGGER))
    statements = [_sql('DROP TRIGGER {} ON {}', identifier(t['name']), identifier(t['schema'], t['table'])) for t in triggers]
    if _exists(conn, 'dbops.change_log') or triggers:
        statements += [pgsql.SQL('DROP FUNCTION IF EXISTS dbops.capture_row(), dbops.capture_truncate()'),
                       pgsql.SQL('DROP TABLE IF EXISTS dbops.change_log')]
    return statements


def _drop_empty_schema(cur):
    # the quarantine of an earlier rollback stays; an empty dbops schema does not
    cur.execute('''SELECT NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                       WHERE n.nspname = 'dbops')
                          AND to_regnamespace('dbops') IS NOT NULL''')
    if cur.fetchone()[0]:
        cur.execute('DROP SCHEMA dbops')


def remove(conn, check_mode=False, lock_timeout='2s', attempts=5):
    """Drop the triggers, the functions and the log. The app may be running: the drops wait for their
    locks a short time and are retried, so they never queue the application's queries behind them."""
    statements = _remove_statements(conn)
    if not statements or check_mode:
        return dict(changed=bool(statements))
    for attempt in range(attempts):
        try:
            with conn.cursor() as cur:
                cur.execute('BEGIN')
                cur.execute('SET LOCAL lock_timeout = %s', (lock_timeout,))
                for statement in statements:
                    cur.execute(statement)
                _drop_empty_schema(cur)
                cur.execute('COMMIT')
            return dict(changed=True)
        except psycopg2.errors.LockNotAvailable:
            conn.rollback()
            time.sleep(1 + attempt)
    raise PgError('Could not remove the change capture: a table stayed locked for %d tries of %s. The capture '
                  'only costs a log row per write; run this again when the load is lower.' % (attempts, lock_timeout))


# -- replay ---------------------------------------------------------------------------------------

_NET = '''
CREATE TEMP TABLE dbops_net ON COMMIT DROP AS
SELECT g.*, g.action AS wanted, NULL::text AS reason,
       ARRAY(SELECT k FROM jsonb_object_keys(g.row) k ORDER BY k) AS sig
  FROM (SELECT row_number() OVER (ORDER BY min(id)) AS seq, tbl, key,
               CASE WHEN (array_agg(op ORDER BY id, sub))[1] = 'I'
                    THEN CASE WHEN (array_agg(op ORDER BY id DESC, sub DESC))[1] = 'D' THEN 'none' ELSE 'insert' END
                    ELSE CASE WHEN (array_agg(op ORDER BY id DESC, sub DESC))[1] = 'D' THEN 'delete' ELSE 'update' END
               END AS action,
               (array_agg(row ORDER BY id DESC, sub DESC))[1] AS row,
               array_agg(DISTINCT id ORDER BY id) AS change_ids
          FROM dbops_change GROUP BY tbl, key) g
'''


def _old_schema(conn, schema):
    """The restored schema: each table's columns (not generated), key, and the tables it references."""
    rows = query(conn, '''
        SELECT c.relname AS name,
               (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns,
               (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum))
                  FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = c.oid AND i.indisprimary) AS key,
               (SELECT coalesce(array_agg(DISTINCT r.relname::text), '{}') FROM pg_constraint f
                  JOIN pg_class r ON r.oid = f.confrelid
                 WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confrelid <> c.oid) AS parents
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %s AND c.relkind = 'r' AND NOT c.relispartition''', (schema,))
    return dict((row['name'], row) for row in rows)


def parents_first(schema_tables):
    """Table names ordered so that every table comes after the tables it references (cycles: name order)."""
    ordered, placed = [], set()
    pending = sorted(schema_tables)
    while pending:
        ready = [name for name in pending
                 if all(parent in placed or parent not in schema_tables for parent in schema_tables[name]['parents'])]
        ready = ready or pending[:1]
        for name in ready:
            ordered.append(name)
            placed.add(name)
        pending = [name for name in pending if name not in placed]
    return ordered


def _key_object(column_of, key):
    """jsonb_build_object('id', <column_of('id')>, ...) for the restored table's key."""
    return _sql('jsonb_build_object({})', pgsql.SQL(', ').join(
        _sql('{}, {}', pgsql.Literal(column), column_of(column)) for column in key))


def _expand(cur, name, key):
    """One table's captured changes as (id, sub, op, key, row): an UPDATE that changed the key becomes
    a DELETE of the old key and an INSERT of the new one."""
    old = _key_object(lambda c: _sql('old_key -> {}', pgsql.Literal(c)), key)
    new = _key_object(lambda c: _sql('new_row -> {}', pgsql.Literal(c)), key)
    cur.execute(_sql('''
        INSERT INTO dbops_change (id, sub, tbl, op, key, row)
        SELECT id, 0, tbl, 'D', {old}, NULL FROM dbops_incoming
         WHERE tbl = %(t)s AND (op = 'D' OR (op = 'U' AND {old} IS DISTINCT FROM {new}))
        UNION ALL
        SELECT id, 1, tbl, 'I', {new}, new_row FROM dbops_incoming
         WHERE tbl = %(t)s AND (op = 'I' OR (op = 'U' AND {old} IS DISTINCT FROM {new}))
        UNION ALL
        SELECT id, 1, tbl, 'U', {new}, new_row FROM dbops_incoming
         WHERE tbl = %(t)s AND op = 'U' AND {old} IS NOT DISTINCT FROM {new}''', old=old, new=new), dict(t=name))


def _match(table, key):
    """d.<key> = typed key of the net change n."""
    return pgsql.SQL(' AND ').join(
        _sql('d.{c} = (jsonb_populate_record(NULL::{t}, n.key)).{c}', c=identifier(column), t=table) for column in key)


# the net changes of one batch: a table's action and column set, or the listed seqs once a batch is split
BATCH = pgsql.SQL('n.tbl = %(t)s AND n.action = %(a)s AND n.sig = %(sig)s::text[] '
                  'AND (%(seqs)s::bigint[] IS NULL OR n.seq = ANY(%(seqs)s::bigint[]))') if pgsql else None


class Replay(object):
    """One replay inside the restored database's open transaction."""

    def __init__(self, conn, schema):
        self.conn = conn
        self.schema = schema
        self.old = _old_schema(conn, schema)
        self.applied = {}
        self.dropped = {}

    def _batch(self, statement, name, action, signature, seqs=None):
        """Apply one batch (all of the table's net changes of that action and column set, or the seqs
        given); on failure split it until the failing rows are alone. A row that fails is tried once more
        after every other change (a DELETE may free the unique value an INSERT needs), then quarantined."""
        with self.conn.cursor() as cur:
            cur.execute('SAVEPOINT dbops_batch')
            try:
                cur.execute(statement, dict(t=name, a=action, sig=signature, seqs=seqs))
                counts = self.applied.setdefault(name, {})
                done = action.replace(LATER, '')
                counts[done] = counts.get(done, 0) + cur.rowcount
                cur.execute('RELEASE SAVEPOINT dbops_batch')
                return
            except psycopg2.Error as err:
                cur.execute('ROLLBACK TO SAVEPOINT dbops_batch')
                cur.execute('RELEASE SAVEPOINT dbops_batch')
                reason = _reason(err)
            if seqs is None:
                cur.execute('SELECT seq FROM dbops_net WHERE tbl = %s AND action = %s AND sig = %s::text[] ORDER BY seq',
                            (name, action, signature))
                seqs = [row[0] for row in cur.fetchall()]
            if len(seqs) == 1:
                cur.execute('UPDATE dbops_net SET action = %s, reason = %s WHERE seq = ANY(%s)',
                            ('quarantine' if action.startswith(LATER) else LATER + action, reason, seqs))
                return
        half = len(seqs) // 2
        self._batch(statement, name, action, signature, seqs[:half])
        self._batch(statement, name, action, signature, seqs[half:])

    def _signatures(self, name, action):
        with self.conn.cursor() as cur:
            cur.execute('SELECT DISTINCT sig FROM dbops_net WHERE tbl = %s AND action = %s', (name, action))
            return [row[0] for row in cur.fetchall()]

    def _missing_rows(self, name, table, key):
        with self.conn.cursor() as cur:
            cur.execute(_sql('''UPDATE dbops_net n SET action = 'quarantine',
                                       reason = CASE n.action WHEN 'update' THEN 'updated row is not in the restored table'
                                                ELSE 'deleted row is not in the restored table' END
                                 WHERE n.tbl = %(t)s AND n.action IN ('update', 'delete')
                                   AND NOT EXISTS (SELECT 1 FROM {table} d WHERE {match})''',
                             table=table, match=_match(table, key)), dict(t=name))

    def upserts(self, name, later=''):
        spec = self.old[name]
        table = identifier(self.schema, name)
        if not later:
            self._missing_rows(name, table, spec['key'])
        for action in (later + 'insert', later + 'update'):
            for signature in self._signatures(name, action):
                dropped = sorted(set(signature) - set(spec['columns']))
                if dropped:
                    self.dropped.setdefault(name, set()).update(dropped)
                columns = [c for c in spec['columns'] if c in signature]
                names = pgsql.SQL(', ').join(identifier(c) for c in columns)
                values = pgsql.SQL(', ').join(_sql('r.{}', identifier(c)) for c in columns)
                if action.endswith('insert'):
                    statement = _sql('''INSERT INTO {table} ({names}) OVERRIDING SYSTEM VALUE
                                         SELECT {values} FROM dbops_net n
                                          CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, n.row) r
                                          WHERE {batch}''', table=table, names=names, values=values, batch=BATCH)
                else:
                    statement = _sql('''UPDATE {table} d SET ({names}) = (SELECT {values} FROM jsonb_populate_record(d, n.row) r)
                                           FROM dbops_net n WHERE {batch} AND {match}''',
                                     table=table, names=names, values=values, batch=BATCH, match=_match(table, spec['key']))
                self._batch(statement, name, action, signature)

    def deletes(self, name, later=''):
        table = identifier(self.schema, name)
        statement = _sql('''DELETE FROM {table} d USING dbops_net n WHERE {batch} AND {match}''',
                         table=table, batch=BATCH, match=_match(table, self.old[name]['key']))
        for signature in self._signatures(name, later + 'delete'):
            self._batch(statement, name, later + 'delete', signature)


def _reason(err):
    diag = getattr(err, 'diag', None)
    text = (getattr(diag, 'message_primary', None) or str(err)).strip().splitlines()[0]
    constraint = getattr(diag, 'constraint_name', None)
    return text if not constraint or constraint in text else '%s (%s)' % (text, constraint)


def _incoming(source, target):
    """Copy the changes the restored log does not have from the replaced database into a temp table."""
    with target.cursor() as cur:
        cur.execute('CREATE TEMP TABLE dbops_incoming (id bigint, tbl text, op "char", old_key jsonb, new_row jsonb) '
                    'ON COMMIT DROP')
        cur.execute('CREATE TEMP TABLE dbops_change (id bigint, sub int, tbl text, op "char", key jsonb, row jsonb) '
                    'ON COMMIT DROP')
        known = []
        if _exists(target, 'dbops.change_log'):
            cur.execute('SELECT coalesce(array_agg(id), %s) FROM dbops.change_log', ([],))
            known = cur.fetchone()[0]
    buffer = io.BytesIO()
    with source.cursor() as cur:
        cur.copy_expert(cur.mogrify('COPY (SELECT id, tbl, op, old_key, new_row FROM dbops.change_log '
                                    'WHERE id <> ALL(%s::bigint[]) ORDER BY id) TO STDOUT', (known,)).decode(), buffer)
    buffer.seek(0)
    with target.cursor() as cur:
        cur.copy_expert('COPY dbops_incoming FROM STDIN', buffer)
        return cur.rowcount


def _move_sequences(source, target, schema):
    """Every sequence of the restored schema goes past the values the replaced database handed out,
    and past every replayed value."""
    rows = query(source, '''SELECT s.schemaname AS schema, s.sequencename AS name, s.last_value AS value
                              FROM pg_sequences s WHERE s.schemaname = %s AND s.last_value IS NOT NULL''', (schema,))
    moved = []
    for row in rows:
        name = '%s.%s' % (pgsql.Identifier(row['schema']).as_string(target), pgsql.Identifier(row['name']).as_string(target))
        result = query(target, '''SELECT setval(%(s)s::regclass, %(v)s) AS value FROM pg_sequences
                                   WHERE schemaname = %(schema)s AND sequencename = %(name)s
                                     AND coalesce(last_value, 0) < %(v)s''',
                       dict(s=name, v=row['value'], schema=row['schema'], name=row['name']))
        if result:
            moved.append(row['name'])
    # identity and serial columns of replayed rows (a replayed id above what the source's sequence knew)
    owned = query(target, '''SELECT c.relname AS table, a.attname AS column, pg_get_serial_sequence(
                                       quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) AS sequence
                               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                               JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE n.nspname = %s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
                                AND pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                                                           a.attname) IS NOT NULL''', (schema,))
    with target.cursor() as cur:
        for row in owned:
            cur.execute(_sql('''SELECT setval(%(s)s, m) FROM (SELECT max({c}) AS m FROM {t}) x
                                 WHERE m > (SELECT last_value FROM {seq})''',
                             c=identifier(row['column']), t=identifier(schema, row['table']),
                             seq=pgsql.SQL(row['sequence'])), dict(s=row['sequence']))
            if cur.fetchone() and row['table'] not in moved:
                moved.append(row['table'])
    return moved


def quarantine_lines(rows):
    """The quarantined changes as JSON lines (the file beside the journal and the report)."""
    return ''.join(json.dumps(row, sort_keys=True, default=str) + '\n' for row in rows)


def replay(source, target, schema='public', label='', quarantine_file=None, check_mode=False):
    """Replay into `target` (the restored database, app stopped) the changes captured in `source` (the
    database it replaced). All or nothing: an error leaves the target exactly as restored."""
    started = time.time()
    if not _exists(source, 'dbops.change_log'):
        note = ('none replayed: %s holds no change log (the capture had ended, the deploy was accepted, or it never '
                'ran); what was written there since is only in that database' % source.info.dbname)
        return dict(changed=False, captured=0, replayed=0, applied={}, dropped_columns={}, quarantined={},
                    quarantine=[], seconds=0.0, note=note)
    target.autocommit = False
    try:
        with target.cursor() as cur:
            cur.execute("SET LOCAL dbops.capture = 'off'")
        captured = _incoming(source, target)
        with target.cursor() as cur:  # the restored copy's triggers would only cost a call per replayed row
            for statement in _remove_statements(target):
                cur.execute(statement)
        work = Replay(target, schema)
        with target.cursor() as cur:
            for name in sorted(set(row[0] for row in _fetch(cur, 'SELECT DISTINCT tbl FROM dbops_incoming'))):
                if name in work.old and work.old[name]['key']:
                    _expand(cur, name, work.old[name]['key'])
            cur.execute(_NET)
            cur.execute('''INSERT INTO dbops_net (seq, tbl, key, action, wanted, row, change_ids, reason)
                           SELECT (SELECT coalesce(max(seq), 0) FROM dbops_net) + row_number() OVER (ORDER BY id),
                                  tbl, old_key, 'quarantine',
                                  CASE op WHEN 'I' THEN 'insert' WHEN 'U' THEN 'update' WHEN 'D' THEN 'delete'
                                          ELSE 'truncate' END,
                                  new_row, ARRAY[id],
                                  CASE WHEN op = 'T' THEN 'TRUNCATE is not replayed: the table keeps its restored rows'
                                       ELSE 'table is not in the restored schema (made by the new release)' END
                             FROM dbops_incoming i
                            WHERE op = 'T' OR NOT EXISTS (SELECT 1 FROM dbops_change c WHERE c.id = i.id)''')
            # temp tables are never analyzed by autovacuum: without this the batches' plans scan them whole
            cur.execute('CREATE INDEX ON dbops_net (seq)')
            cur.execute('CREATE INDEX ON dbops_net (tbl, action, sig)')
            cur.execute('ANALYZE dbops_net')
        order = [name for name in parents_first(work.old) if name in _touched(target)]
        for later in ('', LATER):
            for name in order:
                work.upserts(name, later)
            for name in reversed(order):
                work.deletes(name, later)
        moved = _move_sequences(source, target, schema)
        quarantine = _record_quarantine(target, label)
        with target.cursor() as cur:
            _drop_empty_schema(cur)
        if check_mode:
            target.rollback()
        else:
            if quarantine_file and quarantine:
                write_private(quarantine_file, quarantine_lines(quarantine))
            target.commit()
    except Exception:
        target.rollback()
        if quarantine_file and not check_mode and os.path.exists(quarantine_file):
            os.unlink(quarantine_file)  # it would name changes that are not quarantined
        raise
    finally:
        target.autocommit = True
    quarantined = count_quarantine(quarantine)
    replayed = sum(sum(counts.values()) for counts in work.applied.values())
    return dict(changed=captured > 0, captured=captured, replayed=replayed, applied=work.applied,
                dropped_columns=dict((k, sorted(v)) for k, v in work.dropped.items()),
                quarantined=quarantined, quarantine=quarantine, sequences_moved=moved,
                seconds=round(time.time() - started, 3))


def count_quarantine(rows):
    """{table: {reason: number of changes}}."""
    counts = {}
    for row in rows:
        reasons = counts.setdefault(row['table'], {})
        reasons[row['reason']] = reasons.get(row['reason'], 0) + len(row['change_ids'])
    return counts


def _fetch(cur, statement):
    cur.execute(statement)
    return cur.fetchall()


def _touched(conn):
    with conn.cursor() as cur:
        return set(row[0] for row in _fetch(cur, "SELECT DISTINCT tbl FROM dbops_net WHERE action <> 'quarantine'"))


def _record_quarantine(conn, label):
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM dbops_net WHERE action = 'quarantine'")
        if not cur.fetchone()[0]:
            return []
        cur.execute("SELECT to_regnamespace('dbops') IS NULL")
        if cur.fetchone()[0]:
            cur.execute('CREATE SCHEMA dbops')
        cur.execute('''CREATE TABLE IF NOT EXISTS dbops.quarantine (
                         run text NOT NULL, tbl text NOT NULL, action text NOT NULL, key jsonb, row jsonb,
                         reason text NOT NULL, change_ids bigint[] NOT NULL, at timestamptz NOT NULL DEFAULT now())''')
        cur.execute('''INSERT INTO dbops.quarantine (run, tbl, action, key, row, reason, change_ids)
                       SELECT %s, tbl, wanted, key, row, reason, change_ids
                         FROM dbops_net WHERE action = 'quarantine' ORDER BY seq
                       RETURNING tbl, action, key, row, reason, change_ids''', (label,))
        return [dict(table=r[0], action=r[1], key=r[2], row=r[3], reason=r[4], change_ids=r[5]) for r in cur.fetchall()]


def quarantine_rows(conn, run=None):
    """The quarantine, for pg_backup_info-style listing."""
    if not _exists(conn, 'dbops.quarantine'):
        return []
    return query(conn, '''SELECT run, tbl AS table, action, key, row, reason, change_ids, at FROM dbops.quarantine
                           WHERE %(run)s::text IS NULL OR run = %(run)s ORDER BY at, tbl''', dict(run=run))
