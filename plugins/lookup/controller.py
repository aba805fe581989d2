# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: controller
short_description: This controller's identity, or whether a run journal's controller is still alive
version_added: 0.3.0
description:
  - Without I(recorded), returns the controller running the play, C(host), C(pid) and C(pid_start) of its
    C(ansible-playbook) process and C(user), to store in a run journal (M(defneqr.dbops.run_journal)).
  - With I(recorded) (a journal's C(controller)), returns C(state) (C(alive), C(dead) or C(unknown)) and a
    C(reason). On the same machine the process is looked up (pid and start time, so a reused pid is not taken
    for the run); a controller on another machine is C(unknown) while the journal is younger than
    I(stale_after) seconds, then C(dead).
options:
  recorded:
    description: The C(controller) of a run journal.
    type: dict
  heartbeat_age:
    description: Seconds since that journal was written.
    type: float
  stale_after:
    description: Age after which the journal of a run from another machine counts as dead.
    type: float
    default: 3600
author:
  - Defne Qr operations team (@defneqr)
'''

EXAMPLES = r'''
- name: Who runs this play
  ansible.builtin.set_fact:
    dbops_controller: "{{ lookup('defneqr.dbops.controller') }}"

- name: Is the run that holds the lock still running
  ansible.builtin.set_fact:
    holder: "{{ lookup('defneqr.dbops.controller', recorded=journal.journal.controller,
                heartbeat_age=journal.heartbeat_age) }}"
'''

RETURN = r'''
_raw:
  description: One dict, the identity (C(host), C(pid), C(pid_start), C(user)) or the liveness (C(state), C(reason)).
  type: list
  elements: dict
'''

import getpass
import multiprocessing
import os
import socket

from ansible.plugins.lookup import LookupBase

from ansible_collections.defneqr.dbops.plugins.module_utils import run_journal


def playbook_pid():
    """The ansible-playbook process: lookups run in its forked workers, or in it."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None else os.getpid()


def identity():
    pid = playbook_pid()
    return dict(host=socket.getfqdn(), pid=pid, pid_start=run_journal.process_start(pid), user=getpass.getuser())


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        recorded = self.get_option('recorded')
        here = identity()
        if not recorded:
            return [here]
        pid_start = run_journal.process_start(recorded['pid']) if recorded.get('pid') else None
        return [run_journal.liveness(recorded, here, pid_start, self.get_option('heartbeat_age'),
                                     self.get_option('stale_after'))]
