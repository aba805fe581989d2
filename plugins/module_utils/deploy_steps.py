# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database host's part of a deploy's outage (deploy_db_steps): the rollback point, the migrations and their
verification in one process.

Each Ansible task costs about 0.3 s before it does anything; these steps were ten tasks on two hosts, most of whose
time was that start-up. The migrations come as a bundle the preflight read on the host that holds the release, so
what runs is exactly what was linted and rehearsed.
The journal is written at the same step boundaries as before, in the same order, so a failure is still recorded
under the step it happened in and a killed run is recovered from the same journal states.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib

from ansible_collections.defneqr.dbops.plugins.module_utils import backup_module, change_capture, health
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres, prisma_migrations, run_journal
from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError

VERIFY_CHECKS = ['database_size', 'invalid_indexes', 'blocked_queries', 'long_running_queries']


class Journal(object):
    """The run's journal, written at each boundary; in check mode only the writes it would make are listed."""

    def __init__(self, path, run_id, check_mode):
        self.path = path.rstrip('/')
        self.run_id = run_id
        self.check_mode = check_mode
        self.would = []
        self.last = None

    def write(self, step=None, data=None):
        if self.check_mode:
            self.would.append(dict(step=step, data=data or {}))
            return
        # a module that outlives its killed controller must not write into a journal recover.yml took over
        self.last = run_journal.update(self.path, self.run_id, step=step, fields=data or {}, only_running=True)


class StepFailed(Exception):
    """A check failed after the journal recorded its step; `result` is what the run found."""

    def __init__(self, message, result):
        super(StepFailed, self).__init__(message)
        self.result = result


@contextlib.contextmanager
def connected(params, conn=None):
    """The caller's connection to the deploy's database, or one opened (and closed) here."""
    if conn is not None:
        yield conn
        return
    conn = postgres.connect(params, database=params['database'])
    try:
        yield conn
    finally:
        conn.close()


def _capture(conn, capture, check_mode, new_log):
    """Start (new_log) or extend the write capture, or end it when the deploy captures nothing."""
    if capture['enabled']:
        return change_capture.install(conn, 'public', capture['exclude'], check_mode, new_log)
    return change_capture.remove(conn, check_mode) if new_log else None


def _restore_point_only(params, label, check_mode):
    """down_scripts: a named WAL position only; a missing privilege is reported, not fatal (the scripts are the
    rollback point)."""
    try:
        return backup_module.take(backup_module.with_defaults(params, dict(method='restore_point', label=label)),
                                  check_mode)
    except DbopsError as err:
        return dict(restore_point=None, msg=str(err))


def rollback_point(params, journal, point, capture, check_mode=False):
    """Step 4 up to the migration: open the step, start the capture, take the rollback point, record it.
    The capture's connection closes before the snapshot, which ends every session on the database."""
    journal.write(step=dict(number=4, name='migrate'), data=point['journal_data'])
    with connected(params) as conn:
        captured = _capture(conn, capture, check_mode, new_log=True)
    if point['method'] == 'down_scripts':
        taken = _restore_point_only(params, point['restore_point'], check_mode) if point['restore_point'] else {}
    else:
        options = dict(point['backup'], database=params['database'], restore_point=point['restore_point'] or None)
        taken = backup_module.take(backup_module.with_defaults(params, options), check_mode)
    backup = taken.get('backup') or {}
    record = dict(strategy=point['method'], folder=backup.get('folder', ''),
                  database=backup.get('snapshot_database') or '', keep_migration=point['keep_migration'],
                  capture=capture['enabled'], capture_until=capture['until'])
    journal.write(data=dict(rollback_point=record))
    return dict(changed=True, capture=captured, backup=taken.get('backup'), rollback_point=record,
                evidence=dict(rollback_point=backup,
                              restore_point=taken.get('restore_point') or taken.get('restore_point_problem')
                              or taken.get('msg')))


def left_pending(status, pending):
    left = [name for name in status.get('pending') or [] if name in pending]
    failed = status.get('failed_migrations') or []
    if left or failed:
        return 'After the migration: pending=%s, failed=%s' % (left, failed)
    return None


def verified(params, journal, verify, capture, check_mode=False, conn=None):
    """The rest of step 4 and step 5: capture the new tables, open step 5, check the history the migration left
    and the database's health, then (stop mode) open step 6, where the releases switch."""
    if capture['enabled']:
        with connected(params, conn) as capturing:
            _capture(capturing, capture, check_mode, new_log=False)
    journal.write(step=dict(number=5, name='verify'), data=verify['journal_data'])
    status = verify['migrate_status']
    left = left_pending(status, verify['pending'])
    if left:
        raise StepFailed(left, dict(changed=False))
    results, overall = health.run_checks(dict(params, login_db=params['database']), VERIFY_CHECKS, {},
                                         verify['expected_indexes'])
    checked = dict(changed=False, status=overall, checks=results)
    problem = health.failure(results, overall, 'critical')
    if problem:
        raise StepFailed(problem, checked)
    size_after = results['database_size']['value']
    checked['evidence'] = dict(
        latest_applied=status.get('latest_applied'), in_sync=status.get('in_sync'),
        expected_indexes=(results.get('expected_indexes') or {}).get('message', 'none configured'),
        status=overall, size_after=size_after, size_delta=size_after - verify['size_before'])
    if verify['open_start']:
        journal.write(step=dict(number=6, name='start'), data=dict(release_switched=True,
                                                                   evidence=dict(verify=checked['evidence'])))
    return checked


def migrated(params, journal, point, migrate, verify, capture, check_mode=False):
    """Steps 4 and 5 in one run: the rollback point, the bundle's pending migrations (up to the target), then
    the verification of what they left. In check mode the plan ends with the migrations: nothing was applied to
    verify."""
    done = rollback_point(params, journal, point, capture, check_mode)
    project = prisma_migrations.Project(bundle=migrate['bundle'])
    with connected(params) as conn:
        outcome = prisma_migrations.deploy(
            conn, project, target=migrate['target'] or None, lock_timeout=migrate['lock_timeout'] or None,
            statement_timeout=migrate['statement_timeout'] or None, lint=migrate['lint'], check_mode=check_mode,
            lock_retries=migrate['lock_retries'])
        status = prisma_migrations.status(conn, project)[1]
        done['migrate'] = dict(applied=outcome['applied'], lint=outcome['lint'], warnings=outcome['warnings'],
                               status=status)
        if not check_mode:
            evidence = dict(done['evidence'], applied=outcome['applied'], lint=len(outcome['lint']))
            done['verify'] = verified(params, journal, dict(verify, migrate_status=status,
                                                            journal_data=dict(evidence=dict(migrate=evidence))),
                                      capture, check_mode, conn)
    return done
