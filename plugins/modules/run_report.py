#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: run_report
short_description: Write the report of a deploy or rollback run (JSON and Markdown)
version_added: 0.1.0
description:
  - Writes C(<dest>/<run_id>/report.json) and C(report.md) with every step's timing and result, the runbook's
    production checklist (pre, during, post, rollback) with each line ticked or not and its evidence, the
    application downtime (first host stopped to last host healthy) and, after a rollback, the incident report.
  - Used by the C(deploy) and C(rollback) roles on the controller.
options:
  dest:
    description: Folder of the reports.
    type: path
    required: true
  run_id:
    description: Id of the run (a folder name).
    type: str
    required: true
  kind:
    description: C(deploy) or C(rollback).
    type: str
    choices: [deploy, rollback]
    default: deploy
  outcome:
    description: C(deployed), C(nothing_pending), C(refused), C(rolled_back) or C(failed).
    type: str
    required: true
  reason:
    description: Why the run ended that way, when it did not deploy.
    type: str
    default: ''
  started:
    description: ISO time the run started.
    type: str
    required: true
  steps:
    description: Steps with C(number), C(name), C(started), C(ended), C(status).
    type: list
    elements: dict
    default: []
  evidence:
    description: Evidence by step (backup, migrate, verify, start, smoke, monitor, post_backup).
    type: dict
    default: {}
  first_stop:
    description: ISO time the first app host was stopped.
    type: str
  last_healthy:
    description: ISO time the last app host answered /health again.
    type: str
  failure:
    description: The trigger of a rollback (C(host), C(step), C(task), C(error)).
    type: dict
    default: {}
  rollback:
    description: What the rollback did (C(stopped), C(database), C(release), C(started), C(healthy), C(health)).
    type: dict
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Returns the report without writing it.
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - Defne Qr operations team (@defneqr)
'''

EXAMPLES = r'''
- name: Write the report
  defneqr.dbops.run_report:
    dest: reports
    run_id: "{{ dbops_run_id }}"
    outcome: deployed
    started: "{{ dbops_run_started }}"
    steps: "{{ dbops_steps }}"
    evidence: "{{ dbops_evidence }}"
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

from ansible_collections.defneqr.dbops.plugins.module_utils import run_report
from ansible_collections.defneqr.dbops.plugins.module_utils.backup_store import utcnow


def main():
    module = AnsibleModule(argument_spec=dict(
        dest=dict(type='path', required=True), run_id=dict(type='str', required=True),
        kind=dict(type='str', default='deploy', choices=['deploy', 'rollback']),
        outcome=dict(type='str', required=True), reason=dict(type='str', default=''),
        started=dict(type='str', required=True), steps=dict(type='list', elements='dict', default=[]),
        evidence=dict(type='dict', default={}), first_stop=dict(type='str'), last_healthy=dict(type='str'),
        failure=dict(type='dict', default={}), rollback=dict(type='dict', default={})), supports_check_mode=True)
    p = module.params
    report = run_report.build(p['run_id'], p['kind'], p['outcome'], p['reason'], p['started'], p['steps'],
                              p['evidence'], p['first_stop'], p['last_healthy'], p['failure'], p['rollback'],
                              utcnow().isoformat())
    folder = os.path.join(p['dest'], p['run_id'])
    paths = dict(json=os.path.join(folder, 'report.json'), markdown=os.path.join(folder, 'report.md'))
    if not module.check_mode:
        os.makedirs(folder, mode=0o750, exist_ok=True)
        with open(paths['json'], 'w') as stream:
            json.dump(report, stream, indent=2, default=str)
        with open(paths['markdown'], 'w') as stream:
            stream.write(run_report.markdown(report))
    module.exit_json(changed=not module.check_mode, report=report, summary=run_report.summary(report),
                     downtime_seconds=report['downtime_seconds'], **paths)


if __name__ == '__main__':
    main()
