#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: deploy_db_steps
short_description: The database host's part of a deploy's outage (rollback point, migrations, verification)
version_added: 0.5.0
description:
  - Used by the C(deploy) role inside the outage, where every task costs about 0.3 s before it does anything.
    It does in one process what eight tasks did, and writes the run journal (M(defneqr.dbops.run_journal)) at the
    same step boundaries in the same order, so a failure is recorded under the step it happened in and a killed
    run is recovered from the same journal states.
  - C(phase=rollback_point), after the application stopped, opens step 4 (C(migrate)) with I(journal_data),
    starts the write capture in a new log (M(defneqr.dbops.pg_capture) C(new_log); ends an earlier one when
    I(capture.enabled) is false), takes the rollback point (M(defneqr.dbops.pg_backup) with I(rollback_point.backup),
    or for C(down_scripts) only a named restore point, whose failure is reported, not fatal) and records the
    rollback point in the journal before the database changes.
  - C(phase=verified), after the migration, captures the tables the migrations created, opens step 5 (C(verify))
    with I(journal_data), fails when a migration up to the target is still pending or failed, runs the health
    checks of the runbook's step 5 (M(defneqr.dbops.pg_health) C(database_size), C(invalid_indexes),
    C(blocked_queries), C(long_running_queries) and I(verify.expected_indexes); critical fails), and with
    I(verify.open_start) opens step 6 (C(start)) with C(release_switched) and the verification's evidence.
  - C(phase=migrated) is what the C(deploy) role runs. It does C(rollback_point), then the pending migrations of
    I(migrate.bundle) (up to I(migrate.target)) as M(defneqr.dbops.prisma_migrate) C(state=deployed) applies them,
    then C(verified) with the migration's status and the journal's C(evidence.migrate) (the rollback point's
    evidence, C(applied), the number of lint findings) filled in; one module run where three took about 2 s of
    the outage. A failed migration fails the run with the journal at step 4, as a failed
    M(defneqr.dbops.prisma_migrate) task did.
options:
  phase:
    description: Which side of the migration (see the description).
    type: str
    choices: [rollback_point, verified, migrated]
    required: true
  database:
    description: The application's database.
    type: str
    required: true
  journal_path:
    description: The run's lock folder, which holds its journal (the C(deploy) role's C(deploy_lock_dir)).
    type: path
    required: true
  run_id:
    description: The run that holds the lock.
    type: str
    required: true
  journal_data:
    description: Fields merged into the journal when the phase opens its step (4 or 5).
    type: dict
    default: {}
  capture:
    description: The write capture.
    type: dict
    default: {}
    suboptions:
      enabled:
        description: Capture the application's writes from the rollback point on.
        type: bool
        default: true
      exclude:
        description: Tables not captured.
        type: list
        elements: str
        default: []
      until:
        description: Recorded with the rollback point (C(accepted) or C(kept)).
        type: str
        default: accepted
  rollback_point:
    description: With C(phase=rollback_point) or C(phase=migrated), what to take.
    type: dict
    default: {}
    suboptions:
      method:
        description: C(snapshot) or C(restore) take a M(defneqr.dbops.pg_backup) with I(backup); C(down_scripts) none.
        type: str
        choices: [snapshot, restore, down_scripts]
        default: snapshot
      backup:
        description: M(defneqr.dbops.pg_backup)'s options for the rollback point (C(dest), C(kind), C(method), C(label), ...).
        type: dict
        default: {}
      restore_point:
        description: Name the moment in the WAL with this restore point (empty for none).
        type: str
        default: ''
      keep_migration:
        description: The last migration applied before the run, recorded with the rollback point.
        type: str
        default: ''
  migrate:
    description: With C(phase=migrated), the migrations to apply.
    type: dict
    default: {}
    suboptions:
      bundle:
        description:
          - Every local migration of the release, as M(defneqr.dbops.prisma_migrate) I(bundle=true) returns them
            (read on the host that holds the release, in the preflight).
        type: list
        elements: dict
        default: []
      target:
        description: The last migration to apply (empty for all pending).
        type: str
        default: ''
      lock_timeout:
        description: PostgreSQL C(lock_timeout) for the migration session (empty for the server's).
        type: str
        default: ''
      lock_retries:
        description: How many more times to apply a migration whose statement hit I(migrate.lock_timeout).
        type: int
        default: 0
      statement_timeout:
        description: PostgreSQL C(statement_timeout) for the migration session (empty for the server's).
        type: str
        default: ''
      lint:
        description: M(defneqr.dbops.prisma_migrate)'s I(lint).
        type: str
        choices: [warn, fail, 'off']
        default: warn
  verify:
    description: With C(phase=verified) or C(phase=migrated), what to check.
    type: dict
    default: {}
    suboptions:
      migrate_status:
        description:
          - The C(status) that M(defneqr.dbops.prisma_migrate) returned after its run (C(phase=migrated) reads it
            itself).
        type: dict
        default: {}
      pending:
        description: The migrations this run had to apply; none of them may be left pending.
        type: list
        elements: str
        default: []
      expected_indexes:
        description: Index names that must exist and be valid.
        type: list
        elements: str
        default: []
      size_before:
        description: The database size in bytes before the run (for the size delta).
        type: int
        default: 0
      open_start:
        description: Open step 6 when the checks pass (a stop-mode deploy; online, the old release's smoke tests come first).
        type: bool
        default: true
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Nothing is written; the capture and the rollback point report what they would do, the journal
      writes that would happen are returned in C(journal_writes); C(phase=migrated) plans the migrations and
      verifies nothing (nothing was applied).
'''

EXAMPLES = r'''
- name: After the stop, the rollback point (snapshot) and the capture, recorded in the journal
  defneqr.dbops.deploy_db_steps:
    phase: rollback_point
    database: dijitalmenu
    journal_path: /backups/.deploy.lock
    run_id: deploy-20260301T020000Z
    journal_data: {stopped_at: {app1: "2026-03-01T02:00:07+00:00"}}
    rollback_point:
      method: snapshot
      backup: {dest: /backups, kind: snapshot, method: snapshot, label: pre_20260301020000, min_keep: 1}
      keep_migration: 20260218174944_add_plan_popular_and_extra_price
  register: rollback_point

- name: After the stop, all of it in one run (what the deploy role does, there with a snapshot)
  defneqr.dbops.deploy_db_steps:
    phase: migrated
    database: dijitalmenu
    journal_path: /backups/.deploy.lock
    run_id: deploy-20260301T020000Z
    journal_data: {stopped_at: {app1: "2026-03-01T02:00:07+00:00"}}
    # the rollback scripts are the rollback point; the restore point names the moment in the WAL
    rollback_point: {method: down_scripts, restore_point: deploy-20260301T020000Z}
    migrate:
      bundle: "{{ preview.bundle }}"
      lock_timeout: 5s
      statement_timeout: 15min
    verify:
      pending: [20260218193213_add_performance_indexes]
      expected_indexes: [users_role_idx]
      size_before: 134217728
  register: migrated

- name: After the migration, verify and open step 6
  defneqr.dbops.deploy_db_steps:
    phase: verified
    database: dijitalmenu
    journal_path: /backups/.deploy.lock
    run_id: deploy-20260301T020000Z
    journal_data: {evidence: {migrate: {applied: "{{ migrate.applied }}"}}}
    verify:
      migrate_status: "{{ migrate.status }}"
      pending: [20260218193213_add_performance_indexes]
      expected_indexes: [users_role_idx]
      size_before: 134217728
'''

RETURN = r'''
capture:
  description: With C(phase=rollback_point) or C(phase=migrated), what the capture did (as M(defneqr.dbops.pg_capture) returns it); null when none ran.
  returned: phase is rollback_point or migrated
  type: dict
backup:
  description:
    - With C(phase=rollback_point) or C(phase=migrated), the rollback point's C(backup) as M(defneqr.dbops.pg_backup)
      returns it; null for C(down_scripts).
  returned: phase is rollback_point or migrated
  type: dict
rollback_point:
  description: What the journal records as the rollback point (C(strategy), C(folder), C(database), C(keep_migration), C(capture), C(capture_until)).
  returned: phase is rollback_point or migrated
  type: dict
evidence:
  description:
    - With C(phase=rollback_point) or C(phase=migrated), C(rollback_point) (the backup) and C(restore_point) (the restore point, or why none was made).
    - With C(phase=verified), the verification's evidence (C(latest_applied), C(in_sync), C(expected_indexes), C(status), C(size_after), C(size_delta)).
  returned: success
  type: dict
migrate:
  description:
    - With C(phase=migrated), what the migrations did, C(applied) (in check mode the plan), C(lint), C(warnings),
      and the C(status) they left (as M(defneqr.dbops.prisma_migrate) returns them).
  returned: phase is migrated
  type: dict
verify:
  description: With C(phase=migrated), what C(phase=verified) returns (C(status), C(checks), C(evidence)).
  returned: phase is migrated, not in check mode
  type: dict
status:
  description: With C(phase=verified), the health checks' overall status.
  returned: phase is verified and the checks ran
  type: str
checks:
  description: With C(phase=verified), every check by name as M(defneqr.dbops.pg_health) returns them.
  returned: phase is verified and the checks ran
  type: dict
journal:
  description: The journal after the phase's last write (null in check mode).
  returned: always
  type: dict
journal_writes:
  description: In check mode, the journal writes that would happen (C(step), C(data)).
  returned: check mode
  type: list
  elements: dict
commands:
  description: The argv of each program the run started, passwords masked.
  returned: always
  type: list
  elements: list
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import deploy_steps, postgres, programs, run_journal


def main():
    spec = postgres.postgres_argument_spec()
    spec.update(
        phase=dict(type='str', required=True, choices=['rollback_point', 'verified', 'migrated']),
        database=dict(type='str', required=True),
        journal_path=dict(type='path', required=True),
        run_id=dict(type='str', required=True),
        journal_data=dict(type='dict', default={}),
        capture=dict(type='dict', default={}, options=dict(
            enabled=dict(type='bool', default=True), exclude=dict(type='list', elements='str', default=[]),
            until=dict(type='str', default='accepted'))),
        rollback_point=dict(type='dict', default={}, options=dict(
            method=dict(type='str', default='snapshot', choices=['snapshot', 'restore', 'down_scripts']),
            backup=dict(type='dict', default={}), restore_point=dict(type='str', default=''),
            keep_migration=dict(type='str', default=''))),
        migrate=dict(type='dict', default={}, options=dict(
            bundle=dict(type='list', elements='dict', default=[]), target=dict(type='str', default=''),
            lock_timeout=dict(type='str', default=''), lock_retries=dict(type='int', default=0),
            statement_timeout=dict(type='str', default=''),
            lint=dict(type='str', default='warn', choices=['warn', 'fail', 'off']))),
        verify=dict(type='dict', default={}, options=dict(
            migrate_status=dict(type='dict', default={}), pending=dict(type='list', elements='str', default=[]),
            expected_indexes=dict(type='list', elements='str', default=[]), size_before=dict(type='int', default=0),
            open_start=dict(type='bool', default=True))),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    postgres.ensure_driver(module)
    p = module.params
    journal = deploy_steps.Journal(p['journal_path'], p['run_id'], module.check_mode)
    try:
        with postgres.failing_module(module):
            point = dict(p['rollback_point'], journal_data=p['journal_data'])
            if p['phase'] == 'rollback_point':
                done = deploy_steps.rollback_point(p, journal, point, p['capture'], module.check_mode)
            elif p['phase'] == 'migrated':
                done = deploy_steps.migrated(p, journal, point, p['migrate'], p['verify'], p['capture'],
                                             module.check_mode)
            else:
                checks = dict(p['verify'], journal_data=p['journal_data'])
                done = deploy_steps.verified(p, journal, checks, p['capture'], module.check_mode)
    except deploy_steps.StepFailed as err:
        module.fail_json(msg=str(err), journal=journal.last, commands=programs.ran(), **err.result)
    except run_journal.JournalError as err:
        module.fail_json(msg=str(err))
    except OSError as err:
        module.fail_json(msg=run_journal.unwritable(p['journal_path'], err))
    if module.check_mode:
        done['journal_writes'] = journal.would
    module.exit_json(journal=journal.last, commands=programs.ran(), **done)


if __name__ == '__main__':
    main()
