#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_capture
short_description: Capture the application's writes after a rollback point and replay them after a rollback
version_added: 0.3.0
description:
  - C(state=present) puts a change log (schema C(dbops)) and row triggers on every table of I(schema) that has
    none yet, C(_prisma_migrations) and I(exclude) aside. Each INSERT, UPDATE and DELETE is logged in the same
    transaction as the change, so the log holds exactly what committed; the application sees the same results,
    errors and ids. Sessions that set C(dbops.capture = 'off') (this collection's migration engine) are not
    logged. Works with any C(wal_level), without a restart or a superuser; the tables' owner is needed.
    A table without a primary key is refused by name.
  - C(state=replayed) runs in the restored database (I(database)) after a rollback swapped it into place, with
    the application stopped. It replays the changes logged in I(source_database) (the database it replaced)
    that the restored copy of the log does not hold, in one transaction, set-based and in foreign key order,
    mapped to the restored schema - columns the restored table lacks are dropped (and counted), rows that break
    its constraints, changes to tables it does not have, and updates or deletes of rows it does not hold go to
    the quarantine (table C(dbops.quarantine) and I(quarantine_file)) with the reason. Sequences move past
    every value the replaced database handed out. Then the capture is removed from I(database). Any other
    error leaves I(database) exactly as restored.
  - C(state=absent) removes the triggers, the functions and the log (an earlier rollback's quarantine stays).
    The application may be running; the drops wait for their locks briefly and retry.
  - M(defneqr.dbops.pg_capture_info) reports the log's size and lists the quarantine.
options:
  state:
    description: What to do (see the description).
    type: str
    choices: [present, absent, replayed]
    required: true
  database:
    description: The database to work in. Default I(login_db).
    type: str
  schema:
    description: The application's schema.
    type: str
    default: public
  exclude:
    description: Tables not to capture with C(state=present) (their later changes are then not kept).
    type: list
    elements: str
    default: []
  source_database:
    description: With C(state=replayed), the database whose change log is replayed (the replaced one).
    type: str
  quarantine_file:
    description:
      - With C(state=replayed), a file (JSON lines, mode 0600) that receives the quarantined changes too.
    type: path
  label:
    description: With C(state=replayed), the run the quarantined rows are recorded under.
    type: str
    default: ''
  new_log:
    description:
      - With C(state=present), first drop an earlier capture (its triggers and its log) in the same transaction,
        so the log starts empty here. A deploy's rollback point must not carry the changes of an earlier
        deploy that kept its capture (C(deploy_capture_until=kept)); one call instead of C(absent) then C(present).
      - Ignored with the other states.
    type: bool
    default: false
    version_added: 0.4.0
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: C(present) and C(absent) report what would change; C(replayed) replays and then rolls the
      transaction back, so its counts are real and nothing stays.
'''

EXAMPLES = r'''
- name: Capture every write from the rollback point on (before the snapshot is taken)
  defneqr.dbops.pg_capture:
    database: dijitalmenu
    state: present

- name: After the swap, replay what the new release wrote into the restored database
  defneqr.dbops.pg_capture:
    database: dijitalmenu
    source_database: dijitalmenu_old_20260301020000
    state: replayed
    label: "20260301T020000"
    quarantine_file: /backups/.deploy.runs/20260301T020000.quarantine.jsonl
  register: replay

- name: The deploy was accepted; nothing of the capture stays
  defneqr.dbops.pg_capture:
    database: dijitalmenu
    state: absent
'''

RETURN = r'''
tables:
  description: With C(state=present), the captured tables.
  returned: state is present
  type: list
  elements: str
added:
  description: With C(state=present), the tables the trigger was added to by this call.
  returned: state is present
  type: list
  elements: str
ended_earlier:
  description: With C(state=present) and I(new_log), whether an earlier capture was dropped first.
  returned: state is present
  type: bool
captured:
  description: With C(state=replayed), the logged changes after the rollback point.
  returned: state is replayed
  type: int
replayed:
  description: With C(state=replayed), net row changes applied (a row inserted then updated counts once).
  returned: state is replayed
  type: int
applied:
  description: With C(state=replayed), per table the rows inserted, updated and deleted.
  returned: state is replayed
  type: dict
dropped_columns:
  description: With C(state=replayed), per table the columns of the new schema the restored table does not have.
  returned: state is replayed
  type: dict
quarantined:
  description: With C(state=replayed), per table the number of changes quarantined for each reason.
  returned: state is replayed
  type: dict
quarantine:
  description: The quarantined changes, each with C(table), C(action), C(key), C(row), C(reason), C(change_ids).
  returned: state is replayed
  type: list
  elements: dict
sequences_moved:
  description: With C(state=replayed), the sequences (or tables of identity columns) moved forward.
  returned: state is replayed
  type: list
  elements: str
seconds:
  description: With C(state=replayed), how long the replay took.
  returned: state is replayed
  type: float
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.defneqr.dbops.plugins.module_utils import change_capture, postgres


def main():
    spec = postgres.postgres_argument_spec()
    spec.update(
        state=dict(type='str', required=True, choices=['present', 'absent', 'replayed']),
        database=dict(type='str'),
        schema=dict(type='str', default='public'),
        exclude=dict(type='list', elements='str', default=[]),
        source_database=dict(type='str'),
        quarantine_file=dict(type='path'),
        label=dict(type='str', default=''),
        new_log=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[('state', 'replayed', ['source_database'])])
    postgres.ensure_driver(module)
    p = module.params
    with postgres.failing_module(module):
        conn = postgres.connect(p, database=p['database'])
        if p['state'] == 'present':
            result = change_capture.install(conn, p['schema'], p['exclude'], module.check_mode, p['new_log'])
        elif p['state'] == 'absent':
            result = change_capture.remove(conn, module.check_mode)
        else:
            source = postgres.connect(p, database=p['source_database'])
            result = change_capture.replay(source, conn, p['schema'], p['label'], p['quarantine_file'],
                                           module.check_mode)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
