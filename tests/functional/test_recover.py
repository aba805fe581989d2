"""A deploy that survives its controller: the run journal, recover.yml, honest check mode and alarms.

Each case builds the world of test_deploy_playbook (an embedded PostgreSQL at migration 11, app1 and
app2 on release 1.3.0 under pm2, a client writing QR scans to app1) and then does what operators
meet: ansible-playbook killed with SIGKILL in the middle of a step, a dry run, a report folder that
cannot be written, a rollback that cannot start the previous release.
"""
import json
import os
import re
import subprocess
import sys
import time

import pytest

import apphost
import paths
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from test_deploy_playbook import M11, ScanWriter, capture_left_in, fingerprints, history, lab, scan_ids, shared_lab, start, world  # noqa: F401  pylint: disable=unused-import

sys.path.insert(0, os.path.join(paths.REPO, 'examples', 'demo'))
import run_demo  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

RECOVER = os.path.join(paths.REPO, 'playbooks', 'recover.yml')
DEPLOY = os.path.join(paths.REPO, 'playbooks', 'deploy.yml')
ROLLBACK = os.path.join(paths.REPO, 'playbooks', 'rollback.yml')
END_CAPTURE = os.path.join(paths.REPO, 'playbooks', 'end_capture.yml')


def lock_dir(world):
    return os.path.join(world.root, 'backups', '.deploy.lock')


def assert_back_on_previous_release(world, before):
    for host in world.hosts:
        status, body = apphost.http('GET', host.url + '/health')
        assert status == 200 and body['release'] == '1.3.0' and body['migration'] == M11, (host.name, body)
    assert fingerprints(world.params) == before['static']
    assert before['scans'] <= scan_ids(world.params)
    rows = history(world.params)
    live = [r['migration_name'] for r in rows if r['finished_at'] and not r['rolled_back_at']]
    assert live[-1] == M11 and all(name <= M11 for name in live)
    assert not [r for r in rows if not r['finished_at'] and not r['rolled_back_at']], rows
    assert not os.path.exists(lock_dir(world)), 'the lock outlived the recovery'


def capture_log_present(world):
    conn = postgres.connect(world.params)
    try:
        return postgres.query(conn, "SELECT to_regclass('dbops.change_log') IS NOT NULL AS present")[0]['present']
    finally:
        conn.close()


def recovered_report(world, run_id):
    with open(os.path.join(world.reports, run_id, 'report.json'), encoding='utf-8') as stream:
        return json.load(stream)


def killed_in_step(world, tmp_path, step):
    """A deploy whose ansible-playbook is SIGKILLed in the middle of `step`; returns its journal."""
    # step 4: a migration still sleeping when recover.yml takes the run over. The module outlives the kill (Ansible's
    # workers run in a session of their own) and must then write nothing into the journal recover.yml owns.
    archive = run_demo.slow_release(str(tmp_path / 'slow.tar.gz'), seconds=20) if step == 4 else world.archives['new']
    if step == 8:
        world.monitor_seconds = 30
    process = world.deploy_in_background(archive, '1.4.0')
    try:
        # step 4: the rollback point is recorded and the slow migration is running
        condition = (lambda j: bool(j.get('rollback_point'))) if step == 4 else (lambda j: True)
        state = world.wait_for_step(process, step, condition)
        if step == 4:
            time.sleep(2)
        if step == 8:
            # a recover while the deploy is really running refuses and changes nothing
            code = world.playbook(RECOVER, quiet=True)
            assert code != 0 and 'is still in progress' in world.last_output, world.last_failures()
            assert world.journal()['run_id'] == state['run_id'] and process.poll() is None
        world.kill(process)
    finally:
        if process.poll() is None:
            world.kill(process)
    left = world.journal()
    assert left and left['status'] == 'running', 'the journal must survive the kill'
    return left


@pytest.mark.parametrize('step', [3, 4, 6, 8])
def test_sigkill_in_a_step_then_recover_brings_every_host_back(lab, tmp_path, step):
    before, writer = start(lab)
    left = killed_in_step(lab, tmp_path, step)
    # a deploy started before recover.yml refuses and names it
    code, _report = lab.deploy(lab.archives['new'], '1.4.0', quiet=True)
    assert code != 0 and 'defneqr.dbops.recover' in lab.last_output and left['run_id'] in lab.last_output
    clock = time.time()
    code = lab.playbook(RECOVER, quiet=True)
    recover_seconds = time.time() - clock
    writer.stop()
    assert code == 0, lab.last_failures()
    assert_back_on_previous_release(lab, before)
    report = recovered_report(lab, left['run_id'])
    assert report['outcome'] == 'rolled_back' and report['recovered']['action'] == 'rollback'
    assert report['incident']['trigger']['step']['number'] == step
    assert 'did not end' in report['incident']['trigger']['error']
    assert [s['status'] for s in report['steps']][-1] == 'interrupted', report['steps']
    assert recover_seconds < 120, recover_seconds  # generous on 2 cores; make bench measures it
    if step == 4:  # and the next deploy works (once: each costs a whole deploy)
        code, report = lab.deploy(lab.archives['new'], '1.4.0', quiet=True)
        assert code == 0 and report['outcome'] == 'deployed', lab.last_failures()


def test_recover_that_accepts_a_run_ends_its_capture_in_the_live_database_and_its_snapshot(world, tmp_path):
    """Killed in step 8 and accepted by a person (recover_action=accept): recover finishes the run as its
    deploy would have, so no trigger or change log stays behind, neither live nor in the snapshot."""
    _before, writer = start(world)
    left = killed_in_step(world, tmp_path, 8)
    code = world.playbook(RECOVER, '-e', 'recover_action=accept', quiet=True)
    writer.stop()
    assert code == 0, world.last_failures()
    report = recovered_report(world, left['run_id'])
    assert report['outcome'] == 'deployed' and report['recovered']['action'] == 'accept', report.get('recovered')
    for host in world.hosts:
        assert apphost.http('GET', host.url + '/health')[1]['release'] == '1.4.0'
    assert set(i for _at, i in writer.acked) <= scan_ids(world.params)
    snapshot = left['rollback_point']['database']
    assert snapshot, left['rollback_point']
    for database in (world.params['login_db'], snapshot):
        assert capture_left_in(world.params, database) == dict(triggers=0, schemas=0), database
    assert not os.path.exists(lock_dir(world))


def test_check_mode_changes_nothing_and_a_report_that_cannot_be_written_does_not_undo_a_deploy(world, tmp_path):
    world.prepare(quiet=True)
    world.start_previous_release(quiet=True)
    before = dict(static=fingerprints(world.params), history=history(world.params), scans=scan_ids(world.params))
    code = world.playbook(DEPLOY, '--check', '-e', json.dumps(dict(
        deploy_release_id='1.4.0', deploy_release_archive=world.archives['new'], deploy_run_id='dry-run-1')),
        quiet=True)
    assert code == 0, world.last_failures()
    assert 'ROLLBACK' not in world.last_output
    assert fingerprints(world.params) == before['static'] and history(world.params) == before['history']
    assert not os.path.exists(lock_dir(world))
    for host in world.hosts:
        assert apphost.http('GET', host.url + '/health')[1]['release'] == '1.3.0'
        assert not os.path.exists(os.path.join(host.base_dir, 'releases', '1.4.0'))
    dry = recovered_report(world, 'dry-run-1')
    assert dry['outcome'] == 'would_deploy'
    assert any('20260218193213_add_performance_indexes' in line for line in dry['plan'])
    assert any(line.startswith('3 stop') and 'app1, app2' in line for line in dry['plan'])

    blocked = tmp_path / 'not-a-folder'
    blocked.write_text('a file where the report folder should be\n')
    code = world.playbook(DEPLOY, '-vvv', '-e', json.dumps(dict(
        deploy_release_id='1.4.0', deploy_release_archive=world.archives['new'], deploy_monitor_seconds=2,
        deploy_expected_indexes=run_demo.runbook_indexes(), deploy_report_dir=str(blocked / 'reports'),
        deploy_run_id='deploy-unreported', deploy_capture_until='kept')), quiet=True)
    assert code == 0, world.last_failures()
    # no secret at any verbosity: the smoke user's bearer token and password, the database password
    assert not re.search(r'eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.', world.last_output), 'a JWT reached the output'
    for secret in (world.params['login_password'], '"test123"', 'demo-jwt-secret'):
        assert secret not in world.last_output, 'a secret reached the -vvv output'
    assert 'deployed, but its report could not be written' in world.last_output
    assert str(blocked / 'reports' / 'deploy-unreported') in world.last_output
    assert not os.path.exists(lock_dir(world))
    with open(os.path.join(world.root, 'backups', '.deploy.runs', 'deploy-unreported.json'), encoding='utf-8') as f:
        assert json.load(f)['outcome'] == 'deployed'
    for host in world.hosts:
        assert apphost.http('GET', host.url + '/health')[1]['release'] == '1.4.0'

    # deploy_capture_until=kept: the capture stays on after acceptance (end_capture --check changes nothing)
    code = world.playbook(END_CAPTURE, '--check', quiet=True)
    assert code == 0 and capture_log_present(world), world.last_failures()
    writer = ScanWriter(world.hosts[0].url)  # customers of the accepted release 1.4.0
    writer.start()
    time.sleep(3)
    writer.stop()
    assert writer.acked, 'the writer got no acknowledgement'
    # a person's rollback.yml with no variables rolls back the last deploy from its journal
    code = world.playbook(ROLLBACK, '--check', quiet=True)
    assert code == 0 and 'Would roll back deploy-unreported' in world.last_output, world.last_failures()
    assert 'then replay the writes captured since its rollback point' in world.last_output
    assert apphost.http('GET', world.hosts[0].url + '/health')[1]['release'] == '1.4.0'
    code = world.playbook(ROLLBACK, '-e', 'rollback_run_id=rollback-by-hand', quiet=True)
    assert code == 0, world.last_failures()
    assert_back_on_previous_release(world, before)
    by_hand = recovered_report(world, 'rollback-by-hand')
    assert by_hand['kind'] == 'rollback' and 'swapped back' in by_hand['incident']['rollback']['database']
    # every scan the accepted release acknowledged is kept by the later rollback, and the capture is gone
    assert set(i for _at, i in writer.acked) <= scan_ids(world.params)
    assert by_hand['incident']['rollback']['replay']['replayed'] >= len(writer.acked)
    assert not capture_log_present(world)
    code = world.playbook(END_CAPTURE, quiet=True)
    assert code == 0 and 'No change capture was on' in world.last_output, world.last_failures()
    with open(os.path.join(world.reports, 'rollback-by-hand', 'report.md'), encoding='utf-8') as stream:
        assert '- Trigger: decided by a person' in stream.read()
    code = world.playbook(ROLLBACK, quiet=True)
    assert code != 0 and 'ended rolled_back' in world.last_output and 'nothing of it to roll back' in world.last_output


def test_failed_rollback_keeps_the_lock_and_recover_finishes_it(lab):
    before, writer = start(lab)
    fault = os.path.join(lab.hosts[1].base_dir, 'releases', '1.3.0', 'FAULT')
    with open(fault, 'w', encoding='utf-8') as stream:
        stream.write('crash\n')  # read at start only: the running 1.3.0 is unaffected, a restart of it crashes
    code, report = lab.deploy(lab.archives['broken'], '1.4.0-broken', dict(app_service_health_timeout=5),
                              quiet=True)
    assert code != 0 and report['outcome'] == 'rollback_failed', lab.last_failures()
    assert 'ROLLBACK FAILED: app2 not answering /health' in lab.last_output
    assert 'defneqr.dbops.recover' in report['alarm']
    left = lab.journal()
    assert left and left['status'] == 'rollback_failed' and left['rollback']['database_done'] is True
    os.unlink(fault)
    code = lab.playbook(RECOVER, quiet=True)
    writer.stop()
    assert code == 0, lab.last_failures()
    assert_back_on_previous_release(lab, before)
    final = recovered_report(lab, left['run_id'])
    assert final['outcome'] == 'rolled_back' and 'swapped back' in final['incident']['rollback']['database']


def test_a_backend_under_another_pm2_home_is_named_and_no_alarm_is_false(world, tmp_path):
    """app2's backend runs under a pm2 daemon the inventory does not name (as `pm2 start ecosystem.config.js`
    in a shell leaves it): the stop fails naming that daemon, no second backend is started on its port, and
    the alarm says the service answers instead of "ROLLBACK FAILED"."""
    before, writer = start(world)
    with open(world.inventory, encoding='utf-8') as stream:
        inventory = json.load(stream)
    real_home = inventory['all']['children']['app']['hosts']['app2']['app_pm2_home']
    other_home = str(tmp_path / 'other-pm2-home')
    inventory['all']['children']['app']['hosts']['app2']['app_pm2_home'] = other_home
    run_demo.write_private(world.inventory, json.dumps(inventory))
    try:
        code, report = world.deploy(world.archives['new'], '1.4.0', dict(app_service_stop_timeout=10), quiet=True)
    finally:
        # the role's pm2 commands started an empty daemon under the home the inventory named; it outlived the test
        subprocess.run([apphost.PM2, 'kill'], env=dict(os.environ, PM2_HOME=other_home), capture_output=True, check=False)
    writer.stop()
    assert code != 0 and report['outcome'] == 'rollback_failed', world.last_failures()
    trigger = report['incident']['trigger']
    assert trigger['host'] == 'app2' and trigger['step']['number'] == 3
    assert 'PM2_HOME=%s' % real_home in trigger['error'] and 'process ' in trigger['error']
    assert 'ROLLBACK FAILED' not in world.last_output
    assert 'every app host answers /health now' in report['alarm']
    for host in world.hosts:
        status, body = apphost.http('GET', host.url + '/health')
        assert status == 200 and body['release'] == '1.3.0'
    assert fingerprints(world.params) == before['static']
