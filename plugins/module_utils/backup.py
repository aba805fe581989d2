# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create, verify and expire backups of one database: pg_dump backups and snapshot databases.

A dump is taken inside an exported snapshot, so the row counts recorded in the manifest are
exactly the rows in the dump; the restore drill compares against them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import time

from ansible_collections.defneqr.dbops.plugins.module_utils import backup_store as store_mod
from ansible_collections.defneqr.dbops.plugins.module_utils import dumps
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres, programs
from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError
from ansible_collections.defneqr.dbops.plugins.module_utils.postgres import PgError

VERIFY_LEVELS = ('none', 'checksum', 'list', 'full', 'restore')
TABLE_STATS = """
SELECT n.nspname AS schema, c.relname AS table, c.relkind AS kind, c.reltuples::bigint AS estimate,
       pg_total_relation_size(c.oid) AS bytes
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg_toast%%'
 ORDER BY 1, 2"""


def derived_name(database, suffix):
    """database + suffix within PostgreSQL's 63 bytes: the database part is shortened, never the suffix's
    time stamp (two swaps of a long name would otherwise get the same name)."""
    room = 63 - len(suffix.encode('utf-8'))
    return database.encode('utf-8')[:room].decode('utf-8', 'ignore') + suffix


def is_derived_name(name, database):
    """Whether name is database + some '_...' suffix as derived_name makes it."""
    return any(name == derived_name(database, name[i:]) for i, char in enumerate(name) if char == '_' and i)


def table_key(table):
    """How manifests and row counts name a table: schema.table, unquoted."""
    return '%s.%s' % (table['schema'], table['table'])


def exact_counts(conn, tables):
    counts = {}
    for table in tables:
        name = postgres.identifier(table['schema'], table['table'])
        counts[table_key(table)] = postgres.query(
            conn, postgres.pgsql.SQL('SELECT count(*) AS n FROM {}').format(name))[0]['n']
    return counts


def sessions_on(conn, database):
    """The sessions that would block CREATE DATABASE ... TEMPLATE or a rename. Not autovacuum workers: the
    server ends those itself (a freshly loaded or busy database often has one)."""
    return postgres.query(conn, (
        "SELECT pid, usename AS user, application_name, client_addr::text AS client, state "
        "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
        "AND backend_type IS DISTINCT FROM 'autovacuum worker'"), (database,))


def sessions_left(conn, database, seconds):
    """The other sessions on database once they had up to `seconds` to end (polled every 0.1 s)."""
    deadline = time.time() + seconds
    others = sessions_on(conn, database)
    while others and time.time() < deadline:
        time.sleep(0.1)
        others = sessions_on(conn, database)
    return others


def free_the_database(conn, database, terminate):
    """Refuse (or, when asked, end) other sessions: CREATE DATABASE ... TEMPLATE and renames need none."""
    # a session its client has just closed (our own module's, a stopped app's) lingers for a moment
    others = sessions_left(conn, database, 2)
    if not others:
        return []
    if not terminate:
        listing = ', '.join('pid %s %s@%s (%s)' % (s['pid'], s['user'], s['client'] or 'local',
                                                   s['application_name'] or '-') for s in others[:10])
        raise PgError('Database "%s" has %d other session(s): %s. Stop the application first (the runbook\'s step 3), '
                      'or set terminate_sessions=true to end them.' % (database, len(others), listing))
    for session in others:
        postgres.query(conn, 'SELECT pg_terminate_backend(%s)', (session['pid'],))
    if sessions_left(conn, database, 10):
        raise PgError('Sessions on "%s" did not end within 10 s after pg_terminate_backend.' % database)
    return [s['pid'] for s in others]


def database_exists(conn, name):
    return database_oid(conn, name) is not None


def database_oid(conn, name):
    rows = postgres.query(conn, 'SELECT oid::bigint AS oid FROM pg_database WHERE datname = %s', (name,))
    return rows[0]['oid'] if rows else None


def clone_database(conn, source, target, method='auto'):
    """CREATE DATABASE target TEMPLATE source. Returns how its files were made: `clone` (PostgreSQL 18's
    file_copy_method=clone, copy_file_range on Linux: shared extents on XFS with reflink or btrfs, constant
    time whatever the size; an in-kernel copy on filesystems such as ext4), `copy` (every byte through the
    server; FILE_COPY from PostgreSQL 15 on) or `wal_log` (older servers), with why a clone was not made.
    auto tries the clone and copies when the server or the data directory's filesystem cannot clone:
    detected by the attempt, which fails at the first file (PostgreSQL removes what it made)."""
    require_createdb(conn)
    version = postgres.server_version(conn)
    statement = postgres.compose('CREATE DATABASE {target} TEMPLATE {source}' +
                                 (' STRATEGY FILE_COPY' if version >= 150000 else ''), target=target, source=source)
    not_cloned = ''
    if method == 'copy':
        not_cloned = 'snapshot_method=copy'
    elif version < 180000:
        not_cloned = 'PostgreSQL %s has no file_copy_method (18 has)' % postgres.major_of(version)
    else:
        try:
            postgres.query(conn, "SET file_copy_method = 'clone'")
            postgres.query(conn, statement)
            return dict(copy_method='clone', not_cloned='')
        except postgres.DRIVER_ERRORS as err:
            not_cloned = 'the data directory cannot clone files: %s' % postgres.first_line(err)
        finally:
            postgres.query(conn, 'RESET file_copy_method')
    if method == 'clone':
        raise clone_refusal(not_cloned)
    postgres.query(conn, statement)
    return dict(copy_method='copy' if version >= 150000 else 'wal_log', not_cloned=not_cloned)


def clone_refusal(not_cloned):
    return PgError('A cloned snapshot (snapshot_method=clone) cannot be made: %s. Put the data directory on '
                   'XFS made with reflink=1 (the default of mkfs.xfs) or btrfs with PostgreSQL 18, or use '
                   'snapshot_method=auto, which copies instead.' % not_cloned)


# A file copy of a database, measured here: 1.16 GB in 3.3 s. Used until this host has a copy of its own to go by.
DEFAULT_COPY_BYTES_PER_SECOND = 300 * 1024 * 1024
CLONE_PROBE = 'dbops_clone_probe'


def predict_snapshot(admin, store, kind, size, method):
    """How the snapshot would be made and how long it would take, without touching the database. A clone
    of template0 (a few MB, dropped at once) tells which method this server takes. The seconds come from
    the database's size at the rate of this host's newest snapshot made the same way: a clone is constant
    on XFS or btrfs but an in-kernel copy on ext4, and only a measurement on this host tells which."""
    drop_database(admin, CLONE_PROBE)
    try:
        made = clone_database(admin, 'template0', CLONE_PROBE, 'auto' if method == 'clone' else method)
    finally:
        drop_database(admin, CLONE_PROBE)
    if method == 'clone' and made['copy_method'] != 'clone':
        raise clone_refusal(made['not_cloned'])
    measured = [m for m in store.backups(kind) if m.get('copy_method') == made['copy_method']
                and m.get('database_size') and m.get('duration')]
    rate, source = DEFAULT_COPY_BYTES_PER_SECOND, 'no %s snapshot measured on this host yet, the rate of a copy here ' \
        '(%d MB/s)' % (made['copy_method'], DEFAULT_COPY_BYTES_PER_SECOND >> 20)
    if measured:
        newest = measured[0]  # newest first
        rate = newest['database_size'] / max(newest['duration'], 0.001)
        source = 'this host\'s %s snapshot %s (%d MB in %s s)' % (
            made['copy_method'], newest['id'], newest['database_size'] >> 20, newest['duration'])
    return dict(copy_method=made['copy_method'], not_cloned=made['not_cloned'], database_size=size,
                predicted_seconds=round(size / rate, 2), predicted_from='%d MB at %s' % (size >> 20, source))


def require_createdb(conn):
    """A snapshot (and a restore beside the live database) creates a database: say which GRANT is missing."""
    role = postgres.query(conn, 'SELECT current_user AS name, rolcreatedb OR rolsuper AS allowed FROM pg_roles '
                                'WHERE rolname = current_user')[0]
    if not role['allowed']:
        raise PgError('Role %s may not create databases, and a snapshot is a new database. As a superuser run: '
                      'ALTER ROLE %s CREATEDB; or choose deploy_rollback_strategy=down_scripts, which needs no '
                      'new database.' % (role['name'], role['name']))


def drop_database(conn, name):
    postgres.query(conn, postgres.compose('DROP DATABASE IF EXISTS {name}', name=name))


class BackupJob(object):
    """One pg_backup run. options: the module's parameters (see plugins/modules/pg_backup.py)."""

    def __init__(self, params, options):
        self.params = params
        self.options = options
        self.database = options['database']
        self.store = store_mod.Store(options['dest'])
        self.kind = options['kind']
        store_mod.check_name(self.kind, store_mod.KIND, 'kind')
        store_mod.check_name(options.get('label'), store_mod.LABEL, 'label')
        self.conn = postgres.connect(params, database=self.database)

    # -- planning -------------------------------------------------------------------------------
    def database_size(self):
        return postgres.query(self.conn, 'SELECT pg_database_size(current_database()) AS n')[0]['n']

    def check_space(self, size):
        factor = self.options.get('free_space_factor', 0.5)
        needed = int(size * factor)
        free = self.store.free_bytes(self.kind)
        if free < needed:
            raise PgError('Only %d MB are free at %s, but a backup of "%s" (%d MB) needs an estimated %d MB '
                          '(free_space_factor=%s of the database size). Free some space, move dest, or lower '
                          'free_space_factor if this data compresses well.'
                          % (free // 2 ** 20, self.store.dest, self.database, size // 2 ** 20, needed // 2 ** 20,
                             factor))
        return dict(free_bytes=free, needed_bytes=needed)

    # -- dump ----------------------------------------------------------------------------------
    def run(self, check_mode=False):
        started = store_mod.utcnow()
        result = dict(changed=False, database=self.database, kind=self.kind, method=self.options['method'])
        size = self.database_size()
        result['database_size'] = size
        if not check_mode:
            self.store.prepare(self.kind)
        lock = None if check_mode else self.store.lock(self.options.get('lock_wait') or 0)
        try:
            result['cleaned'] = self.store.clean_leftovers(self.kind, check_mode)
            if self.options.get('retention_only'):
                result['retention'] = self.expire(check_mode)
                result['changed'] = bool(result['retention']['deleted'])
                return result
            if self.options['method'] == 'snapshot':
                result.update(self.snapshot(started, check_mode))
            else:
                result['space'] = self.check_space(size)
                result.update(self.dump(started, check_mode))
            result['changed'] = True  # in check mode: would change
            planned = None
            if check_mode:  # plan retention as if the backup had succeeded, as it would run after it
                planned = dict(id=result['backup']['id'], started_at=started.isoformat(), verification=dict(
                    level=self.options['verify'] if self.options['method'] == 'dump' else 'exists', ok=True))
            result['retention'] = self.expire(check_mode, planned)
        finally:
            if lock:
                lock.close()
        return result

    def dump(self, started, check_mode):
        fmt = self.options['format']
        pg_dump, client_version = postgres.client_program('pg_dump', self.params, self.conn)
        compression = dumps.choose(self.options['compression'], pg_dump, fmt)
        ident = store_mod.backup_id(self.database, started, self.options.get('label'))
        final = os.path.join(self.store.kind_dir(self.kind), ident)
        partial = os.path.join(self.store.kind_dir(self.kind), '.%s.partial' % ident)
        name = dumps.dump_file_name(store_mod.safe_name(self.database), fmt, compression)
        jobs = self.options.get('jobs') or 1
        out = None if compression.external else os.path.join(partial, name)
        argv = dumps.dump_argv(pg_dump, fmt, compression, jobs, out, snapshot='<exported snapshot>')
        plan = dict(id=ident, path=final, file=name, compression=compression.describe(), argv=argv)
        if compression.external:
            plan['pipe'] = [dumps.compressor_argv(compression)]
        if check_mode:
            return dict(backup=plan)
        if os.path.exists(final):
            raise PgError('A backup named %s already exists; give another label or wait a second.' % final)
        store_mod.make_private_dir(partial)
        try:
            manifest = self._dump_in_snapshot(ident, pg_dump, client_version, fmt, compression, jobs, partial, name)
            manifest['started_at'] = started.isoformat()
            verification = self.verify(partial, manifest, self.options['verify'])
            manifest['verification'] = verification
            if not verification['ok']:
                raise PgError('Verification (%s) of the new backup failed: %s. The backup was discarded.'
                              % (verification['level'], verification['message']))
            store_mod.sync_tree(partial)
            os.rename(partial, final)
            store_mod.fsync_path(os.path.dirname(final))
            manifest['finished_at'] = store_mod.utcnow().isoformat()
            manifest['duration'] = round(time.time() - self._clock, 3)
            store_mod.write_json_durably(os.path.join(final, store_mod.MANIFEST), manifest)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        manifest['folder'] = final
        return dict(backup=manifest)

    def _dump_in_snapshot(self, ident, pg_dump, client_version, fmt, compression, jobs, partial, name):
        self._clock = time.time()
        snap_conn = postgres.connect(self.params, database=self.database, autocommit=False)
        try:
            snap_conn.set_session(isolation_level='REPEATABLE READ', readonly=True)
            snapshot = postgres.query(snap_conn, 'SELECT pg_export_snapshot() AS s')[0]['s']
            tables = postgres.query(snap_conn, TABLE_STATS)
            out = os.path.join(partial, name)
            argv = dumps.dump_argv(pg_dump, fmt, compression, jobs, None if compression.external else out,
                                   snapshot=snapshot)
            with postgres.client_environment(self.params, self.database) as env:
                if compression.external:
                    pipeline = [argv, dumps.compressor_argv(compression)]
                    dumps.run_pipeline(pipeline, env, out)
                else:
                    try:
                        programs.run(argv, env)
                    except programs.ProgramError as err:
                        if 'No space left on device' in str(err):
                            raise PgError(postgres.disk_full(out, postgres.first_line(str(err))))
                        raise
            # full and restore verification compare against these counts of the dump's own snapshot
            counts = exact_counts(snap_conn, tables) if self.options['verify'] in ('full', 'restore') or \
                self.options.get('exact_counts') else None
        finally:
            snap_conn.rollback()
            snap_conn.close()
        dump_seconds = round(time.time() - self._clock, 3)
        for table in tables:
            key = table_key(table)
            if counts is not None:
                table['rows'] = counts[key]
        return dict(
            manifest_version=store_mod.MANIFEST_VERSION, id=ident, database=self.database, kind=self.kind,
            label=self.options.get('label'), method='dump', format=fmt, compression=compression.as_dict(),
            jobs=jobs, server_version=postgres.server_version(self.conn), client_version=client_version,
            argv=[a if not a.startswith('--snapshot=') else '--snapshot=<exported snapshot>' for a in argv],
            files=store_mod.file_entries(partial), tables=tables, dump_seconds=dump_seconds,
            database_size=self.database_size(), exact_counts=counts is not None)

    # -- verification ----------------------------------------------------------------------------
    def verify(self, folder, manifest, level):
        return verify_backup(self.params, self.conn, folder, manifest, level)

    # -- snapshot --------------------------------------------------------------------------------
    def snapshot(self, started, check_mode):
        label = self.options.get('label') or started.strftime('%Y%m%d%H%M%S')
        target = '%s_%s' % (self.database, label)
        if len(target.encode('utf-8')) > 63:
            raise PgError('The snapshot name %s is longer than PostgreSQL\'s 63 bytes; use a shorter label.' % target)
        admin = postgres.connect(self.params, database='postgres')
        if database_exists(admin, target):
            raise PgError('Database "%s" already exists: a snapshot with this label was taken before. Drop it or '
                          'choose another label.' % target)
        ident = store_mod.backup_id(self.database, started, label)
        plan = dict(id=ident, snapshot_database=target, source=self.database)
        if check_mode:
            require_createdb(admin)
            plan['sessions'] = sessions_on(admin, self.database)
            plan.update(predict_snapshot(admin, self.store, self.kind, self.database_size(),
                                         self.options.get('snapshot_method') or 'auto'))
            return dict(backup=plan)
        size = self.database_size()
        self.conn.close()  # our own session would block the copy
        clock = time.time()
        terminated = free_the_database(admin, self.database, self.options.get('terminate_sessions'))
        made = clone_database(admin, self.database, target, self.options.get('snapshot_method') or 'auto')
        manifest = record_database(self.store, admin, self.kind, self.database, target, started, label,
                                   duration=round(time.time() - clock, 3), terminated_sessions=terminated,
                                   database_size=size, **made)
        self.conn = postgres.connect(self.params, database=self.database)
        return dict(backup=manifest)

    # -- retention -------------------------------------------------------------------------------
    def expire(self, check_mode, planned=None):
        days = self.options.get('retention_days')
        if not days:
            return dict(deleted=[], kept=None, damaged=[])
        manifests = self.store.backups(self.kind, self.database) + ([planned] if planned else [])
        admin = postgres.connect(self.params, database='postgres') if any(
            m.get('method') == 'snapshot' for m in manifests) else None
        problems = {}

        def intact(manifest):
            """Checked again now: the files re-hashed, or the snapshot database still the one we made."""
            if manifest is planned:
                return True
            if manifest.get('method') == 'snapshot':
                found = self.snapshot_problem(admin, manifest)
            elif not manifest.get('files') and manifest.get('method', 'dump') == 'dump':
                found = 'the manifest lists no files'
            else:
                found = '; '.join(store_mod.check_files(manifest['folder'], manifest))
            if found:
                problems[manifest['id']] = found
            return not found
        delete, keep, damaged = store_mod.plan_retention(manifests, store_mod.utcnow(), days,
                                                         self.options.get('min_keep', 3), intact)
        not_ours = []
        if not check_mode:
            for manifest in delete:
                if manifest is planned:
                    continue
                if manifest.get('method') == 'snapshot' and database_exists(admin, manifest['snapshot_database']):
                    problem = self.snapshot_problem(admin, manifest)
                    if problem:  # a manifest is data, not an order to drop a database
                        not_ours.append(dict(id=manifest['id'], problem=problem))
                        continue
                    drop_database(admin, manifest['snapshot_database'])
                shutil.rmtree(manifest['folder'], ignore_errors=True)
        return dict(deleted=[m['id'] for m in delete if m['id'] not in [n['id'] for n in not_ours]],
                    kept=[m['id'] for m in keep], damaged=[dict(id=m['id'], problems=problems.get(m['id']))
                                                           for m in damaged], not_dropped=not_ours)

    def snapshot_problem(self, admin, manifest):
        """Why a snapshot database cannot be proven to be the one this collection made of this database."""
        name = manifest.get('snapshot_database') or ''
        if manifest.get('database') != self.database or not is_derived_name(name, self.database):
            return 'names database %r, which is not a snapshot of %r' % (name, self.database)
        oid = database_oid(admin, name)
        if oid is None:
            return 'its database %s no longer exists' % name
        if manifest.get('snapshot_oid') != oid:
            return ('database %s is not the one the snapshot made (oid %s, the manifest says %s): drop it by hand if '
                    'it is yours' % (name, oid, manifest.get('snapshot_oid')))
        return ''


def record_database(store, admin, kind, database, name, started, label, **extra):
    """Put the database `name` (a copy of `database`: a snapshot, or the one a swap replaced) under the
    retention of `kind`: a manifest with its oid, so that expiry drops exactly this database and no other."""
    store.prepare(kind)
    manifest = dict(
        manifest_version=store_mod.MANIFEST_VERSION, id=store_mod.backup_id(database, started, label), database=database,
        kind=kind, label=label, method='snapshot', snapshot_database=name, started_at=started.isoformat(),
        finished_at=store_mod.utcnow().isoformat(), server_version=postgres.server_version(admin), files=[],
        snapshot_oid=database_oid(admin, name),
        verification=dict(level='exists', ok=database_exists(admin, name), message=''), **extra)
    folder = os.path.join(store.kind_dir(kind), manifest['id'])
    store_mod.make_private_dir(folder)
    store_mod.write_json_durably(os.path.join(folder, store_mod.MANIFEST), manifest)
    manifest['folder'] = folder
    return manifest


def verify_backup(params, conn, folder, manifest, level):
    """Check a dump backup now: none; checksum (every file against the manifest's sha256); list (also its
    table of contents); full (also every byte decompressed and read back by pg_restore, as a restore
    reads it: a truncated or damaged archive fails here, not during a rollback); restore (also the drill)."""
    clock = time.time()
    outcome = dict(level=level, ok=True, message='')
    if level == 'none':
        return outcome
    problems = store_mod.check_files(folder, manifest)
    if problems:
        outcome.update(ok=False, message='; '.join(problems))
        return outcome
    steps = [('list', 'pg_restore --list cannot read it', lambda: dict(toc_entries=list_toc(params, conn, folder,
                                                                                            manifest))),
             ('full', 'pg_restore cannot read all of it', lambda: read_all(params, conn, folder, manifest)),
             ('restore', 'the restore drill failed', lambda: restore_drill(params, conn, folder, manifest))]
    wanted = VERIFY_LEVELS.index(level)
    for step, failure, run in steps:
        if VERIFY_LEVELS.index(step) > wanted:
            break
        try:
            outcome.update(run())
        except DbopsError as err:  # a refused query or a pg_restore that cannot read the archive
            outcome.update(ok=False, message='%s: %s' % (failure, err))
            return outcome
    outcome['seconds'] = round(time.time() - clock, 3)
    return outcome


def archive(folder, manifest):
    """The path pg_restore reads and how it is compressed."""
    path = os.path.join(folder, 'data' if manifest['format'] == 'directory' else manifest['files'][0]['path'])
    return path, dumps.Compression.from_dict(manifest['compression'])


def list_toc(params, conn, folder, manifest):
    """pg_restore --list of a dump: the number of entries in its table of contents."""
    pg_restore, _version = postgres.client_program('pg_restore', params, conn)
    path, compression = archive(folder, manifest)
    with postgres.client_environment(params) as env:
        out = dumps.restore_input(path, compression, env, dumps.PG_RESTORE.argv(pg_restore, list=True), reads_all=False)
    return len([line for line in out.stdout.decode('utf-8', 'replace').splitlines()
                if line and not line.startswith(';')])


def read_all(params, conn, folder, manifest):
    """pg_restore the whole archive, every data block decompressed and read; when the manifest holds the
    exact row counts of the dump's snapshot, the rows of every table's data are counted against them."""
    pg_restore, _version = postgres.client_program('pg_restore', params, conn)
    path, compression = archive(folder, manifest)
    clock = time.time()
    with postgres.client_environment(params) as env:
        if not manifest.get('exact_counts'):
            dumps.restore_input(path, compression, env,
                                dumps.PG_RESTORE.argv(pg_restore, exit_on_error=True, file='/dev/null'))
            return dict(read_seconds=round(time.time() - clock, 3))
        counted = dumps.restore_input(path, compression, env,
                                      dumps.PG_RESTORE.argv(pg_restore, exit_on_error=True, data_only=True, file='-'),
                                      consume=dumps.count_copy_rows)
    outcome = dict(read_seconds=round(time.time() - clock, 3), rows_counted=sum(counted.values()))
    differ = row_count_differences(manifest['tables'], counted)
    if differ:
        raise PgError('the rows in the archive differ from the rows dumped: %s. The file was damaged or cut '
                      'after it was written; take a new backup.' % ', '.join(differ[:10]))
    return outcome


def row_count_differences(tables, counted):
    """Tables whose recorded row count is not the count found (partitioned parents hold no rows of their
    own: their partitions are compared)."""
    return ['%s (dumped %s, found %s)' % (table_key(t), t['rows'], counted.get(table_key(t), 0))
            for t in tables if t.get('rows') is not None and t.get('kind', 'r') != 'p'
            and counted.get(table_key(t), 0) != t['rows']]


def restore_drill(params, conn, folder, manifest):
    """Restore into a scratch database, compare row counts with the dump's, drop it."""
    scratch = ('dbops_drill_%s' % manifest['id'])[:63]
    admin = postgres.connect(params, database='postgres')
    drop_database(admin, scratch)
    postgres.query(admin, postgres.compose('CREATE DATABASE {name} TEMPLATE template0', name=scratch))
    clock = time.time()
    try:
        restore_dump(params, conn, folder, manifest, scratch, jobs=2)
        seconds = round(time.time() - clock, 3)
        restored = postgres.connect(params, database=scratch)
        counts = exact_counts(restored, manifest['tables'])
        restored.close()
    finally:
        drop_database(admin, scratch)
    differ = row_count_differences(manifest['tables'], counts)
    return dict(ok=not differ, restore_seconds=seconds, tables_compared=len(manifest['tables']),
                message=('row counts differ after the restore drill: %s' % ', '.join(differ[:10])) if differ else '')


def restore_dump(params, conn, folder, manifest, database, jobs=1, clean=False, single_transaction=False,
                 no_owner=False):
    """pg_restore a dump backup into an existing database, stopping at the first error."""
    pg_restore, _version = postgres.client_program('pg_restore', params, conn)
    path, compression = archive(folder, manifest)
    temp = None
    try:
        if compression.external and jobs > 1:
            # pg_restore -j needs a seekable file: decompress next to the backup first
            temp = os.path.join(folder, '.restore-%d.dump' % os.getpid())
            dumps.decompress_to(compression.method, path, temp)
            path, compression = temp, dumps.Compression('none')
        argv = dumps.PG_RESTORE.argv(pg_restore, exit_on_error=True, dbname=database, clean=clean, if_exists=clean,
                                     no_owner=no_owner, single_transaction=single_transaction,
                                     jobs=jobs if jobs > 1 and not single_transaction else None)
        with postgres.client_environment(params, database) as env:
            dumps.restore_input(path, compression, env, argv)
    finally:
        if temp and os.path.exists(temp):
            os.unlink(temp)
    return argv
