# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run report: steps with timings, the runbook's production checklist with evidence, downtime,
and on rollback the incident report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.defneqr.dbops.plugins.module_utils.backup_store import parse_time

NOT_AUTOMATED = 'not part of this run: a person does this'


def lint_summary(prepare):
    """The lint findings by rule and statement, not only their number."""
    findings = prepare.get('lint') or []
    if not findings:
        return str(prepare.get('lint_findings') or 0)
    listed = '; '.join('%s at %s line %s: %s' % (
        f.get('rule'), f.get('file'), f.get('line'), (f.get('statement') or '')[:80]) for f in findings[:10])
    more = '; and %d more in report.json (evidence.prepare.lint)' % (len(findings) - 10) if len(findings) > 10 else ''
    return '%d (%s%s)' % (len(findings), listed, more)


def rehearsal_summary(rehearsal):
    if not rehearsal:
        return 'not run (deploy_rehearse=false, or nothing pending)'
    if rehearsal.get('ok') is None:
        return 'not completed, %s' % rehearsal.get('error')
    if not rehearsal.get('ok'):
        return 'FAILED, %s' % rehearsal.get('error')
    return '%d migration(s) applied in %ss%s' % (
        len(rehearsal.get('applied') or []), rehearsal.get('seconds'),
        '; drift from the live schema: %s' % '; '.join(rehearsal['drift'][:5]) if rehearsal.get('drift') else
        ', the live schema matches the history')


def rehearsal_rollback(rehearsal):
    if rehearsal.get('rollback_tested'):
        return 'ran on the scratch database (%s) and left the schema identical' % ', '.join(rehearsal['rolled_back'])
    if rehearsal.get('identical') is False:
        return 'ran but left a different schema: %s' % '; '.join(rehearsal.get('differences')[:5])
    return 'not tested (%s)' % (rehearsal.get('error') or 'no rehearsal')


def seconds_between(start, end):
    if not start or not end:
        return None
    return round((parse_time(end) - parse_time(start)).total_seconds(), 3)


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
    rehearsal = prepare.get('rehearsal') or {}
    pre = [
        _line('Full database backup completed', backup.get('id'),
              '%s (%s)' % (backup.get('folder'), ', '.join('%s sha256 %s, %d bytes' % (
                  f['path'], f['sha256'][:16], f['size']) for f in files)) if backup else 'no backup taken'),
        # ticked only when a restore really ran: reading the archive back is not a restore test
        _line('Backup verified (restore test in dev)', verification.get('ok') and verification.get('level') == 'restore',
              ('verify=%s ok=%s%s' % (verification.get('level'), verification.get('ok'), {
                  'restore': ', restore drill %ss' % verification.get('restore_seconds'),
                  'full': ', every byte read back by pg_restore in %ss; no restore test: verify=restore or '
                          'playbooks/restore.yml restore_mode=drill does one' % verification.get('read_seconds'),
              }.get(verification.get('level'), '; no restore test: verify=restore does one')))
              if verification else 'none'),
        _line('Migration tested in staging', False,
              'dry run listed %s; lint findings: %s; rehearsed on a scratch database built from the migration '
              'history: %s; a staging rehearsal with data is %s (playbooks/restore.yml makes the copy)'
              % (prepare.get('pending'), lint_summary(prepare), rehearsal_summary(rehearsal), NOT_AUTOMATED)),
        # ticked only when the rollback scripts ran and left the schema as it was: a script on disk is no test
        _line('Rollback script prepared and tested', bool(rehearsal.get('rollback_tested')),
              'rollback scripts %s; rehearsal: %s; rollback point: %s' % (
                  rehearsal_rollback(rehearsal), rehearsal_summary(rehearsal),
                  rollback_point_words(point))),
        _line('Maintenance window scheduled', prepare.get('window') not in (None, 'none'),
              'window %s' % prepare.get('window')),
        _line('Team notified', False, NOT_AUTOMATED),
        _line('Monitoring alerts configured', False, '%s; this run watched for %s s itself' % (
            NOT_AUTOMATED, monitor.get('seconds'))),
    ]
    during = [
        _line('Application stopped', (ev.get('stop') or {}).get('hosts'), stop_words(ev.get('stop') or {})),
        _line('Migration applied successfully', migrate.get('applied') is not None and 'applied' in migrate,
              ', '.join('%s (%ss)' % (m['name'], m.get('duration')) for m in migrate.get('applied') or []) or '-'),
        _line('Migration status verified', verify.get('in_sync') is not None and 'latest_applied' in verify,
              'latest applied %s, in sync: %s' % (verify.get('latest_applied'), verify.get('in_sync'))),
        _line('Database queries tested', verify.get('status') in ('ok', 'warning'),
              'pg_health %s; expected indexes: %s; size delta %s bytes' % (
                  verify.get('status'), verify.get('expected_indexes'), verify.get('size_delta'))),
        _line('Application restarted', start.get('hosts'), 'hosts %s%s' % (start.get('hosts'), '; one at a time: %s' % ', '.join(
            '%s %s' % item for item in sorted(start['rolling'].items())) if start.get('rolling') else '')),
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
            _line('Database restored from backup', rb.get('database') and not (rb.get('replay') or {}).get('failed'),
                  '%s; %s' % (rb.get('database'), writes_kept(rb)) if rb.get('database') else None),
            _line('Code reverted to previous version', rb.get('release'), rb.get('release')),
            _line('Application restarted', rb.get('started'), 'hosts %s' % rb.get('started')),
            _line('Health verified', rb.get('healthy'), rb.get('health')),
            _line('Incident report created', True, 'this report'),
        ]))
    return sections


def stop_words(stop):
    if stop.get('online'):
        return 'not stopped, an online deploy: %s' % stop['online']
    return 'hosts %s, first stop %s' % (stop.get('hosts'), stop.get('first_stop'))


def host_gaps(journal):
    """Online, the seconds each app host that had to restart (not reload) did not answer; the others served."""
    stops, healthy = journal.get('host_stops') or {}, journal.get('healthy_at') or {}
    return dict((host, seconds_between(at, healthy.get(host))) for host, at in stops.items() if at)


def rollback_point_words(point):
    """The rollback point, and for a snapshot how its files were made and in how long."""
    words = point.get('snapshot_database') or point.get('id') or 'none'
    if point.get('copy_method'):
        words += ' (%s in %s s%s)' % (point['copy_method'], point.get('duration'), why_not_cloned(point))
    return words


def why_not_cloned(snapshot):
    return '; not cloned: %s' % snapshot['not_cloned'] if snapshot.get('not_cloned') else ''


def writes_kept(rollback):
    """What became of the writes made after the rollback point, in the words of the report."""
    replay = rollback.get('replay') or {}
    if replay.get('failed'):
        return ('REPLAY FAILED, the writes made after the rollback point are NOT in the live database (it is as '
                'restored); they are in %s, table dbops.change_log: %s' % (replay.get('kept_in'), replay['failed']))
    if not replay:
        return 'writes after the rollback point: not captured (kept only by down_scripts)'
    if replay.get('note'):
        return 'writes after the rollback point: %s' % replay['note']
    quarantined = sum(sum(reasons.values()) for reasons in (replay.get('quarantined') or {}).values())
    words = 'writes after the rollback point: %s captured, %s rows replayed, %s quarantined' % (
        replay.get('captured', 0), replay.get('replayed', 0), quarantined)
    if quarantined:
        words += ' (%s; table dbops.quarantine, files %s)' % (
            '; '.join('%s: %s x%d' % (table, reason, count) for table, reasons in sorted(replay['quarantined'].items())
                      for reason, count in sorted(reasons.items())),
            ', '.join(path for path in (replay.get('quarantine_report_file'), replay.get('quarantine_file')) if path))
    if replay.get('dropped_columns'):
        words += ', columns the old schema lacks dropped: %s' % '; '.join(
            '%s(%s)' % (table, ', '.join(columns)) for table, columns in sorted(replay['dropped_columns'].items()))
    return words + ', in %s s' % replay.get('seconds', 0)


def _times(mapping):
    return sorted(value for value in (mapping or {}).values() if value)


def all_steps(journal, open_status='interrupted'):
    """Closed steps in order, then the open one (interrupted when the run died in it; a dry run ends in it)."""
    steps = list(journal.get('steps') or [])
    current = journal.get('step') or {}
    if current.get('number') is not None and not current.get('ended'):
        steps.append(dict(current, status=open_status))
    return steps


def outage(journal):
    """(first stop, last healthy answer) from the journal; the stop is step 3's start when no stop time was
    recorded (a run killed while stopping), the end is None while some app host is not back."""
    rollback = journal.get('rollback') or {}
    steps = all_steps(journal)
    stops = _times(journal.get('stopped_at')) + _times(rollback.get('stopped_at'))
    stop_step = next((s for s in steps if s.get('number') == 3), None)
    # online, step 3 stops nothing: only a recorded stop counts
    first_stop = stops[0] if stops else None if journal.get('mode') == 'online' else (stop_step or {}).get('started')
    if not first_stop:
        return None, None
    if rollback:
        back = _times(rollback.get('healthy_at')) if rollback.get('healthy') else []
    else:
        back = _times(journal.get('healthy_at'))
    return first_stop, (back[-1] if back else None)


def failed_hosts(report):
    """Every host that failed, the trigger's first: a report that names one host when both failed misleads."""
    incident = report.get('incident') or {}
    hosts = [f.get('host') for f in incident.get('failures') or []] or [(incident.get('trigger') or {}).get('host')]
    return ', '.join(str(host) for host in hosts)


def trigger(journal):
    """What failed: the journal's failure, with the step it failed in."""
    failure = dict(journal.get('failure') or {})
    if not failure:
        return {}
    failed = [s for s in all_steps(journal) if s.get('status') in ('failed', 'interrupted')]
    failure.setdefault('step', failed[-1] if failed else journal.get('step') or {})
    return failure


def snapshot_prediction(snapshot):
    if not snapshot.get('copy_method'):
        return ''
    return ' (%s, about %s s: %s%s)' % (snapshot['copy_method'], snapshot.get('predicted_seconds'),
                                        snapshot.get('predicted_from'), why_not_cloned(snapshot))


def plan_lines(journal, plan):
    """What each later step of a dry run would do."""
    prepare = (journal.get('evidence') or {}).get('prepare') or {}
    hosts = ', '.join(plan.get('app_hosts') or [])
    pending = prepare.get('pending') or []
    return [
        '2 backup: pg_dump of %s into %s (verify=%s), estimated %s bytes, %s bytes free' % (
            (journal.get('database') or {}).get('name'), plan.get('backup_dest'), plan.get('backup_verify'),
            prepare.get('backup_estimate'), prepare.get('free_bytes')),
        ('3 stop: nothing, online (%s); the old release keeps serving and is smoke-tested against the new schema '
         'before any host switches' % prepare.get('mode_reason')) if prepare.get('mode') == 'online' else
        '3 stop: the backend on %s (%s)' % (hosts, prepare.get('mode_reason') or 'stop mode'),
        '4 migrate: %srollback point by %s%s, then apply %d migration(s): %s (lint findings: %s)' % (
            'change capture on (a rollback replays the writes made after it), ' if plan.get('capture') else '',
            plan.get('strategy'), snapshot_prediction(prepare.get('snapshot') or {}), len(pending),
            ', '.join(pending) or '-', prepare.get('lint_findings')),
        '5 verify: migration status, expected indexes, database health',
        '6 start: switch %s to release %s%s, wait for /health' % (
            hosts, prepare.get('release'), ' one host at a time, each reloaded and smoke-tested before the next'
            if prepare.get('mode') == 'online' else ', start'),
        '7 smoke: login, token, restaurants on %s' % hosts,
        '8 monitor: /health and query latency for %s s' % plan.get('monitor_seconds'),
    ]


def next_steps(journal):
    """What recover.yml will do for a run whose rollback did not finish."""
    rollback = journal.get('rollback') or {}
    point = journal.get('rollback_point') or {}
    todo = []
    if point and not rollback.get('database_done'):
        todo.append('put the database back (%s from %s)' % (point.get('strategy'), point.get('folder') or
                                                            point.get('keep_migration')))
    if journal.get('release_switched'):
        todo.append('point every app host back at its previous release (%s)' % ', '.join(
            '%s: %s' % item for item in sorted((journal.get('hosts_previous') or {}).items())))
    todo.append('start and verify %s' % ', '.join(journal.get('app_hosts') or []))
    return '; '.join(todo)


def build(journal, outcome, reason, finished, plan=None, recover_command=''):
    rollback = journal.get('rollback') or {}
    failure = trigger(journal)
    evidence = journal.get('evidence') or {}
    first_stop, last_healthy = outage(journal)
    if rollback and not rollback.get('database'):
        rollback = dict(rollback, database='untouched: the failure came before the migration'
                        if rollback.get('database_untouched') else None)
    sections = checklist(evidence, outcome, failure, rollback)
    report = dict(run_id=journal.get('run_id'), kind=journal.get('kind') or 'deploy', outcome=outcome, reason=reason,
                  started=journal.get('started'), finished=finished,
                  duration=seconds_between(journal.get('started'), finished),
                  steps=timed_steps(all_steps(journal, 'ok' if outcome == 'would_deploy' else 'interrupted')),
                  downtime_seconds=seconds_between(first_stop, last_healthy) if first_stop else None,
                  host_gaps=host_gaps(journal) if journal.get('mode') == 'online' else None,
                  first_stop=first_stop, last_healthy=last_healthy, evidence=evidence,
                  checklist=[dict(section=name, lines=lines) for name, lines in sections],
                  incident=dict(trigger=failure, rollback=rollback, failures=journal.get('failures') or (
                      [failure] if failure else [])) if (failure or rollback) else None,
                  recovered=journal.get('recovered') or None, release=journal.get('release') or {},
                  plan=plan_lines(journal, plan or {}) if outcome == 'would_deploy' else [])
    if outcome == 'rollback_failed':
        report['alarm'] = alarm(journal, report, recover_command)
    return report


def alarm(journal, report, recover_command):
    """The message of a rollback that did not finish: true about which hosts are not back."""
    status = journal.get('health_status') or {}
    body = journal.get('health_now') or {}
    not_back = sorted(host for host in journal.get('app_hosts') or [] if status.get(host) != 200)
    trig = (report.get('incident') or {}).get('trigger') or {}
    step = trig.get('step') or {}
    cause = '%s %s failed in step %s (%s) on %s: %s' % (
        report['kind'], report['run_id'], step.get('number'), step.get('name'), trig.get('host'), trig.get('error'))
    keep = ('The lock and the journal stay in %s on the database host; once the cause is fixed run: %s. It will %s.'
            % (journal.get('lock_dir'), recover_command, next_steps(journal)))
    if not_back:
        return 'ROLLBACK FAILED: %s not answering /health (%s). %s. The rollback stopped at: %s. %s' % (
            ', '.join(not_back), ', '.join('%s: %s' % (h, status.get(h)) for h in not_back), cause,
            report.get('reason'), keep)
    return ('The rollback did not finish, but every app host answers /health now (%s). %s. The rollback stopped '
            'at: %s. %s' % (', '.join('%s: release %s' % (h, (body.get(h) or {}).get('release'))
                                      for h in sorted(status)), cause, report.get('reason'), keep))


def summary(report, path=''):
    if report.get('alarm'):
        return report['alarm'] + (' Report: %s' % path if path else '')
    backup = (report['evidence'].get('backup') or {})
    size = sum(f['size'] for f in backup.get('files') or [])
    done = sum(1 for s in report['checklist'] for line in s['lines'] if line['done'])
    total = sum(len(s['lines']) for s in report['checklist'])
    parts = ['%s %s: %s' % (report['kind'], report['run_id'], report['outcome'])]
    if report.get('reason') and report['outcome'] in ('refused', 'rolled_back'):
        parts.append('reason: %s' % report['reason'][:500])
    parts.append('steps ' + ', '.join('%s %ss' % (s['name'], s['seconds']) for s in report['steps']))
    if report['downtime_seconds'] is not None:
        parts.append('downtime %.1fs' % report['downtime_seconds'])
    if report.get('host_gaps') is not None:
        gaps = sorted(report['host_gaps'].items())
        parts.append('online: %s' % ('; '.join('%s restarted (no reload), %s s without an answer' % item for item in gaps)
                                     if gaps else 'no app host stopped'))
    if backup:
        parts.append('backup %.1f MB in %ss' % (size / 1e6, backup.get('duration')))
    parts.append('checklist %d/%d' % (done, total))
    trig = (report.get('incident') or {}).get('trigger') or {}
    if trig.get('error'):
        step = trig.get('step') or {}
        parts.append('trigger: step %s (%s) on %s: %s' % (
            step.get('number'), step.get('name'), failed_hosts(report), trig['error'][:300]))
    if report['outcome'] == 'rolled_back':
        rollback = report['incident']['rollback']
        parts.append('rolled back: database %s; %s; release %s' % (rollback.get('database'), writes_kept(rollback),
                                                                   rollback.get('release')))
    if ((report.get('evidence') or {}).get('capture') or {}).get('kept'):
        parts.append('change capture kept on (deploy_capture_until=kept): rollback.yml keeps the writes made since; '
                     'end it with ansible-playbook -i <inventory> defneqr.dbops.end_capture')
    if report.get('plan'):
        parts.append('dry run, nothing changed; would run: ' + ' | '.join(report['plan']))
    if path:
        parts.append('report: %s' % path)
    return '; '.join(parts)


def markdown(report):
    out = ['# %s %s: %s' % (report['kind'].capitalize(), report['run_id'], report['outcome']), '',
           '- Started: %s' % report['started'], '- Finished: %s' % report['finished'],
           '- Duration: %s s' % report['duration']]
    if report['downtime_seconds'] is not None:
        out.append('- Application downtime (first stop -> last host healthy): %s s' % report['downtime_seconds'])
    if report.get('host_gaps') is not None:
        out.append('- Online deploy, app hosts switched one at a time; without an answer: %s' % (
            ', '.join('%s %s s' % item for item in sorted(report['host_gaps'].items())) or 'none (reloaded with no gap)'))
    if report.get('reason'):
        out.append('- Reason: %s' % report['reason'])
    if report.get('recovered'):
        out.append('- Recovered by recover.yml: %s' % report['recovered'])
    if report.get('alarm'):
        out += ['', '**%s**' % report['alarm']]
    if report.get('plan'):
        out += ['', '## What the deploy would do (dry run: nothing was changed)', '']
        out += ['- %s' % line for line in report['plan']]
    out += ['', '## Steps', '', '| # | step | started | seconds | result |', '|---|---|---|---|---|']
    out += ['| %s | %s | %s | %s | %s |' % (s.get('number'), s.get('name'), s.get('started'), s.get('seconds'),
                                            s.get('status')) for s in report['steps']]
    for section in report['checklist']:
        out += ['', '## Checklist: %s' % section['section'], '']
        out += ['- [%s] %s: %s' % ('x' if line['done'] else ' ', line['item'],
                                   str(line['evidence']).replace('\n', ' ')) for line in section['lines']]
    if report.get('incident'):
        trig = report['incident'].get('trigger') or {}
        rollback = report['incident'].get('rollback') or {}
        step = trig.get('step') or {}
        cause = ['- Trigger: step %s (%s) on %s' % (step.get('number'), step.get('name'), failed_hosts(report)),
                 '- Failed task: %s' % trig.get('task'), '- Error: %s' % trig.get('error')] if trig else \
            ['- Trigger: decided by a person: %s' % (report.get('reason') or 'no reason given')]
        for failed in report['incident'].get('failures') or []:
            cause += ['', '### %s: %s' % (failed.get('host'), failed.get('task')), '', failed.get('error') or '']
            if failed.get('log'):
                cause += ['', 'Log lines the application wrote during this run:', '', '```'] + \
                    [str(line) for line in failed['log']] + ['```']
        out += ['', '## Incident report', ''] + cause + [
            '', '- Database: %s' % rollback.get('database'), '- Release: %s' % rollback.get('release'),
            '- Data state verified: %s' % rollback.get('health')]
    return '\n'.join(out) + '\n'
