# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run journal: one JSON document per deploy or rollback run, on the db host.

The lock folder of the run in progress holds its journal (``<lock>/journal.json``); when the run
ends the journal moves to the history folder beside the lock and the lock is gone. A run that
did not end (its controller died, or its rollback failed) keeps the lock, and its journal says
what was done and what the way back is: ``recover.yml`` reads it and nothing else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import shutil
import socket
import tempfile

from ansible_collections.defneqr.dbops.plugins.module_utils.backup_store import write_json_durably

FORMAT = 1
JOURNAL = 'journal.json'
SAFE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')


class JournalError(Exception):
    pass


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def age_seconds(stamp, at=None):
    """Seconds since an ISO time (None when unknown)."""
    if not stamp:
        return None
    value = datetime.datetime.fromisoformat(stamp.replace('Z', '+00:00'))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    at = at or datetime.datetime.now(datetime.timezone.utc)
    return round((at - value).total_seconds(), 3)


def check_run_id(run_id):
    if not SAFE_NAME.match(run_id or ''):
        raise JournalError('Run id %r cannot name a file: use letters, digits, ".", "_" and "-" only (at most 128), '
                           'e.g. deploy-20260218T020000Z.' % (run_id,))
    return run_id


def history_dir(lock_dir):
    """Finished runs' journals live beside the lock: <dest>/.deploy.lock -> <dest>/.deploy.runs."""
    return re.sub(r'\.lock$', '', lock_dir.rstrip('/')) + '.runs'


def merge(base, change):
    """Deep merge of dicts; any other value (lists included) replaces."""
    out = dict(base)
    for key, value in (change or {}).items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read(path):
    try:
        with open(path, encoding='utf-8') as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


def read(lock_dir):
    """The journal of the run holding the lock; {} when the lock is free; a stand-in for a bare lock."""
    if not os.path.isdir(lock_dir):
        return {}
    journal = _read(os.path.join(lock_dir, JOURNAL))
    if journal is not None:
        return journal
    # a lock without a journal: an older collection version's lock, or one made by hand
    legacy = ''
    try:
        with open(os.path.join(lock_dir, 'run'), encoding='utf-8') as stream:
            legacy = stream.read().strip()
    except OSError:
        pass
    return dict(format=0, run_id=legacy.split(' ')[0] if legacy else None, status='unknown', legacy=legacy,
                lock_dir=lock_dir)


def last_finished(lock_dir):
    """The journal of the newest finished run, or {}."""
    folder = history_dir(lock_dir)
    if not os.path.isdir(folder):
        return {}
    journals = [j for j in (_read(os.path.join(folder, name)) for name in os.listdir(folder)
                            if name.endswith('.json')) if j]
    return max(journals, key=lambda j: j.get('finished') or '') if journals else {}


def describe(journal):
    """One line that tells an operator which run holds the lock and how far it got."""
    if not journal:
        return 'no run'
    if journal.get('format') == 0:
        return 'a lock without a journal (%s)' % (journal.get('legacy') or 'empty')
    step = journal.get('step') or {}
    controller = journal.get('controller') or {}
    return '%s %s, %s, step %s (%s), controller %s pid %s, last written %s' % (
        journal.get('kind'), journal.get('run_id'), journal.get('status'), step.get('number'), step.get('name'),
        controller.get('host'), controller.get('pid'), journal.get('updated'))


def begin(lock_dir, run_id, controller, fields, recover_command, step=None):
    """Take the lock by renaming a folder that already holds the journal into place (atomic)."""
    check_run_id(run_id)
    parent = os.path.dirname(lock_dir.rstrip('/'))
    os.makedirs(parent, mode=0o700, exist_ok=True)
    held = read(lock_dir)
    if held:
        raise JournalError(refusal(lock_dir, held, recover_command))
    stamp = now()
    journal = merge(dict(format=FORMAT, run_id=run_id, controller=controller, started=stamp, updated=stamp,
                         status='running', step={}, steps=[], hosts={}, rollback_point={}, evidence={},
                         failure={}, rollback={}, accepted=False, outcome=None, lock_dir=lock_dir,
                         db_host=socket.getfqdn()), fields)
    if step:
        journal['step'] = dict(step, started=stamp)
    staging = tempfile.mkdtemp(prefix='.deploy-lock-', dir=parent)
    try:
        write_json_durably(os.path.join(staging, JOURNAL), journal)
        try:
            os.rename(staging, lock_dir)
        except OSError:
            # another run renamed its folder into place first
            raise JournalError(refusal(lock_dir, read(lock_dir), recover_command))
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return journal


def refusal(lock_dir, held, recover_command):
    return ('Another run holds %s: %s. If it is still running, wait for it. If its controller is gone (killed, '
            'laptop asleep, AWX job cancelled) or its rollback failed, bring every host back to a healthy state with: '
            '%s' % (lock_dir, describe(held), recover_command))


def owned(lock_dir, run_id):
    """The journal of run_id, which must hold the lock."""
    journal = read(lock_dir)
    if not journal:
        raise JournalError('No run holds %s: run %s has no journal there (was the lock removed by hand?). Nothing '
                           'was written.' % (lock_dir, run_id))
    if journal.get('run_id') != run_id:
        raise JournalError('The lock %s is held by another run (%s), not by %s. Nothing was written.' % (
            lock_dir, describe(journal), run_id))
    return journal


def unwritable(lock_dir, err):
    return ('Cannot write the run journal in %s: %s. The database host needs write access to that folder '
            '(dbops_backup_dest) and free space.' % (lock_dir, err))


def update(lock_dir, run_id, step=None, step_status='ok', fields=None, controller=None, close_step=False,
           only_running=False):
    """Close the open step (with step_status) when `step` opens the next one, on failure or with close_step;
    merge fields; write atomically. only_running: refuse once the run is no longer running (recover took it over
    from a dead controller while this write's module was still at work)."""
    journal = owned(lock_dir, run_id)
    if only_running and journal.get('status') != 'running':
        raise JournalError('Run %s is %s now, not running (%s): its controller is gone and this module outlived it, '
                           'so it records nothing more and stops here.' % (
                               run_id, journal.get('status'), (journal.get('recovered') or {}).get('why', '?')))
    stamp = now()
    if step or close_step or step_status != 'ok':
        current = journal.get('step') or {}
        if current.get('number') is not None and not current.get('ended'):
            journal['steps'] = (journal.get('steps') or []) + [dict(current, ended=stamp, status=step_status)]
            journal['step'] = dict(current, ended=stamp, status=step_status)
        if step:
            journal['step'] = dict(step, started=stamp)
    journal = merge(journal, fields)
    if controller:
        journal['controller'] = controller
    journal['updated'] = stamp
    write_json_durably(os.path.join(lock_dir, JOURNAL), journal)
    return journal


def finish(lock_dir, run_id, outcome, fields=None, release_lock=True, step_status='ok'):
    """Record the outcome and close the open step; with release_lock the journal moves to the history and
    the lock is gone."""
    journal = update(lock_dir, run_id, step_status=step_status, fields=merge(fields or {}, dict(outcome=outcome)),
                     close_step=True)
    if not release_lock:
        return journal
    journal = update(lock_dir, run_id, fields=dict(status='finished', finished=now()))
    folder = history_dir(lock_dir)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    write_json_durably(os.path.join(folder, '%s.json' % check_run_id(run_id)), journal)
    shutil.rmtree(lock_dir)
    return journal


def liveness(recorded, here, pid_start, heartbeat_age, stale_after):
    """Whether the run's controller may still be working: alive, dead, or unknown (another machine).

    recorded/here: {host, pid, pid_start}; pid_start: the start time of recorded['pid'] on this
    machine now (None when no such process).
    """
    recorded = recorded or {}
    if not recorded.get('pid'):
        return dict(state='dead', reason='the journal names no controller process')
    if recorded.get('host') == here.get('host'):
        if pid_start is not None and pid_start == recorded.get('pid_start'):
            return dict(state='alive', reason='process %s on %s is running' % (recorded['pid'], here['host']))
        return dict(state='dead', reason='process %s on %s has ended' % (recorded['pid'], here['host']))
    if heartbeat_age is not None and heartbeat_age < stale_after:
        return dict(state='unknown', reason='the controller is another machine (%s) and the journal was written '
                                            '%.0f s ago (less than recover_stale_after=%s)' % (
                                                recorded.get('host'), heartbeat_age, stale_after))
    return dict(state='dead', reason='the controller is another machine (%s) and the journal is %s s old' % (
        recorded.get('host'), heartbeat_age))


def process_start(pid):
    """Start time of a process (clock ticks since boot), None when there is no such process."""
    try:
        with open('/proc/%d/stat' % int(pid), encoding='utf-8') as stream:
            return int(stream.read().rsplit(')', 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def recovery_action(journal):
    """What recover.yml does with an unfinished run: accept it when step 8 passed, else roll it back.

    A run whose rollback failed is rolled back again even after step 8: its hosts are not known good.
    A rollback of a run that never stopped the app nor reached the migration changes nothing: it
    only checks that every host answers and releases the lock.
    """
    if not journal:
        return None
    return 'accept' if journal.get('accepted') and journal.get('status') != 'rollback_failed' else 'rollback'
