"""deploy_mode auto with an online-safe release (1.3.1: a nullable column, an index built concurrently): the
migrations run with the application serving, the hosts switch one at a time with pm2 reload (cluster mode), and
nobody sees a failed request; a failure on the second host brings both back without an outage."""
import threading
import time

import apphost
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from test_deploy_playbook import M11, fingerprints, history, run, run_demo, scan_ids, start, world  # noqa: F401  pylint: disable=unused-import

CLUSTER = dict(app_pm2_env=dict(APP_EXEC_MODE='cluster'))
ONLINE = [name for name, _script, _rollback in run_demo.ONLINE_MIGRATIONS]


class Prober(threading.Thread):
    """GET /health on every app host every 100 ms all through the run; remembers each answer."""

    def __init__(self, hosts):
        super().__init__(daemon=True)
        self.hosts = hosts
        self.answers = []  # (time, {host: status})
        self.running = True

    def run(self):
        while self.running:
            self.answers.append((time.time(), dict(
                (host.name, apphost.http('GET', host.url + '/health', timeout=2)[0]) for host in self.hosts)))
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.join(timeout=10)

    def failed(self, name):
        return [at for at, statuses in self.answers if statuses[name] != 200]


def deploy_online(world, tmp_path, host_vars):
    before, writer = start(world, host_vars=host_vars)
    prober = Prober(world.hosts)
    prober.start()
    try:
        code, report = run(world, writer, run_demo.online_release(str(tmp_path / 'backend-1.3.1.tar.gz')), '1.3.1',
                           extra=dict(deploy_expected_indexes=['menu_scans_source_idx']))
    finally:
        prober.stop()
    assert len(prober.answers) > 50, 'the prober hardly ran: it proves nothing'
    return before, writer, prober, code, report


def test_an_online_safe_release_deploys_with_the_app_serving_and_no_failed_request(world, tmp_path):
    before, writer, prober, code, report = deploy_online(world, tmp_path, dict(app1=CLUSTER, app2=CLUSTER))
    assert code == 0 and report['outcome'] == 'deployed', world.last_failures()
    prepare = report['evidence']['prepare']
    assert prepare['mode'] == 'online', prepare['mode_reason']
    assert report['first_stop'] is None and report['host_gaps'] == {}, report
    assert report['evidence']['start']['rolling'] == dict(app1='reloaded with no gap', app2='reloaded with no gap')
    lines = dict((line['item'], line) for section in report['checklist'] for line in section['lines'])
    assert not lines['Application stopped']['done'] and 'not stopped, an online deploy' in lines['Application stopped']['evidence']
    # nobody saw the deploy: every probe on both hosts answered 200, every write was acknowledged
    assert prober.failed('app1') == [] and prober.failed('app2') == []
    assert writer.scans.failed == 0 and writer.orders.unanswered_creates == 0
    for host in world.hosts:
        status, body = apphost.http('GET', host.url + '/health')
        assert status == 200 and body['release'] == '1.3.1' and body['migration'] == ONLINE[-1], (host.name, body)
    live = [r['migration_name'] for r in history(world.params) if r['finished_at'] and not r['rolled_back_at']]
    assert live[-3:] == [M11] + ONLINE
    conn = postgres.connect(world.params)
    assert postgres.query(conn, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'menu_scans_source_idx'::regclass")[0][
        'indisvalid'] is True
    assert set(i for _at, i in writer.acked) <= scan_ids(world.params)
    assert dict((t, f['n']) for t, f in fingerprints(world.params).items()) == \
        dict((t, f['n']) for t, f in before['static'].items())
    writer.orders.assert_kept(world.params)


def test_a_failure_in_the_second_hosts_switch_rolls_both_back_with_no_outage(world, tmp_path):
    broken_app2 = dict(CLUSTER, app_env_extra=dict(DEFNEQR_FAULT='crash@1.3.1'))
    before, writer, prober, code, report = deploy_online(world, tmp_path, dict(app1=CLUSTER, app2=broken_app2))
    assert code != 0 and report['outcome'] == 'rolled_back', world.last_failures()
    trigger = report['incident']['trigger']
    assert trigger['step']['number'] == 6 and trigger['host'] == 'app2', trigger
    assert 'it crashes' in trigger['error'], trigger
    rollback = report['incident']['rollback']
    assert rollback['online'] is True and rollback['stopped'] == [] and rollback['healthy'] is True
    assert rollback['database'].startswith('down_scripts: rolled back'), rollback
    for host in world.hosts:
        status, body = apphost.http('GET', host.url + '/health')
        assert status == 200 and body['release'] == '1.3.0' and body['migration'] == M11, (host.name, body)
    # app1 switched, then went back, each time with no gap; the service as a whole never stopped answering
    assert prober.failed('app1') == []
    assert not [at for at, statuses in prober.answers if 200 not in statuses.values()]
    live = [r['migration_name'] for r in history(world.params) if r['finished_at'] and not r['rolled_back_at']]
    assert live[-1] == M11
    conn = postgres.connect(world.params)
    assert not postgres.query(conn, "SELECT 1 FROM information_schema.columns WHERE table_name = 'menu_scans' "
                                    "AND column_name = 'source'")
    # every acknowledged write is kept: the rollback scripts only dropped what the old release never used
    acked = set(i for _at, i in writer.acked)
    assert acked and acked <= scan_ids(world.params)
    assert fingerprints(world.params) == before['static']
    writer.orders.assert_kept(world.params)
