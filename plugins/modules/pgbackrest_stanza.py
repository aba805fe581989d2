#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pgbackrest_stanza
short_description: Create a pgBackRest stanza once and prove that WAL archiving reaches it
version_added: 0.2.0
description:
  - Runs C(pgbackrest stanza-create) when the stanza does not exist yet (reported as a change), then
    C(pgbackrest check), which switches WAL and waits until the segment is in the repository, so archive_command,
    the configuration and the repository are proven together. A failing check fails the task with pgBackRest's error.
  - Runs on the database host, as I(pgbackrest.os_user) when set. Needs archiving configured first (the
    C(defneqr.dbops.wal_archive) role does both).
options:
  check:
    description:
      - Run C(pgbackrest check) after making sure the stanza exists.
    type: bool
    default: true
extends_documentation_fragment:
  - defneqr.dbops.pgbackrest
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Reports whether the stanza would be created; runs neither stanza-create nor check.
'''

EXAMPLES = r'''
- name: Create the stanza and check archiving
  defneqr.dbops.pgbackrest_stanza:
    pgbackrest:
      stanza: dijitalmenu
      os_user: postgres
'''

RETURN = r'''
created:
  description: Whether the stanza was created (would be, in check mode).
  returned: always
  type: bool
checked:
  description: Whether C(pgbackrest check) ran and passed.
  returned: always
  type: bool
pgbackrest:
  description: The repository after the run, C(backups), C(wal) ranges and C(status) (see M(defneqr.dbops.pg_backup_info)).
  returned: unless check mode
  type: dict
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
    spec = dict(pgbackrest=pgbackrest.pgbackrest_argument_spec(), check=dict(type='bool', default=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if not module.params['pgbackrest']:
        module.fail_json(msg='Set pgbackrest (the stanza to create and check): pgbackrest: {stanza: <name>}.')
    with postgres.failing_module(module):
        result = pgbackrest.ensure_stanza(pgbackrest.PgBackRest.from_params(module.params['pgbackrest']),
                                          module.params['check'], module.check_mode)
    module.exit_json(commands=programs.ran(), **result)


if __name__ == '__main__':
    main()
