#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: prisma_migrate
short_description: Deploy, roll back and resolve Prisma migrations on PostgreSQL, Prisma-compatibly
version_added: 0.1.0
description:
  - Applies a Prisma project's pending migrations as C(prisma migrate deploy) does, writing exactly the
    rows Prisma writes to C(_prisma_migrations) and taking Prisma's advisory lock (72707369), so this module
    and the Prisma CLI can be used on the same database in turn.
  - Adds what Prisma lacks, a dry run (check mode), C(lock_timeout) and C(statement_timeout), atomic
    migrations, a lint of statements that take long locks, deploying up to a I(target), and rolling back
    applied migrations with the runbook's rollback scripts.
  - "With I(transaction=auto) each migration runs in a transaction with the update that marks it
    finished. A failing migration leaves the schema untouched; its attempt is kept in the history with the
    error in C(logs) and C(rolled_back_at) set (the state C(prisma migrate resolve --rolled-back) writes),
    so the next deploy, of this module or of the Prisma CLI, applies the fixed file. Scripts that manage
    their own transaction or contain statements PostgreSQL refuses in one (C(CREATE INDEX CONCURRENTLY))
    run as Prisma runs them."
options:
  state:
    description:
      - C(deployed) applies pending migrations (up to I(target) when set).
      - C(rolled_back) runs the rollback scripts of the applied migrations after I(target), newest first,
        each in a transaction, and marks them C(rolled_back_at).
      - C(resolved) is C(prisma migrate resolve) with I(applied) or I(rolled_back).
      - C(rehearsed) changes nothing live. It builds a scratch database from the migration history up to the
        last migration the live database applied, applies the pending ones (up to I(target)), rolls them back
        with their rollback scripts, compares the schema before and after from the catalog, and drops the scratch
        database (needs CREATEDB). See RV(rehearsal). Skipped in check mode.
    type: str
    choices: [ deployed, rolled_back, resolved, rehearsed ]
    default: deployed
  target:
    description:
      - With C(deployed), the last migration to apply. With C(rolled_back), the last migration to keep
        (required).
    type: str
  applied:
    description:
      - With C(resolved), record this migration as applied (C(prisma migrate resolve --applied)).
    type: str
  rolled_back:
    description:
      - With C(resolved), mark this failed migration rolled back (C(prisma migrate resolve --rolled-back)).
    type: str
  transaction:
    description:
      - C(auto) runs each migration in its own transaction (see the description).
      - C(never) runs each script as Prisma's native PostgreSQL connector does (prisma-engines'
        C(apply_migration_script) sends the whole file as one simple-query message). PostgreSQL runs such a
        multi-statement message as one implicit transaction, so a C(CREATE INDEX CONCURRENTLY) works only as the
        file's only statement (else error 25001), exactly as with Prisma. A failure leaves a failed row that blocks
        later deploys until it is resolved (Prisma's P3009).
      - Prisma 7.4 added C(CREATE INDEX CONCURRENTLY) support (prisma-engines PR 5767), which may send such a
        file's statements one at a time; the engine sources readable here predate it, so C(never) keeps the
        one-message behaviour (so does C(auto) for such a file). Keep each concurrent index build in a migration
        of its own.
    type: str
    choices: [ auto, never ]
    default: auto
  lock_timeout:
    description:
      - PostgreSQL C(lock_timeout) for the migration session (for example C(5s)); a migration that waits
        longer for a table lock fails instead of queueing the application behind it.
    type: str
  statement_timeout:
    description:
      - PostgreSQL C(statement_timeout) for the migration session (for example C(15min)).
    type: str
  advisory_lock_timeout:
    description:
      - Seconds to wait for Prisma's migration lock when another deploy holds it (Prisma waits 10).
    type: float
    default: 10
  on_modified:
    description:
      - What to do when an applied migration's file changed since it was applied.
    type: str
    choices: [ fail, warn ]
    default: fail
  lint:
    description:
      - Check pending migrations for statements that take long locks on existing tables (squawk's rules).
        C(warn) reports them, C(fail) refuses to deploy, C(off) skips the check.
    type: str
    choices: [ warn, fail, 'off' ]
    default: warn
  lock_retries:
    description:
      - How many more times to apply a migration whose statement hit I(lock_timeout), after a pause that lets
        the application's queued queries through (1, 2, ... 5 seconds). Its transaction left nothing behind, so a
        retry starts clean; only the last failed attempt is recorded. Migrations that run outside a
        transaction of ours are never retried. For deploys with the application serving (online mode).
    type: int
    default: 0
  engine:
    description:
      - C(native) applies the migrations with this module's engine.
      - C(cli) runs the project's own Prisma CLI (C(npx prisma migrate deploy) or C(migrate resolve)) in the
        project folder, with C(DATABASE_URL) in its environment (never in argv). Rollback, target, timeouts
        and lint need C(native). In check mode the native engine computes the plan either way.
    type: str
    choices: [ native, cli ]
    default: native
  npx:
    description:
      - npx program for I(engine=cli).
    type: str
    default: npx
  bundle:
    description:
      - Also return RV(bundle), every local migration's exact bytes, so that another host applies exactly what this
        run read (the C(deploy) role reads them on the host that holds the release and applies them inside the
        database host's one module run in the outage, M(defneqr.dbops.deploy_db_steps) C(phase=migrated)).
    type: bool
    default: false
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.prisma_project
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Reports the migrations that would be applied or rolled back, their checksums and lint findings.
  diff_mode:
    support: full
    details: The state of every migration before and after.
notes:
  - Prisma 8 keeps its history elsewhere (C(prisma_contract)); this module is compatible with Prisma ORM 7 and older.
'''

EXAMPLES = r'''
- name: Apply migrations (the runbook's step 4), with timeouts
  defneqr.dbops.prisma_migrate:
    project_dir: /var/www/defneqr/releases/20260218/backend
    login_host: db1
    login_user: defneqr
    login_password: "{{ vault_db_password }}"
    login_db: dijitalmenu
    lock_timeout: 5s
    statement_timeout: 15min
  register: migrate

- name: Preview what would run
  defneqr.dbops.prisma_migrate:
    project_dir: /var/www/defneqr/current/backend
    database_url: "{{ vault_database_url }}"
  check_mode: true

- name: Rehearse the pending migrations and their rollback scripts on a scratch database
  defneqr.dbops.prisma_migrate:
    project_dir: /var/www/defneqr/releases/20260218-1
    state: rehearsed
  register: rehearsal

- name: Roll back to migration 11 with the rollback scripts (the runbook's option 2)
  defneqr.dbops.prisma_migrate:
    project_dir: /var/www/defneqr/current/backend
    database_url: "{{ vault_database_url }}"
    state: rolled_back
    target: 20260218174944_add_plan_popular_and_extra_price

- name: Mark a failed migration rolled back (prisma migrate resolve --rolled-back)
  defneqr.dbops.prisma_migrate:
    project_dir: /var/www/defneqr/current/backend
    database_url: "{{ vault_database_url }}"
    state: resolved
    rolled_back: 20260218193213_add_performance_indexes
'''

RETURN = r'''
rehearsal:
  description: With C(state=rehearsed), what the rehearsal on the scratch database found.
  returned: when state is rehearsed
  type: dict
  contains:
    ok:
      description:
        - Whether every pending migration applied on the scratch database; null when the scratch database could
          not be built from the history first (then nothing was proven either way, see C(error)).
      type: bool
    rollback_tested:
      description: Whether their rollback scripts ran and left the schema identical to the one before.
      type: bool
    identical:
      description: Whether the schema after the rollback equals the schema before (null when not compared).
      type: bool
    differences:
      description: Schema lines only before (C(-)) or only after (C(+)) the rollback, up to 40.
      type: list
      elements: str
    drift:
      description:
        - Schema lines only in the history the migrations build (C(-)) or only in the live database (C(+)),
          up to 40; non-empty means the live schema was changed outside the migrations.
      type: list
      elements: str
    applied:
      description: The migrations applied on the scratch database, with their durations.
      type: list
      elements: dict
    rolled_back:
      description: The migrations rolled back on it, newest first.
      type: list
      elements: str
    error:
      description: Why the rehearsal stopped, or why the rollback was not tested; empty when it all ran.
      type: str
    database:
      description: The scratch database, dropped at the end.
      type: str
    seconds:
      description: How long the rehearsal took.
      type: float
  sample:
    ok: true
    rollback_tested: true
    identical: true
    differences: []
    drift: []
    applied: [{name: 20250214000000_add_performance_indexes, duration: 0.41}]
    rolled_back: [20250214000000_add_performance_indexes]
    error: ""
    database: dbops_rehearsal_20260218020004
    seconds: 2.3
applied:
  description: Migrations applied by this run (in check mode, those that would be), in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Migration folder name.
      type: str
    checksum:
      description: sha256 of its C(migration.sql), as stored in C(_prisma_migrations).
      type: str
    transactional:
      description: Whether it ran inside a transaction of this module.
      type: bool
    duration:
      description: Seconds the script took (not in check mode).
      type: float
    lock_retries:
      description: How many times it was tried again after hitting I(lock_timeout) (not in check mode).
      type: int
rolled_back:
  description: Migrations undone by this run (in check mode, those that would be), newest first, with the script used.
  returned: always
  type: list
  elements: dict
pending:
  description: Migrations still pending after the run.
  returned: always
  type: list
  elements: str
migrations:
  description: The status of every migration after the run, as returned by M(defneqr.dbops.prisma_migrate_info).
  returned: always
  type: list
  elements: dict
status:
  description:
    - The summary after the run, read from C(_prisma_migrations) once the run committed, with the keys
      M(defneqr.dbops.prisma_migrate_info) returns (C(pending), C(applied), C(failed_migrations), C(modified),
      C(missing_locally), C(has_migrations_table), C(in_sync), C(latest_applied)).
    - So a deploy verifies the runbook's C(prisma migrate status) without a second module run inside its outage.
  returned: always
  type: dict
  sample: {in_sync: true, latest_applied: 20260218193213_add_performance_indexes, pending: [], failed_migrations: []}
lint:
  description: Statements of the pending migrations that take long locks on existing tables.
  returned: always
  type: list
  elements: dict
  sample:
    - rule: index-without-concurrently
      file: 20260218193213_add_performance_indexes/migration.sql
      line: 2
      statement: CREATE INDEX "users_role_idx" ON "users"("role")
      message: CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds; ...
online_safety:
  description:
    - Whether every pending migration is proven safe to apply while the old release keeps serving
      (new tables, nullable columns or constant defaults, concurrent indexes, NOT VALID constraints), and for each
      migration that is not, its first deciding statement and why.
  returned: when state is deployed and engine is native
  type: dict
  sample:
    safe: false
    unsafe:
      - file: 20260218193213_add_performance_indexes/migration.sql
        line: 2
        statement: CREATE INDEX "users_role_idx" ON "users"("role")
        reason: CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds
    reasons:
      - '20260218193213_add_performance_indexes/migration.sql line 2, CREATE INDEX "users_role_idx" ON "users"("role"):
        CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds'
warnings_list:
  description: Non-fatal findings (modified migrations with I(on_modified=warn)).
  returned: always
  type: list
  elements: str
bundle:
  description:
    - With I(bundle), every local migration folder, sorted by name, as M(defneqr.dbops.deploy_db_steps) takes them
      in I(migrate.bundle).
  returned: when bundle is true
  type: list
  elements: dict
  contains:
    name:
      description: The migration folder's name.
      type: str
    path:
      description: The folder on the host that read it.
      type: str
    sql_base64:
      description: The exact bytes of its C(migration.sql), base64 (null when it could not be read).
      type: str
    error:
      description: Why C(migration.sql) could not be read (null when it was).
      type: str
duration:
  description: Seconds the whole module took.
  returned: always
  type: float
error_code:
  description: On failure, Prisma's error code when there is one (P3005, P3009, P3018, P1002, ...).
  returned: failed
  type: str
cli_output:
  description: With I(engine=cli), the last lines the Prisma CLI printed (the database URL masked).
  returned: when engine is cli
  type: list
  elements: str
commands:
  description: The argv of each program the run started, in order, passwords masked (docs/operator-guide.md).
  returned: always
  type: list
  elements: list
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations
from ansible_collections.defneqr.dbops.plugins.module_utils import rehearsal
from ansible_collections.defneqr.dbops.plugins.module_utils.prisma_module import open_project, project_argument_spec, run_cli


def main():
    spec = project_argument_spec()
    spec.update(
        state=dict(type='str', default='deployed', choices=['deployed', 'rolled_back', 'resolved', 'rehearsed']),
        target=dict(type='str'),
        applied=dict(type='str'),
        rolled_back=dict(type='str'),
        transaction=dict(type='str', default='auto', choices=['auto', 'never']),
        lock_timeout=dict(type='str'),
        statement_timeout=dict(type='str'),
        advisory_lock_timeout=dict(type='float', default=10),
        on_modified=dict(type='str', default='fail', choices=['fail', 'warn']),
        lint=dict(type='str', default='warn', choices=['warn', 'fail', 'off']),
        lock_retries=dict(type='int', default=0),
        engine=dict(type='str', default='native', choices=['native', 'cli']),
        npx=dict(type='str', default='npx'),
        bundle=dict(type='bool', default=False),
    )
    module = AnsibleModule(
        argument_spec=spec, supports_check_mode=True,
        required_one_of=[('project_dir', 'migrations_dir')],
        required_if=[('state', 'rolled_back', ['target']), ('state', 'resolved', ['applied', 'rolled_back'], True)],
        mutually_exclusive=[('applied', 'rolled_back')],
    )
    postgres.ensure_driver(module)
    started = time.time()
    p = module.params
    result = dict(changed=False, applied=[], rolled_back=[], lint=[], warnings_list=[])
    with postgres.failing_module(module):
        conn, project, schema, params = open_project(module)
        before, summary_before = prisma_migrations.status(conn, project, schema)
        if p['state'] == 'rehearsed':
            result['rehearsal'] = rehearsal.rehearse(
                params, project, (summary_before['applied'] or [None])[-1], p['target'], schema,
                check_mode=module.check_mode)
        elif p['engine'] == 'cli' and not module.check_mode:
            if p['state'] == 'rolled_back':
                raise prisma_migrations.MigrationError('Prisma has no down migrations: state=rolled_back needs '
                                                       'engine=native.')
            outcome = run_cli(p, project, schema, p['state'], p['applied'], p['rolled_back'])
            result.update(changed=bool(outcome['applied']) or p['state'] == 'resolved', applied=outcome['applied'],
                          cli_output=outcome['output'])
        elif p['state'] == 'deployed':
            outcome = prisma_migrations.deploy(
                conn, project, schema, target=p['target'], transaction=p['transaction'],
                lock_timeout=p['lock_timeout'], statement_timeout=p['statement_timeout'],
                advisory_lock_timeout=p['advisory_lock_timeout'], on_modified=p['on_modified'], lint=p['lint'],
                check_mode=module.check_mode, lock_retries=p['lock_retries'])
            result.update(changed=outcome['changed'], applied=outcome['applied'], lint=outcome['lint'],
                          warnings_list=outcome['warnings'], online_safety=outcome['online'])
        elif p['state'] == 'rolled_back':
            outcome = prisma_migrations.rollback(
                conn, project, p['target'], schema, advisory_lock_timeout=p['advisory_lock_timeout'],
                check_mode=module.check_mode, lock_timeout=p['lock_timeout'],
                statement_timeout=p['statement_timeout'])
            result.update(changed=outcome['changed'], rolled_back=outcome['rolled_back'])
        else:
            result['changed'] = prisma_migrations.resolve(
                conn, project, applied=p['applied'], rolled_back=p['rolled_back'], schema=schema,
                advisory_lock_timeout=p['advisory_lock_timeout'], check_mode=module.check_mode)
        after, summary = prisma_migrations.status(conn, project, schema)
    if p['bundle']:
        result['bundle'] = prisma_migrations.bundle(project)
    for text in result['warnings_list']:
        module.warn(text)
    result.update(migrations=after, pending=summary['pending'], status=summary,
                  duration=round(time.time() - started, 3))
    if module._diff:
        result['diff'] = dict(before=_states(before), after=_states(after))
    module.exit_json(commands=programs.ran(), **result)


def _states(entries):
    return '\n'.join('%s: %s' % (e['name'], e['state']) for e in entries) + '\n'


if __name__ == '__main__':
    main()
