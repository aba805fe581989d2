#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_capture_info
short_description: The change log of a deploy's capture, and the quarantine of the rollbacks' replays
version_added: 0.3.0
description:
  - Reports whether a change log of M(defneqr.dbops.pg_capture) is in the database, how many changes it holds and
    its size on disk, the tables that carry the capture trigger, and the rows earlier replays quarantined
    (table C(dbops.quarantine)), each with its reason.
options:
  database:
    description: The database to read. Default I(login_db).
    type: str
  label:
    description: Only the quarantined rows of this run. Default all.
    type: str
    default: ''
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
'''

EXAMPLES = r'''
- name: What the last rollback could not replay
  defneqr.dbops.pg_capture_info:
    database: dijitalmenu
    label: deploy-20260301T020000Z
  register: capture
'''

RETURN = r'''
installed:
  description: Whether a change log is in the database (a deploy not yet accepted, or a replaced database).
  returned: always
  type: bool
changes:
  description: The number of logged changes.
  returned: always
  type: int
bytes:
  description: The size of the log on disk.
  returned: always
  type: int
tables:
  description: The tables that carry the capture trigger.
  returned: always
  type: list
  elements: str
quarantine:
  description: The quarantined changes, each with C(run), C(table), C(action), C(key), C(row), C(reason), C(change_ids), C(at).
  returned: always
  type: list
  elements: dict
quarantined:
  description: Per table the number of quarantined changes for each reason.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.defneqr.dbops.plugins.module_utils import change_capture, postgres


def main():
    spec = postgres.postgres_argument_spec()
    spec.update(database=dict(type='str'), label=dict(type='str', default=''))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    postgres.ensure_driver(module)
    with postgres.failing_module(module):
        conn = postgres.connect(module.params, database=module.params['database'])
        quarantine = change_capture.quarantine_rows(conn, module.params['label'] or None)
        result = dict(change_capture.info(conn), quarantine=quarantine,
                      quarantined=change_capture.count_quarantine(quarantine))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
