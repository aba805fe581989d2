# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run report: steps with timings, the runbook's production checklist with evidence, downtime,
and on rollback the incident report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

NOT_AUTOMATED = 'not part of this run: a person does this'


def parse(stamp):
    """ISO time; naive times (Ansible's now(utc=true)) are UTC."""
    if not stamp:
        return None
    value = datetime.datetime.fromisoformat(stamp.replace('Z', '+00:00'))
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def seconds_between(start, end):
    if not start or not end:
        return None
    return round((parse(end) - parse(start)).total_seconds(), 3)


def timed_steps(steps):
    return [dict(step, seconds=seconds_between(step.get('started'), step.get('ended'))) for step in steps]


def _line(text, done, evidence):
    return dict(item=text, done=bool(done), evidence=evidence)


def checklist(evidence, outcome, failure, rollback):
    """The runbook's 'Production Checklist', each line ticked or not, with its evidence."""
    ev = evidence or {}
    backup, prepare, migrate = ev.get('backup') or {}, ev.get('prepare') or {}, ev.get('migrate') or {}
    verify, start, smoke, monitor = ev.get('verify') or {}, ev.get('start') or {}, ev.get('smoke') or {}, \
        ev.get('monitor') or {}
    post_backup = ev.get('post_backup') or {}
    verification = backup.get('verification') or {}
    files = backup.get('files') or []
    point = migrate.get('rollback_point') or {}
    pre = [
        _line('Full database backup completed', backup.get('id'),
              '%s (%s)' % (backup.get('folder'), ', '.join('%s sha256 %s, %d bytes' % (
                  f['path'], f['sha256'][:16], f['size']) for f in files)) if backup else 'no backup taken'),
        _line('Backup verified (restore test in dev)', verification.get('ok') and verification.get('level') != 'none',
              'verify=%s ok=%s %s' % (verification.get('level'), verification.get('ok'),
                                      'restore drill %ss' % verification.get('restore_seconds')
                                      if verification.get('restore_seconds') else '') if verification else 'none'),
        _line('Migration tested in staging', False,
              'dry run listed %s; lint findings: %s; a staging rehearsal is %s (playbooks/restore.yml makes the copy)'
              % (prepare.get('pending'), prepare.get('lint_findings'), NOT_AUTOMATED)),
        _line('Rollback script prepared and tested', bool(point) or all(prepare.get('rollback_scripts') or [False]),
              'rollback point: %s; rollback scripts present: %s' % (
                  point.get('snapshot_database') or point.get('id') or 'none', prepare.get('rollback_scripts'))),
        _line('Maintenance window scheduled', prepare.get('window') not in (None, 'none'),
              'window %s' % prepare.get('window')),
        _line('Team notified', False, NOT_AUTOMATED),
        _line('Monitoring alerts configured', False, '%s; this run watched for %s s itself' % (
            NOT_AUTOMATED, monitor.get('seconds'))),
    ]
    during = [
        _line('Application stopped', ev.get('stop'), 'hosts %s, first stop %s' % (
            (ev.get('stop') or {}).get('hosts'), (ev.get('stop') or {}).get('first_stop'))),
        _line('Migration applied successfully', migrate.get('applied') is not None and 'applied' in migrate,
              ', '.join('%s (%ss)' % (m['name'], m.get('duration')) for m in migrate.get('applied') or []) or '-'),
        _line('Migration status verified', verify.get('in_sync') is not None and 'latest_applied' in verify,
              'latest applied %s, in sync: %s' % (verify.get('latest_applied'), verify.get('in_sync'))),
        _line('Database queries tested', verify.get('status') in ('ok', 'warning'),
              'pg_health %s; expected indexes: %s; size delta %s bytes' % (
                  verify.get('status'), verify.get('expected_indexes'), verify.get('size_delta'))),
        _line('Application restarted', start.get('hosts'), 'hosts %s' % start.get('hosts')),
        _line('Health check passed', start.get('health'), ', '.join(
            '%s: %s' % (h.get('release'), h.get('migration')) for h in start.get('health') or [])),
    ]
    post = [
        _line('Smoke tests passed', smoke.get('hosts'), 'restaurants listed per host %s; extra checks %s' % (
            smoke.get('restaurants_listed'), smoke.get('http_checks'))),
        _line('No error spikes in logs', 'errors' in monitor and monitor.get('errors') == 0,
              '%s failed /health polls in %s s' % (monitor.get('errors'), monitor.get('seconds'))),
        _line('Performance metrics normal', monitor.get('status') in ('ok', 'warning'), ', '.join(
            '%s x%s' % (p['name'], p.get('slowdown')) for p in monitor.get('probes') or []) or '-'),
        _line('User feedback positive', False, NOT_AUTOMATED),
        _line('Backup of new state created', post_backup.get('id'), post_backup.get('folder') or 'none'),
        _line('Documentation updated', False, NOT_AUTOMATED),
    ]
    sections = [('Pre-Migration', pre), ('During Migration', during), ('Post-Migration', post)]
    if outcome == 'rolled_back' or rollback:
        rb = rollback or {}
        sections.append(('Rollback', [
            _line('Issue severity assessed', failure, 'trigger: step %s (%s) on %s: %s' % (
                (failure.get('step') or {}).get('number'), (failure.get('step') or {}).get('name'),
                failure.get('host'), failure.get('error')) if failure else 'decided by a person'),
            _line('Rollback decision made', True, 'automatic on the trigger' if failure else 'requested'),
            _line('Application stopped', rb.get('stopped'), 'hosts %s' % rb.get('stopped')),
            _line('Database restored from backup', rb.get('database'), rb.get('database')),
            _line('Code reverted to previous version', rb.get('release'), rb.get('release')),
            _line('Application restarted', rb.get('started'), 'hosts %s' % rb.get('started')),
            _line('Health verified', rb.get('healthy'), rb.get('health')),
            _line('Incident report created', True, 'this report'),
        ]))
    return sections


def build(run_id, kind, outcome, reason, started, steps, evidence, first_stop, last_healthy, failure, rollback,
          finished):
    sections = checklist(evidence, outcome, failure or {}, rollback or {})
    report = dict(run_id=run_id, kind=kind, outcome=outcome, reason=reason, started=started, finished=finished,
                  duration=seconds_between(started, finished), steps=timed_steps(steps or []),
                  downtime_seconds=seconds_between(first_stop, last_healthy) if first_stop else None,
                  first_stop=first_stop, last_healthy=last_healthy, evidence=evidence or {},
                  checklist=[dict(section=name, lines=lines) for name, lines in sections],
                  incident=dict(trigger=failure, rollback=rollback) if (failure or rollback) else None)
    return report


def summary(report):
    backup = (report['evidence'].get('backup') or {})
    size = sum(f['size'] for f in backup.get('files') or [])
    done = sum(1 for s in report['checklist'] for line in s['lines'] if line['done'])
    total = sum(len(s['lines']) for s in report['checklist'])
    parts = ['%s %s: %s' % (report['kind'], report['run_id'], report['outcome'])]
    parts.append('steps ' + ', '.join('%s %ss' % (s['name'], s['seconds']) for s in report['steps']))
    if report['downtime_seconds'] is not None:
        parts.append('downtime %.1fs' % report['downtime_seconds'])
    if backup:
        parts.append('backup %.1f MB in %ss' % (size / 1e6, backup.get('duration')))
    parts.append('checklist %d/%d' % (done, total))
    if report.get('incident') and (report['incident'].get('trigger') or {}).get('error'):
        parts.append('trigger: %s' % report['incident']['trigger']['error'][:200])
    return '; '.join(parts)


def markdown(report):
    out = ['# %s %s: %s' % (report['kind'].capitalize(), report['run_id'], report['outcome']), '',
           '- Started: %s' % report['started'], '- Finished: %s' % report['finished'],
           '- Duration: %s s' % report['duration']]
    if report['downtime_seconds'] is not None:
        out.append('- Application downtime (first stop -> last host healthy): %s s' % report['downtime_seconds'])
    if report.get('reason'):
        out.append('- Reason: %s' % report['reason'])
    out += ['', '## Steps', '', '| # | step | started | seconds | result |', '|---|---|---|---|---|']
    out += ['| %s | %s | %s | %s | %s |' % (s.get('number'), s.get('name'), s.get('started'), s.get('seconds'),
                                            s.get('status')) for s in report['steps']]
    for section in report['checklist']:
        out += ['', '## Checklist: %s' % section['section'], '']
        out += ['- [%s] %s: %s' % ('x' if line['done'] else ' ', line['item'],
                                   str(line['evidence']).replace('\n', ' ')) for line in section['lines']]
    if report.get('incident'):
        trigger = report['incident'].get('trigger') or {}
        rollback = report['incident'].get('rollback') or {}
        step = trigger.get('step') or {}
        out += ['', '## Incident report', '',
                '- Trigger: step %s (%s) on %s' % (step.get('number'), step.get('name'), trigger.get('host')),
                '- Failed task: %s' % trigger.get('task'), '- Error: %s' % trigger.get('error'),
                '- Database: %s' % rollback.get('database'), '- Release: %s' % rollback.get('release'),
                '- Data state verified: %s' % rollback.get('health')]
    return '\n'.join(out) + '\n'
