"""The operator's path: the collection installed from its built tarball, every host reached over real SSH.

sshd listens on a loopback port; each host is its own Unix account (dbadmin for the db host, app1 and
app2 for the app hosts), reached with a key, running Debian's /usr/bin/python3 (python3-psycopg2,
python3-boto3) and Debian's PostgreSQL 15 client programs from PATH. pm2 runs under each app
account's own ~/.pm2. The playbooks are called by collection name from the installed copy, and the
reports land beside the inventory. The fast suites keep the local connection.
"""
import glob
import json
import os
import pwd
import stat
import subprocess
import sys

import boto3
import pytest
from moto.server import ThreadedMotoServer

import apphost
import paths
import pgcluster
import sshlab
from test_deploy_playbook import LATEST, M11, ScanWriter, history, run, scan_ids

sys.path.insert(0, os.path.join(paths.REPO, 'examples', 'demo'))
import run_demo  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

BIN = os.path.dirname(sys.executable)
DEBIAN_PG = '/usr/lib/postgresql/15/bin'
S3_KEYS = dict(access_key='ssh-suite', secret_key='ssh-suite-secret')


class AccountHost:
    """An app host that is a Unix account: its release tree in the account's home, its pm2 under ~/.pm2."""

    def __init__(self, lab, name):
        self.lab, self.name = lab, name
        self.port = pgcluster.free_port()
        self.base_dir = os.path.join(lab.home(name), 'defneqr')

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def kill(self):
        sshlab.end_processes(self.name)


class SshWorld(run_demo.Demo):
    """The demo's world (PostgreSQL 15 with data, releases 1.3.0 / 1.4.0 / broken) reached over SSH."""

    def __init__(self, root, lab, collections):
        super().__init__(root, scale=0.1, monitor_seconds=3, bin_dir=DEBIAN_PG)
        self.lab, self.collections = lab, collections
        self.inventory = os.path.join(root, 'inventory', 'hosts.json')
        self.reports = os.path.join(root, 'inventory', 'reports')  # the documented default, beside the inventory
        self.backup_dest = os.path.join(lab.home('dbadmin'), 'backups')

    def reach_all(self):
        return {}

    def db_host(self):
        return self.lab.host_vars('dbadmin')

    def app_host(self, name):
        host = AccountHost(self.lab, name)
        return host, dict(self.lab.host_vars(name), app_pm2_bin=os.path.join(self.lab.pm2, 'node_modules', '.bin', 'pm2'))

    def playbook_argv(self, path, *extra):
        argv, env = super().playbook_argv(path, *extra)
        name = os.path.relpath(path, os.path.join(paths.REPO, 'playbooks'))
        if not name.startswith('..'):  # the collection's own playbooks, by name from the installed copy
            argv[3] = 'defneqr.dbops.' + name[:-len('.yml')]
        env['ANSIBLE_COLLECTIONS_PATH'] = self.collections
        return argv, env


@pytest.fixture(scope='module')
def lab():
    missing = sshlab.missing_prerequisites()
    if missing:
        pytest.fail('The SSH suite needs: %s' % missing)
    started = sshlab.SshLab(('dbadmin', 'app1', 'app2')).start()
    yield started
    started.stop()


@pytest.fixture(scope='module')
def world(lab, tmp_path_factory):
    folder = tmp_path_factory.mktemp('ssh')
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(folder),
                    paths.REPO], check=True, capture_output=True)
    [tarball] = glob.glob(str(folder / 'defneqr-dbops-*.tar.gz'))
    collections = str(folder / 'collections')
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '-p', collections, tarball],
                   check=True, capture_output=True)
    demo = SshWorld(str(folder / 'w'), lab, collections)
    demo.prepare(quiet=True)
    yield demo
    demo.stop()


@pytest.fixture(scope='module')
def s3():
    port = pgcluster.free_port()
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    server.start()
    endpoint = 'http://127.0.0.1:%d' % port
    client = boto3.client('s3', endpoint_url=endpoint, region_name='eu-central-1',
                          aws_access_key_id=S3_KEYS['access_key'], aws_secret_access_key=S3_KEYS['secret_key'])
    client.create_bucket(Bucket='defneqr-ssh', CreateBucketConfiguration=dict(LocationConstraint='eu-central-1'))
    yield client, dict(S3_KEYS, bucket='defneqr-ssh', prefix='dijitalmenu', endpoint_url=endpoint,
                       region='eu-central-1')
    server.stop()


def play(world, name, *extra, **variables):
    code = world.playbook(os.path.join(paths.REPO, 'playbooks', name), '-e', json.dumps(variables), *extra,
                          quiet=True)
    return code, world.last_output


def owned_by(path, account):
    return os.stat(path).st_uid == pwd.getpwnam(account).pw_uid


def test_backups_drills_and_health_over_ssh(world, lab, s3):
    client, backup_s3 = s3
    # the default /backups belongs to root: refused before anything starts, naming the folder, account and fix
    code, out = play(world, 'backup.yml', backup_kind='daily', dbops_backup_dest='/backups')
    assert code != 0 and 'not ready for the run, as dbadmin' in out, out[-3000:]
    assert 'install -d -o dbadmin -m 0700 /backups' in out and 'set dbops_backup_dest' in out
    assert not os.path.exists('/backups')
    code, out = play(world, 'backup.yml', backup_kind='daily')
    assert code == 0, out[-3000:]
    [daily] = os.listdir(os.path.join(world.backup_dest, 'daily'))
    folder = os.path.join(world.backup_dest, 'daily', daily)
    assert owned_by(folder, 'dbadmin') and stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    with open(os.path.join(folder, 'manifest.json'), encoding='utf-8') as stream:
        manifest = json.load(stream)
    assert manifest['verification']['ok'] and manifest['exact_counts']
    assert [t['rows'] for t in manifest['tables'] if t['table'] == 'menu_scans'][0] > 0
    code, out = play(world, 'backup.yml', backup_kind='weekly', backup_s3=backup_s3)
    assert code == 0, out[-3000:]
    keys = [o['Key'] for o in client.list_objects_v2(Bucket='defneqr-ssh')['Contents']]
    [weekly] = set(key.split('/')[2] for key in keys if key.startswith('dijitalmenu/weekly/'))
    assert secret_free(out)
    # a schedule is refused when it is installed if the db host cannot run its weekly job (here a Python
    # without Debian's packages: no psycopg2, no boto3), not at 2 AM
    bare = lab.ssh('dbadmin', '/usr/bin/python3 -m venv --without-pip ~/bare-python && echo ~/bare-python/bin/python3')
    assert bare.returncode == 0, bare.stderr
    cron_file = os.path.join(world.root, 'cron.d-defneqr')
    code, out = play(world, 'backup.yml', backup_kind='schedule', backup_s3=backup_s3, backup_cron_file=cron_file,
                     backup_log_dir=os.path.join(world.root, 'logs'), ansible_python_interpreter=bare.stdout.strip())
    assert code != 0 and 'apt-get install python3-psycopg2' in out and 'apt-get install python3-boto3' in out, out[-3000:]
    assert not os.path.exists(cron_file)
    code, out = play(world, 'backup.yml', backup_kind='drill')
    assert code == 0 and 'Restore it into a scratch database' in out, out[-3000:]
    code, out = play(world, 'restore.yml')
    assert code != 0 and 'Set restore_src to the backup to restore' in out, out[-3000:]
    # the bucket and prefix come from the URL, the endpoint and keys from backup_s3 (as the weekly job has them)
    code, out = play(world, 'restore.yml', restore_src='s3://defneqr-ssh/dijitalmenu/weekly/%s' % weekly,
                     restore_mode='drill', backup_s3=backup_s3)
    assert code == 0, out[-3000:]
    assert secret_free(out)
    # the health report's default folder is root's (/var/log/defneqr/health): refused with the fix, nothing made
    code, out = play(world, 'health.yml')
    assert code != 0 and 'install -d -o dbadmin -m 0700 /var/log/defneqr/health' in out, out[-3000:]
    reports = os.path.join(lab.home('dbadmin'), 'health')
    code, out = play(world, 'health.yml', health_report_dir=reports)
    assert code == 0, out[-3000:]
    written = [os.path.join(reports, name) for name in os.listdir(reports)]
    assert written and all(owned_by(path, 'dbadmin') and stat.S_IMODE(os.stat(path).st_mode) == 0o600
                           for path in written if os.path.isfile(path))


def secret_free(output):
    return S3_KEYS['secret_key'] not in output and 'demo-jwt-secret' not in output


def health(world):
    return dict((host.name, apphost.http('GET', host.url + '/health')[1] or {}) for host in world.hosts)


def test_deploy_rollback_and_automatic_rollback_over_ssh(world, lab):
    world.start_previous_release(quiet=True)
    assert all(body.get('release') == '1.3.0' for body in health(world).values()), health(world)
    for name in ('app1', 'app2'):  # pm2 under the account's own ~/.pm2, the backend run by that account
        assert os.path.isdir(os.path.join(lab.home(name), '.pm2'))
        listed = lab.ssh(name, 'pgrep -u %s -f src/server.js' % name)
        assert listed.returncode == 0 and listed.stdout.split(), (name, listed.stderr)
    # a pm2 that is not where the inventory says: refused on both app hosts before the lock, nothing changed
    code = world.playbook(os.path.join(paths.REPO, 'playbooks', 'deploy.yml'), '-e', json.dumps(
        world.deploy_variables(world.archives['new'], '1.4.0', dict(app_pm2_bin='/opt/no-pm2/pm2'))), quiet=True)
    out = world.last_output
    assert code != 0 and '/opt/no-pm2/pm2 is not an executable file (missing)' in out, out[-3000:]
    assert 'or set app_pm2_bin' in out and 'as app1 (nothing was changed)' in out and 'as app2 (nothing' in out
    assert not os.path.exists(os.path.join(world.backup_dest, '.deploy.lock'))
    assert not os.path.exists(os.path.join(world.hosts[0].base_dir, 'releases', '1.4.0'))
    assert all(body.get('release') == '1.3.0' for body in health(world).values())
    writer = ScanWriter(world.hosts[0].url)
    writer.start()
    code, report = run(world, writer, world.archives['new'], '1.4.0')
    assert code == 0 and report['outcome'] == 'deployed', world.last_failures()
    assert report['folder'] in world.last_output  # the end of the run says where its report is
    assert stat.S_IMODE(os.stat(os.path.join(report['folder'], 'report.json')).st_mode) == 0o600
    assert all(body.get('release') == '1.4.0' and body.get('migration') == LATEST for body in health(world).values())
    rows = history(world.params)
    assert [r['migration_name'] for r in rows if r['finished_at'] and not r['rolled_back_at']][-1] == LATEST
    assert set(i for _at, i in writer.acked) <= scan_ids(world.params)
    assert secret_free(world.last_output) and world.params['login_password'] not in world.last_output

    # a person's rollback.yml, by name from the installed collection, from the journal on the db host
    code = world.playbook(os.path.join(paths.REPO, 'playbooks', 'rollback.yml'), quiet=True)
    assert code == 0, world.last_failures()
    assert all(body.get('release') == '1.3.0' and body.get('migration') == M11 for body in health(world).values())

    # a broken release: step 7 fails on both hosts and the deploy rolls back by itself, keeping the writes
    writer = ScanWriter(world.hosts[0].url)
    writer.start()
    code, report = run(world, writer, world.archives['broken'], '1.4.0-broken')
    assert code != 0 and report['outcome'] == 'rolled_back', world.last_failures()
    assert report['incident']['trigger']['step']['number'] == 7
    assert report['incident']['rollback']['healthy'] is True
    assert all(body.get('release') == '1.3.0' and body.get('migration') == M11 for body in health(world).values())
    acked = set(i for _at, i in writer.acked)
    assert acked and acked <= scan_ids(world.params)
    assert not os.path.exists(os.path.join(world.backup_dest, '.deploy.lock'))
