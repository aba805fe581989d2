# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgBackRest, the WAL archive and physical backups behind point-in-time recovery.

One class runs the `pgbackrest` command as the OS account that owns the data folder and reads its
`info --output=json`; pure functions turn that into the manifest shape of our dump backups and WAL
ranges. Repository secrets live in pgBackRest's configuration file (0600, written by the
wal_archive role), never in argv.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import shutil
import time

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres, programs
from ansible_collections.defneqr.dbops.plugins.module_utils.backup import TABLE_STATS, exact_counts
from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError

BACKUP_TYPES = ('full', 'diff', 'incr')
STANZA_PATTERN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$')


class PgBackRestError(DbopsError):
    """A stanza, repository, restore target or restored copy that is not as the run needs it."""


# the command's own options (restore_options, --type=...) and the command come last, as operands
PGBACKREST = programs.Program('pgbackrest', options=(
    ('config', '--config={}'), ('stanza', '--stanza={}'), ('log_level_console', '--log-level-console={}')))
PG_CTL = programs.Program('pg_ctl', options=(
    ('pgdata', '--pgdata={}'), ('log', '--log={}'), ('mode', '--mode={}'), ('wait', '--wait'),
    ('timeout', '--timeout={}'), ('options', '--options={}')))


def _english_env():
    """pgBackRest's and pg_ctl's messages are matched and quoted: keep them in English."""
    return dict(os.environ, LC_ALL='C')


def pgbackrest_argument_spec():
    """The `pgbackrest` option shared by the modules (documented in doc_fragments/pgbackrest.py)."""
    return dict(type='dict', options=dict(
        stanza=dict(type='str', required=True),
        config=dict(type='path'),
        os_user=dict(type='str', default=''),
        binary=dict(type='path', default='pgbackrest'),
    ))


class PgBackRest:
    def __init__(self, stanza, config=None, os_user='', binary='pgbackrest'):
        if not STANZA_PATTERN.match(stanza or ''):
            raise PgBackRestError('pgbackrest.stanza %r is not a plain name (letters, digits, _ and -, up to 63).'
                                  % stanza)
        self.stanza = stanza
        self.config = config
        self.os_user = os_user
        self.binary = binary

    @classmethod
    def from_params(cls, options):
        return cls(options['stanza'], options.get('config'), options.get('os_user') or '',
                   options.get('binary') or 'pgbackrest')

    def argv(self, command, *options):
        program = self.binary if os.path.isabs(self.binary) else postgres.find_program_on_path(
            self.binary, 'pgBackRest is not installed on this host (Debian: apt-get install pgbackrest), or set '
                         'pgbackrest.binary.')
        return PGBACKREST.argv(program, *(list(options) + [command]), config=self.config, stanza=self.stanza,
                               log_level_console='warn')

    def run(self, command, *options, timeout=None):
        """Run one pgbackrest command; ProgramError names the command and pgBackRest's own error."""
        try:
            done = programs.run(self.argv(command, *options), _english_env(), timeout=timeout, user=self.os_user)
        except programs.ProgramError as err:
            hint = ' This pgBackRest is older than the PostgreSQL server: install a pgBackRest release that supports ' \
                   'it (PGDG packages).' if 'VersionNotSupportedError' in str(err) else ''
            raise programs.ProgramError('pgbackrest %s for stanza %s failed: %s%s' % (command, self.stanza, err, hint))
        return done.stdout.decode('utf-8', 'replace')

    def info(self):
        """The stanza's entry of `pgbackrest info --output=json` (status, backups, archive ranges)."""
        entries = json.loads(self.run('info', '--output=json') or '[]')
        for entry in entries:
            if entry.get('name') == self.stanza:
                return entry
        return missing_stanza(self.stanza, 'missing stanza path')


def missing_stanza(stanza, message):
    """What `pgbackrest info` says of a stanza that stanza-create has not made (status code 1)."""
    return dict(name=stanza, status=dict(code=1, message=message), backup=[], archive=[])


def info_for(tool, check_mode):
    """The stanza's info; in check mode an unreadable stanza (configuration not written yet in a check run of the
    wal_archive role) reads as a missing one instead of failing."""
    try:
        return tool.info()
    except DbopsError:
        if not check_mode:
            raise
        return missing_stanza(tool.stanza, 'not readable yet')


def stanza_exists(info):
    """False while `stanza-create` has not run (pgBackRest status code 1, missing stanza path)."""
    return not (info.get('status', {}).get('code') == 1 and not info.get('backup'))


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).isoformat() if epoch else None


def backup_manifest(entry, stanza, now=None):
    """One pgBackRest backup in the shape of our dump manifests (id, kind, method, times, size, verified)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    info = entry.get('info', {})
    started, stopped = entry.get('timestamp', {}).get('start'), entry.get('timestamp', {}).get('stop')
    return dict(
        id=entry['label'], kind=entry['type'], method='pgbackrest', stanza=stanza, database=None,  # the whole cluster
        started_at=_iso(started), finished_at=_iso(stopped),
        duration=(stopped - started) if started and stopped else None,
        age_hours=round((now.timestamp() - stopped) / 3600, 2) if stopped else None,
        size=info.get('size'), repo_size=info.get('repository', {}).get('size'),
        prior=entry.get('prior'),
        wal_start=entry.get('archive', {}).get('start'), wal_stop=entry.get('archive', {}).get('stop'),
        lsn_start=entry.get('lsn', {}).get('start'), lsn_stop=entry.get('lsn', {}).get('stop'),
        # pgBackRest checksums every file it copies and validates page checksums; error marks a failure
        verified=not entry.get('error', False),
        verification=dict(level='pgbackrest checksums', ok=not entry.get('error', False)))


def describe(info, now=None):
    """Backups newest first, the WAL ranges in the repository, and the stanza's status."""
    backups = [backup_manifest(entry, info.get('name'), now) for entry in info.get('backup', [])]
    backups.sort(key=lambda manifest: manifest['finished_at'] or '', reverse=True)
    wal = [dict(id=item.get('id'), min=item.get('min'), max=item.get('max')) for item in info.get('archive', [])]
    status = info.get('status', {})
    return dict(backups=backups, wal=wal, status=dict(code=status.get('code'), message=status.get('message')))


def take_backup(tool, backup_type, check_mode=False):
    """A pgBackRest backup of `backup_type` (full, diff or incr); pgBackRest expires old ones by its retention.

    Returns the module result: the new backup in our manifest shape and the repository as it is after."""
    before = info_for(tool, check_mode)
    if check_mode:  # in a check run of the wal_archive role the stanza may only exist "after" the run
        plan = dict(id=None, kind=backup_type, method='pgbackrest', stanza=tool.stanza)
        return dict(changed=True, backup=plan, pgbackrest=describe(before))
    if not stanza_exists(before):
        raise PgBackRestError('pgBackRest stanza %s does not exist yet: run the defneqr.dbops.wal_archive role (or '
                              'pgbackrest stanza-create) first.' % tool.stanza)
    known = set(entry['label'] for entry in before.get('backup', []))
    tool.run('backup', '--type=%s' % backup_type)
    after = tool.info()
    labels = set(entry['label'] for entry in after.get('backup', []))
    new = [entry for entry in after.get('backup', []) if entry['label'] not in known]
    if not new:
        raise PgBackRestError('pgbackrest backup finished but no new backup is listed in pgbackrest info for '
                              'stanza %s.' % tool.stanza)
    return dict(changed=True, backup=backup_manifest(new[-1], tool.stanza), pgbackrest=describe(after),
                expired=sorted(known - labels))


def create_restore_point(conn, name, check_mode=False):
    """pg_create_restore_point(name): a named recovery target, e.g. just before a deploy's migrations.

    Useless without WAL archiving, so with archive_mode off nothing is created and the result says why."""
    if not name or len(name) > 63:
        raise PgBackRestError('A restore point name needs 1 to 63 characters, not %d.' % len(name or ''))
    mode = postgres.query(conn, "SELECT current_setting('archive_mode') AS mode")[0]['mode']
    if mode == 'off':
        return dict(changed=False, restore_point=None,
                    msg='archive_mode is off: a restore point needs WAL archiving (the wal_archive role).')
    if check_mode:
        return dict(changed=True, restore_point=dict(name=name, lsn=None))
    try:
        row = postgres.query(conn, 'SELECT pg_create_restore_point(%s)::text AS lsn, now()::text AS at', (name,))[0]
    except postgres.psycopg2.Error as err:
        raise PgBackRestError('Cannot create restore point %s: %s. It needs a superuser, or GRANT EXECUTE ON '
                              'FUNCTION pg_create_restore_point(text) TO <role>.' % (name, postgres.first_line(err)))
    return dict(changed=True, restore_point=dict(name=name, lsn=row['lsn'], created_at=row['at']))


def restore_point_beside(conn, name, check_mode=False):
    """A restore point taken beside a backup: a problem is reported, not raised, as the backup is what counts."""
    try:
        point = create_restore_point(conn, name, check_mode)
    except PgBackRestError as err:
        return dict(restore_point=None, restore_point_problem=str(err))
    return dict(restore_point=point['restore_point'], restore_point_problem=point.get('msg'))


def ensure_stanza(tool, check=True, check_mode=False):
    """stanza-create when the stanza is missing, then `pgbackrest check`: a WAL switch that must reach the
    repository, proving archive_command, the configuration and the repository work together."""
    created = not stanza_exists(info_for(tool, check_mode))
    if check_mode:
        return dict(changed=created, created=created, checked=False)
    if created:
        tool.run('stanza-create')
    if check:
        tool.run('check')
    return dict(changed=created, created=created, checked=check, pgbackrest=describe(tool.info()))


TARGET_TYPES = ('latest', 'time', 'lsn', 'name', 'immediate')
SAFE_PATH = re.compile(r'^/[A-Za-z0-9/._-]+$')
CONFIG_FILES = ('postgresql.conf', 'pg_hba.conf', 'pg_ident.conf')


def restore_options(data_dir, target_type, target, delta):
    """The `pgbackrest restore` options: into data_dir, archiving off in the copy (it must not push WAL into
    the repository of the server it came from), promoted once the target is reached."""
    options = ['--pg1-path=%s' % data_dir, '--archive-mode=off']
    if target_type == 'latest':
        options.append('--type=default')  # replay all archived WAL
    else:
        options += ['--type=%s' % target_type, '--target-action=promote']
        if target_type != 'immediate':
            options.append('--target=%s' % target)
    if delta:
        options.append('--delta')
    return options


def _prepare_data_dir(data_dir, replace, account):
    if not SAFE_PATH.match(data_dir or ''):
        raise PgBackRestError('data_dir %r must be an absolute path of letters, digits and / . _ - only.' % data_dir)
    if os.path.exists(os.path.join(data_dir, 'postmaster.pid')):
        raise PgBackRestError('%s belongs to a running server (postmaster.pid exists): stop it first; a restore never '
                              'writes under a running server.' % data_dir)
    if os.path.isdir(data_dir) and os.listdir(data_dir) and not replace:
        raise PgBackRestError('data_dir %s is not empty. Restore into a new folder (the safe default), or set '
                              'replace=true to overwrite this stopped cluster in place (pgBackRest --delta).' % data_dir)
    if not os.path.isdir(data_dir):
        os.makedirs(data_dir, mode=0o700)
        if account:
            os.chown(data_dir, account.pw_uid, account.pw_gid)


def _copy_config(data_dir, conf_dir, account):
    """Debian keeps postgresql.conf and pg_hba.conf in /etc: a restored data folder needs its own copy."""
    if os.path.exists(os.path.join(data_dir, 'postgresql.conf')):
        return
    if not conf_dir:
        raise PgBackRestError('The restored data folder has no postgresql.conf (Debian keeps it in /etc/postgresql/'
                              '<version>/<cluster>): set conf_dir to that folder so it can be copied.')
    for name in CONFIG_FILES:
        source = os.path.join(conf_dir, name)
        if os.path.exists(source):
            target = os.path.join(data_dir, name)
            shutil.copyfile(source, target)
            os.chmod(target, 0o600)
            if account:
                os.chown(target, account.pw_uid, account.pw_gid)


class RestoredServer:
    """The restored copy started on its own port, TCP on 127.0.0.1 only, beside the original server."""

    def __init__(self, data_dir, port, pg_bin_dir, os_user):
        self.data_dir, self.port, self.os_user = data_dir, port, os_user
        self.pg_ctl = postgres.find_program('pg_ctl', pg_bin_dir)

    def start(self, timeout):
        # data_directory and external_pid_file are overridden: a copied Debian postgresql.conf names the
        # original cluster's folder and pid file
        settings = "-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c data_directory=%s " \
                   "-c external_pid_file='' -c archive_mode=off" % (self.port, self.data_dir)
        programs.run(PG_CTL.argv(self.pg_ctl, 'start', pgdata=self.data_dir, wait=True, timeout=timeout,
                                 log=os.path.join(self.data_dir, 'pitr-start.log'), options=settings),
                     _english_env(), timeout=timeout + 30, user=self.os_user)

    def stop(self):
        programs.run(PG_CTL.argv(self.pg_ctl, 'stop', pgdata=self.data_dir, wait=True, mode='fast'),
                     _english_env(), timeout=120, user=self.os_user)


def wait_promoted(params, timeout):
    """Connect to the restored server and wait until recovery ended (promoted at the target)."""
    deadline = time.time() + timeout
    while True:
        conn = postgres.connect(params)
        try:
            row = postgres.query(conn, 'SELECT pg_is_in_recovery() AS recovering, '
                                       '(SELECT timeline_id FROM pg_control_checkpoint()) AS timeline')[0]
        finally:
            conn.close()
        if not row['recovering']:
            return row
        if time.time() > deadline:
            raise PgBackRestError('The restored server is still in recovery after %d s: the target may lie beyond the '
                                  'archived WAL. See %s/pitr-start.log and the server log.' % (timeout, params['data_dir']))
        time.sleep(0.5)


def summarize_restored(params, count_rows):
    """What the restored server holds: its databases with sizes, and the tables of login_db with exact rows."""
    conn = postgres.connect(params)
    try:
        return _summary(conn, count_rows)
    except postgres.psycopg2.Error as err:
        raise PgBackRestError('The restored server answers, but reading it as %s failed: %s. Use a role that can read '
                              'every table (or count_rows=false).' % (params['login_user'], str(err).strip()))
    finally:
        conn.close()


def _summary(conn, count_rows):
    databases = postgres.query(conn, 'SELECT datname AS name, pg_database_size(oid) AS size FROM pg_database '
                                     'WHERE NOT datistemplate ORDER BY 1')
    tables = exact_counts(conn, postgres.query(conn, TABLE_STATS)) if count_rows else {}
    return databases, tables


def point_in_time_restore(tool, params, check_mode=False):
    """Restore the stanza into params['data_dir'] up to the target, start the copy on params['start_port'], wait for
    promotion, report what it holds, and stop it unless keep_running."""
    target_type, target = params['target_type'], params['target']
    if target_type in ('time', 'lsn', 'name') and not target:
        raise PgBackRestError('target_type=%s needs a target (a timestamp with time zone, an LSN like 0/3000050, or '
                              'a restore point name).' % target_type)
    info = tool.info()
    if not info.get('backup'):
        raise PgBackRestError('Stanza %s has no backup to restore from (pgbackrest info lists none).' % tool.stanza)
    options = restore_options(params['data_dir'], target_type, target, params['replace'])
    plan = dict(data_dir=params['data_dir'], target_type=target_type, target=target, port=params['start_port'],
                options=options)
    if check_mode:
        return dict(changed=True, restore=plan)
    account = programs.account_of(tool.os_user)
    _prepare_data_dir(params['data_dir'], params['replace'], account)
    clock = time.time()
    tool.run('restore', *options)
    plan['restore_seconds'] = round(time.time() - clock, 3)
    _copy_config(params['data_dir'], params['conf_dir'], account)
    result = dict(changed=True, restore=plan, running=False)
    if not params['start_port']:
        return result
    server = RestoredServer(params['data_dir'], params['start_port'], params['pg_bin_dir'], tool.os_user)
    connection = dict(params, login_host='127.0.0.1', login_port=params['start_port'], login_unix_socket='')
    clock = time.time()
    server.start(params['timeout'])
    try:
        result['recovery'] = wait_promoted(connection, params['timeout'])
        result['recovery']['seconds'] = round(time.time() - clock, 3)
        result['databases'], result['tables'] = summarize_restored(connection, params['count_rows'])
    except DbopsError:
        server.stop()
        raise
    if params['keep_running']:
        result['running'] = True
    else:
        server.stop()
    return result
