#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: host_prerequisites
short_description: Check that a host has what a run needs, before the run changes anything
version_added: 0.4.0
description:
  - Checks, as the account the run uses on the host (with become when the play asks for it), that the Python
    libraries import, that the programs are there and executable, and that every folder the run writes can be
    written or created. With I(become), checks that sudo is installed.
  - Fails with every problem of the host at once, each with its fix (the Debian package, the C(install -d) command,
    the variable to set). Changes nothing.
  - The deploy, backup, health and WAL archiving playbooks run it first on every host they use.
options:
  python_libraries:
    description: Libraries the modules import on this host's Python.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The import name, e.g. C(psycopg2).
        type: str
        required: true
      package:
        description: The Debian package that provides it. Default C(python3-<name>).
        type: str
  programs:
    description: Programs the run starts on this host.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The program's name, e.g. C(pg_dump).
        type: str
        required: true
      path:
        description: An absolute path, or a name other than I(name) to find on C(PATH).
        type: str
      postgresql:
        description: A PostgreSQL client program, looked up in I(pg_bin_dir) or on C(PATH).
        type: bool
        default: false
      pg_bin_dir:
        description: The PostgreSQL bin folder (C(dbops_pg_bin_dir)).
        type: str
      fix:
        description: How to get it, in the error.
        type: str
      variable:
        description: The variable that names it, in the error.
        type: str
  folders:
    description: Folders the run writes on this host; each must be writable, or creatable under a writable folder.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The folder.
        type: str
        required: true
      purpose:
        description: What it holds, in the error.
        type: str
      variable:
        description: The variable that names it, in the error.
        type: str
  become:
    description: The run uses become, so sudo must be installed. A password it asks for is reported as a note.
    type: bool
    default: false
extends_documentation_fragment:
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
'''

EXAMPLES = r'''
- name: The db host can back up
  defneqr.dbops.host_prerequisites:
    python_libraries:
      - name: psycopg2
    programs:
      - {name: pg_dump, postgresql: true, variable: dbops_pg_bin_dir}
    folders:
      - {path: /backups, purpose: backup folder, variable: dbops_backup_dest}
'''

RETURN = r'''
checked:
  description: Each check, with C(check), C(what) and C(ok).
  returned: always
  type: list
  elements: dict
problems:
  description: What is missing, each with its fix (empty when the host is ready).
  returned: always
  type: list
  elements: str
notes:
  description: What may still stop the run but cannot be known here (a sudo password that C(-K) may give).
  returned: always
  type: list
  elements: str
user:
  description: The account the checks ran as.
  returned: always
  type: str
commands:
  description: The argv of each program the run started, in order, passwords masked (docs/operator-guide.md).
  returned: always
  type: list
  elements: list
'''

import getpass

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from ansible_collections.defneqr.dbops.plugins.module_utils import prerequisites


def main():
    module = AnsibleModule(argument_spec=dict(
        python_libraries=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True), package=dict(type='str'))),
        programs=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True), path=dict(type='str'), postgresql=dict(type='bool', default=False),
            pg_bin_dir=dict(type='str'), fix=dict(type='str'), variable=dict(type='str'))),
        folders=dict(type='list', elements='dict', default=[], options=dict(
            path=dict(type='str', required=True), purpose=dict(type='str'), variable=dict(type='str'))),
        become=dict(type='bool', default=False)), supports_check_mode=True)
    params = module.params
    problems, notes, checked = prerequisites.check(params['python_libraries'], params['programs'], params['folders'],
                                                   params['become'])
    result = dict(changed=False, checked=checked, problems=problems, notes=notes, user=getpass.getuser())
    if problems:
        module.fail_json(msg='This host is not ready for the run, as %s (nothing was changed): %s' % (
            result['user'], ' | '.join('%d) %s' % (number, problem) for number, problem in enumerate(problems, 1))),
            **result)
    module.exit_json(commands=programs.ran(), **result)


if __name__ == '__main__':
    main()
