#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_backup_info
short_description: List pg_backup backups (local or S3) with their manifests and the retention plan
version_added: 0.1.0
description:
  - Lists the complete backups under I(dest) (or an S3 prefix), newest first, with size, age, verification
    state and manifest; reports leftovers of interrupted runs; and, given I(retention_days), which backups
    retention would delete. Reads only.
  - With I(pgbackrest), lists that stanza's pgBackRest backups in the same shape, the archived WAL ranges and the
    stanza's status instead (C(pgbackrest info)).
options:
  dest:
    description:
      - Local backup root. One of I(dest), I(s3) or I(pgbackrest) is required.
    type: path
  kind:
    description:
      - Only backups of this kind (with I(pgbackrest), C(full), C(diff) or C(incr)).
    type: str
  database:
    description:
      - Only backups of this database.
    type: str
  retention_days:
    description:
      - Compute the retention plan for this many days (per kind and database).
    type: int
  min_keep:
    description:
      - The newest verified backups that retention always keeps.
    type: int
    default: 3
  verify:
    description:
      - Check local backups again (the runbook's C(backup.sh verify)). C(checksum) re-hashes every file against
        its manifest, C(list) also reads the dump's table of contents with C(pg_restore --list), C(full) also
        decompresses and reads every byte back with C(pg_restore) as a restore would, and counts each table's
        rows against the manifest's exact counts when it has them (a truncated or swapped archive fails here;
        needs the connection options for the client programs). The result is in each backup's C(check).
    type: str
    choices: [ none, checksum, list, full ]
    default: none
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.s3.listing
  - defneqr.dbops.pgbackrest
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
'''

EXAMPLES = r'''
- name: What daily backups are there, and what would 30-day retention delete?
  defneqr.dbops.pg_backup_info:
    dest: /backups
    kind: daily
    retention_days: 30
  register: daily

- name: Alert when the newest verified daily backup is older than 26 hours
  ansible.builtin.assert:
    that: daily.newest_verified_age_hours is not none and daily.newest_verified_age_hours < 26
'''

RETURN = r'''
backups:
  description: Manifests of the backups, newest first, each with C(size) (bytes), C(age_hours), C(verified),
    C(folder) or C(uri), and with I(verify) a C(check) (C(level), C(ok), C(message)).
  returned: always
  type: list
  elements: dict
leftovers:
  description: Folders of interrupted runs (no manifest), which the next pg_backup run removes.
  returned: always
  type: list
  elements: str
retention:
  description: With I(retention_days), the ids retention would C(delete) and C(keep).
  returned: always
  type: dict
wal:
  description: With I(pgbackrest), the archived WAL ranges (C(id) of the PostgreSQL version/system, C(min), C(max)).
  returned: when pgbackrest is set
  type: list
  elements: dict
status:
  description: With I(pgbackrest), the stanza's C(code) (0 is ok) and C(message) as pgBackRest reports them.
  returned: when pgbackrest is set
  type: dict
newest_verified_age_hours:
  description: Age of the newest verified backup in hours (null when there is none).
  returned: always
  type: float
commands:
  description: The argv of each program the run started, in order, passwords masked (docs/operator-guide.md).
  returned: always
  type: list
  elements: list
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from ansible_collections.defneqr.dbops.plugins.module_utils import backup_store as store_mod
from ansible_collections.defneqr.dbops.plugins.module_utils import pgbackrest, postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import s3_storage
from ansible_collections.defneqr.dbops.plugins.module_utils.backup import verify_backup


def describe(manifests, now):
    for manifest in manifests:
        manifest['size'] = sum(f['size'] for f in manifest.get('files', []))
        manifest['age_hours'] = round((now - store_mod.parse_time(manifest['started_at'])).total_seconds() / 3600, 2)
        manifest['verified'] = store_mod.is_verified(manifest)
    return manifests


def check_backup(params, manifest, level):
    """Re-check one local backup now (see backup.verify_backup)."""
    if manifest.get('method') == 'snapshot':
        return dict(level=level, ok=True, message='snapshot database: no files to check')
    return verify_backup(params, None, manifest['folder'], manifest, level)


def retention_plan(manifests, now, days, min_keep):
    plan = dict(delete=[], keep=[])
    groups = {}
    for manifest in manifests:
        groups.setdefault((manifest['kind'], manifest['database']), []).append(manifest)
    for group in groups.values():
        delete, keep, _damaged = store_mod.plan_retention(group, now, days, min_keep)
        plan['delete'] += [m['id'] for m in delete]
        plan['keep'] += [m['id'] for m in keep]
    return plan


def main():
    s3_spec = s3_storage.s3_argument_spec('bucket', 'prefix', *s3_storage.S3_CONNECTION)
    spec = postgres.postgres_argument_spec()
    spec.update(
        dest=dict(type='path'), kind=dict(type='str'), database=dict(type='str'),
        retention_days=dict(type='int'), min_keep=dict(type='int', default=3),
        verify=dict(type='str', default='none', choices=['none', 'checksum', 'list', 'full']),
        s3=dict(type='dict', options=s3_spec), pgbackrest=pgbackrest.pgbackrest_argument_spec())
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_one_of=[('dest', 's3', 'pgbackrest')])
    p = module.params
    now = store_mod.utcnow()
    leftovers = []
    extra = {}
    with postgres.failing_module(module):
        if p['pgbackrest']:
            extra = pgbackrest.describe(pgbackrest.PgBackRest.from_params(p['pgbackrest']).info(), now)
            manifests = [m for m in extra.pop('backups') if not p['kind'] or m['kind'] == p['kind']]
        elif p['s3']:
            manifests = s3_storage.list_backups(p['s3'], p['kind'])
        else:
            store = store_mod.Store(p['dest'])
            manifests = store.backups(p['kind'], p['database'])
            for kind in [p['kind']] if p['kind'] else store.kinds():
                leftovers += store.leftovers(kind)
        if p['database'] and not p['pgbackrest']:
            manifests = [m for m in manifests if m['database'] == p['database']]
        if not p['pgbackrest']:
            describe(manifests, now)
        if p['verify'] != 'none' and not p['s3'] and not p['pgbackrest']:
            for manifest in manifests:
                manifest['check'] = check_backup(module.params, manifest, p['verify'])
    verified = [m for m in manifests if m['verified']]
    module.exit_json(
        commands=programs.ran(), changed=False, backups=manifests, leftovers=leftovers,
        retention=retention_plan(manifests, now, p['retention_days'], p['min_keep']) if p['retention_days'] else {},
        newest_verified_age_hours=verified[0]['age_hours'] if verified else None, **extra)


if __name__ == '__main__':
    main()
