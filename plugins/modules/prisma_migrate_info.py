#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: prisma_migrate_info
short_description: Status of every Prisma migration of a project against a PostgreSQL database
version_added: 0.1.0
description:
  - Reads C(_prisma_migrations) and the project's C(prisma/migrations) folder and reports, for every
    migration, whether it is applied, pending, failed, rolled back, modified since it was applied, or
    recorded in the database but missing locally.
  - Like C(prisma migrate status), but complete and machine-readable; it reads only and takes no lock.
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.prisma_project
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
'''

EXAMPLES = r'''
- name: Check migration status (the runbook's "npx prisma migrate status")
  defneqr.dbops.prisma_migrate_info:
    project_dir: /var/www/defneqr/current/backend
    login_host: db1
    login_user: defneqr
    login_password: "{{ vault_db_password }}"
    login_db: dijitalmenu
  register: migrations

- name: Stop when something is pending or failed
  ansible.builtin.assert:
    that: migrations.in_sync
    fail_msg: "pending={{ migrations.pending }} failed={{ migrations.failed_migrations }}"
'''

RETURN = r'''
migrations:
  description: One entry per migration (local folders in order, then database rows missing locally).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Folder name, e.g. C(20260218193213_add_performance_indexes).
      type: str
    state:
      description: C(applied), C(pending), C(failed), C(rolled_back), C(modified) or C(missing_locally).
      type: str
    checksum_local:
      description: sha256 of the local C(migration.sql).
      type: str
    checksum_db:
      description: Checksum recorded in the database (newest relevant row).
      type: str
    started_at:
      description: When the newest relevant attempt started (ISO 8601).
      type: str
    finished_at:
      description: When it finished, if it did.
      type: str
    rolled_back_at:
      description: When it was marked rolled back, if it was.
      type: str
    duration:
      description: Seconds from start to finish.
      type: float
    attempts:
      description: Number of rows for this migration.
      type: int
    logs:
      description: Error text of a failed attempt.
      type: str
    has_rollback_script:
      description: Whether a rollback script exists for it.
      type: bool
  sample:
    - name: 20260215174415_init
      state: applied
      checksum_local: 0a3c...
      checksum_db: 0a3c...
      attempts: 1
pending:
  description: Migrations a deploy would apply, in order (rolled-back ones included).
  returned: always
  type: list
  elements: str
applied:
  description: Migrations applied (modified ones included).
  returned: always
  type: list
  elements: str
failed_migrations:
  description:
    - Migrations with a failed attempt that blocks deploys (Prisma's P3009).
    - Not named C(failed), a key Ansible reads as the task's own failure flag.
  returned: always
  type: list
  elements: str
modified:
  description: Applied migrations whose file changed since.
  returned: always
  type: list
  elements: str
missing_locally:
  description: Migrations recorded in the database without a local folder.
  returned: always
  type: list
  elements: str
has_migrations_table:
  description: Whether C(_prisma_migrations) exists.
  returned: always
  type: bool
in_sync:
  description: Nothing pending, failed, modified or missing.
  returned: always
  type: bool
latest_applied:
  description: Name of the newest applied migration, or null.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations
from ansible_collections.defneqr.dbops.plugins.module_utils.prisma_module import open_project, project_argument_spec


def main():
    module = AnsibleModule(argument_spec=project_argument_spec(), supports_check_mode=True,
                           required_one_of=[('project_dir', 'migrations_dir')])
    postgres.ensure_driver(module)
    with postgres.failing_module(module):
        conn, project, schema, _params = open_project(module)
        entries, summary = prisma_migrations.status(conn, project, schema)
        for entry in entries:
            local = project.by_name.get(entry['name'])
            entry['has_rollback_script'] = bool(local and prisma_migrations.find_rollback_script(
                local, project.rollback_dir))
        module.exit_json(changed=False, migrations=entries, **summary)


if __name__ == '__main__':
    main()
