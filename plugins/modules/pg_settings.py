#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_settings
short_description: Set PostgreSQL server settings with ALTER SYSTEM and say which ones need a restart
version_added: 0.2.0
description:
  - Sets each setting in I(settings) that is not configured to that value yet (C(ALTER SYSTEM SET), then
    C(pg_reload_conf())), and reports the settings that only a restart applies (C(wal_level), C(archive_mode),
    ...). It never restarts the server itself.
  - A setting is configured when C(postgresql.auto.conf) holds the value, or holds nothing and the running value
    is the value (as C(pg_settings.setting) or as C(SHOW) prints it). Give values in those forms
    (C(archive_timeout=3600) or C(1h)).
  - Needs a superuser (or C(ALTER SYSTEM) granted for each setting).
options:
  settings:
    description:
      - Setting names and their values. Booleans become C(on)/C(off).
    type: dict
    required: true
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Reports the settings that would change and whether a restart would be needed; alters nothing.
'''

EXAMPLES = r'''
- name: WAL archiving through pgBackRest (the runbook's hourly incremental backups)
  defneqr.dbops.pg_settings:
    login_unix_socket: /var/run/postgresql
    settings:
      wal_level: replica
      archive_mode: true
      archive_command: pgbackrest --stanza=dijitalmenu archive-push %p
      archive_timeout: 3600
  register: wal_settings

- name: Restart only when a setting needs it
  ansible.builtin.service:
    name: postgresql@15-main
    state: restarted
  when: wal_settings.restart_required
'''

RETURN = r'''
changes:
  description: The settings that changed (would change, in check mode), each with C(name), C(before), C(after)
    and C(context).
  returned: always
  type: list
  elements: dict
restart_required:
  description: Whether a changed (or earlier) setting waits for a server restart.
  returned: always
  type: bool
restart_settings:
  description: Names of the settings that wait for a restart.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres, server_settings


def main():
    spec = postgres.postgres_argument_spec()
    spec.update(settings=dict(type='dict', required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    postgres.ensure_driver(module)
    with postgres.failing_module(module):
        result = server_settings.apply(postgres.connect(module.params), module.params['settings'], module.check_mode)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
