#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_pitr
short_description: Point-in-time restore from pgBackRest into a new data folder, started and verified
version_added: 0.2.0
description:
  - Restores the cluster backed up in a pgBackRest stanza into I(data_dir) and replays archived WAL up to a
    timestamp, an LSN, a named restore point (for example the one a deploy took before migrating), the end of
    the backup (C(immediate)) or all archived WAL (C(latest)); the copy is promoted at the target.
  - Never writes over a running server, and into a non-empty folder only with I(replace=true) (a stopped
    cluster, restored in place with pgBackRest's C(--delta)).
  - With I(start_port), starts the copy there (TCP on 127.0.0.1 only, archiving off so it cannot push WAL into the
    repository), waits until recovery ended, and reports its databases and the exact row counts of I(login_db)'s
    tables; then stops it unless I(keep_running). The connection options (user, password, database) are used
    against the copy.
  - Replaces the runbook's "restore from incremental" (C(pg_restore) of a daily dump, which replays no WAL).
options:
  data_dir:
    description:
      - Folder to restore into (absolute; letters, digits and C(/ . _ -)). Created with mode 0700 for the OS account.
    type: path
    required: true
  target_type:
    description:
      - C(time) (I(target) is a timestamp with time zone), C(lsn), C(name) (a restore point), C(immediate) (the end
        of the backup) or C(latest) (all archived WAL).
    type: str
    choices: [ latest, time, lsn, name, immediate ]
    default: latest
  target:
    description:
      - The recovery target for C(time), C(lsn) and C(name). WAL up to and including it is replayed.
    type: str
  replace:
    description:
      - Allow a non-empty I(data_dir) (a stopped cluster), restored in place with C(--delta).
    type: bool
    default: false
  conf_dir:
    description:
      - Folder holding C(postgresql.conf), C(pg_hba.conf) and C(pg_ident.conf) when they are not in the data folder
        (Debian C(/etc/postgresql/<version>/<cluster>)); they are copied into I(data_dir).
    type: path
  start_port:
    description:
      - Start the restored copy on this port and verify it. Without it, the folder is only restored.
    type: int
  keep_running:
    description:
      - Leave the verified copy running on I(start_port) (for a person to inspect or to promote to production).
    type: bool
    default: false
  count_rows:
    description:
      - Count the rows of every table of I(login_db) in the copy (exact C(count(*))).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the copy to start and for recovery to end.
    type: int
    default: 600
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.pgbackrest
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Checks the stanza has a backup and returns the pgbackrest restore options; writes nothing.
'''

EXAMPLES = r'''
- name: Restore to the moment before a deploy's migrations, into a new folder, and look at it
  defneqr.dbops.pg_pitr:
    pgbackrest:
      stanza: dijitalmenu
      os_user: postgres
    data_dir: /var/lib/postgresql/15/pitr
    conf_dir: /etc/postgresql/15/main
    target_type: name
    target: deploy-20260218T021503Z
    start_port: 5433
    login_user: postgres
    login_password: "{{ vault_pg_password }}"
    login_db: dijitalmenu
    keep_running: true

- name: Restore to a timestamp
  defneqr.dbops.pg_pitr:
    pgbackrest:
      stanza: dijitalmenu
    data_dir: /srv/pitr/20260218
    target_type: time
    target: "2026-02-18 02:14:00+00"
'''

RETURN = r'''
restore:
  description: C(data_dir), C(target_type), C(target), C(port) (I(start_port)), the pgbackrest C(options) and C(restore_seconds).
  returned: always
  type: dict
recovery:
  description: After the start, C(recovering) (false once promoted), C(timeline) and C(seconds) to promotion.
  returned: when start_port is set
  type: dict
databases:
  description: Databases of the copy with their C(name) and C(size) in bytes.
  returned: when start_port is set
  type: list
  elements: dict
tables:
  description: Exact row counts of I(login_db)'s tables in the copy, by C(schema.table).
  returned: when start_port is set
  type: dict
running:
  description: Whether the copy is left running on I(start_port).
  returned: unless check mode
  type: bool
commands:
  description: The argv of each program the run started, in order, passwords masked (docs/operator-guide.md).
  returned: always
  type: list
  elements: list
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from ansible_collections.defneqr.dbops.plugins.module_utils import pgbackrest, postgres


def main():
    spec = postgres.postgres_argument_spec()
    spec.update(
        pgbackrest=pgbackrest.pgbackrest_argument_spec(),
        data_dir=dict(type='path', required=True),
        target_type=dict(type='str', default='latest', choices=list(pgbackrest.TARGET_TYPES)),
        target=dict(type='str'),
        replace=dict(type='bool', default=False),
        conf_dir=dict(type='path'),
        start_port=dict(type='int'),
        keep_running=dict(type='bool', default=False),
        count_rows=dict(type='bool', default=True),
        timeout=dict(type='int', default=600),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if not module.params['pgbackrest']:
        module.fail_json(msg='Set pgbackrest (the stanza to restore from): pgbackrest: {stanza: <name>}.')
    if module.params['start_port']:
        postgres.ensure_driver(module)
    with postgres.failing_module(module):
        result = pgbackrest.point_in_time_restore(pgbackrest.PgBackRest.from_params(module.params['pgbackrest']),
                                                  module.params, module.check_mode)
    module.exit_json(commands=programs.ran(), **result)


if __name__ == '__main__':
    main()
