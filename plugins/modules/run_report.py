#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: run_report
short_description: Write the report of a deploy, rollback or recovery run from its journal (JSON and Markdown)
version_added: 0.1.0
description:
  - Writes C(<dest>/<run id>/report.json) and C(report.md) (folder 0700, files 0600, as they hold query texts) from the
    run's journal (M(defneqr.dbops.run_journal)), with every step's timing and result (the failed or interrupted one
    included), the runbook's production checklist (pre, during, post, rollback) with each line ticked or not and
    its evidence, the application downtime (first host stopped to last host healthy again) and, after a rollback,
    the incident report.
  - For a dry run (I(outcome=would_deploy)) it lists what each later step would do; for a rollback that did not
    finish the summary names the hosts that do not answer and what C(recover.yml) will do next.
  - Used by the C(deploy) role, C(rollback.yml) and C(recover.yml) on the controller.
options:
  dest:
    description: Folder of the reports.
    type: path
    required: true
  journal:
    description: The run's journal, as M(defneqr.dbops.run_journal) returns it.
    type: dict
    required: true
  outcome:
    description:
      - C(deployed), C(nothing_pending), C(refused), C(would_deploy), C(rolled_back) or C(rollback_failed).
    type: str
    required: true
  reason:
    description: Why the run ended that way, when it did not deploy.
    type: str
    default: ''
  plan:
    description: For a dry run, the settings that say what would run (C(app_hosts), C(backup_dest),
      C(backup_verify), C(strategy), C(monitor_seconds)).
    type: dict
    default: {}
  recover_command:
    description: The command that finishes a run whose rollback did not finish, named in its alarm.
    type: str
    default: ansible-playbook -i <inventory> defneqr.dbops.recover
extends_documentation_fragment:
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Returns the report without writing it, and reports C(changed) as a real run would.
'''

EXAMPLES = r'''
- name: Read the journal of the run
  defneqr.dbops.run_journal:
    path: /backups/.deploy.lock
    state: read
  register: journal

- name: Write the report
  defneqr.dbops.run_report:
    dest: /var/lib/defneqr/reports
    journal: "{{ journal.journal }}"
    outcome: deployed
  delegate_to: localhost
'''

RETURN = r'''
report:
  description: The whole report as written to report.json.
  returned: always
  type: dict
json:
  description: Path of report.json.
  returned: always
  type: str
markdown:
  description: Path of report.md.
  returned: always
  type: str
summary:
  description: One line with the outcome, step times, downtime, backup size and checklist count.
  returned: always
  type: str
downtime_seconds:
  description: Seconds from the first stop to the last host healthy (null without a stop).
  returned: always
  type: float
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import run_journal
from ansible_collections.defneqr.dbops.plugins.module_utils import run_report
from ansible_collections.defneqr.dbops.plugins.module_utils.backup_store import utcnow, write_private
from ansible_collections.defneqr.dbops.plugins.module_utils.change_capture import quarantine_lines


def main():
    module = AnsibleModule(argument_spec=dict(
        dest=dict(type='path', required=True), journal=dict(type='dict', required=True),
        outcome=dict(type='str', required=True), reason=dict(type='str', default=''),
        plan=dict(type='dict', default={}),
        recover_command=dict(type='str', default='ansible-playbook -i <inventory> defneqr.dbops.recover')),
        supports_check_mode=True)
    p = module.params
    report = run_report.build(p['journal'], p['outcome'], p['reason'], utcnow().isoformat(), p['plan'],
                              p['recover_command'])
    if not run_journal.SAFE_NAME.match(report['run_id'] or ''):
        module.fail_json(msg='The journal names no usable run id (%r): no report was written.' % report['run_id'])
    folder = os.path.join(p['dest'], report['run_id'])
    paths = dict(json=os.path.join(folder, 'report.json'), markdown=os.path.join(folder, 'report.md'))
    if not module.check_mode:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
            replay = (p['journal'].get('rollback') or {}).get('replay') or {}
            if replay.get('quarantine'):  # the application's rows that a rollback could not replay, beside the report
                replay['quarantine_report_file'] = os.path.join(folder, 'quarantine.jsonl')
                write_private(replay['quarantine_report_file'], quarantine_lines(replay.pop('quarantine')))
                report = run_report.build(p['journal'], p['outcome'], p['reason'], report['finished'], p['plan'],
                                          p['recover_command'])
            write_private(paths['json'], json.dumps(report, indent=2, default=str))
            write_private(paths['markdown'], run_report.markdown(report))
        except OSError as err:
            module.fail_json(msg='Cannot write the run report to %s: %s. Set deploy_report_dir to a folder the '
                                 'controller can write.' % (folder, err), **paths)
    module.exit_json(changed=True, report=report,  # a report is written (would be, in check mode) on every call
                     summary=run_report.summary(report, paths['markdown']),
                     downtime_seconds=report['downtime_seconds'], **paths)


if __name__ == '__main__':
    main()
