"""The run journal: atomic lock, step bookkeeping, history, liveness and the report built from it."""
import json
import os
import stat

import pytest

from ansible_collections.defneqr.dbops.plugins.module_utils import run_journal, run_report

HERE = dict(host='ctl', pid=os.getpid(), pid_start=run_journal.process_start(os.getpid()))


def test_begin_takes_the_lock_once_and_names_the_holder(tmp_path):
    lock = str(tmp_path / '.deploy.lock')
    journal = run_journal.begin(lock, 'deploy-1', HERE, dict(kind='deploy'), 'RECOVER', dict(number=1, name='prepare'))
    assert journal['step']['number'] == 1 and journal['status'] == 'running'
    path = os.path.join(lock, 'journal.json')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(run_journal.JournalError) as refused:
        run_journal.begin(lock, 'deploy-2', HERE, {}, 'RECOVER')
    assert 'deploy deploy-1' in str(refused.value) and 'RECOVER' in str(refused.value)
    with open(path, encoding='utf-8') as stream:
        assert json.load(stream)['run_id'] == 'deploy-1'


def test_only_the_holder_writes_and_steps_close_in_order(tmp_path):
    lock = str(tmp_path / '.deploy.lock')
    run_journal.begin(lock, 'deploy-1', HERE, {}, 'R', dict(number=1, name='prepare'))
    run_journal.update(lock, 'deploy-1', dict(number=2, name='backup'), fields=dict(hosts_previous=dict(app1='1.3.0')))
    with pytest.raises(run_journal.JournalError):
        run_journal.update(lock, 'deploy-9', dict(number=3, name='stop'))
    journal = run_journal.update(lock, 'deploy-1', step_status='failed', fields=dict(failure=dict(error='boom')))
    assert [(s['number'], s['status']) for s in journal['steps']] == [(1, 'ok'), (2, 'failed')]
    assert journal['hosts_previous'] == dict(app1='1.3.0')


def test_a_module_that_outlived_its_controller_writes_nothing_once_recover_took_the_run_over(tmp_path):
    lock = str(tmp_path / '.deploy.lock')
    run_journal.begin(lock, 'deploy-1', HERE, {}, 'R', dict(number=4, name='migrate'))
    run_journal.update(lock, 'deploy-1', fields=dict(rollback_point=dict(strategy='snapshot')), only_running=True)
    taken = run_journal.update(lock, 'deploy-1', step_status='interrupted', controller=HERE,
                               fields=dict(status='recovering', recovered=dict(why='the controller is gone')))
    with pytest.raises(run_journal.JournalError) as refused:
        run_journal.update(lock, 'deploy-1', dict(number=5, name='verify'), only_running=True)
    assert 'recovering' in str(refused.value) and 'the controller is gone' in str(refused.value)
    assert run_journal.read(lock) == taken and taken['steps'][-1]['status'] == 'interrupted'


def test_finish_moves_the_journal_to_the_history_or_keeps_the_lock(tmp_path):
    lock = str(tmp_path / '.deploy.lock')
    run_journal.begin(lock, 'deploy-1', HERE, {}, 'R', dict(number=1, name='prepare'))
    kept = run_journal.finish(lock, 'deploy-1', 'rollback_failed', release_lock=False, step_status='failed')
    assert os.path.isdir(lock) and kept['outcome'] == 'rollback_failed'
    run_journal.finish(lock, 'deploy-1', 'rolled_back')
    assert not os.path.exists(lock)
    assert run_journal.last_finished(lock)['outcome'] == 'rolled_back'
    assert run_journal.read(lock) == {}


@pytest.mark.parametrize('name', ['../../y', 'a/b', '', '.hidden', 'x' * 200])
def test_run_ids_that_are_not_file_names_are_refused(tmp_path, name):
    with pytest.raises(run_journal.JournalError):
        run_journal.begin(str(tmp_path / '.deploy.lock'), name, HERE, {}, 'R')
    assert not os.path.exists(str(tmp_path / '.deploy.lock'))


def test_a_bare_lock_of_an_older_version_is_described(tmp_path):
    lock = tmp_path / '.deploy.lock'
    lock.mkdir()
    (lock / 'run').write_text('deploy-20260218T020000Z started 2026-02-18T02:00:00 from ops\n')
    held = run_journal.read(str(lock))
    assert held['format'] == 0 and 'deploy-20260218T020000Z' in run_journal.describe(held)


def test_liveness_checks_the_process_here_and_the_heartbeat_elsewhere():
    assert run_journal.liveness(HERE, HERE, HERE['pid_start'], 1, 60)['state'] == 'alive'
    assert run_journal.liveness(HERE, HERE, None, 1, 60)['state'] == 'dead'
    reused = dict(HERE, pid_start=(HERE['pid_start'] or 0) + 1)
    assert run_journal.liveness(reused, HERE, HERE['pid_start'], 1, 60)['state'] == 'dead'
    other = dict(HERE, host='laptop')
    assert run_journal.liveness(other, HERE, None, 10, 60)['state'] == 'unknown'
    assert run_journal.liveness(other, HERE, None, 600, 60)['state'] == 'dead'


def test_recovery_rolls_back_until_step_8_passed():
    assert run_journal.recovery_action(dict(step=dict(number=4))) == 'rollback'
    assert run_journal.recovery_action(dict(step=dict(number=8), accepted=True)) == 'accept'
    assert run_journal.recovery_action(dict(accepted=True, status='rollback_failed')) == 'rollback'
    assert run_journal.recovery_action({}) is None


def _journal(**extra):
    base = dict(run_id='deploy-1', kind='deploy', started='2026-02-18T02:00:00+00:00', app_hosts=['app1', 'app2'],
                lock_dir='/b/.deploy.lock', hosts_previous=dict(app1='1.3.0', app2='1.3.0'),
                steps=[dict(number=3, name='stop', started='2026-02-18T02:00:05+00:00',
                            ended='2026-02-18T02:00:06+00:00', status='ok')],
                step=dict(number=4, name='migrate', started='2026-02-18T02:00:06+00:00'))
    base.update(extra)
    return base


def test_report_of_an_interrupted_run_counts_the_outage_from_step_3():
    report = run_report.build(_journal(rollback=dict(healthy=True, healthy_at=dict(
        app1='2026-02-18T02:01:00+00:00', app2='2026-02-18T02:01:02+00:00'), database_untouched=True)),
        'rolled_back', '', '2026-02-18T02:01:03+00:00')
    assert report['steps'][-1]['status'] == 'interrupted'
    assert report['downtime_seconds'] == 57.0
    assert report['incident']['rollback']['database'].startswith('untouched')


def test_an_online_deploy_has_no_outage_unless_a_host_had_to_restart():
    evidence = dict(stop=dict(hosts=[], first_stop=None, online='every pending migration is online-safe'),
                    start=dict(hosts=['app1', 'app2'], rolling=dict(app1='reloaded with no gap', app2='reloaded with no gap')))
    healthy = dict(app1='2026-02-18T02:01:00+00:00', app2='2026-02-18T02:01:02+00:00')
    report = run_report.build(_journal(mode='online', evidence=evidence, healthy_at=healthy, host_stops={}),
                              'deployed', '', '2026-02-18T02:01:03+00:00')
    # step 3 ran, but stopped nothing: it is not the start of an outage
    assert report['first_stop'] is None and report['downtime_seconds'] is None and report['host_gaps'] == {}
    assert 'online: no app host stopped' in run_report.summary(report)
    lines = dict((line['item'], line) for section in report['checklist'] for line in section['lines'])
    assert not lines['Application stopped']['done']
    assert lines['Application stopped']['evidence'].startswith('not stopped, an online deploy: every pending')
    assert 'one at a time: app1 reloaded with no gap, app2 reloaded' in lines['Application restarted']['evidence']
    restarted = run_report.build(_journal(mode='online', evidence=evidence, healthy_at=healthy,
                                          host_stops=dict(app1='2026-02-18T02:00:58+00:00', app2='')),
                                 'deployed', '', '2026-02-18T02:01:03+00:00')
    assert restarted['host_gaps'] == dict(app1=2.0)
    assert 'app1 restarted (no reload), 2.0 s without an answer' in run_report.summary(restarted)


def test_the_alarm_of_a_failed_rollback_names_the_host_that_is_not_back():
    journal = _journal(failure=dict(host='app1', error='smoke failed'), release_switched=True,
                       rollback_point=dict(strategy='snapshot', folder='/b/snap'), rollback=dict(database_done=True),
                       health_status=dict(app1=200, app2=-1), health_now=dict(app1=dict(release='1.3.0')))
    report = run_report.build(journal, 'rollback_failed', 'app2 did not start', '2026-02-18T02:02:00+00:00',
                              recover_command='ansible-playbook -i inv defneqr.dbops.recover')
    assert report['alarm'].startswith('ROLLBACK FAILED: app2 not answering')
    assert 'put the database back' not in report['alarm'] and 'app1: 1.3.0' in report['alarm']
    healthy = run_report.build(dict(journal, health_status=dict(app1=200, app2=200)), 'rollback_failed', 'x',
                               '2026-02-18T02:02:00+00:00')
    assert 'ROLLBACK FAILED' not in healthy['alarm'] and 'every app host answers' in healthy['alarm']


def _checklist_line(evidence, item):
    sections = run_report.checklist(evidence, 'deployed', {}, {})
    [found] = [line for _title, lines in sections for line in lines if line['item'] == item]
    return found


def test_rollback_script_line_is_ticked_only_when_the_rehearsal_restored_the_schema():
    scripts_on_disk = dict(prepare=dict(rollback_scripts=[True, True, True]),
                           migrate=dict(rollback_point=dict(snapshot_database='dijitalmenu_pre_1')))
    line = _checklist_line(scripts_on_disk, 'Rollback script prepared and tested')
    assert line['done'] is False and 'not tested (no rehearsal)' in line['evidence']
    broken = dict(scripts_on_disk, prepare=dict(rehearsal=dict(
        ok=True, identical=False, rollback_tested=False, rolled_back=['m14'],
        differences=['+ index CREATE INDEX users_role_idx ON public.users USING btree (role)'], applied=[], drift=[])))
    line = _checklist_line(broken, 'Rollback script prepared and tested')
    assert line['done'] is False and 'left a different schema: + index CREATE INDEX users_role_idx' in line['evidence']
    proven = dict(scripts_on_disk, prepare=dict(rehearsal=dict(
        ok=True, identical=True, rollback_tested=True, rolled_back=['m14', 'm13'], differences=[], drift=[],
        applied=[dict(name='m13'), dict(name='m14')], seconds=1.5)))
    line = _checklist_line(proven, 'Rollback script prepared and tested')
    assert line['done'] is True and 'ran on the scratch database (m14, m13) and left the schema identical' in line['evidence']


def test_lint_findings_are_listed_by_rule_and_statement():
    evidence = dict(prepare=dict(lint_findings=1, lint=[dict(rule='adding-not-nullable-field', file='m13/migration.sql',
                                                             line=3, statement='ALTER TABLE users ADD COLUMN x int NOT NULL')]))
    line = _checklist_line(evidence, 'Migration tested in staging')
    assert line['done'] is False
    assert 'lint findings: 1 (adding-not-nullable-field at m13/migration.sql line 3: ALTER TABLE users ADD' in line['evidence']


def test_every_failed_host_is_named_with_its_error_and_this_runs_log_lines():
    failures = [dict(host='app1', task='The login answered 200 with a token', error='POST /api/auth/login answered 500',
                     log=['GET /health 200', 'Error: relation "sessions" does not exist']),
                dict(host='app2', task='The login answered 200 with a token', error='POST /api/auth/login answered 500')]
    report = run_report.build(_journal(failure=failures[0], failures=failures, rollback=dict(healthy=True)),
                              'rolled_back', '', '2026-02-18T02:01:03+00:00')
    assert 'on app1, app2: POST /api/auth/login answered 500' in run_report.summary(report)
    text = run_report.markdown(report)
    assert '- Trigger: step 4 (migrate) on app1, app2' in text
    assert '### app2: The login answered 200 with a token' in text
    assert 'Error: relation "sessions" does not exist' in text.split('### app1')[1].split('### app2')[0]


def _restored_line(replay):
    report = run_report.build(_journal(rollback=dict(healthy=True, database='snapshot: swapped back', replay=replay)),
                              'rolled_back', '', '2026-02-18T02:01:03+00:00')
    rollback = [section for section in report['checklist'] if section['section'] == 'Rollback'][0]['lines']
    return [line for line in rollback if line['item'] == 'Database restored from backup'][0], report


def test_the_restored_line_says_what_became_of_the_writes_after_the_rollback_point():
    line, report = _restored_line(dict(captured=12, replayed=9, seconds=0.4, dropped_columns=dict(users=['lastLoginAt']),
                                       quarantined=dict(refresh_tokens={'table is not in the restored schema': 2}),
                                       quarantine_report_file='/r/quarantine.jsonl'))
    assert line['done']
    assert '12 captured, 9 rows replayed, 2 quarantined (refresh_tokens: table is not in the restored schema x2' in \
        line['evidence'] and '/r/quarantine.jsonl' in line['evidence'] and 'users(lastLoginAt)' in line['evidence']
    assert '9 rows replayed' in run_report.summary(report)


def test_a_failed_replay_is_not_ticked_and_names_where_the_writes_are():
    line, report = _restored_line(dict(failed='audit service unavailable', kept_in='dijitalmenu_old_20260218'))
    assert not line['done']
    assert 'REPLAY FAILED' in line['evidence'] and 'dijitalmenu_old_20260218' in line['evidence']
    assert 'REPLAY FAILED' in run_report.summary(report)
    untouched, _report = _restored_line({})
    assert untouched['done'] and 'not captured' in untouched['evidence']
