"""`make bench`: the collection against the runbook's own commands, measured side by side in one run.

Every measurement: one warm-up, then N runs; the median and the spread (min-max) are reported,
with the exact commands. Results: bench/results/<date>.json, a Markdown table (printed and
written next to it) and a PNG chart of the ratios. QUICK=1 measures scale 1 only.
"""
import datetime
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'harness'))
sys.path.insert(0, os.path.join(REPO, 'examples', 'defneqr'))
sys.path.insert(0, os.path.join(REPO, 'examples', 'demo'))
import apphost  # noqa: E402  pylint: disable=wrong-import-position
import loopxfs  # noqa: E402  pylint: disable=wrong-import-position
import paths  # noqa: E402  pylint: disable=wrong-import-position
import pgcluster  # noqa: E402  pylint: disable=wrong-import-position
from modrun import run_module  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, paths.collections_root())
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations  # noqa: E402  pylint: disable=wrong-import-position
import generate_data  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order
import run_demo  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

RUNS = int(os.environ.get('BENCH_RUNS', 3))


def timed(function, runs=RUNS):
    """(median seconds, min, max, last result) after one warm-up."""
    function()
    times, result = [], None
    for _run in range(runs):
        clock = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - clock)
    return dict(median=statistics.median(times), min=min(times), max=max(times), runs=runs), result


PEER_VENV = os.path.join(REPO, 'build', 'bench-peer-venv')
PEER_PACKAGES = ['ansible>=10,<12', 'psycopg2-binary']


def peer_ansible():
    """A venv with the `ansible` package (community.postgresql inside), made once under build/."""
    if not os.path.exists(os.path.join(PEER_VENV, '.installed')):
        subprocess.run([sys.executable, '-m', 'venv', PEER_VENV], check=True)
        subprocess.run([os.path.join(PEER_VENV, 'bin', 'pip'), 'install', '--quiet', '--disable-pip-version-check']
                       + PEER_PACKAGES, check=True)
        open(os.path.join(PEER_VENV, '.installed'), 'w', encoding='utf-8').close()
    return PEER_VENV


class HealthProbe:
    """GET /health every 100 ms in a thread; remembers (time, healthy) for every answer."""

    def __init__(self, url):
        self.url = url
        self.samples = []
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            status, _body = apphost.http('GET', self.url, timeout=1)
            self.samples.append((time.perf_counter(), status == 200))
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.thread.join()

    def recovered_after(self, moment):
        """The first healthy answer after this probe's last failure (or after `moment` if it never failed)."""
        last_failure = max([when for when, healthy in self.samples if not healthy] or [moment])
        return min(when for when, healthy in self.samples if healthy and when > last_failure)

    @staticmethod
    def outage(probes):
        """Seconds from the first failed answer on any host to the last host's first healthy answer after it."""
        failures = [when for probe in probes for when, healthy in probe.samples if not healthy]
        if not failures:
            return 0.0
        return round(max(probe.recovered_after(min(failures)) for probe in probes) - min(failures), 2)


class Bench:
    def __init__(self, scales):
        self.scales = scales
        self.rows = []
        self.work = tempfile.mkdtemp(prefix='dbops-bench-')
        self.cluster = pgcluster.Cluster(name='bench', durable=True).start()
        self.bin = self.cluster.bin_dir
        self.env = dict(os.environ, PGHOST='127.0.0.1', PGPORT=str(self.cluster.port), PGUSER='postgres',
                        PGPASSWORD=self.cluster.superuser_password)
        self.params = dict(login_host='127.0.0.1', login_port=self.cluster.port, login_user='postgres',
                           login_password=self.cluster.superuser_password, ssl_mode='disable', pg_bin_dir=self.bin)

    def sh(self, command, check=True):
        done = subprocess.run(['bash', '-c', command], env=self.env, check=False, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        if check and done.returncode != 0:
            raise RuntimeError('%s failed: %s' % (command, done.stderr[-500:]))
        return done

    def record(self, group, scale, name, stats, command, **extra):
        row = dict(group=group, scale=scale, name=name, command=command, **stats)
        row.update(extra)
        self.rows.append(row)
        print('  %-10s scale %-5s %-48s %8.3fs  [%0.3f-%0.3f]%s' % (
            group, scale, name, stats['median'], stats['min'], stats['max'],
            ''.join(' %s=%s' % item for item in extra.items())))

    def database(self, scale, target=None, cluster=None, params=None):
        name = 'bench_s%s' % str(scale).replace('.', '_')
        cluster = cluster or self.cluster
        cluster.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
        cluster.psql('CREATE DATABASE %s' % name)
        params = dict(params or self.params, login_db=name)
        prisma_migrations.deploy(postgres.connect(params), prisma_migrations.Project(paths.BACKEND), target=target)
        generate_data.load(postgres.connect(params, autocommit=False), scale, log=lambda *a: None)
        return name

    # -- measurements --------------------------------------------------------------------------
    def backups(self, scale, db):
        out = os.path.join(self.work, 'runbook.dump')
        piped = os.path.join(self.work, 'piped.dump.zst')
        runbook = 'pg_dump -d %s -F c -b -Z 9 -f %s' % (db, out)
        stats, _result = timed(lambda: self.sh('%s/%s' % (self.bin, runbook)))
        size_runbook = os.path.getsize(out)
        self.record('backup', scale, "runbook pg_dump -F c -b -Z 9", stats, runbook, bytes=size_runbook)
        limit = 'pg_dump -d %s -F c -Z 0 > /dev/null' % db
        stats_limit, _result = timed(lambda: self.sh('%s/%s' % (self.bin, limit)))
        self.record('backup', scale, 'read-path limit pg_dump -F c -Z 0 > /dev/null', stats_limit, limit)
        raw = 'pg_dump -d %s -F c -Z 0 | zstd -q -5 -T0 > file' % db
        stats_raw, _result = timed(lambda: self.sh('set -o pipefail; %s/pg_dump -d %s -F c -Z 0 | zstd -q -5 -T0 > %s'
                                                   % (self.bin, db, piped)))
        self.record('backup', scale, 'the same pipe by hand (pg_backup\'s command)', stats_raw, raw)
        dest = os.path.join(self.work, 'backups')

        def module():
            shutil.rmtree(dest, ignore_errors=True)
            return run_module('pg_backup', dict(self.params, database=db, dest=dest, verify='none'))
        stats_mod, result = timed(module)
        size = sum(f['size'] for f in result['backup']['files'])
        self.record('backup', scale, 'pg_backup (compression auto, verify none)', stats_mod, 'defneqr.dbops.pg_backup',
                    bytes=size, speedup_vs_runbook=round(stats['median'] / stats_mod['median'], 2),
                    size_vs_runbook=round(size / float(size_runbook), 3),
                    overhead_vs_raw=round(stats_mod['median'] / stats_raw['median'] - 1, 3),
                    peak_rss_mb=round(result['_peak_rss_kb'] / 1024.0, 1),
                    tree_peak_rss_mb=round(result['_tree_peak_rss_kb'] / 1024.0, 1))
        self.peer_backup(scale, db, stats['median'])
        return out

    def fixed_cost(self):
        """What pg_backup adds to its own pipe when there is almost nothing to dump (the example schema, no rows):
        module start, version check, exported snapshot, manifest, fsync."""
        db = 'bench_schema_only'
        self.cluster.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % db)
        self.cluster.psql('CREATE DATABASE %s' % db)
        prisma_migrations.deploy(postgres.connect(dict(self.params, login_db=db)),
                                 prisma_migrations.Project(paths.BACKEND))
        runs = max(RUNS, 7)
        raw = 'set -o pipefail; %s/pg_dump -d %s -F c -Z 0 | zstd -q -5 -T0 > %s' % (
            self.bin, db, os.path.join(self.work, 'schema.dump.zst'))
        stats_raw, _result = timed(lambda: self.sh(raw), runs=runs)
        dest = os.path.join(self.work, 'schema-backups')

        def module():
            shutil.rmtree(dest, ignore_errors=True)
            return run_module('pg_backup', dict(self.params, database=db, dest=dest, verify='none'))
        stats_mod, _result = timed(module, runs=runs)
        self.record('backup', 0, 'pg_backup fixed cost (the schema, no rows)', stats_mod, 'defneqr.dbops.pg_backup',
                    raw_seconds=round(stats_raw['median'], 3),
                    overhead_seconds=round(stats_mod['median'] - stats_raw['median'], 3))

    def peer_backup(self, scale, db, runbook_median):
        """community.postgresql.postgresql_db state=dump, from the `ansible` package in a venv of its own."""
        ansible = peer_ansible()
        target = os.path.join(self.work, 'peer.pgc')
        folder = tempfile.mkdtemp(prefix='peer-', dir=self.work)
        playbook = os.path.join(folder, 'dump.yml')
        with open(playbook, 'w', encoding='utf-8') as stream:
            stream.write('- hosts: localhost\n  gather_facts: false\n  tasks:\n'
                         '    - community.postgresql.postgresql_db: {name: "{{ db }}", state: dump, target: "{{ target }}",'
                         ' login_host: 127.0.0.1, login_port: "{{ port }}", login_user: postgres,'
                         ' login_password: "{{ password }}"}\n')
        variables = os.path.join(folder, 'vars.json')
        pgcluster.write_private(variables, json.dumps(dict(
            db=db, target=target, port=self.cluster.port, password=self.cluster.superuser_password,
            ansible_python_interpreter=os.path.join(ansible, 'bin', 'python'))))
        argv = [os.path.join(ansible, 'bin', 'ansible-playbook'), '-c', 'local', '-i', 'localhost,', playbook,
                '-e', '@' + variables]
        env = dict(os.environ, PATH='%s:%s' % (self.bin, os.environ['PATH']), ANSIBLE_COLLECTIONS_PATH='')

        def peer():
            done = subprocess.run(argv, env=env, check=False, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError('postgresql_db state=dump failed: %s' % done.stdout[-800:])
        stats, _result = timed(peer)
        self.record('backup', scale, 'community.postgresql postgresql_db state=dump (.pgc)', stats,
                    'ansible-playbook: community.postgresql.postgresql_db state=dump target=x.pgc',
                    bytes=os.path.getsize(target), speedup_vs_runbook=round(runbook_median / stats['median'], 2))

    def restores(self, scale, db, dump):
        target = db + '_r'
        runbook = 'pg_restore --clean --if-exists -d %s %s' % (target, dump)

        def runbook_restore():
            self.cluster.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % target)
            self.cluster.psql('CREATE DATABASE %s' % target)
            # as typed in the runbook: pg_restore goes on after errors and exits 1 at the end
            return self.sh('%s/%s' % (self.bin, runbook), check=False)
        stats, done = timed(runbook_restore)
        self.record('restore', scale, "runbook pg_restore --clean --if-exists (1 job)", stats, runbook,
                    exit_code=done.returncode)
        dest = os.path.join(self.work, 'backups')
        shutil.rmtree(dest, ignore_errors=True)
        made = run_module('pg_backup', dict(self.params, database=db, dest=dest, verify='none', exact_counts=True))

        def module_restore():
            self.cluster.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % target)
            return run_module('pg_restore', dict(self.params, src=made['backup']['folder'], database=target,
                                                 mode='new', jobs=2))
        stats_mod, _result = timed(module_restore)
        self.record('restore', scale, 'pg_restore module, jobs 2, row counts checked', stats_mod,
                    'defneqr.dbops.pg_restore mode=new jobs=2', speedup_vs_runbook=round(
                        stats['median'] / stats_mod['median'], 2))
        snap = run_module('pg_backup', dict(self.params, database=db, dest=dest, method='snapshot', label='bench',
                                            terminate_sessions=True))
        if snap.get('failed'):
            raise RuntimeError(snap['msg'])
        self.cluster.psql('DROP DATABASE IF EXISTS %s_bench_copy WITH (FORCE)' % db)
        stats_snap, _result = timed(lambda: run_module('pg_backup', dict(
            self.params, database=db, dest=os.path.join(self.work, 'snaps'), method='snapshot',
            label='t%d' % (int(time.time() * 1000) % 100000))), runs=1)
        self.record('restore', scale, 'snapshot taken (CREATE DATABASE ... TEMPLATE)', stats_snap, 'pg_backup method=snapshot')

        def swap():
            return run_module('pg_restore', dict(self.params, src=snap['backup']['folder'], database=db,
                                                 consume_snapshot=False, drop_old=True))
        stats_swap, result = timed(swap, runs=1)
        self.record('restore', scale, 'rollback by snapshot swap (copy kept)', stats_swap,
                    'pg_restore of a snapshot backup', swap_seconds=result.get('swap_seconds'))
        self.cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE '%s_%%'" % db)

    def migrations(self):
        db = 'bench_migrations'
        files = [os.path.join(paths.MIGRATIONS, n, 'migration.sql') for n in sorted(os.listdir(paths.MIGRATIONS))
                 if os.path.isdir(os.path.join(paths.MIGRATIONS, n))]

        def fresh():
            self.cluster.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % db)
            self.cluster.psql('CREATE DATABASE %s' % db)

        def psql_each():
            fresh()
            for path in files:
                self.sh('%s/psql -X -q -1 -v ON_ERROR_STOP=1 -d %s -f %s' % (self.bin, db, path))
        stats_psql, _result = timed(psql_each)
        self.record('migrate', 0, 'psql -1 -f, each of the 14 files', stats_psql, 'psql -1 -f <file>')

        def engine():
            fresh()
            prisma_migrations.deploy(postgres.connect(dict(self.params, login_db=db)),
                                     prisma_migrations.Project(paths.BACKEND))
        stats_engine, _result = timed(engine)
        self.record('migrate', 0, 'prisma_migrate native deploy of the 14', stats_engine, 'prisma_migrations.deploy',
                    ratio_vs_psql=round(stats_engine['median'] / stats_psql['median'], 3))
        synthetic = os.path.join(self.work, 'synthetic', 'prisma', 'migrations')
        os.makedirs(synthetic)
        for number in range(1000):
            folder = os.path.join(synthetic, '2026%010d_step_%d' % (number, number))
            os.makedirs(folder)
            with open(os.path.join(folder, 'migration.sql'), 'w', encoding='utf-8') as stream:
                stream.write('CREATE TABLE t%d (id int);\n' % number)
        conn = postgres.connect(dict(self.params, login_db=db))
        stats_status, _result = timed(lambda: prisma_migrations.status(conn, prisma_migrations.Project(
            os.path.dirname(os.path.dirname(synthetic)))))
        self.record('migrate', 0, 'status of a project with 1,000 migrations', stats_status,
                    'prisma_migrations.status')

    def health(self, scale, db):
        script = os.path.join(HERE, 'runbook', 'db-health-check.sh')
        env = 'DB_NAME=%s DB_HOST=127.0.0.1 PSQL=%s/psql' % (db, self.bin)
        stats, _result = timed(lambda: self.sh('%s %s' % (env, script)))
        self.record('health', scale, "runbook db-health-check.sh (7 psql)", stats, script)
        stats_mod, result = timed(lambda: run_module('pg_health', dict(self.params, login_db=db, fail_on='never')))
        self.record('health', scale, 'pg_health, every check (module process)', stats_mod, 'defneqr.dbops.pg_health',
                    speedup_vs_runbook=round(stats['median'] / stats_mod['median'], 2),
                    checks_seconds=result['duration'])

    def wide_catalogue(self):
        db = 'bench_catalogue'
        self.cluster.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % db)
        self.cluster.psql('CREATE DATABASE %s' % db)
        self.cluster.psql("DO $$ BEGIN FOR i IN 1..2000 LOOP EXECUTE format('CREATE TABLE t%s (a int, b int, "
                          "c int)', i); EXECUTE format('CREATE INDEX ON t%s (a)', i); EXECUTE format('CREATE INDEX "
                          "ON t%s (b)', i); EXECUTE format('CREATE INDEX ON t%s (c)', i); END LOOP; END $$", db)
        self.health('2000t', db)

    def _probed_deploy(self, folder, scale, release, host_vars=None, extra=None):
        """One deploy.yml run with /health probed every 100 ms on each app host: (report, probes, seconds).
        release(demo) gives (archive, release id)."""
        demo = run_demo.Demo(os.path.join(self.work, folder), scale, monitor_seconds=5)
        try:
            demo.prepare(host_vars=host_vars, quiet=True)
            demo.start_previous_release(quiet=True)
            archive, release_id = release(demo)
            probes = [HealthProbe(host.url + '/health') for host in demo.hosts]
            clock = time.perf_counter()
            code, report = demo.deploy(archive, release_id, extra, quiet=True)
            total = time.perf_counter() - clock
            for probe in probes:
                probe.stop()
        finally:
            demo.stop()
        if code != 0 or not report or report['outcome'] != 'deployed':
            raise RuntimeError('bench deploy failed:\n%s' % (demo.last_output or '')[-2000:])
        return report, probes, total

    def deploy(self, scale, folder=None, where=''):
        """playbooks/deploy.yml for migrations 12-14 (release 1.4.0) with /health probed every 100 ms on each app
        host: the downtime seen by a client, split by the run report's steps. One run per scale: a deploy
        cannot be repeated on the same data without setting everything up again."""
        report, probes, total = self._probed_deploy(folder or 'deploy-%s' % scale, scale,
                                                    lambda demo: (demo.archives['new'], '1.4.0'))
        outage = HealthProbe.outage(probes)
        steps = dict((step['name'], step['seconds']) for step in report['steps'])
        waits = 5 + 1  # the monitor window and the release's own start-up wait are configured time, not work
        work = steps.get('backup', 0) + steps.get('migrate', 0) + steps.get('smoke', 0)
        # issue 7's target: the migration's own time (the migrate step: snapshot, restore point, SQL) + 5 s
        target = round(steps.get('migrate', 0) + 5, 2)
        # issue 17's (item 3): the migrations' own SQL time + 2 s
        sql = round(sum(entry['duration'] for entry in report['evidence']['migrate']['applied']), 3)
        snapshot = report['evidence']['migrate']['rollback_point']
        self.record('deploy', scale, 'deploy.yml 12-14: downtime seen by /health probes (100 ms)%s' % where,
                    dict(median=outage, min=outage, max=outage, runs=1), 'ansible-playbook playbooks/deploy.yml',
                    downtime_target=target, target_met=outage <= target, sql_seconds=sql, sql_target_met=outage <= sql + 2,
                    snapshot_seconds=snapshot.get('duration'), copy_method=snapshot.get('copy_method'),
                    report_downtime=report['downtime_seconds'], total_seconds=round(total, 2),
                    overhead_seconds=round(total - work - waits, 2),
                    steps=dict((name, round(seconds, 2)) for name, seconds in steps.items()))

    def deploy_on_xfs(self, scale):
        """The same deploy with every folder, the data directory among them, on an XFS with reflink: PostgreSQL 18
        clones the snapshot (issue 17 item 1), so the outage holds what item 3 counts: SQL and orchestration."""
        disk = loopxfs.LoopXfs(size='4G').start()
        try:
            self.deploy(scale, os.path.join(disk.mount, 'deploy-%s' % scale), ', data on XFS (snapshot cloned)')
        finally:
            disk.stop()

    def deploy_online(self, scale):
        """Issue 17's online row: release 1.3.1 (a nullable column, an index built concurrently) deployed by
        deploy_mode auto with pm2 in cluster mode, /health probed every 100 ms on both app hosts for the whole run.
        Target: zero failed probes."""
        cluster = dict(app_pm2_env=dict(APP_EXEC_MODE='cluster'))
        report, probes, total = self._probed_deploy(
            'deploy-online-%s' % scale, scale,
            lambda demo: (run_demo.online_release(os.path.join(demo.root, 'backend-1.3.1.tar.gz')), '1.3.1'),
            host_vars=dict(app1=cluster, app2=cluster), extra=dict(deploy_expected_indexes=['menu_scans_source_idx']))
        failed = [sum(1 for _when, healthy in probe.samples if not healthy) for probe in probes]
        outage = HealthProbe.outage(probes)
        self.record('deploy', scale, 'deploy.yml online-safe 1.3.1 (deploy_mode auto): downtime seen by /health probes',
                    dict(median=outage, min=outage, max=outage, runs=1),
                    'ansible-playbook playbooks/deploy.yml (pm2 cluster mode)',
                    mode=report['evidence']['prepare']['mode'], probes=[len(probe.samples) for probe in probes],
                    failed_probes=failed, target_met=sum(failed) == 0 and report['evidence']['prepare']['mode'] == 'online',
                    total_seconds=round(total, 2), steps=dict((step['name'], step['seconds']) for step in report['steps']))

    def recovery(self, scale=1):
        """Issue 14's target: a deploy killed (SIGKILL, whole process tree) inside step 4's migrations, then
        recover.yml: seconds from its start until both app hosts answer /health on the previous release."""
        demo = run_demo.Demo(os.path.join(self.work, 'recover-%s' % scale), scale, monitor_seconds=5)
        try:
            demo.prepare(quiet=True)
            demo.start_previous_release(quiet=True)
            slow = run_demo.slow_release(os.path.join(self.work, 'slow-%s.tar.gz' % scale))
            process = demo.deploy_in_background(slow, '1.4.0')
            demo.wait_for_step(process, 4, lambda journal: bool(journal.get('rollback_point')))
            time.sleep(2)
            demo.kill(process)
            probes = [HealthProbe(host.url + '/health') for host in demo.hosts]
            clock = time.perf_counter()
            code = demo.playbook(os.path.join(REPO, 'playbooks', 'recover.yml'), quiet=True)
            total = time.perf_counter() - clock
            for probe in probes:
                probe.stop()
            healthy = round(max(probe.recovered_after(clock) for probe in probes) - clock, 2)
        finally:
            demo.stop()
        if code != 0:
            raise RuntimeError('bench recover failed:\n%s' % (demo.last_output or '')[-2000:])
        self.record('recover', scale, 'recover.yml after SIGKILL in step 4: both hosts healthy',
                    dict(median=healthy, min=healthy, max=healthy, runs=1), 'ansible-playbook playbooks/recover.yml',
                    target_seconds=30, target_met=healthy < 30, total_seconds=round(total, 2))

    def _write_loop(self, db, writes=375):
        """Per-write latencies of a pgbench-style loop: one transaction a write, a scan INSERT and an order UPDATE."""
        conn = postgres.connect(dict(self.params, login_db=db))
        latencies = []
        with conn.cursor() as cur:
            for number in range(writes):
                clock = time.perf_counter()
                cur.execute('BEGIN')
                cur.execute('INSERT INTO menu_scans (id, "restaurantId") VALUES (%s, %s)',
                            ('bench_%d_%d' % (os.getpid(), time.perf_counter_ns()), 'rst_0000001'))
                cur.execute('''UPDATE orders SET status = 'SERVED', "updatedAt" = now()
                                WHERE id = (SELECT id FROM orders ORDER BY id OFFSET %s LIMIT 1)''', (number % 500,))
                cur.execute('COMMIT')
                latencies.append(time.perf_counter() - clock)
        conn.close()
        return latencies

    @staticmethod
    def _alternated(loop, capture, rounds=4):
        """(latencies with the capture on, off): the rounds alternate, so neither side gets the warmer caches."""
        on, off = [], []
        for _round in range(rounds):
            capture(True)
            on += loop()
            capture(False)
            off += loop()
        return on, off

    def _http_loop(self, url, requests=100):
        latencies = []
        for _number in range(requests):
            clock = time.perf_counter()
            status, _body = apphost.http('POST', url + '/api/orders', dict(restaurantId='rst_0000001', items=[
                dict(productId='prd_0000001_00_00', quantity=1)]))
            status_scan, _body = apphost.http('POST', url + '/api/scans', dict(restaurantId='rst_0000001'))
            if status != 201 or status_scan != 201:
                raise RuntimeError('bench write failed: %s %s' % (status, status_scan))
            latencies.append(time.perf_counter() - clock)
        return latencies

    def capture(self, scale, db):
        """Issue 13's targets: the write path with the change capture on vs off (at most 1.25x at the median), and
        100,000 captured changes replayed after a snapshot swap in under 10 s."""
        def stats(values):
            return dict(median=statistics.median(values), min=min(values), max=max(values), runs=len(values))

        def capture(on):
            run_module('pg_capture', dict(self.params, login_db=db, database=db, state='present' if on else 'absent'))

        on, off = self._alternated(lambda: self._write_loop(db), capture)
        ratio = round(statistics.median(on) / statistics.median(off), 3)
        self.record('capture', scale, 'SQL write (INSERT scan + UPDATE order), capture off', stats(off), 'psycopg2 loop')
        self.record('capture', scale, 'SQL write (INSERT scan + UPDATE order), capture on', stats(on), 'psycopg2 loop',
                    overhead_vs_raw=ratio, target_met=ratio <= 1.25)
        host = apphost.AppHost(os.path.join(self.work, 'capture-app-%s' % scale), pgcluster.free_port(), name='bench')
        url = 'postgresql://postgres:%s@127.0.0.1:%d/%s' % (self.cluster.superuser_password, self.cluster.port, db)
        host.configure(url)
        try:
            host.start()
            host.wait_for_health(200)
            self._http_loop(host.url)  # warm-up: a fresh backend answers its first requests slower
            http_on, http_off = self._alternated(lambda: self._http_loop(host.url), capture)
        finally:
            host.kill()
        ratio = round(statistics.median(http_on) / statistics.median(http_off), 3)
        self.record('capture', scale, 'backend POST /api/orders + /api/scans, capture off', stats(http_off),
                    'the example backend under pm2')
        self.record('capture', scale, 'backend POST /api/orders + /api/scans, capture on', stats(http_on),
                    'the example backend under pm2', overhead_vs_raw=ratio, target_met=ratio <= 1.25)
        self._replay(scale, db)

    def _replay(self, scale, db, changes=100000):
        snapshot, replaced = db + '_bsnap', db + '_bold'
        for name in (snapshot, replaced):
            self.cluster.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
        run_module('pg_capture', dict(self.params, login_db=db, database=db, state='present'))
        self.cluster.psql('CREATE DATABASE %s TEMPLATE %s' % (snapshot, db))
        inserts, updates = changes * 6 // 10, changes * 3 // 10
        writer = postgres.connect(dict(self.params, login_db=db))
        with writer.cursor() as cur:
            cur.execute('''INSERT INTO menu_scans (id, "restaurantId") SELECT 'replay_' || %s || '_' || g, 'rst_0000002'
                             FROM generate_series(1, %s) g''', (int(time.time()), inserts))
            cur.execute('''UPDATE orders SET note = 'replayed' WHERE id IN (SELECT id FROM orders ORDER BY id LIMIT %s)''',
                        (updates,))
            cur.execute('''DELETE FROM menu_scans WHERE id IN (SELECT id FROM menu_scans WHERE id NOT LIKE 'replay%%'
                                                                ORDER BY id LIMIT %s)''', (changes - inserts - updates,))
        writer.close()
        self.cluster.psql('ALTER DATABASE %s RENAME TO %s' % (db, replaced))
        self.cluster.psql('ALTER DATABASE %s RENAME TO %s' % (snapshot, db))
        clock = time.perf_counter()
        result = run_module('pg_capture', dict(self.params, login_db=db, database=db, source_database=replaced,
                                               state='replayed'))
        seconds = time.perf_counter() - clock
        if result.get('failed') or result['captured'] < changes:
            raise RuntimeError('bench replay failed: %s' % result.get('msg', result.get('captured')))
        self.record('capture', scale, 'replay of %d captured changes after a snapshot swap' % result['captured'],
                    dict(median=seconds, min=seconds, max=seconds, runs=1), 'pg_capture state=replayed',
                    target_seconds=10, target_met=seconds < 10, replay_seconds=result['seconds'],
                    quarantined=sum(sum(r.values()) for r in result['quarantined'].values()))
        self.cluster.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % replaced)

    def scaling(self):
        """Backup and snapshot cost at scale 3, between the 1 and 10 measured above (the chart of growth)."""
        db = self.database(3)
        dest = os.path.join(self.work, 'scaling')
        stats, result = timed(lambda: run_module('pg_backup', dict(self.params, database=db, dest=dest, verify='none',
                                                                   retention_days=0, min_keep=1)), runs=1)
        self.record('scaling', 3, 'pg_backup (compression auto)', stats, 'defneqr.dbops.pg_backup',
                    bytes=sum(f['size'] for f in result['backup']['files']),
                    peak_rss_mb=round(result['_peak_rss_kb'] / 1024.0, 1),
                    tree_peak_rss_mb=round(result['_tree_peak_rss_kb'] / 1024.0, 1))
        stats, _result = timed(lambda: run_module('pg_backup', dict(
            self.params, database=db, dest=dest, method='snapshot', label='s%d' % (int(time.time() * 1000) % 100000))),
            runs=1)
        self.record('scaling', 3, 'snapshot (CREATE DATABASE ... TEMPLATE)', stats, 'pg_backup method=snapshot')

    def _snapshot(self, params, db, method, taken):
        made = run_module('pg_backup', dict(params, database=db, dest=os.path.join(self.work, 'xfs'), method='snapshot',
                                            snapshot_method=method, label='%s%d' % (method, len(taken))))
        if made.get('failed'):
            raise RuntimeError(made['msg'])
        taken.append(made['backup']['snapshot_database'])
        return made

    def snapshot_clone(self, scales):
        """The snapshot inside the outage, made by PostgreSQL 18 on an XFS with reflink: cloned vs copied."""
        disk = loopxfs.LoopXfs(size='16G').start()
        cluster = pgcluster.Cluster(name='bench-xfs', base_dir=os.path.join(disk.mount, 'pg'), durable=True).start()
        params = dict(self.params, login_port=cluster.port, login_password=cluster.superuser_password,
                      pg_bin_dir=cluster.bin_dir)
        try:
            for scale in scales:
                db = self.database(scale, cluster=cluster, params=params)
                size = postgres.query(postgres.connect(dict(params, login_db=db)),
                                      'SELECT pg_database_size(current_database()) AS n')[0]['n']
                medians = {}
                for method in ('copy', 'clone'):
                    taken = []
                    stats, made = timed(functools.partial(self._snapshot, params, db, method, taken))
                    for name in taken:
                        cluster.psql('DROP DATABASE IF EXISTS %s' % name)
                    medians[method] = stats['median']
                    # the module run, and inside it the server's CREATE DATABASE (the part inside the outage)
                    extra = dict(database_mb=size >> 20, snapshot_seconds=made['backup']['duration'])
                    if method == 'clone':
                        extra['speedup_vs_copy'] = round(medians['copy'] / stats['median'], 1)
                    self.record('clone', scale, 'snapshot on XFS, snapshot_method=%s' % method, stats,
                                'pg_backup method=snapshot snapshot_method=%s' % method, **extra)
                cluster.psql('DROP DATABASE %s WITH (FORCE)' % db)
        finally:
            cluster.stop()
            disk.stop()

    def run(self):
        self.fixed_cost()
        for scale in self.scales:
            print('== scale %g: loading' % scale)
            db = self.database(scale)
            dump = self.backups(scale, db)
            self.restores(scale, db, dump)
            self.health(scale, db)
            self.capture(scale, db)
        if len(self.scales) > 1:
            self.scaling()
        self.snapshot_clone(sorted(set(self.scales) | ({3} if len(self.scales) > 1 else set())))
        self.migrations()
        self.wide_catalogue()
        for scale in self.scales:
            self.deploy(scale)
        self.deploy_on_xfs(1 if 1 in self.scales else self.scales[0])
        self.deploy_online(1 if 1 in self.scales else self.scales[0])
        self.recovery(1 if 1 in self.scales else self.scales[0])

    def write(self):
        stamp = datetime.datetime.now().strftime('%Y-%m-%d')
        results = os.path.join(HERE, 'results')
        os.makedirs(results, exist_ok=True)
        machine = dict(platform=platform.platform(), cpus=os.cpu_count(), python=platform.python_version(),
                       server_version=self.cluster.version_num)
        with open(os.path.join(results, '%s.json' % stamp), 'w', encoding='utf-8') as stream:
            json.dump(dict(machine=machine, runs=RUNS, rows=self.rows), stream, indent=2)
        lines = ['| group | scale | measurement | median s | min-max s | ratio |', '|---|---|---|---|---|---|']
        for row in self.rows:
            keys = ('speedup_vs_runbook', 'size_vs_runbook', 'overhead_vs_raw', 'peak_rss_mb', 'tree_peak_rss_mb',
                    'ratio_vs_psql', 'raw_seconds',
                    'swap_seconds', 'checks_seconds', 'exit_code', 'downtime_target', 'target_met', 'sql_seconds',
                    'sql_target_met', 'report_downtime',
                    'total_seconds',
                    'overhead_seconds', 'mode', 'probes', 'failed_probes', 'steps', 'replay_seconds', 'quarantined',
                    'database_mb', 'snapshot_seconds', 'copy_method', 'speedup_vs_copy')
            ratio = ', '.join('%s %s' % (k, row[k]) for k in keys if k in row)
            cells = (row['group'], row['scale'], row['name'], row['median'], row['min'], row['max'], ratio)
            lines.append('| %s | %s | %s | %.3f | %.3f-%.3f | %s |' % cells)
        table = '\n'.join(lines)
        with open(os.path.join(results, '%s.md' % stamp), 'w', encoding='utf-8') as stream:
            stream.write('Machine: %s\n\n%s\n' % (json.dumps(machine), table))
        print('\n' + table)
        chart(self.rows, os.path.join(results, '%s.png' % stamp))

    def close(self):
        self.cluster.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def chart(rows, path):
    """Left: how many times faster than the runbook's command. Right: how backup and snapshot cost grows with scale."""
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
        matplotlib.use('Agg')
        from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
    except ImportError:
        print('matplotlib is not installed: no chart')
        return
    ratios = [r for r in rows if 'speedup_vs_runbook' in r]
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(14, 3 + 0.3 * len(ratios)),
                                            gridspec_kw=dict(width_ratios=[3, 2]))
    left.barh(['%s s%s: %s' % (r['group'], r['scale'], r['name'][:40]) for r in ratios],
              [r['speedup_vs_runbook'] for r in ratios], color='#2a7f62')
    left.axvline(1.0, color='grey', linestyle='--')
    left.set_xlabel('times faster than the runbook command (same run, median)')
    series = (('pg_backup', lambda r: r['name'].startswith('pg_backup (compression auto')),
              ('snapshot', lambda r: r['name'].startswith('snapshot')),
              ('runbook pg_dump -Z 9', lambda r: r['name'].startswith('runbook pg_dump')))
    for label, wanted in series:
        points = sorted((float(r['scale']), r['median']) for r in rows
                        if wanted(r) and str(r['scale']).replace('.', '').isdigit())
        if points:
            right.plot([p[0] for p in points], [p[1] for p in points], marker='o', label=label)
    right.set_xlabel('scale (1 = 128 MB, 10 = 1.16 GB)')
    right.set_ylabel('seconds (median)')
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print('chart: %s' % path)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--chart':  # redraw the chart of an earlier run's JSON
        with open(sys.argv[2], encoding='utf-8') as stream:
            chart(json.load(stream)['rows'], os.path.splitext(sys.argv[2])[0] + '.png')
        return 0
    scales = [1] if os.environ.get('QUICK') else [1, 10]
    bench = Bench(scales)
    try:
        bench.run()
        bench.write()
    finally:
        bench.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
