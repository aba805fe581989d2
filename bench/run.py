"""`make bench`: the collection against the runbook's own commands, measured side by side in one run.

Every measurement: one warm-up, then N runs; the median and the spread (min-max) are reported,
with the exact commands. Results: bench/results/<date>.json, a Markdown table (printed and
written next to it) and a PNG chart of the ratios. QUICK=1 measures scale 1 only.
"""
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'harness'))
sys.path.insert(0, os.path.join(REPO, 'examples', 'defneqr'))
import paths  # noqa: E402  pylint: disable=wrong-import-position
import pgcluster  # noqa: E402  pylint: disable=wrong-import-position
from modrun import run_module  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, paths.collections_root())
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations  # noqa: E402  pylint: disable=wrong-import-position
import generate_data  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

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

    def database(self, scale, target=None):
        name = 'bench_s%s' % str(scale).replace('.', '_')
        self.cluster.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
        self.cluster.psql('CREATE DATABASE %s' % name)
        params = dict(self.params, login_db=name)
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
                    overhead_vs_raw=round(stats_mod['median'] / stats_raw['median'] - 1, 3))
        return out

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

    def run(self):
        for scale in self.scales:
            print('== scale %g: loading' % scale)
            db = self.database(scale)
            dump = self.backups(scale, db)
            self.restores(scale, db, dump)
            self.health(scale, db)
        self.migrations()
        self.wide_catalogue()

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
            keys = ('speedup_vs_runbook', 'size_vs_runbook', 'overhead_vs_raw', 'ratio_vs_psql', 'swap_seconds',
                    'checks_seconds', 'exit_code')
            ratio = ', '.join('%s %s' % (k, row[k]) for k in keys if k in row)
            cells = (row['group'], row['scale'], row['name'], row['median'], row['min'], row['max'], ratio)
            lines.append('| %s | %s | %s | %.3f | %.3f-%.3f | %s |' % cells)
        table = '\n'.join(lines)
        with open(os.path.join(results, '%s.md' % stamp), 'w', encoding='utf-8') as stream:
            stream.write('Machine: %s\n\n%s\n' % (json.dumps(machine), table))
        print('\n' + table)
        self.chart(os.path.join(results, '%s.png' % stamp))

    def chart(self, path):
        try:
            import matplotlib  # pylint: disable=import-outside-toplevel
            matplotlib.use('Agg')
            from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
        except ImportError:
            print('matplotlib is not installed: no chart')
            return
        rows = [r for r in self.rows if 'speedup_vs_runbook' in r]
        figure, axis = pyplot.subplots(figsize=(8, 3 + 0.3 * len(rows)))
        labels = ['%s s%s: %s' % (r['group'], r['scale'], r['name'][:40]) for r in rows]
        axis.barh(labels, [r['speedup_vs_runbook'] for r in rows], color='#2a7f62')
        axis.axvline(1.0, color='grey', linestyle='--')
        axis.set_xlabel('times faster than the runbook command (same run, median)')
        figure.tight_layout()
        figure.savefig(path, dpi=110)
        print('chart: %s' % path)

    def close(self):
        self.cluster.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def main():
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
