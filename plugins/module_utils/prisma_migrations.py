# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A native, Prisma-compatible migration engine for PostgreSQL.

It reads and writes ``_prisma_migrations`` exactly as Prisma Migrate (<= 7) does, takes the
same advisory lock (72707369), and adds what Prisma lacks: a dry run, lock and statement
timeouts, atomic migrations, rollback scripts and a complete status.

Transaction semantics (``transaction``):
  * ``auto`` (default): each migration runs in its own transaction together with the insert
    and the update of its row (so a connection lost mid-way leaves no row at all, and blocks
    nobody). If it fails, the transaction is rolled back, so the schema is
    exactly as before; the attempt stays in the history with its error in ``logs`` and
    ``rolled_back_at`` set. That is the state Prisma's own recovery
    (``migrate resolve --rolled-back``) would write, so neither this engine nor the Prisma CLI
    is blocked, and both re-apply the fixed migration on the next deploy. Scripts that manage
    their own transaction or contain statements PostgreSQL refuses in a transaction block
    (``CREATE INDEX CONCURRENTLY``, ...) run as Prisma runs them.
  * ``never``: as prisma-engines' native PostgreSQL connector (``apply_migration_script``: the whole
    file as one simple-query message, which PostgreSQL runs as one implicit transaction); a failure
    leaves a failed row (P3009 on the next deploy until it is resolved). Prisma 7.4's concurrent
    index support (PR 5767) may split such files; the sources readable here predate it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import fnmatch
import hashlib
import os
import time
import uuid

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import sql_lint

ADVISORY_LOCK_KEY = 72707369
TABLE = '_prisma_migrations'
POSTGIS_TABLES = ('spatial_ref_sys', 'geometry_columns', 'geography_columns', 'raster_columns', 'raster_overviews')
MIGRATIONS_TABLE_DDL = """CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);"""
RESOLVE_URL = 'https://pris.ly/d/migrate-resolve'
LOCK_TIMEOUT = '55P03'  # SQLSTATE lock_not_available


class MigrationError(postgres.PgError):
    """A refusal or failure, with Prisma's error code where Prisma has one."""

    def __init__(self, message, code=None):
        super(MigrationError, self).__init__(message)
        self.code = code


# -- pure logic ---------------------------------------------------------------------------------

def checksum(raw):
    """Prisma's checksum: sha256 of the file's bytes, lowercase hex."""
    return hashlib.sha256(raw).hexdigest()


def _legacy_hex(digest):
    """The unpadded hex that Prisma wrote before mid-2021 ({:x} per byte)."""
    return ''.join('%x' % byte for byte in bytearray(digest))


def checksum_matches(stored, raw):
    """Prisma's comparison: the file as is, with CRLF->LF or LF->CRLF, in padded or legacy hex."""
    text = raw.decode('utf-8', 'replace')
    variants = [text, text.replace('\r\n', '\n'), text.replace('\n', '\r\n')]
    legacy = bool(stored) and len(stored) != 64
    for variant in variants:
        digest = hashlib.sha256(variant.encode('utf-8')).digest()
        rendered = _legacy_hex(digest) if legacy else digest.hex()
        if rendered == stored:
            return True
    return False


def lock_provider(text):
    """The provider of migration_lock.toml read as Prisma reads it (first line starting with provider)."""
    for line in text.splitlines():
        if line.startswith('provider'):
            value = line[len('provider = '):] if line.startswith('provider = ') else line
            return value.strip('"')
    return '<PROVIDER NOT FOUND>'


class LocalMigration(object):
    def __init__(self, name, path, raw=None, error=None):
        self.name = name
        self.path = path
        self.raw = raw
        self.error = error

    @property
    def checksum(self):
        return checksum(self.raw) if self.raw is not None else None

    def script(self):
        if self.raw is None:
            raise MigrationError('Could not find the migration file at %s. Please delete the directory or restore '
                                 'the migration file.' % os.path.join(self.path, 'migration.sql'), 'P3015')
        return self.raw.decode('utf-8')


def list_local(migrations_dir):
    """Every folder of migrations_dir, sorted by name, as Prisma lists them; checks the lock file."""
    if not os.path.isdir(migrations_dir):
        raise MigrationError('The migrations folder %s does not exist. Set project_dir to the folder that holds '
                             'prisma/migrations, or migrations_dir to the migrations folder itself.' % migrations_dir)
    lock_file = os.path.join(migrations_dir, 'migration_lock.toml')
    if os.path.isfile(lock_file):
        with open(lock_file, 'rb') as stream:
            provider = lock_provider(stream.read().decode('utf-8', 'replace'))
        if provider != 'postgresql':
            raise MigrationError(
                'The datasource provider `postgresql` specified in your schema does not match the one specified in '
                'the migration_lock.toml, `%s`. Please remove your current migration directory and start a new '
                'migration history with prisma migrate dev. Read more: https://pris.ly/d/migrate-provider-switch'
                % provider, 'P3019')
    migrations = []
    for name in sorted(os.listdir(migrations_dir)):
        path = os.path.join(migrations_dir, name)
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        try:
            with open(os.path.join(path, 'migration.sql'), 'rb') as stream:
                migrations.append(LocalMigration(name, path, raw=stream.read()))
        except (IOError, OSError) as err:
            migrations.append(LocalMigration(name, path, error=str(err)))
    return migrations


def find_rollback_script(migration, rollback_dir):
    """The rollback of a migration: <rollback_dir>/<timestamp>_rollback_<name>.sql (the runbook's
    convention; a shortened name after the timestamp is accepted when it is the only one), or
    down.sql inside the migration folder."""
    stamp, _sep, rest = migration.name.partition('_')
    if rollback_dir and os.path.isdir(rollback_dir):
        exact = os.path.join(rollback_dir, '%s_rollback_%s.sql' % (stamp, rest))
        if os.path.isfile(exact):
            return exact
        matches = sorted(fnmatch.filter(os.listdir(rollback_dir), '%s_rollback_*.sql' % stamp))
        if len(matches) == 1:
            return os.path.join(rollback_dir, matches[0])
    down = os.path.join(migration.path, 'down.sql')
    return down if os.path.isfile(down) else None


def _iso(value):
    return value.isoformat() if value is not None else None


def compute_status(local, rows):
    """Per-migration status, like `prisma migrate status` but complete.

    rows: dicts of _prisma_migrations ordered by started_at (None when the table is missing).
    """
    rows = rows or []
    by_name = {}
    for row in rows:
        by_name.setdefault(row['migration_name'], []).append(row)
    local_names = set(m.name for m in local)
    entries = []
    for migration in local:
        attempts = by_name.get(migration.name, [])
        live = [r for r in attempts if r['rolled_back_at'] is None]
        done = [r for r in live if r['finished_at'] is not None]
        failed = [r for r in live if r['finished_at'] is None]
        row = (done or failed or attempts or [None])[-1]
        if done:
            state = 'applied' if (migration.raw is not None and checksum_matches(row['checksum'], migration.raw)) \
                else 'modified'
        elif failed:
            state = 'failed'
        elif attempts:
            state = 'rolled_back'
        else:
            state = 'pending'
        entries.append(_entry(migration.name, state, migration.checksum, row, len(attempts)))
    for name in sorted(set(by_name) - local_names):
        attempts = by_name[name]
        entries.append(_entry(name, 'missing_locally', None, attempts[-1], len(attempts)))
    return entries


def _entry(name, state, local_checksum, row, attempts):
    entry = dict(name=name, state=state, checksum_local=local_checksum, checksum_db=None, started_at=None,
                 finished_at=None, rolled_back_at=None, duration=None, attempts=attempts, logs=None)
    if row:
        entry.update(checksum_db=row['checksum'], started_at=_iso(row['started_at']),
                     finished_at=_iso(row['finished_at']), rolled_back_at=_iso(row['rolled_back_at']),
                     logs=row.get('logs'))
        if row['finished_at'] is not None:
            entry['duration'] = round((row['finished_at'] - row['started_at']).total_seconds(), 3)
    return entry


def summarize(entries, has_table):
    """Lists by state; `pending` is what deploy would apply (including rolled-back ones), in order."""
    def names(*states):
        return [e['name'] for e in entries if e['state'] in states]
    summary = dict(has_migrations_table=has_table, pending=names('pending', 'rolled_back'),
                   failed_migrations=names('failed'),
                   modified=names('modified'), missing_locally=names('missing_locally'),
                   applied=names('applied', 'modified'))
    summary['in_sync'] = not (summary['pending'] or summary['failed_migrations'] or summary['modified']
                              or summary['missing_locally'])
    summary['latest_applied'] = summary['applied'][-1] if summary['applied'] else None
    return summary


def select_until(names, target):
    """The names up to and including target (all when target is empty); an unknown target is an error."""
    if not target:
        return list(names)
    if target not in names:
        raise MigrationError('Unknown target migration %r: it is not among %s. Give the whole folder name, e.g. '
                             '20260218193213_add_performance_indexes.' % (target, ', '.join(names) or 'no migrations'))
    return list(names[:names.index(target) + 1])


INSERT_ROW = 'INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES (%s, %s, %s, %s)'


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


# -- the engine ---------------------------------------------------------------------------------

class Engine(object):
    """Reads and changes the migration history of one schema over one connection."""

    def __init__(self, conn, schema='public'):
        self.conn = conn
        self.schema = schema
        self.locked = False
        # a change capture (pg_capture) must not log the migrations' own writes, data migrations included
        postgres.query(conn, "SET dbops.capture = 'off'")

    # connection set-up -----------------------------------------------------------------------
    def use_schema(self, create):
        exists = postgres.query(self.conn, 'SELECT 1 AS x FROM pg_namespace WHERE nspname = %s', (self.schema,))
        if not exists:
            if not create:
                return False
            postgres.query(self.conn, postgres.compose('CREATE SCHEMA {schema}', schema=self.schema))
        postgres.query(self.conn, postgres.compose('SET search_path TO {schema}', schema=self.schema))
        return True

    def lock(self, timeout=10.0):
        """Prisma's session advisory lock, waited for up to timeout seconds."""
        if os.environ.get('PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK', '') not in ('', '0'):
            return
        deadline = time.time() + timeout
        while True:
            if postgres.query(self.conn, 'SELECT pg_try_advisory_lock(%s) AS ok', (ADVISORY_LOCK_KEY,))[0]['ok']:
                self.locked = True
                return
            if time.time() >= deadline:
                holders = postgres.query(self.conn, (
                    "SELECT a.pid, a.application_name, a.client_addr::text AS client, a.state, "
                    "now() - a.backend_start AS connected_for FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                    "WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted"), (ADVISORY_LOCK_KEY,))
                who = ', '.join('pid %s (%s)' % (h['pid'], h['application_name'] or 'unknown') for h in holders)
                raise MigrationError(
                    'Timed out after %gs waiting for the migration lock (pg_advisory_lock(%d)): another migration '
                    'runs on this database (held by %s). Wait for it to finish; if that session is stale, end it '
                    'with SELECT pg_terminate_backend(pid).' % (timeout, ADVISORY_LOCK_KEY, who or 'another session'),
                    'P1002')
            time.sleep(0.1)

    def unlock(self):
        # a lost connection took its session lock with it
        if self.locked and not self.conn.closed:
            postgres.query(self.conn, 'SELECT pg_advisory_unlock(%s)', (ADVISORY_LOCK_KEY,))
        self.locked = False

    # history ---------------------------------------------------------------------------------
    def has_table(self):
        return bool(postgres.query(self.conn, (
            "SELECT 1 AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"), (self.schema, TABLE)))

    def rows(self):
        if not self.has_table():
            return None
        return postgres.query(self.conn, (
            'SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, '
            'applied_steps_count FROM _prisma_migrations ORDER BY started_at ASC'))

    def other_tables(self):
        rows = postgres.query(self.conn, (
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY 1"), (self.schema,))
        return [r['relname'] for r in rows if r['relname'].lower() not in POSTGIS_TABLES and r['relname'] != TABLE]

    def initialize(self):
        """Create _prisma_migrations, or refuse (P3005) on a non-empty schema Prisma does not manage."""
        if self.has_table():
            return False
        others = self.other_tables()
        if others:
            raise MigrationError(
                'The database schema is not empty. Read more about how to baseline an existing production '
                'database: https://pris.ly/d/migrate-baseline (schema "%s" already has %d tables, e.g. %s, but no '
                '_prisma_migrations; mark the migrations that built them with state=resolved applied=NAME).'
                % (self.schema, len(others), ', '.join(others[:5])), 'P3005')
        postgres.query(self.conn, MIGRATIONS_TABLE_DDL)
        return True

    def refuse_failed(self, rows):
        failed = [r for r in rows or [] if r['finished_at'] is None and r['rolled_back_at'] is None]
        if failed:
            details = '\n'.join('The `%s` migration started at %s failed' % (r['migration_name'], r['started_at'])
                                for r in failed)
            first = failed[0]['migration_name']
            raise MigrationError(
                'migrate found failed migrations in the target database, new migrations will not be applied. Read '
                'more about how to resolve migration issues in a production database: %s\n%s\nWays out: if the '
                'failed script changed nothing (or you reverted it by hand), mark it rolled back '
                '(state=resolved rolled_back=%s, or prisma migrate resolve --rolled-back "%s") and deploy again; '
                'if you completed it by hand, mark it applied (state=resolved applied=%s).'
                % (RESOLVE_URL, details, first, first, first), 'P3009')

    # applying --------------------------------------------------------------------------------
    def set_timeouts(self, lock_timeout, statement_timeout):
        for setting, value in (('lock_timeout', lock_timeout), ('statement_timeout', statement_timeout)):
            if value is not None:
                postgres.query(self.conn, 'SELECT set_config(%s, %s, false)', (setting, str(value)))

    def apply(self, migration, transaction='auto', lock_retries=0):
        """Apply one migration, writing its row as Prisma does. A wrapped migration that hit lock_timeout
        is tried again up to lock_retries times (its transaction left nothing behind). Returns a result dict."""
        script = migration.script()
        row = (str(uuid.uuid4()), migration.checksum, _now(), migration.name)
        wrapped = transaction == 'auto' and not sql_lint.needs_own_transaction_control(script)
        clock = time.time()
        lock_waits = 0
        while True:
            try:
                with self.conn.cursor() as cur:
                    # Wrapped, the row is written inside the migration's transaction: a connection lost
                    # mid-way (server restart, killed controller) leaves no row, so nothing is blocked.
                    if wrapped:
                        cur.execute('BEGIN')
                    cur.execute(INSERT_ROW, row)
                    cur.execute(script)  # no parameters: sent as one simple query, as Prisma sends it
                    self._mark_finished(cur, row[0])
                    if wrapped:
                        cur.execute('COMMIT')
                break
            except postgres.psycopg2.Error as err:
                if self.conn.closed:
                    raise self._connection_lost(migration.name, err, wrapped)
                if wrapped:
                    self._rollback_quietly()
                    if getattr(err, 'pgcode', None) == LOCK_TIMEOUT and lock_waits < lock_retries:
                        lock_waits += 1
                        time.sleep(min(lock_waits, 5))  # let the application's queued queries through first
                        continue
                    postgres.query(self.conn, INSERT_ROW, row)  # the attempt is history: kept, marked rolled back
                self._record_failure(row[0], migration.name, err, rolled_back=wrapped)
        return dict(name=migration.name, id=row[0], checksum=migration.checksum, transactional=wrapped,
                    duration=round(time.time() - clock, 3), lock_retries=lock_waits)

    @staticmethod
    def _connection_lost(name, err, wrapped):
        cause = postgres.first_line(err)
        if wrapped:
            return MigrationError('The connection to the server was lost while migration %s ran (%s). The server '
                                  'rolled its transaction back: the schema is as it was and no row was written, so '
                                  'nothing is blocked. Deploy again once the server answers.' % (name, cause))
        return MigrationError('The connection to the server was lost while migration %s ran without a transaction '
                              'of ours (%s): part of it may have been applied and its row stays unfinished. Check '
                              'what it changed, then mark it with state=resolved rolled_back=%s or applied=%s.'
                              % (name, cause, name, name), 'P3009')

    def _rollback_quietly(self):
        with self.conn.cursor() as cur:
            cur.execute('ROLLBACK')

    @staticmethod
    def _mark_finished(cur, row_id):
        cur.execute('UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1 WHERE id = %s',
                    (row_id,))
        cur.execute('UPDATE _prisma_migrations SET finished_at = %s WHERE id = %s', (_now(), row_id))

    def lock_holders(self):
        """Sessions of this database with an open transaction: who may hold the lock a migration waited for."""
        rows = postgres.query(self.conn, "SELECT pid, usename, state, now() - xact_start AS open_for, left(query, 200) "
                                         "AS query FROM pg_stat_activity WHERE datname = current_database() AND "
                                         "pid <> pg_backend_pid() AND xact_start IS NOT NULL ORDER BY xact_start")
        return '; '.join('pid %s (%s, %s for %s): %s' % (r['pid'], r['usename'], r['state'], r['open_for'],
                                                         r['query']) for r in rows) or 'none now'

    def _record_failure(self, row_id, name, err, rolled_back):
        code = getattr(err, 'pgcode', None) or 'none'
        message = (getattr(err, 'pgerror', None) or str(err)).strip()
        if code == LOCK_TIMEOUT:  # lock_timeout: name who held it, and what to do
            message += ('\nSessions with an open transaction on this database (one of them holds the lock): %s. '
                        'End it (SELECT pg_terminate_backend(pid)) or wait, then deploy again.' % self.lock_holders())
        logs = ('A migration failed to apply. New migrations cannot be applied before the error is recovered from. '
                'Read more about how to resolve migration issues in a production database: %s\n\n'
                'Migration name: %s\n\nDatabase error code: %s\n\nDatabase error:\n%s\n'
                % (RESOLVE_URL, name, code, message))
        if rolled_back:
            postgres.query(self.conn, 'UPDATE _prisma_migrations SET logs = %s, rolled_back_at = %s WHERE id = %s',
                           (logs, _now(), row_id))
            raise MigrationError('Migration %s failed and was rolled back: the schema is as it was before it, and '
                                 'the attempt is recorded in _prisma_migrations (rolled_back_at set). Fix the '
                                 'migration and deploy again.\n\nDatabase error code: %s\nDatabase error: %s'
                                 % (name, code, message), 'P3018')
        postgres.query(self.conn, 'UPDATE _prisma_migrations SET logs = %s WHERE id = %s', (logs, row_id))
        raise MigrationError(logs + '\nThe migration ran without a transaction of ours (transaction=never or a '
                             'script that manages its own): check what it changed, then mark it with '
                             'state=resolved rolled_back=%s or applied=%s.' % (name, name), 'P3018')

    def run_rollback(self, migration, script_path, row_ids):
        """Run a rollback script and mark the migration's rows rolled back, in one transaction."""
        with open(script_path, 'rb') as stream:
            script = stream.read().decode('utf-8')
        clock = time.time()
        try:
            with self.conn.cursor() as cur:
                cur.execute('BEGIN')
                cur.execute(script)
                cur.execute('UPDATE _prisma_migrations SET rolled_back_at = %s WHERE id = ANY(%s)', (_now(), row_ids))
                cur.execute('COMMIT')
        except postgres.psycopg2.Error as err:
            self._rollback_quietly()
            raise MigrationError('The rollback script %s of %s failed; nothing of it was kept (it ran in a '
                                 'transaction): %s' % (script_path, migration.name,
                                                       (getattr(err, 'pgerror', None) or str(err)).strip()))
        return dict(name=migration.name, script=script_path, duration=round(time.time() - clock, 3))

    def resolve_applied(self, migration):
        """`prisma migrate resolve --applied`: close failed rows, insert a finished row."""
        script = migration.script()  # P3015 when the file is gone
        del script
        rows = [r for r in self.rows() or [] if r['migration_name'] == migration.name]
        if any(r['finished_at'] is not None for r in rows):
            raise MigrationError('The migration `%s` is already recorded as applied in the database.'
                                 % migration.name, 'P3008')
        now = _now()
        for row in rows:
            if row['finished_at'] is None and row['rolled_back_at'] is None:
                postgres.query(self.conn, 'UPDATE _prisma_migrations SET rolled_back_at = %s WHERE id = %s',
                               (now, row['id']))
        postgres.query(self.conn, (
            "INSERT INTO _prisma_migrations (id, checksum, logs, started_at, finished_at, migration_name) "
            "VALUES (%s, %s, '', %s, %s, %s)"), (str(uuid.uuid4()), migration.checksum, now, now, migration.name))

    def resolve_rolled_back(self, name):
        """`prisma migrate resolve --rolled-back`: mark failed rows rolled back (update only)."""
        rows = [r for r in self.rows() or [] if r['migration_name'] == name]
        if not rows:
            raise MigrationError('Migration `%s` cannot be rolled back because it was never applied to the database. '
                                 'Hint: did you pass in the whole migration name? (example: '
                                 '"20201207184859_initial_migration")' % name, 'P3011')
        if all(r['finished_at'] is not None for r in rows):
            raise MigrationError('Migration `%s` cannot be rolled back because it is not in a failed state. To undo '
                                 'an applied migration, use state=rolled_back with target set to the last migration '
                                 'to keep.' % name, 'P3012')
        postgres.query(self.conn, 'UPDATE _prisma_migrations SET rolled_back_at = %s WHERE migration_name = %s '
                                  'AND finished_at IS NULL AND rolled_back_at IS NULL', (_now(), name))


# -- operations the modules run -----------------------------------------------------------------

class Project(object):
    """Where a Prisma project's migrations and rollback scripts are; or, from a bundle, the migrations another host
    read (the deploy applies them from the database host)."""

    def __init__(self, project_dir=None, migrations_dir=None, rollback_dir=None, bundle=None):
        if bundle is not None:
            self.migrations_dir = self.rollback_dir = None
            self.migrations = [LocalMigration(entry['name'], entry['path'], error=entry.get('error'),
                                              raw=None if entry.get('sql_base64') is None
                                              else base64.b64decode(entry['sql_base64']))
                               for entry in bundle]
        elif project_dir or migrations_dir:
            self.migrations_dir = migrations_dir or os.path.join(project_dir, 'prisma', 'migrations')
            base = project_dir or os.path.dirname(os.path.dirname(self.migrations_dir.rstrip('/')))
            self.rollback_dir = rollback_dir or os.path.join(base, 'migrations', 'rollback')
            self.migrations = list_local(self.migrations_dir)
        else:
            raise MigrationError('Set project_dir (the folder holding prisma/) or migrations_dir.')
        self.by_name = dict((m.name, m) for m in self.migrations)


def bundle(project):
    """The project's migrations as data for another host: each folder's name and path and the exact bytes of its
    migration.sql (base64: Prisma's checksum is of those bytes), or why the file could not be read."""
    return [dict(name=m.name, path=m.path, error=m.error,
                 sql_base64=None if m.raw is None else base64.b64encode(m.raw).decode('ascii'))
            for m in project.migrations]


def status(conn, project, schema='public'):
    """The full status (entries + summary) without changing anything."""
    engine = Engine(conn, schema)
    rows = engine.rows() if engine.use_schema(create=False) else None
    entries = compute_status(project.migrations, rows)
    return entries, summarize(entries, rows is not None)


def _modified_guard(entries, on_modified, warnings):
    modified = [e['name'] for e in entries if e['state'] == 'modified']
    if not modified:
        return
    text = ('Applied migration(s) changed on disk since they were applied (checksum differs): %s. The database '
            'ran the old text. Restore the files from version control, or put the change in a new migration.'
            % ', '.join(modified))
    if on_modified == 'fail':
        raise MigrationError(text + ' (on_modified=warn lets the deploy go on.)')
    warnings.append(text)


def deploy(conn, project, schema='public', target=None, transaction='auto', lock_timeout=None,
           statement_timeout=None, advisory_lock_timeout=10.0, on_modified='fail', lint='warn', check_mode=False,
           lock_retries=0):
    """Apply the pending migrations (up to target). Returns a result dict; raises MigrationError."""
    engine = Engine(conn, schema)
    warnings = []
    schema_exists = engine.use_schema(create=False)
    if not check_mode:
        engine.lock(advisory_lock_timeout)
    try:
        rows = engine.rows() if schema_exists else None
        engine.refuse_failed(rows)
        entries = compute_status(project.migrations, rows)
        _modified_guard(entries, on_modified, warnings)
        wanted = set(select_until([m.name for m in project.migrations], target))
        pending_names = summarize(entries, rows is not None)['pending']
        todo = [project.by_name[name] for name in pending_names if name in wanted]
        findings, online_unsafe = [], []
        for migration in todo:  # reads every script first: a missing file (P3015) stops us before any write
            source = os.path.join(migration.name, 'migration.sql')
            findings.extend(sql_lint.lint(migration.script(), source))
            unsafe = sql_lint.online_unsafe(migration.script(), source)
            if unsafe:
                online_unsafe.append(unsafe)
        if findings and lint == 'fail':
            raise MigrationError('Lint found %d statement(s) that take long locks on existing tables, first: %s '
                                 '(%s line %s). Rewrite them, or set lint=warn to deploy anyway.'
                                 % (len(findings), findings[0]['rule'], findings[0]['file'], findings[0]['line']))
        if rows is None:
            if check_mode:
                if schema_exists and engine.other_tables():
                    engine.initialize()  # raises P3005 without writing: the schema is not empty
            else:
                engine.use_schema(create=True)
                engine.initialize()
        planned = [dict(name=m.name, checksum=m.checksum,
                        transactional=transaction == 'auto' and not sql_lint.needs_own_transaction_control(m.script()))
                   for m in todo]
        applied = []
        if not check_mode and todo:
            engine.set_timeouts(lock_timeout, statement_timeout)
            for migration in todo:
                applied.append(engine.apply(migration, transaction, lock_retries))
        return dict(applied=applied if not check_mode else planned, planned=planned,
                    lint=findings if lint != 'off' else [], warnings=warnings, changed=bool(todo),
                    online=dict(safe=not online_unsafe, unsafe=online_unsafe, reasons=[
                        '%(file)s line %(line)s, %(statement)s: %(reason)s' % u for u in online_unsafe]))
    finally:
        engine.unlock()


def rollback(conn, project, target, schema='public', advisory_lock_timeout=10.0, check_mode=False,
             lock_timeout=None, statement_timeout=None):
    """Undo the applied migrations after target with their rollback scripts, newest first."""
    if target not in project.by_name:
        select_until([m.name for m in project.migrations], target)  # raises the unknown-target error
    engine = Engine(conn, schema)
    if not engine.use_schema(create=False) or not engine.has_table():
        raise MigrationError('Schema "%s" has no _prisma_migrations table: there is nothing to roll back.' % schema)
    if not check_mode:
        engine.lock(advisory_lock_timeout)
    try:
        rows = engine.rows()
        engine.refuse_failed(rows)
        live = {}
        for row in rows:
            if row['rolled_back_at'] is None and row['finished_at'] is not None:
                live.setdefault(row['migration_name'], []).append(row['id'])
        undo = sorted((name for name in live if name > target), reverse=True)
        missing_local = [name for name in undo if name not in project.by_name]
        if missing_local:
            raise MigrationError('Cannot roll back %s: the migration folder is not in %s. Roll back from the '
                                 'release that shipped it.' % (', '.join(missing_local), project.migrations_dir))
        plan = []
        for name in undo:
            script = find_rollback_script(project.by_name[name], project.rollback_dir)
            if script is None:
                raise MigrationError('No rollback script for %s: expected %s/%s_rollback_%s.sql or down.sql in '
                                     'the migration folder. Nothing was rolled back.'
                                     % ((name, project.rollback_dir) + tuple(name.split('_', 1))))
            plan.append((project.by_name[name], script))
        done = []
        if not check_mode:
            engine.set_timeouts(lock_timeout, statement_timeout)
            for migration, script in plan:
                done.append(engine.run_rollback(migration, script, live[migration.name]))
        return dict(rolled_back=done if not check_mode else
                    [dict(name=m.name, script=s) for m, s in plan], changed=bool(plan))
    finally:
        engine.unlock()


def resolve(conn, project, applied=None, rolled_back=None, schema='public', advisory_lock_timeout=10.0,
            check_mode=False):
    """`prisma migrate resolve`, exactly; returns whether something changed."""
    engine = Engine(conn, schema)
    if applied:
        if applied not in project.by_name:
            raise MigrationError('The migration %s could not be found. Please make sure that the migration exists, '
                                 'and that you included the whole name of the directory. (example: '
                                 '"20201207184859_initial_migration")' % applied, 'P3017')
        if check_mode:
            rows = engine.rows() if engine.use_schema(create=False) else None
            if any(r['migration_name'] == applied and r['finished_at'] is not None for r in rows or []):
                raise MigrationError('The migration `%s` is already recorded as applied in the database.'
                                     % applied, 'P3008')
            return True
        engine.use_schema(create=True)
        engine.lock(advisory_lock_timeout)
        try:
            if not engine.has_table():
                postgres.query(conn, MIGRATIONS_TABLE_DDL)  # baselining: no emptiness check, as Prisma
            engine.resolve_applied(project.by_name[applied])
        finally:
            engine.unlock()
        return True
    if not engine.use_schema(create=False) or not engine.has_table():
        raise MigrationError('Invariant violation: called markMigrationRolledBack on a database without migrations '
                             'table.')
    if check_mode:
        rows = [r for r in engine.rows() if r['migration_name'] == rolled_back]
        changed = any(r['finished_at'] is None and r['rolled_back_at'] is None for r in rows)
        if not rows or all(r['finished_at'] is not None for r in rows):
            engine.resolve_rolled_back(rolled_back)  # raises P3011 / P3012 before writing
        return changed
    engine.lock(advisory_lock_timeout)
    try:
        before = [r for r in engine.rows() if r['migration_name'] == rolled_back]
        engine.resolve_rolled_back(rolled_back)
        return any(r['finished_at'] is None and r['rolled_back_at'] is None for r in before)
    finally:
        engine.unlock()
