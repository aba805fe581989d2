"""`make demo`: the runbook's deployment of migrations 12-14, end to end, on this machine.

An embedded PostgreSQL 18 holds the Defne Qr database at migration 11 with generated data; two
app hosts (app1, app2: own folders, ports and pm2 daemons) run release 1.3.0; then
`ansible-playbook playbooks/deploy.yml` deploys release 1.4.0 with all eight steps.
`--rollback` deploys a release whose login is broken instead, to show the automatic rollback.
Everything is stopped at the end unless --keep is given.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tests', 'harness'))
sys.path.insert(0, os.path.join(REPO, 'examples', 'defneqr'))

import apphost  # noqa: E402  pylint: disable=wrong-import-position
import paths  # noqa: E402  pylint: disable=wrong-import-position
import pgcluster  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, paths.collections_root())
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations  # noqa: E402  pylint: disable=wrong-import-position
import generate_data  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

MIGRATION_11 = '20260218174944_add_plan_popular_and_extra_price'
RELEASE_FILES = ('package.json', 'package-lock.json', 'ecosystem.config.js', 'prisma.config.ts', 'src', 'prisma',
                 'migrations')


def release_archive(path, keep_until=None, fault=None, source=None):
    """A release tarball of the example backend (or a changed copy of it in source); keep_until drops
    later migrations."""
    source = source or paths.BACKEND
    with tarfile.open(path, 'w:gz') as tar:
        for name in RELEASE_FILES:
            def only_kept(info, name=name):
                parts = info.name.split('/')
                if keep_until and name == 'prisma' and len(parts) > 2 and parts[1] == 'migrations' \
                        and parts[2][:1].isdigit() and parts[2] > keep_until:
                    return None
                return info
            tar.add(os.path.join(source, name), arcname=name, filter=only_kept)
        if fault:
            fault_file = path + '.FAULT'
            with open(fault_file, 'w', encoding='utf-8') as stream:
                stream.write(fault + '\n')
            tar.add(fault_file, arcname='FAULT')
            os.unlink(fault_file)
    return path


def release_with_migrations(path, migrations, keep_until=None):
    """A release of the example backend with more migrations [(name, script, rollback script)]; keep_until drops
    the migrations after it first."""
    source = path + '.src'
    shutil.copytree(paths.BACKEND, source, ignore=shutil.ignore_patterns('node_modules', 'logs', '.env', 'FAULT'))
    folder = os.path.join(source, 'prisma', 'migrations')
    for later in os.listdir(folder):
        if keep_until and later[:1].isdigit() and later > keep_until:
            shutil.rmtree(os.path.join(folder, later))
    for name, script, rollback_script in migrations:
        os.makedirs(os.path.join(folder, name))
        with open(os.path.join(folder, name, 'migration.sql'), 'w', encoding='utf-8') as stream:
            stream.write(script)
        timestamp, _sep, label = name.partition('_')
        with open(os.path.join(source, 'migrations', 'rollback', '%s_rollback_%s.sql' % (timestamp, label)), 'w',
                  encoding='utf-8') as stream:
            stream.write(rollback_script)
    release_archive(path, source=source)
    shutil.rmtree(source)
    return path


def slow_release(path, seconds=6):
    """Release 1.4.0 plus a migration that sleeps, so that a kill lands inside step 4's migrations."""
    return release_with_migrations(path, [(
        '20260301000000_slow_backfill', 'SELECT pg_sleep(%d);\nALTER TABLE "menu_scans" ADD COLUMN "source" TEXT;\n' % seconds,
        'ALTER TABLE "menu_scans" DROP COLUMN "source";\n')])


# Online-safe migrations on top of 1.3.0 (migration 11): a nullable column, then an index built concurrently
# (in a migration of its own: PostgreSQL refuses CONCURRENTLY beside other statements).
ONLINE_MIGRATIONS = [
    ('20260218175000_add_scan_source', '-- AlterTable\nALTER TABLE "menu_scans" ADD COLUMN "source" TEXT;\n',
     'ALTER TABLE "menu_scans" DROP COLUMN IF EXISTS "source";\n'),
    ('20260218175100_index_scan_source',
     '-- CreateIndex\nCREATE INDEX CONCURRENTLY "menu_scans_source_idx" ON "menu_scans"("source");\n',
     'DROP INDEX IF EXISTS "menu_scans_source_idx";\n'),
]


def online_release(path):
    """Release 1.3.1: 1.3.0 plus migrations every statement of which is online-safe (deploy_mode auto deploys it
    with the application serving)."""
    return release_with_migrations(path, ONLINE_MIGRATIONS, keep_until=MIGRATION_11)


def runbook_indexes():
    """The indexes of add_performance_indexes: the runbook's index coverage list."""
    with open(os.path.join(paths.MIGRATIONS, '20260218193213_add_performance_indexes', 'migration.sql'),
              encoding='utf-8') as stream:
        return re.findall(r'CREATE INDEX "([^"]+)"', stream.read())


def write_private(path, text):
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, 'w') as stream:
        stream.write(text)


class Demo:
    def __init__(self, root, scale, monitor_seconds=10, bin_dir=None):
        self.root = root
        self.scale = scale
        self.monitor_seconds = monitor_seconds
        self.bin_dir = bin_dir
        self.cluster = None
        self.hosts = []
        self.outcome = None
        self.last_output = None
        self.reports = os.path.join(root, 'reports')
        self.backup_dest = os.path.join(root, 'backups')  # on the db host
        self.inventory = os.path.join(root, 'inventory.json')

    def prepare(self, host_vars=None, quiet=False):
        if os.path.isdir(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)
        say = (lambda *a: None) if quiet else print
        say('== Starting an embedded PostgreSQL (the db host)')
        self.cluster = pgcluster.Cluster(name='demo', base_dir=os.path.join(self.root, 'pg'), bin_dir=self.bin_dir,
                                         durable=not quiet).start()
        self.cluster.create_database('dijitalmenu')
        params = dict(login_host='127.0.0.1', login_port=self.cluster.port, login_user=pgcluster.APP_ROLE,
                      login_password=self.cluster.app_password, login_db='dijitalmenu', ssl_mode='disable')
        clock = time.time()
        prisma_migrations.deploy(postgres.connect(params), prisma_migrations.Project(paths.BACKEND),
                                 target=MIGRATION_11)
        say('== Migrations 1-11 applied; loading the example data at scale %g' % self.scale)
        generate_data.load(postgres.connect(params, autocommit=False), self.scale,
                           log=(lambda *a: None) if quiet else print)
        say('   ready in %.1fs' % (time.time() - clock))
        releases = os.path.join(self.root, 'releases')
        os.makedirs(releases)
        self.archives = dict(
            previous=release_archive(os.path.join(releases, 'backend-1.3.0.tar.gz'), keep_until=MIGRATION_11),
            new=release_archive(os.path.join(releases, 'backend-1.4.0.tar.gz')),
            broken=release_archive(os.path.join(releases, 'backend-1.4.0-broken.tar.gz'), fault='login'))
        self.params = params
        self.write_inventory(params, host_vars)

    def write_inventory(self, params, host_vars=None):
        url = 'postgresql://%s:%s@127.0.0.1:%d/dijitalmenu' % (pgcluster.APP_ROLE, params['login_password'],
                                                               self.cluster.port)
        self.database_url = url
        app_hosts = {}
        self.hosts = []
        for name in ('app1', 'app2'):
            host, reach = self.app_host(name)
            self.hosts.append(host)
            app_hosts[name] = dict(reach, app_root=host.base_dir, app_port=host.port,
                                   app_env=dict(DATABASE_URL=url, JWT_SECRET='demo-jwt-secret'))
            overrides = dict((host_vars or {}).get(name, {}))
            app_hosts[name]['app_env'].update(overrides.pop('app_env_extra', {}))
            app_hosts[name].update(overrides)
        inventory = dict(all=dict(
            vars=dict(self.reach_all(), dbops_db_name='dijitalmenu', dbops_db_login_host='127.0.0.1',
                      dbops_db_login_port=self.cluster.port, dbops_db_login_user=pgcluster.APP_ROLE,
                      dbops_db_login_password=params['login_password'], dbops_db_ssl_mode='disable',
                      dbops_backup_dest=self.backup_dest,
                      demo_previous_release='1.3.0', demo_previous_archive=self.archives['previous']),
            children=dict(db=dict(hosts=dict(db1=self.db_host())), app=dict(hosts=app_hosts))))
        os.makedirs(os.path.dirname(self.inventory), exist_ok=True)
        write_private(self.inventory, json.dumps(inventory, indent=2))  # holds passwords: 0600

    # How the hosts are reached; the SSH suite (tests/functional/test_ssh_hosts.py) reaches them over SSH.
    def reach_all(self):
        """Variables of every host: this machine, with this Python, the cluster's own client programs."""
        return dict(ansible_connection='local', ansible_python_interpreter=sys.executable,
                    dbops_pg_bin_dir=self.cluster.bin_dir, deploy_report_dir=self.reports)

    def db_host(self):
        return {}

    def app_host(self, name):
        """(the host, its inventory variables): own folder, port and pm2 daemon on this machine."""
        host = apphost.AppHost(os.path.join(self.root, name), pgcluster.free_port(), name=name)
        return host, dict(app_pm2_home=host.pm2_home, app_pm2_bin=apphost.PM2, app_log_dir=host.log_dir)

    def playbook_argv(self, path, *extra):
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=paths.collections_root(), ANSIBLE_FORCE_COLOR='0',
                   ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_CALLBACK_RESULT_FORMAT='yaml',
                   ANSIBLE_DISPLAY_SKIPPED_HOSTS='false')
        return [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', self.inventory, path] + \
            list(extra), env

    def playbook(self, path, *extra, quiet=False):
        argv, env = self.playbook_argv(path)
        output = subprocess.PIPE if quiet else None
        done = subprocess.run(argv + list(extra), env=env, check=False, stdout=output, stderr=subprocess.STDOUT,
                              text=True)
        self.last_output = done.stdout
        return done.returncode

    def last_failures(self, tail=3000):
        """What a failed run says: every failed task with the lines of its message, then the run's end."""
        lines = (self.last_output or '').splitlines()
        failed = [i for i, line in enumerate(lines) if line.startswith(('fatal: ', 'failed: '))]
        told = ['\n'.join(lines[i:i + 6])[:1500] for i in failed]
        return '\n'.join(told + ['...', '\n'.join(lines)[-tail:]])

    def start_previous_release(self, quiet=False):
        if self.playbook(os.path.join(HERE, 'setup.yml'), quiet=quiet) != 0:
            raise SystemExit('demo set-up failed:\n%s' % (self.last_output or ''))

    def deploy_variables(self, archive, release_id, extra=None):
        variables = dict(deploy_release_id=release_id, deploy_release_archive=archive,
                         deploy_expected_indexes=runbook_indexes(), deploy_monitor_seconds=self.monitor_seconds)
        variables.update(extra or {})
        return variables

    def deploy_in_background(self, archive, release_id, extra=None):
        """deploy.yml as its own process group, as a terminal or AWX starts it (so it can be killed whole)."""
        argv, env = self.playbook_argv(os.path.join(REPO, 'playbooks', 'deploy.yml'), '-e', json.dumps(
            self.deploy_variables(archive, release_id, extra)))
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)

    def journal(self):
        """The journal of the run holding the deploy lock, or None."""
        try:
            with open(os.path.join(self.backup_dest, '.deploy.lock', 'journal.json'), encoding='utf-8') as stream:
                return json.load(stream)
        except (OSError, ValueError):
            return None

    def wait_for_step(self, process, number, condition=lambda journal: True, timeout=240):
        """Wait until the running deploy's journal says step `number` began (and condition holds)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            current = self.journal()
            if current and (current.get('step') or {}).get('number') == number and condition(current):
                return current
            if process.poll() is not None:
                raise RuntimeError('the deploy ended before step %s: %s' % (number, current))
            time.sleep(0.05)
        raise RuntimeError('the deploy did not reach step %s in %s s: %s' % (number, timeout, self.journal()))

    @staticmethod
    def kill(process):
        """SIGKILL to ansible-playbook and everything it started (a laptop lid, an AWX cancel)."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def deploy(self, archive, release_id, extra=None, quiet=False):
        """Run playbooks/deploy.yml; returns (exit code, the run report or None)."""
        variables = self.deploy_variables(archive, release_id, extra)
        before = set(os.listdir(self.reports)) if os.path.isdir(self.reports) else set()
        code = self.playbook(os.path.join(REPO, 'playbooks', 'deploy.yml'), '-e', json.dumps(variables),
                             quiet=quiet)
        new = sorted(set(os.listdir(self.reports)) - before) if os.path.isdir(self.reports) else []
        report = None
        if new:
            with open(os.path.join(self.reports, new[-1], 'report.json'), encoding='utf-8') as stream:
                report = json.load(stream)
            report['folder'] = os.path.join(self.reports, new[-1])
        return code, report

    def run(self, rollback):
        print('== Release 1.3.0 on app1 and app2 under pm2')
        self.start_previous_release()
        release = 'broken' if rollback else 'new'
        print('== ansible-playbook playbooks/deploy.yml: release %s' % os.path.basename(self.archives[release]))
        code, report = self.deploy(self.archives[release], '1.4.0%s' % ('-broken' if rollback else ''))
        self.outcome = report['outcome'] if report else None
        if report:
            with open(os.path.join(report['folder'], 'report.md'), encoding='utf-8') as stream:
                print('\n' + stream.read())
            print('Report: %s' % report['folder'])
        for host in self.hosts:
            print('%s /health: %s' % (host.name, apphost.http('GET', host.url + '/health')))
        return code

    def stop(self):
        for host in self.hosts:
            host.kill()
        if self.cluster:
            self.cluster.stop(remove=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--rollback', action='store_true', help='deploy a broken release: automatic rollback')
    parser.add_argument('--keep', action='store_true', help='leave PostgreSQL and the app hosts running')
    parser.add_argument('--scale', type=float, default=float(os.environ.get('DEMO_SCALE', 1)))
    args = parser.parse_args()
    demo = Demo(os.path.join(REPO, 'build', 'demo'), args.scale, int(os.environ.get('DEMO_MONITOR', 10)))
    try:
        demo.prepare()
        code = demo.run(args.rollback)
    finally:
        if not args.keep:
            demo.stop()
    if args.rollback:
        # the deploy must fail and roll back: that is the demonstration
        if code != 0 and demo.outcome == 'rolled_back':
            print('\nThe deploy failed its smoke test and was rolled back automatically (exit %d).' % code)
            return 0
        print('\nUnexpected: the broken release ended as %s (exit %d).' % (demo.outcome, code))
        return 1
    return code


if __name__ == '__main__':
    sys.exit(main())
