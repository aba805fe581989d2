#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: run_journal
short_description: The durable journal and lock of a deploy or rollback run, on the database host
version_added: 0.3.0
description:
  - Keeps one small JSON document per run (0600, written atomically) in the lock folder I(path), with the run id, the
    controller (host, pid), the step reached, the rollback point, the releases per app host, what the rollback did,
    the outcome. The lock B(is) the journal of the run in progress, so a dead controller is recovered from the
    journal alone (C(playbooks/recover.yml)).
  - C(state=begin) takes the lock (a folder that already holds the journal is renamed into place, so a lock
    without a journal never exists) and refuses, naming the holder and I(recover_command), when a run holds it.
  - C(state=update) closes the open step, opens I(step) and merges I(data); only the run that holds the lock
    may write.
  - C(state=finish) records I(outcome); with I(release_lock) the journal moves to the history folder beside the
    lock (C(<dest>/.deploy.runs/<run_id>.json)) and the lock is gone.
  - C(state=read) returns the journal of the run holding the lock (empty when free) and the newest finished one.
options:
  path:
    description: The lock folder, e.g. C(/backups/.deploy.lock).
    type: path
    required: true
  state:
    description: What to do.
    type: str
    choices: [begin, update, finish, read]
    default: update
  run_id:
    description: Id of the run (letters, digits, C(.), C(_), C(-)); required except for C(read).
    type: str
  controller:
    description:
      - The controller that runs the play (C(host), C(pid), C(pid_start)), from the C(defneqr.dbops.controller)
        lookup. With C(update) it takes the run over (C(recover.yml) does, so that a second recover sees it live).
    type: dict
  step:
    description: The step that begins now (C(number), C(name)); it closes the open one.
    type: dict
  close_step:
    description: Close the open step (with I(step_status)) without opening another, e.g. when step 8 passed.
    type: bool
    default: false
  step_status:
    description:
      - How the open step ended when I(step), I(close_step), C(finish) or a status other than C(ok) closes it.
      - C(interrupted) is for a step whose controller died (C(recover.yml)).
    type: str
    choices: [ok, failed, interrupted]
    default: ok
  data:
    description: Fields merged into the journal (dicts deeply, other values replaced).
    type: dict
    default: {}
  outcome:
    description: The outcome, with C(finish) (C(deployed), C(rolled_back), C(rollback_failed), C(refused), ...).
    type: str
  release_lock:
    description: With C(finish), move the journal to the history and remove the lock.
    type: bool
    default: true
  recover_command:
    description: The command named when C(begin) finds the lock held.
    type: str
    default: ansible-playbook -i <inventory> defneqr.dbops.recover
extends_documentation_fragment:
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: C(begin) checks that the lock is free and writes nothing; C(update) and C(finish) return the journal
      they would write.
'''

EXAMPLES = r'''
- name: Take the deploy lock, the journal of this run
  defneqr.dbops.run_journal:
    path: /backups/.deploy.lock
    state: begin
    run_id: deploy-20260218T020000Z
    controller: "{{ lookup('defneqr.dbops.controller') }}"
    data:
      kind: deploy
      release: {id: "20260218-1"}

- name: Step 4 begins
  defneqr.dbops.run_journal:
    path: /backups/.deploy.lock
    run_id: deploy-20260218T020000Z
    step: {number: 4, name: migrate}

- name: Read the run in progress, if any
  defneqr.dbops.run_journal:
    path: /backups/.deploy.lock
    state: read
  register: journal
'''

RETURN = r'''
journal:
  description: The journal as written (as it would be written, in check mode); empty when no run holds the lock.
  returned: always
  type: dict
  sample:
    run_id: deploy-20260218T020000Z
    kind: deploy
    status: running
    step: {number: 4, name: migrate, started: "2026-02-18T02:00:09+00:00"}
    rollback_point: {strategy: snapshot, folder: /backups/snapshot/dijitalmenu_20260218_020009_pre_20260218020000}
last:
  description: With C(read), the journal of the newest finished run ({} when there is none).
  returned: always
  type: dict
held:
  description: Whether a run holds the lock (after the call).
  returned: always
  type: bool
recovery_action:
  description:
    - With C(read), what recovery should do with the unfinished run, C(accept) when it passed step 8 (its
      acceptance), C(rollback) otherwise or when its rollback failed; null when no run holds the lock.
  returned: always
  type: str
  sample: rollback
heartbeat_age:
  description: Seconds since the journal was last written (null when no run holds the lock).
  returned: always
  type: float
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import run_journal


def _would(module, path):
    """What a write would produce, for check mode: the current journal with the change merged."""
    p = module.params
    journal = run_journal.read(path)
    if p['state'] == 'begin':
        if journal:
            module.fail_json(msg=run_journal.refusal(path, journal, p['recover_command']))
        return dict(run_id=p['run_id'], controller=p['controller'], status='running', **p['data'])
    return run_journal.merge(journal, dict(p['data'], outcome=p['outcome']) if p['outcome'] else p['data'])


def main():
    module = AnsibleModule(argument_spec=dict(
        path=dict(type='path', required=True),
        state=dict(type='str', default='update', choices=['begin', 'update', 'finish', 'read']),
        run_id=dict(type='str'), controller=dict(type='dict'), step=dict(type='dict'),
        step_status=dict(type='str', default='ok', choices=['ok', 'failed', 'interrupted']),
        close_step=dict(type='bool', default=False),
        data=dict(type='dict', default={}), outcome=dict(type='str'),
        release_lock=dict(type='bool', default=True),
        recover_command=dict(type='str', default='ansible-playbook -i <inventory> defneqr.dbops.recover')),
        required_if=[('state', 'begin', ['run_id', 'controller']), ('state', 'update', ['run_id']),
                     ('state', 'finish', ['run_id', 'outcome'])],
        supports_check_mode=True)
    p = module.params
    path = p['path'].rstrip('/')
    changed = p['state'] != 'read'
    try:
        if p['state'] == 'read':
            journal = run_journal.read(path)
        elif module.check_mode:
            journal = _would(module, path)
        elif p['state'] == 'begin':
            journal = run_journal.begin(path, p['run_id'], p['controller'], p['data'], p['recover_command'],
                                        p['step'])
        elif p['state'] == 'update':
            journal = run_journal.update(path, p['run_id'], p['step'], p['step_status'], p['data'], p['controller'],
                                         p['close_step'])
        else:
            journal = run_journal.finish(path, p['run_id'], p['outcome'], p['data'], p['release_lock'],
                                         p['step_status'])
        last = run_journal.last_finished(path) if p['state'] == 'read' else {}
    except run_journal.JournalError as err:
        module.fail_json(msg=str(err))
    except OSError as err:
        module.fail_json(msg=run_journal.unwritable(path, err))
    held = os.path.isdir(path) and (module.check_mode or bool(run_journal.read(path)))
    module.exit_json(changed=changed, journal=journal, last=last, held=held,
                     recovery_action=run_journal.recovery_action(journal) if p['state'] == 'read' else None,
                     heartbeat_age=run_journal.age_seconds(journal.get('updated')) if journal else None)


if __name__ == '__main__':
    main()
