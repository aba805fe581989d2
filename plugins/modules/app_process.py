#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: app_process
short_description: Stop, or switch the release and start, the backend under pm2 in one module run
version_added: 0.5.0
description:
  - Used by the C(app_service) role, whose stop and start a deploy makes inside its outage, where every task costs
    about 0.3 s before it does anything. Each state is one process that polls every 50 ms.
  - C(state=stopped) runs C(pm2 delete) (the runbook's C(pm2 stop), with the process definition gone, since it may
    name the previous release folder) and waits until nothing listens on I(port). A port still open is returned
    (C(port_closed=false)), not failed, so that the role can name the process that holds it.
  - C(state=started) points C(current) at I(release) in one atomic rename (refused unless the release was unpacked
    completely), runs C(pm2 start current/ecosystem.config.js --cwd current --update-env) and waits up to
    I(health_wait) seconds for I(health_url) to answer 200. C(state=reloaded) runs C(pm2 reload) instead (pm2 cluster
    mode swaps the workers with no gap). A backend that does not answer in that time is returned with
    C(healthy=false), and the role then reads pm2 for a crash loop and keeps waiting.
  - pm2 reads its home and the backend's settings from the environment; set them with the task's C(environment).
options:
  state:
    description: What to do (see the description).
    type: str
    choices: [stopped, started, reloaded]
    required: true
  name:
    description: The pm2 process name.
    type: str
    required: true
  pm2:
    description: The pm2 program (a name on the PATH or a path).
    type: str
    default: pm2
  port:
    description: With C(state=stopped), the port that must close.
    type: int
    default: 5000
  remove:
    description: With C(state=stopped), run C(pm2 delete) first; false only waits for the port (pm2 knows no such process).
    type: bool
    default: true
  timeout:
    description: With C(state=stopped), seconds to wait for the port to close.
    type: float
    default: 30
  root:
    description: With C(state=started) or C(reloaded), the folder that holds C(releases/) and the C(current) link.
    type: path
  release:
    description:
      - With C(state=started) or C(reloaded), the release id under C(root/releases) to point C(current) at first
        (empty keeps C(current)). It must hold the C(.release-complete) marker the C(release) role writes last.
    type: str
    default: ''
  health_url:
    description:
      - With C(state=started) or C(reloaded), the URL that must answer 200. It is asked directly (a proxy named by
        the environment is not used) and an https certificate is not verified, since it is the host's own backend.
    type: str
    default: http://127.0.0.1:5000/health
  health_wait:
    description: Seconds to wait for I(health_url) before returning C(healthy=false).
    type: float
    default: 2
extends_documentation_fragment:
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Nothing runs; the result says whether the release would be switched and whether the port is open now.
'''

EXAMPLES = r'''
- name: Stop the backend and wait until its port closes
  defneqr.dbops.app_process:
    state: stopped
    name: defneqr-backend
    port: 5000
  environment: {PM2_HOME: /home/deploy/.pm2}
  register: stopped

- name: Point current at release 1.4.0 and start it, waiting for /health
  defneqr.dbops.app_process:
    state: started
    name: defneqr-backend
    root: /var/www/defneqr
    release: 1.4.0
    health_url: http://127.0.0.1:5000/health
  environment: {PM2_HOME: /home/deploy/.pm2, PORT: "5000"}
  register: started
'''

RETURN = r'''
stopped_at:
  description: With C(state=stopped), when C(pm2 delete) started (ISO 8601, UTC; the backend stops serving then).
  returned: a process was removed
  type: str
removed:
  description: With C(state=stopped), whether C(pm2 delete) ran.
  returned: state is stopped
  type: bool
port_closed:
  description: With C(state=stopped), whether the port was closed when the module returned.
  returned: state is stopped
  type: bool
switched:
  description: With C(state=started) or C(reloaded), whether C(current) was pointed at I(release).
  returned: state is started or reloaded
  type: bool
healthy:
  description: With C(state=started) or C(reloaded), whether I(health_url) answered 200 within I(health_wait).
  returned: state is started or reloaded
  type: bool
healthy_at:
  description: When I(health_url) first answered 200 (ISO 8601, UTC), empty when it did not.
  returned: state is started or reloaded
  type: str
health:
  description:
    - What I(health_url) answered with its first 200 (parsed when it is JSON, the text otherwise), null when it did
      not answer 200 within I(health_wait). The evidence of the run report's health line.
  returned: state is started or reloaded
  type: raw
commands:
  description: The argv of each program the run started.
  returned: always
  type: list
  elements: list
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import app_process, programs


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', required=True, choices=['stopped', 'started', 'reloaded']),
            name=dict(type='str', required=True),
            pm2=dict(type='str', default='pm2'),
            port=dict(type='int', default=5000),
            remove=dict(type='bool', default=True),
            timeout=dict(type='float', default=30),
            root=dict(type='path'),
            release=dict(type='str', default=''),
            health_url=dict(type='str', default='http://127.0.0.1:5000/health'),
            health_wait=dict(type='float', default=2),
        ),
        required_if=[('state', 'started', ['root']), ('state', 'reloaded', ['root'])],
        supports_check_mode=True,
    )
    try:
        if module.params['state'] == 'stopped':
            result = app_process.stop(module.params, module.check_mode)
        else:
            result = app_process.start(module.params, module.check_mode)
    except app_process.AppProcessError as err:
        module.fail_json(msg=str(err), commands=programs.ran())
    module.exit_json(commands=programs.ran(), **result)


if __name__ == '__main__':
    main()
