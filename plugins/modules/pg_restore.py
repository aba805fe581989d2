#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_restore
short_description: Restore a pg_backup backup safely (new database, swap, in place, or snapshot swap)
version_added: 0.1.0
description:
  - Restores a backup made by M(defneqr.dbops.pg_backup) from its folder, its C(manifest.json), or an
    C(s3://) URI. The files are checked against the manifest's sha256 first; a damaged backup is refused
    before anything changes.
  - C(mode=replace) restores into a new database beside the live one, checks it, then swaps the names, so
    the live database is never half overwritten; the old one is kept as C(<database>_old_<time>) unless
    I(drop_old). Before the swap the new database takes over the owner, grants, comment and settings of
    the one it replaces (see RV(database_properties)).
  - C(mode=new) restores into a database that does not exist yet.
  - C(mode=clean) is the runbook's in-place C(pg_restore --clean --if-exists), run in one transaction
    when I(jobs=1) so that a failure changes nothing.
  - C(mode=drill) is the restore drill (the runbook's "restore test in dev"), restores into a scratch database,
    compares every table's row count with the backup's, and drops it; the live database is not touched.
  - A snapshot backup (I(method=snapshot)) is restored by swapping the snapshot database into place, in
    about constant time.
  - After the restore, every table's row count is compared with the counts recorded at dump time
    (when the backup has them).
options:
  src:
    description:
      - Backup folder, path of its C(manifest.json), or C(s3://bucket/prefix/kind/id).
    type: str
    required: true
  database:
    description:
      - Database to restore. Default is the database the backup was taken from.
    type: str
  mode:
    description:
      - C(replace), C(new), C(clean) or C(drill), see the description.
    type: str
    choices: [ replace, new, clean, drill ]
    default: replace
  jobs:
    description:
      - Parallel C(pg_restore) jobs. Externally compressed dumps are decompressed to a file beside the
        backup first when I(jobs) is above 1.
    type: int
    default: 1
  drop_old:
    description:
      - With C(mode=replace), drop the replaced database after the swap instead of keeping it.
    type: bool
    default: false
  dest:
    description:
      - The backup root (the I(dest) of M(defneqr.dbops.pg_backup)) in which a kept replaced database is
        recorded, as kind C(replaced) with its oid, so that C(pg_backup kind=replaced retention_only=true)
        drops it when it expires and never another database.
      - Default, for a local backup, the root it lies in. A backup read from S3 with no I(dest) keeps the
        replaced database unrecorded (RV(previous_recorded) is null).
    type: path
  consume_snapshot:
    description:
      - For a snapshot backup, swap the snapshot itself into place (constant time). When false, a copy of
        it is made first, so the snapshot stays available for another rollback.
    type: bool
    default: true
  terminate_sessions:
    description:
      - End other sessions on the database when the swap or the in-place restore needs it exclusively,
        instead of refusing.
    type: bool
    default: false
  owner:
    description:
      - Owner of a newly created database. Default the owner of the database being replaced, else I(login_user).
    type: str
  work_dir:
    description:
      - Where an C(s3://) backup is downloaded (removed afterwards). Default the system temporary folder.
    type: path
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.s3.source
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Checks the backup's files and reports the target database and the sessions a swap would end.
'''

EXAMPLES = r'''
- name: Roll back to the snapshot taken before the migration (seconds, whatever the size)
  defneqr.dbops.pg_restore:
    src: "{{ snapshot.backup.folder }}"
    database: dijitalmenu

- name: Restore last night's backup beside the live database, then swap (the runbook's option 1, safely)
  defneqr.dbops.pg_restore:
    src: /backups/daily/dijitalmenu_20260218T030000Z
    mode: replace
    jobs: 2
    terminate_sessions: true

- name: Restore drill of the weekly S3 backup into a scratch database
  defneqr.dbops.pg_restore:
    src: s3://defneqr-backups/dijitalmenu/weekly/dijitalmenu_20260215T020000Z
    database: restore_drill
    mode: new
'''

RETURN = r'''
database:
  description: The database restored.
  returned: always
  type: str
restored_into:
  description: The database the data went into (the scratch name before the swap for C(replace)).
  returned: always
  type: str
previous_database:
  description: With C(replace), the name the replaced database now has (null when dropped).
  returned: when mode is replace
  type: str
database_properties:
  description:
    - With C(replace), what the replacement took over from the database it replaces before the swap
      (PostgreSQL keeps these per database, not per name) - owner, connection limit, grants, comment, and the
      C(ALTER DATABASE ... SET) and C(ALTER ROLE ... IN DATABASE ... SET) settings.
    - C(not_carried) lists each change the connected role may not make, with the error and the statement to
      run as a superuser; the swap goes on without it.
  returned: when mode is replace
  type: dict
  sample:
    carried: [revoke CONNECT from PUBLIC, grant CONNECT to reporting, comment, set statement_timeout]
    not_carried:
      - what: set lock_timeout for role reporting
        error: permission denied to alter role
        statement: ALTER ROLE "reporting" IN DATABASE "dijitalmenu" SET "lock_timeout" TO '3s'
previous_recorded:
  description: With C(replace), the folder of the C(replaced) manifest that puts the kept database under retention.
  returned: when mode is replace
  type: str
swap_seconds:
  description: Seconds the two renames took.
  returned: when mode is replace
  type: float
rows:
  description: C(compared) tables and those whose row count C(differ).
  returned: for dump backups
  type: dict
argv:
  description: The pg_restore command (no secrets).
  returned: for dump backups
  type: list
  elements: str
duration:
  description: Seconds the restore took.
  returned: success
  type: float
commands:
  description: The argv of each program the run started, in order, passwords masked (docs/operator-guide.md).
  returned: always
  type: list
  elements: list
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils.restore import restore
from ansible_collections.defneqr.dbops.plugins.module_utils.s3_storage import S3_CONNECTION, s3_argument_spec


def main():
    spec = postgres.postgres_argument_spec()
    spec.update(
        src=dict(type='str', required=True),
        database=dict(type='str'),
        mode=dict(type='str', default='replace', choices=['replace', 'new', 'clean', 'drill']),
        jobs=dict(type='int', default=1),
        drop_old=dict(type='bool', default=False),
        consume_snapshot=dict(type='bool', default=True),
        terminate_sessions=dict(type='bool', default=False),
        owner=dict(type='str'),
        work_dir=dict(type='path'),
        dest=dict(type='path'),
        s3=dict(type='dict', options=s3_argument_spec(*S3_CONNECTION)),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    postgres.ensure_driver(module)
    with postgres.failing_module(module):
        result = restore(module.params, module.params, check_mode=module.check_mode)
    module.exit_json(commands=programs.ran(), **result)


if __name__ == '__main__':
    main()
