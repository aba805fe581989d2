# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore a backup: into a new database, in place, or beside the live one and then swap names.

Every mode checks the backup's files against its manifest first: a corrupted backup is refused
before anything is touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile
import time

from ansible_collections.defneqr.dbops.plugins.module_utils import backup as backup_mod
from ansible_collections.defneqr.dbops.plugins.module_utils import backup_store as store_mod
from ansible_collections.defneqr.dbops.plugins.module_utils import database_properties
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import s3_storage
from ansible_collections.defneqr.dbops.plugins.module_utils.postgres import PgError
from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError


# the kind under which a database replaced by a swap is kept until retention drops it
REPLACED = 'replaced'


def load_source(src, s3_opts=None, work_dir=None):
    """(folder, manifest, downloaded) of a backup folder, a manifest path or an s3:// URI."""
    downloaded = False
    if src.startswith('s3://'):
        into = tempfile.mkdtemp(prefix='dbops-restore-', dir=work_dir)
        folder = s3_storage.download_backup(s3_opts or {}, src, into)
        downloaded = True
    else:
        folder = os.path.dirname(src) if os.path.basename(src) == store_mod.MANIFEST else src
    manifest = store_mod.read_manifest(folder)
    if manifest is None:
        raise PgError('%s holds no readable manifest.json: it is not a complete backup (an interrupted run leaves '
                      'such folders). Choose another backup; pg_backup_info lists them.' % folder)
    return folder, manifest, downloaded


def compare_rows(conn, manifest):
    """Tables whose row count differs from the dump's (empty when the manifest has no exact counts)."""
    if not manifest.get('exact_counts'):
        return dict(compared=0, differ=[])
    counts = backup_mod.exact_counts(conn, manifest['tables'])
    return dict(compared=len(manifest['tables']), differ=backup_mod.row_count_differences(manifest['tables'], counts))


def database_owner(conn, name):
    rows = postgres.query(conn, 'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = %s',
                          (name,))
    return rows[0]['owner'] if rows else None


def rename(conn, old, new):
    postgres.query(conn, postgres.compose('ALTER DATABASE {old} RENAME TO {new}', old=old, new=new))


def restore(params, options, check_mode=False):
    """options: src, database, mode, jobs, drop_old, terminate_sessions, owner, s3, work_dir."""
    clock = time.time()
    folder, manifest, downloaded = load_source(options['src'], options.get('s3'), options.get('work_dir'))
    # a local backup's own root records the database a swap replaces, for retention (kind replaced)
    options = dict(options, dest=options.get('dest') or (None if downloaded else os.path.dirname(os.path.dirname(
        os.path.abspath(folder)))))
    try:
        return _restore(params, options, folder, manifest, check_mode, clock)
    finally:
        if downloaded:
            shutil.rmtree(os.path.dirname(folder), ignore_errors=True)


def _restore(params, options, folder, manifest, check_mode, clock):
    database = options['database'] or manifest['database']
    mode = options['mode']
    admin = postgres.connect(params, database='postgres')
    stamp = store_mod.utcnow().strftime('%Y%m%d%H%M%S')
    result = dict(changed=True, database=database, mode=mode, backup=manifest['id'], method=manifest['method'])
    if manifest['method'] == 'snapshot':
        return _swap_snapshot(admin, options, manifest, database, stamp, check_mode, result, clock)
    problems = store_mod.check_files(folder, manifest)
    if problems:
        raise PgError('The backup %s is damaged: %s. Nothing was restored; use another backup.'
                      % (folder, '; '.join(problems)))
    if mode == 'drill':
        result['restored_into'] = 'a scratch database, dropped afterwards'
        if not check_mode:
            result.update(backup_mod.restore_drill(params, admin, folder, manifest), changed=False)
            if not result['ok']:
                raise PgError('Restore drill of %s failed: %s' % (manifest['id'], result['message']))
        result['duration'] = round(time.time() - clock, 3)
        return result
    exists = backup_mod.database_exists(admin, database)
    owner = options.get('owner') or database_owner(admin, database) or params.get('login_user')
    if mode == 'new' and exists:
        raise PgError('Database "%s" already exists; mode=new restores only into a new name. Use mode=replace to '
                      'swap it, or choose another database name.' % database)
    if mode in ('clean', 'replace') and not exists:
        raise PgError('Database "%s" does not exist, so there is nothing to %s. Use mode=new to create it.'
                      % (database, 'clean' if mode == 'clean' else 'replace'))
    target = database if mode in ('new', 'clean') else backup_mod.derived_name(database, '_restore_' + stamp)
    result['restored_into'] = target
    if check_mode:
        if mode == 'replace':
            result['sessions'] = backup_mod.sessions_on(admin, database)
        return result
    jobs = options.get('jobs') or 1
    if mode == 'clean':
        backup_mod.free_the_database(admin, database, options.get('terminate_sessions'))
        # One transaction when single-job: a failure leaves the database as it was.
        result['argv'] = backup_mod.restore_dump(params, admin, folder, manifest, database, jobs=jobs, clean=True,
                                                 single_transaction=jobs == 1)
    else:
        postgres.query(admin, postgres.compose('CREATE DATABASE {name} OWNER {owner} TEMPLATE template0',
                                               name=target, owner=owner))
        try:
            result['argv'] = backup_mod.restore_dump(params, admin, folder, manifest, target, jobs=jobs)
        except DbopsError:  # a refused statement or a failed pg_restore: the half-restored copy goes
            backup_mod.drop_database(admin, target)
            raise
    restored = postgres.connect(params, database=target)
    check = compare_rows(restored, manifest)
    restored.close()
    result['rows'] = check
    if check['differ']:
        if mode == 'replace':
            backup_mod.drop_database(admin, target)
        raise PgError('Row counts after the restore differ from the backup: %s.%s' % (
            ', '.join(check['differ'][:10]), ' The live database was not touched.' if mode == 'replace' else ''))
    if mode == 'replace':
        result.update(_swap(admin, options, database, target, stamp))
    result['duration'] = round(time.time() - clock, 3)
    return result


def _swap(admin, options, database, replacement, stamp):
    """Put replacement in database's place in two renames; keep or drop the old one."""
    old = backup_mod.derived_name(database, '_old_' + stamp)
    # grants, settings, comment and owner live with the database's oid: give them to the replacement first
    properties = database_properties.carry(admin, database, replacement)
    terminated = backup_mod.free_the_database(admin, database, options.get('terminate_sessions'))
    clock = time.time()
    rename(admin, database, old)
    rename(admin, replacement, database)
    swap_seconds = round(time.time() - clock, 3)
    recorded = None
    if options.get('drop_old'):
        backup_mod.drop_database(admin, old)
        old = None
    elif options.get('dest'):
        recorded = backup_mod.record_database(store_mod.Store(options['dest']), admin, REPLACED, database, old,
                                              store_mod.utcnow(), 'old_' + stamp)['folder']
    return dict(previous_database=old, previous_recorded=recorded, swap_seconds=swap_seconds,
                terminated_sessions=terminated, database_properties=properties)


def _swap_snapshot(admin, options, manifest, database, stamp, check_mode, result, clock):
    snapshot = manifest['snapshot_database']
    if not backup_mod.database_exists(admin, snapshot):
        raise PgError('The snapshot database "%s" of backup %s no longer exists (it was used by an earlier '
                      'rollback or dropped). Restore from a dump backup instead.' % (snapshot, manifest['id']))
    if options['mode'] != 'replace':
        raise PgError('A snapshot backup is restored by swapping databases: use mode=replace.')
    result['restored_into'] = database
    if check_mode:
        result['sessions'] = backup_mod.sessions_on(admin, database)
        return result
    if not options.get('consume_snapshot', True):
        copy = backup_mod.derived_name(snapshot, '_copy_' + stamp)
        backup_mod.clone_database(admin, snapshot, copy)
        snapshot = copy
    result.update(_swap(admin, options, database, snapshot, stamp))
    result['duration'] = round(time.time() - clock, 3)
    return result
