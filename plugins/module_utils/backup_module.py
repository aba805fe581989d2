# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What pg_backup does, as one call: its options and its run, shared with deploy_db_steps (the deploy's rollback
point is a pg_backup run inside the outage's one module run)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.defneqr.dbops.plugins.module_utils import pgbackrest, postgres
from ansible_collections.defneqr.dbops.plugins.module_utils.backup import VERIFY_LEVELS, BackupJob
from ansible_collections.defneqr.dbops.plugins.module_utils.s3_storage import check_reachable, s3_argument_spec, upload_backup


def backup_argument_spec():
    """pg_backup's own options (the connection options come from postgres.postgres_argument_spec)."""
    return dict(
        database=dict(type='str'),
        dest=dict(type='path'),
        kind=dict(type='str', default='manual'),
        label=dict(type='str'),
        method=dict(type='str', default='dump', choices=['dump', 'snapshot', 'pgbackrest', 'restore_point']),
        backup_type=dict(type='str', default='full', choices=list(pgbackrest.BACKUP_TYPES)),
        pgbackrest=pgbackrest.pgbackrest_argument_spec(),
        format=dict(type='str', default='custom', choices=['custom', 'directory']),
        compression=dict(type='str', default='auto'),
        jobs=dict(type='int', default=1),
        verify=dict(type='str', default='list', choices=list(VERIFY_LEVELS)),
        exact_counts=dict(type='bool', default=False),
        free_space_factor=dict(type='float', default=0.5),
        lock_wait=dict(type='int', default=0),
        retention_days=dict(type='int'),
        min_keep=dict(type='int', default=3),
        terminate_sessions=dict(type='bool', default=False),
        snapshot_method=dict(type='str', choices=['auto', 'clone', 'copy'], default='auto'),
        retention_only=dict(type='bool', default=False),
        restore_point=dict(type='str'),
        s3=dict(type='dict', options=s3_argument_spec()),
    )


REQUIRED_IF = [('retention_only', True, ['retention_days']), ('method', 'dump', ['dest']),
               ('method', 'snapshot', ['dest']), ('method', 'pgbackrest', ['pgbackrest']),
               ('method', 'restore_point', ['label'])]


def with_defaults(params, options):
    """params (connection options, validated by the caller) with pg_backup's defaults under the given options."""
    merged = dict((name, spec.get('default')) for name, spec in backup_argument_spec().items())
    merged.update(params)
    merged.update(options)
    return merged


def take(params, check_mode=False):
    """One pg_backup run with its validated params; raises DbopsError (PgError, ProgramError, S3Error)."""
    options = dict(params, database=params['database'] or params['login_db'])
    if options['method'] == 'pgbackrest':
        return pgbackrest.take_backup(pgbackrest.PgBackRest.from_params(options['pgbackrest']),
                                      options['backup_type'], check_mode)
    if options['method'] == 'restore_point':
        return pgbackrest.create_restore_point(postgres.connect(options), options['label'], check_mode)
    if not options['database']:
        raise postgres.PgError('Set database (or login_db): the database to back up.')
    job = BackupJob(params, options)
    uploads = options['s3'] and options['method'] == 'dump' and not options['retention_only']
    if uploads:
        check_reachable(options['s3'])
    result = job.run(check_mode=check_mode)
    if options['restore_point'] and not options['retention_only']:
        result.update(pgbackrest.restore_point_beside(job.conn, options['restore_point'], check_mode))
    if uploads:
        result['s3'] = upload_backup(options['s3'], result['backup'], job.kind, check_mode)
    return result
