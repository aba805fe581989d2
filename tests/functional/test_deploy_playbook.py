"""playbooks/deploy.yml end to end: success, and a fault injected at each of steps 2-8.

Each case builds its own world: an embedded PostgreSQL at migration 11 with data, two app hosts
running release 1.3.0 under their own pm2, and a client writing QR scans to app1 during the
whole run. After a failure: the play exits non-zero, both hosts run 1.3.0 and are healthy, the
data equals the data at the stop (every scan acknowledged before the stop is there), the
migration history is consistent, and the incident report exists.
"""
import datetime
import json
import os
import shutil
import stat
import sys
import threading
import time

import pytest

import apphost
import fingerprint
import paths
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from test_example_migrations import RUNBOOK_INDEXES

sys.path.insert(0, os.path.join(paths.REPO, 'examples', 'demo'))
import run_demo  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

M11 = '20260218174944_add_plan_popular_and_extra_price'
LATEST = '20260218193213_add_performance_indexes'
NEW_TABLE = 'table is not in the restored schema (made by the new release)'
STATIC_TABLES = ('users', 'restaurants', 'categories', 'products', 'orders', 'order_items', 'payments', 'stocks',
                 'tables', 'plans', 'subscriptions')


class ScanWriter(threading.Thread):
    """A customer scanning QR codes on app1 all through the run; remembers what was acknowledged."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.acked = []
        self.failed = 0
        self.running = True

    def run(self):
        while self.running:
            status, body = apphost.http('POST', self.url + '/api/scans', dict(restaurantId='rst_0000003'), timeout=2)
            if status == 201:
                self.acked.append((datetime.datetime.utcnow(), body['id']))
            else:
                self.failed += 1
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.join(timeout=10)


class OrderWriter(threading.Thread):
    """Guests ordering from the QR menu on app2 all through the run, and waiters working the orders: each
    order is created with two items and a payment, set PREPARING, loses an item, is set SERVED. Remembers
    what was acknowledged (2xx), and what may have happened without an answer (timeouts, 5xx)."""

    STEPS = ('create', 'PREPARING', 'remove', 'SERVED')
    WRITTEN = "SELECT id FROM orders WHERE id LIKE 'ord%-%'"

    def __init__(self, url, params):
        super().__init__(daemon=True)
        self.url = url
        # a shared lab holds the orders of earlier cases: they are not this writer's to account for
        conn = postgres.connect(params)
        self.earlier = set(r['id'] for r in postgres.query(conn, self.WRITTEN))
        conn.close()
        self.orders = {}  # id -> dict(status, maybe_status, items, removed, maybe_removed)
        self.unanswered_creates = 0
        self.running = True

    def run(self):
        order, step = None, 0
        while self.running:
            if step == 0:
                status, body = apphost.http('POST', self.url + '/api/orders', dict(
                    restaurantId='rst_0000003', tableNumber='12', payment='CASH', items=[
                        dict(productId='prd_0000003_00_00', quantity=2), dict(productId='prd_0000003_00_01', quantity=1)]),
                    timeout=2)
                if status == 201:
                    order = self.orders[body['id']] = dict(status='PENDING', maybe_status=set(), items=set(body['items']),
                                                           removed=set(), maybe_removed=set(), item_list=body['items'])
                    step = 1
                elif status is None or status >= 500:
                    self.unanswered_creates += 1
            else:
                order_id = next(k for k, v in self.orders.items() if v is order)
                if self.STEPS[step] == 'remove':
                    item = order['item_list'][1]
                    status, _body = apphost.http('POST', self.url + '/api/orders/remove-item',
                                                 dict(orderId=order_id, itemId=item), timeout=2)
                    (order['removed'] if status == 200 else order['maybe_removed']).add(item)
                else:
                    status, _body = apphost.http('POST', self.url + '/api/orders/status',
                                                 dict(id=order_id, status=self.STEPS[step]), timeout=2)
                    if status == 200:
                        order['status'] = self.STEPS[step]
                    else:
                        order['maybe_status'].add(self.STEPS[step])
                step = (step + 1) % len(self.STEPS) if status == 200 else 0
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.join(timeout=10)

    def assert_kept(self, params):
        """Every acknowledged order, status, item and removal is in the database; nothing else is."""
        assert self.orders, 'the order writer got no acknowledgement: the test did not write anything'
        conn = postgres.connect(params)
        rows = postgres.query(conn, """SELECT o.id, o.status::text AS status, o."totalAmount" AS total,
                                              array(SELECT i.id FROM order_items i WHERE i."orderId" = o.id) AS items,
                                              array(SELECT p.amount FROM payments p WHERE p."orderId" = o.id) AS paid
                                         FROM orders o WHERE o.id LIKE 'ord%-%'""")
        conn.close()
        found = dict((row['id'], row) for row in rows if row['id'] not in self.earlier)
        lost = sorted(set(self.orders) - set(found))
        assert not lost, '%d of %d acknowledged orders lost: %s' % (len(lost), len(self.orders), lost[:3])
        assert len(set(found) - set(self.orders)) <= self.unanswered_creates, 'orders nobody wrote'
        for order_id, want in self.orders.items():
            row = found[order_id]
            assert row['status'] in {want['status']} | want['maybe_status'], (order_id, row, want)
            kept = want['items'] - want['removed']
            assert kept - want['maybe_removed'] <= set(row['items']) <= kept, (order_id, row, want)
            assert row['paid'] == [row['total']], (order_id, row)
        return len(self.orders)


def fingerprints(params):
    # the writers' own rows (ids with a uuid) are checked by the writers
    return fingerprint.fingerprints(params, STATIC_TABLES, skip_ids_like='%-%')


def scan_ids(params):
    return set(r['id'] for r in postgres.query(postgres.connect(params), 'SELECT id FROM menu_scans'))


def history(params):
    return postgres.query(postgres.connect(params), 'SELECT migration_name, finished_at, rolled_back_at '
                                                    'FROM _prisma_migrations ORDER BY started_at')


def capture_left_in(params, database):
    """How many capture triggers and dbops schemas a database still holds."""
    return postgres.query(postgres.connect(params, database=database), '''
        SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'dbops%%') AS triggers,
               (SELECT count(*) FROM pg_namespace WHERE nspname = 'dbops') AS schemas''')[0]


def changed_backend(tmp_path, change):
    """A copy of the example backend with a change made by change(folder)."""
    folder = tmp_path / 'changed-backend'
    shutil.copytree(paths.BACKEND, str(folder), ignore=shutil.ignore_patterns('node_modules', 'logs', '.env', 'FAULT'))
    change(folder)
    return str(folder)


def new_world(folder):
    return run_demo.Demo(folder, scale=0.3, monitor_seconds=3)


def end_world(demo):
    demo.stop()
    shutil.rmtree(demo.cluster.base_dir, ignore_errors=True) if demo.cluster else None


@pytest.fixture
def world(tmp_path):
    """A world of its own, for a case that changes its inventory or its database first, or ends elsewhere."""
    demo = new_world(str(tmp_path / 'w'))
    yield demo
    end_world(demo)


def back_where_it_began(demo):
    """Whether a world is as start() leaves it: 1.3.0 at migration 11 on both hosts, answering, no run's
    lock, no unfinished migration and no change capture (an earlier rollback's quarantine may stay)."""
    if demo.cluster is None or os.path.exists(os.path.join(demo.backup_dest, '.deploy.lock')):
        return False
    for host in demo.hosts:
        status, body = apphost.http('GET', host.url + '/health')
        if status != 200 or body.get('release') != '1.3.0' or body.get('migration') != M11:
            return False
    rows = history(demo.params)
    live = [r['migration_name'] for r in rows if r['finished_at'] and not r['rolled_back_at']]
    unfinished = [r for r in rows if not r['finished_at'] and not r['rolled_back_at']]
    return live[-1] == M11 and not unfinished and capture_left_in(demo.params, demo.params['login_db'])['triggers'] == 0


@pytest.fixture(scope='module')
def shared_lab(tmp_path_factory):
    holder = dict(demo=None, folder=tmp_path_factory)
    yield holder
    if holder['demo']:
        end_world(holder['demo'])


@pytest.fixture
def lab(shared_lab):
    """The world of the cases that end where they began (rolled back, or recovered): built once per test
    file, checked before each case and built anew when a case left it elsewhere. Each case still takes its
    own 'before' (start()), so what a case counts is its own."""
    demo = shared_lab['demo']
    if demo is not None and not back_where_it_began(demo):
        end_world(demo)
        demo = None
    if demo is None:
        demo = shared_lab['demo'] = new_world(str(shared_lab['folder'].mktemp('lab') / 'w'))
        demo.prepare(quiet=True)
        demo.start_previous_release(quiet=True)
    demo.monitor_seconds = 3  # a case may have lengthened it
    return demo


def start(world, host_vars=None, plant=''):
    if world.cluster is None:  # a world of its own; a lab is running already
        world.prepare(host_vars=host_vars, quiet=True)
        if plant:  # SQL run on the prepared database before the previous release starts
            with postgres.connect(world.params).cursor() as cur:
                cur.execute(plant)
        world.start_previous_release(quiet=True)
    before = dict(static=fingerprints(world.params), scans=scan_ids(world.params))
    writer = Writers(ScanWriter(world.hosts[0].url), OrderWriter(world.hosts[1].url, world.params))
    writer.start()
    return before, writer


class Writers:
    """One writer per app host: scans on app1, orders on app2."""

    def __init__(self, scans, orders):
        self.scans, self.orders = scans, orders
        self.acked = scans.acked

    def start(self):
        self.scans.start()
        self.orders.start()

    def stop(self):
        self.scans.stop()
        self.orders.stop()


def run(world, writer, archive, release_id, extra=None):
    try:
        code, report = world.deploy(archive, release_id, extra, quiet=True)
    finally:
        writer.stop()
    return code, report


def assert_rolled_back(world, before, writer, code, report, step):
    assert code != 0, world.last_failures()
    assert report and report['outcome'] == 'rolled_back', world.last_failures()
    assert report['incident']['trigger']['step']['number'] == step, report['incident']
    assert report['incident']['rollback']['healthy'] is True
    if report['first_stop']:  # the outage lasts until the previous release answers again
        assert report['last_healthy'] >= report['incident']['rollback']['began'], report
    assert os.path.isfile(os.path.join(report['folder'], 'report.md'))
    for host in world.hosts:
        status, body = apphost.http('GET', host.url + '/health')
        assert status == 200 and body['release'] == '1.3.0' and body['migration'] == M11, (host.name, body)
    assert fingerprints(world.params) == before['static']
    in_db = scan_ids(world.params) - before['scans']
    steps = report['steps'] + [report['incident']['trigger']['step']]  # completed steps and the failed one
    restarted = next((s['started'] for s in steps if s.get('name') == 'start'), None)
    acked = set(i for _at, i in writer.acked)
    assert acked, 'the writer got no acknowledgement: the test did not write anything'
    # every acknowledged scan is kept: before the stop (in the rollback point), by the new release (replayed
    # from the captured change log, or kept by the rollback scripts) and after the old release came back
    assert acked <= in_db, '%d acknowledged scans lost: %s' % (len(acked - in_db), sorted(acked - in_db)[:5])
    assert in_db <= acked
    writer.orders.assert_kept(world.params)
    rollback = report['incident']['rollback']
    if restarted and rollback['database'].split(':')[0] != 'down_scripts':
        began = rollback['began']
        by_new_release = set(i for at, i in writer.acked if restarted <= at.isoformat() < began)
        assert by_new_release and rollback['replay']['replayed'] >= len(by_new_release), rollback.get('replay')
        # only the new release's refresh tokens (its logins) cannot go back: their table is not in the old schema
        quarantined = rollback['replay']['quarantined']
        assert set(quarantined) <= {'refresh_tokens'}, quarantined
        assert list(quarantined.get('refresh_tokens', {})) in ([], [NEW_TABLE]), quarantined
        checklist = [line for section in report['checklist'] if section['section'] == 'Rollback'
                     for line in section['lines'] if line['item'] == 'Database restored from backup']
        assert checklist[0]['done'] and ' rows replayed, ' in checklist[0]['evidence'], checklist
        if quarantined:
            with open(os.path.join(report['folder'], 'quarantine.jsonl'), encoding='utf-8') as stream:
                tokens = [json.loads(line) for line in stream]
            assert tokens and all(t['table'] == 'refresh_tokens' and t['row']['token'] for t in tokens)
            assert stat.S_IMODE(os.stat(os.path.join(report['folder'], 'quarantine.jsonl')).st_mode) == 0o600
    live = [r['migration_name'] for r in history(world.params) if r['finished_at'] and not r['rolled_back_at']]
    assert live[-1] == M11 and all(name <= M11 for name in live)
    assert not [r for r in history(world.params) if not r['finished_at'] and not r['rolled_back_at']]


def test_deploy_succeeds_with_all_eight_steps(world):
    before, writer = start(world)
    code, report = run(world, writer, *_new(world))
    assert code == 0, world.last_failures()
    assert report['outcome'] == 'deployed'
    eight = ['prepare', 'backup', 'stop', 'migrate', 'verify', 'start', 'smoke', 'monitor']
    assert [s['name'] for s in report['steps']] == eight
    assert report['downtime_seconds'] is not None and report['downtime_seconds'] < 60
    assert [m['name'] for m in report['evidence']['migrate']['applied']][-1] == LATEST
    for host in world.hosts:
        status, body = apphost.http('GET', host.url + '/health')
        assert status == 200 and body['release'] == '1.4.0' and body['migration'] == LATEST
    # the migration adds columns, so rows compare by count here; every acknowledged scan is kept
    assert dict((t, f['n']) for t, f in fingerprints(world.params).items()) == \
        dict((t, f['n']) for t, f in before['static'].items())
    assert set(i for _at, i in writer.acked) <= scan_ids(world.params)
    writer.orders.assert_kept(world.params)
    # accepted: nothing of the change capture stays, in the live database nor in the snapshot
    conn = postgres.connect(world.params)
    snapshot = postgres.query(conn, "SELECT datname FROM pg_database WHERE datname LIKE %s",
                              (world.params['login_db'] + '_pre_%',))
    for database in [world.params['login_db']] + [row['datname'] for row in snapshot]:
        assert capture_left_in(world.params, database) == dict(triggers=0, schemas=0), database
    assert len(snapshot) == 1
    lines = dict((line['item'], line['done']) for section in report['checklist'] for line in section['lines'])
    assert lines['Full database backup completed'] and lines['Smoke tests passed']
    stopped = [line for section in report['checklist'] for line in section['lines']
               if line['item'] == 'Application stopped']
    assert stopped[0]['done'] and 'first stop %s' % report['first_stop'] in stopped[0]['evidence'], stopped
    # ticked with what each host's /health answered after the start, not with nothing
    health = [line for section in report['checklist'] for line in section['lines'] if line['item'] == 'Health check passed']
    assert health[0]['done'] and health[0]['evidence'] == ', '.join(['1.4.0: %s' % LATEST] * 2), health
    assert lines['Team notified'] is False  # not automated, and not pretended
    assert lines['Rollback script prepared and tested'], 'the preflight rehearsal proves the rollback scripts'
    assert report['evidence']['prepare']['rehearsal']['rolled_back'][0] == LATEST
    # deploy_mode auto fell back to stopping the app, and says which statement decided it
    assert report['evidence']['prepare']['mode'] == 'stop'
    assert ('not online: %s/migration.sql line 2, CREATE INDEX "users_role_idx" ON "users"("role"): CREATE INDEX '
            'without CONCURRENTLY' % LATEST) in report['evidence']['prepare']['mode_reason'], report['evidence']['prepare']
    again_code, again = world.deploy(world.archives['new'], '1.4.0', quiet=True)
    assert again_code == 0 and again['outcome'] == 'nothing_pending'


def _new(world):
    return world.archives['new'], '1.4.0'


def test_deploy_mode_online_refuses_a_migration_that_is_not_online_safe_and_changes_nothing(lab):
    before, writer = start(lab)
    code, report = run(lab, writer, *_new(lab), extra=dict(deploy_mode='online'))
    assert code != 0 and report['outcome'] == 'refused', lab.last_failures()
    assert 'deploy_mode=online, but' in report['reason'] and 'CREATE INDEX "users_role_idx"' in report['reason'], report
    assert [s['name'] for s in report['steps']] == ['prepare'] and report['first_stop'] is None
    assert back_where_it_began(lab) and fingerprints(lab.params) == before['static']
    assert writer.scans.failed == 0 and writer.orders.unanswered_creates == 0


def test_step2_failing_backup_upload_changes_nothing_and_never_stops_the_app(lab):
    before, writer = start(lab)
    bad_s3 = dict(bucket='defneqr-backups', endpoint_url='http://127.0.0.1:9', region='eu-central-1',
                  access_key='x', secret_key='y')
    code, report = run(lab, writer, *_new(lab), extra=dict(deploy_backup_s3=bad_s3))
    assert_rolled_back(lab, before, writer, code, report, step=2)
    assert 'untouched' in report['incident']['rollback']['database']


def test_step3_app_that_will_not_stop(world, tmp_path):
    wrapper = tmp_path / 'pm2-that-cannot-stop'
    wrapper.write_text('#!/bin/sh\nif [ "$1" = stop ] || [ "$1" = delete ]; then echo "[PM2][ERROR] Process 0 not stopped" >&2; '
                       'exit 1; fi\nexec %s "$@"\n' % apphost.PM2)
    wrapper.chmod(0o755)
    before, writer = start(world, host_vars=dict(app2=dict(app_pm2_bin=str(wrapper))))
    code, report = run(world, writer, *_new(world))
    assert_rolled_back(world, before, writer, code, report, step=3)
    assert report['incident']['trigger']['host'] == 'app2'


def test_step4_failing_migration_with_down_scripts(lab, tmp_path):
    def break_13(folder):
        script = folder / 'prisma' / 'migrations' / '20260218190130_add_refresh_token_and_blacklist' / 'migration.sql'
        script.write_text(script.read_text() + '\n-- AddForeignKey\nALTER TABLE "token_blacklist" ADD CONSTRAINT '
                          '"token_blacklist_user_fkey" FOREIGN KEY ("id") REFERENCES "user"("id");\n')
    before, writer = start(lab)
    archive = run_demo.release_archive(str(tmp_path / 'broken-13.tar.gz'), source=changed_backend(tmp_path, break_13))
    # the preflight rehearsal meets the broken script on its scratch database: refused, nothing stopped
    code, refused = lab.deploy(archive, '1.4.0', dict(deploy_rollback_strategy='down_scripts'), quiet=True)
    assert code != 0 and refused['outcome'] == 'refused', lab.last_failures()
    assert 'relation "user" does not exist' in lab.last_output and refused['first_stop'] is None
    # without the rehearsal it fails in step 4, where down_scripts undo what applied
    code, report = run(lab, writer, archive, '1.4.0', extra=dict(deploy_rollback_strategy='down_scripts',
                                                                 deploy_rehearse=False))
    assert_rolled_back(lab, before, writer, code, report, step=4)
    assert 'relation "user" does not exist' in report['incident']['trigger']['error']
    assert 'rolled back 20260218185216_add_password_reset_and_security' in report['incident']['rollback']['database']


def test_step5_missing_index_after_migration_with_restore(lab):
    before, writer = start(lab)
    code, report = run(lab, writer, *_new(lab), extra=dict(
        deploy_rollback_strategy='restore', deploy_expected_indexes=RUNBOOK_INDEXES + ['orders_couponId_idx']))
    assert_rolled_back(lab, before, writer, code, report, step=5)
    assert 'missing: orders_couponId_idx' in report['incident']['trigger']['error']


def test_step6_app_that_will_not_start_on_one_host(world):
    before, writer = start(world, host_vars=dict(app2=dict(app_env_extra=dict(DEFNEQR_FAULT='crash@1.4.0'))))
    code, report = run(world, writer, *_new(world))
    assert_rolled_back(world, before, writer, code, report, step=6)
    assert report['incident']['trigger']['host'] == 'app2'
    # told as a crash as soon as pm2 shows one, not as a /health timeout after app_service_health_timeout
    assert 'it crashes' in report['incident']['trigger']['error'], report['incident']['trigger']


def test_step7_failing_smoke_test(lab):
    before, writer = start(lab)
    # the restore strategy: the dump taken after the stop, restored beside the live database, then the replay
    code, report = run(lab, writer, lab.archives['broken'], '1.4.0-broken',
                       extra=dict(deploy_rollback_strategy='restore'))
    assert_rolled_back(lab, before, writer, code, report, step=7)
    assert report['incident']['rollback']['database'].startswith('restore: swapped back')
    # both hosts run the broken release: both are named, each with the log lines its app wrote in this run
    failed = report['incident']['failures']
    assert sorted(f['host'] for f in failed) == ['app1', 'app2'], failed
    assert all(isinstance(f.get('log'), list) for f in failed) and any(f['log'] for f in failed), failed
    with open(os.path.join(report['folder'], 'report.md'), encoding='utf-8') as stream:
        text = stream.read()
    assert '### app1: ' in text and '### app2: ' in text and 'on app1, app2' in text


def test_a_replay_that_fails_leaves_the_database_as_restored_and_the_play_says_so(world):
    """A replay that fails as a whole must not keep the app down nor pretend: the old release comes back on
    the database exactly as restored, and the report says REPLAY FAILED and names the database holding the
    writes. The failure is planted: a deferred trigger that refuses writes made with the capture off, so
    the replay's commit fails (as a full disk or a lost connection would at that point)."""
    before, writer = start(world, plant='''
        CREATE FUNCTION refuse_uncaptured() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF current_setting('dbops.capture', true) = 'off' THEN
            RAISE EXCEPTION 'planted: no writes with the capture off';
          END IF;
          RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER refuse_uncaptured AFTER INSERT ON menu_scans DEFERRABLE INITIALLY DEFERRED
          FOR EACH ROW EXECUTE FUNCTION refuse_uncaptured()''')
    code, report = run(world, writer, world.archives['broken'], '1.4.0-broken')
    assert code != 0 and report['outcome'] == 'rolled_back', world.last_failures()
    rollback = report['incident']['rollback']
    assert rollback['healthy'] is True and rollback['database'].startswith('snapshot: swapped back'), rollback
    replay = rollback['replay']
    assert 'planted: no writes with the capture off' in replay['failed'], replay
    for host in world.hosts:
        status, body = apphost.http('GET', host.url + '/health')
        assert status == 200 and body['release'] == '1.3.0' and body['migration'] == M11, (host.name, body)
    assert fingerprints(world.params) == before['static']
    steps = report['steps'] + [report['incident']['trigger']['step']]
    restarted = next(s['started'] for s in steps if s.get('name') == 'start')
    # every acknowledged scan is accounted for: in the live database (as restored, then the old release's),
    # or in the replaced database's change log (the new release's), never in both
    in_db = scan_ids(world.params)
    kept = set(row['id'] for row in postgres.query(
        postgres.connect(world.params, database=replay['kept_in']),
        "SELECT new_row->>'id' AS id FROM dbops.change_log WHERE tbl = 'menu_scans' AND op = 'I'"))
    acked = dict((i, at.isoformat()) for at, i in writer.acked)
    by_new_release = set(acked) & kept
    assert by_new_release, 'the new release took no scan: the test proves nothing'
    assert set(acked) <= in_db | kept and not in_db & kept
    assert all(acked[i] >= restarted for i in by_new_release)
    assert all(i in in_db for i, at in acked.items() if at < restarted)
    checklist = [line for section in report['checklist'] if section['section'] == 'Rollback'
                 for line in section['lines'] if line['item'] == 'Database restored from backup']
    assert not checklist[0]['done'] and 'REPLAY FAILED' in checklist[0]['evidence'], checklist
    with open(os.path.join(report['folder'], 'report.md'), encoding='utf-8') as stream:
        assert 'REPLAY FAILED' in stream.read()


def test_step8_probe_slowdown_during_monitoring(lab, tmp_path):
    def drop_scan_index(folder):
        migration = folder / 'prisma' / 'migrations' / '20260301000000_drop_scan_index'
        migration.mkdir()
        (migration / 'migration.sql').write_text('-- DropIndex\nDROP INDEX "menu_scans_restaurantId_scannedAt_idx";\n')
        (folder / 'migrations' / 'rollback' / '20260301000000_rollback_drop_scan_index.sql').write_text(
            'CREATE INDEX "menu_scans_restaurantId_scannedAt_idx" ON "menu_scans"("restaurantId", "scannedAt");\n')
    # a subquery per row (a count cannot become a hash join): an index lookup each before, a scan each after,
    # so the query is slower by far more than the probe's 5 ms noise floor, not only by a ratio
    probes = [dict(name='scans_of_one_restaurant', runs=7, query=(
        'SELECT count(*) FROM menu_scans a WHERE a."restaurantId" = \'rst_0000007\' AND (SELECT count(*) FROM '
        'menu_scans b WHERE b."restaurantId" = a."restaurantId" AND b."scannedAt" = a."scannedAt") > 0'))]
    before, writer = start(lab)
    slow = changed_backend(tmp_path, drop_scan_index)
    archive = run_demo.release_archive(str(tmp_path / 'slow.tar.gz'), source=slow)
    code, report = run(lab, writer, archive, '1.4.0', extra=dict(deploy_probes=probes,
                                                                 deploy_rollback_strategy='snapshot'))
    assert_rolled_back(lab, before, writer, code, report, step=8)
    assert 'slower than baseline: scans_of_one_restaurant' in report['incident']['trigger']['error']


def test_second_deploy_is_refused_while_one_runs(world):
    world.prepare(quiet=True)
    world.start_previous_release(quiet=True)
    lock = os.path.join(world.root, 'backups', '.deploy.lock')
    os.makedirs(lock)
    with open(os.path.join(lock, 'run'), 'w', encoding='utf-8') as stream:
        stream.write('deploy-20260218T020000Z started 2026-02-18T02:00:00 from ops\n')
    code, report = world.deploy(*_new(world), quiet=True)
    assert code != 0 and report is None
    assert 'Another run holds' in world.last_output and 'deploy-20260218T020000Z' in world.last_output
    assert 'defneqr.dbops.recover' in world.last_output
    for host in world.hosts:
        assert apphost.http('GET', host.url + '/health')[1]['release'] == '1.3.0'


@pytest.mark.parametrize('strategy', ['down_scripts', 'snapshot', 'restore'])
def test_postgresql_restarted_during_a_migration_rolls_back(lab, tmp_path, strategy):
    """The server restarts in the middle of a slow migration: its transaction is gone, so the history must
    not keep an unfinished row, and no rollback may refuse on it (down_scripts used to stop at P3009 with
    every host down): each strategy undoes migrations 12-14 and brings 1.3.0 back."""
    before, writer = start(lab)
    process = lab.deploy_in_background(run_demo.slow_release(str(tmp_path / 'slow.tar.gz')), '1.4.0',
                                       dict(deploy_rollback_strategy=strategy))
    try:
        state = lab.wait_for_step(process, 4, lambda journal: bool(journal.get('rollback_point')))
        watcher = postgres.connect(lab.params)
        for _attempt in range(600):  # until the slow migration really runs
            if postgres.query(watcher, "SELECT 1 AS x FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(6)%%'"):
                break
            time.sleep(0.1)
        else:
            raise AssertionError('the slow migration never started')
        watcher.close()
        lab.cluster.pause()
        lab.cluster.resume()
        assert process.wait(timeout=300) != 0
    finally:
        writer.stop()
        if process.poll() is None:
            lab.kill(process)
    with open(os.path.join(lab.reports, state['run_id'], 'report.json'), encoding='utf-8') as stream:
        report = json.load(stream)
    assert report['outcome'] == 'rolled_back', report.get('alarm')
    assert 'connection to the server was lost' in report['incident']['trigger']['error']
    undone = report['incident']['rollback']['database']
    if strategy == 'down_scripts':
        assert undone.startswith('down_scripts: rolled back ') and '20260218185216_add_password_reset_and_security' in undone
    else:
        assert undone.startswith(strategy + ': swapped back')
        assert fingerprints(lab.params) == before['static']
    for host in lab.hosts:
        status, body = apphost.http('GET', host.url + '/health')
        assert status == 200 and body['release'] == '1.3.0' and body['migration'] == M11, (host.name, body)
    rows = history(lab.params)
    assert not [r for r in rows if not r['finished_at'] and not r['rolled_back_at']], rows
    assert [r['migration_name'] for r in rows if r['finished_at'] and not r['rolled_back_at']][-1] == M11
    assert not os.path.exists(os.path.join(lab.root, 'backups', '.deploy.lock'))
    assert before['scans'] <= scan_ids(lab.params)
