"""The connection layer against real servers: logins, errors, quoting, secrets."""
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import programs
import paths
from conftest import tcp_params

HOSTILE_NAME = 'x"; DROP TABLE users; --'


def test_password_login_over_tcp(pg):
    conn = postgres.connect(tcp_params(pg))
    rows = postgres.query(conn, 'SELECT current_user AS who, inet_server_port() AS port')
    assert rows == [{'who': 'defneqr', 'port': pg.port}]
    assert postgres.major_of(postgres.server_version(conn)) == pg.version_num // 10000


def test_password_login_over_unix_socket(pg):
    conn = postgres.connect(tcp_params(pg, login_host='', login_unix_socket=pg.socket_dir))
    rows = postgres.query(conn, 'SELECT current_user AS who, inet_server_port() AS port')
    # inet_server_port() is NULL on a unix socket connection: proof we did not use TCP.
    assert rows == [{'who': 'defneqr', 'port': None}]


def test_wrong_password_is_named(pg):
    with pytest.raises(postgres.PgError) as caught:
        postgres.connect(tcp_params(pg, login_password='not-the-password'))
    message = str(caught.value)
    assert 'rejected the password of role "defneqr"' in message
    assert 'login_password' in message
    assert 'not-the-password' not in message


def test_unknown_database_is_named(pg):
    with pytest.raises(postgres.PgError) as caught:
        postgres.connect(tcp_params(pg, login_db='no_such_db'))
    assert str(caught.value).startswith('Database "no_such_db" does not exist on 127.0.0.1 port %d' % pg.port)


def test_unreachable_port_is_named(pg):
    closed_port = pgcluster_free_port()
    with pytest.raises(postgres.PgError) as caught:
        postgres.connect(tcp_params(pg, login_port=closed_port))
    assert str(caught.value).startswith('Cannot reach PostgreSQL at 127.0.0.1 port %d' % closed_port)


def pgcluster_free_port():
    import pgcluster  # pylint: disable=import-outside-toplevel
    return pgcluster.free_port()


def test_hostile_name_is_quoted_not_executed(pg, fresh_db):
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    postgres.query(conn, 'CREATE TABLE users (id int)')
    postgres.query(conn, postgres.compose('CREATE TABLE {name} (id int)', name=HOSTILE_NAME))
    tables = sorted(row['tablename'] for row in postgres.query(
        conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    assert tables == sorted(['users', HOSTILE_NAME])


def test_client_program_version_and_newer_server_refused(pg):
    conn = postgres.connect(tcp_params(pg))
    path, version = postgres.client_program('pg_dump', tcp_params(pg), conn)
    assert path == os.path.join(pg.bin_dir, 'pg_dump')
    assert postgres.major_of(version) == pg.version_num // 10000
    with pytest.raises(postgres.PgError) as caught:
        postgres.require_client_not_older('pg_dump', 150000, postgres.server_version(conn) + 30000)
    assert 'cannot work with a newer server' in str(caught.value)


def test_missing_binary_is_named(pg, tmp_path):
    with pytest.raises(postgres.PgError) as caught:
        postgres.client_program('pg_dump', tcp_params(pg, pg_bin_dir=str(tmp_path)))
    assert str(caught.value) == ('pg_dump was not found in pg_bin_dir=%s. Point pg_bin_dir at the bin folder '
                                 'of a PostgreSQL install (e.g. /usr/lib/postgresql/18/bin).' % tmp_path)


def test_password_reaches_child_only_through_a_private_passfile(pg, fresh_db):
    """Run psql through the layer, read its /proc argv and environ while it runs."""
    params = tcp_params(pg, login_db=fresh_db)
    psql = postgres.find_program('psql', pg.bin_dir)
    with postgres.client_environment(params) as env:
        passfile = env['PGPASSFILE']
        assert oct(os.stat(passfile).st_mode & 0o777) == '0o600' and os.stat(passfile).st_nlink == 0
        argv = [psql, '-X', '-At', '-c', 'SELECT current_user, pg_sleep(1)']
        child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 pass_fds=programs.passed_fds(env))
        with open('/proc/%d/cmdline' % child.pid, 'rb') as stream:
            cmdline = stream.read()
        with open('/proc/%d/environ' % child.pid, 'rb') as stream:
            environ = stream.read()
        out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert out.decode().startswith('defneqr|')
    secret = pg.app_password.encode()
    assert secret not in cmdline
    assert secret not in environ
    assert b'PGPASSWORD' not in environ
    assert not os.path.exists(passfile), 'the passfile must be removed after the block'


def test_a_killed_backup_leaves_no_password_on_disk(pg, fresh_db, tmp_path):
    """SIGKILL pg_backup ten times while pg_dump runs: no passfile and no file holding the password remains."""
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    postgres.query(conn, 'CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 20) AS pad '
                         'FROM generate_series(1, 200000) g')
    secret = pg.app_password.encode()
    before = set(os.listdir(tempfile.gettempdir()))
    started = time.time()
    for attempt in range(10):
        child = subprocess.Popen([sys.executable, '-m', 'ansible_collections.defneqr.dbops.plugins.modules.pg_backup'],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=dict(os.environ, PYTHONPATH=paths.collections_root()))
        args = dict(tcp_params(pg, login_db=fresh_db), database=fresh_db, dest=str(tmp_path / 'bk'), verify='none',
                    label='kill%d' % attempt, compression='gzip')
        child.stdin.write(json.dumps(dict(ANSIBLE_MODULE_ARGS=args)).encode())
        child.stdin.close()
        time.sleep(0.4 + 0.05 * attempt)
        child.kill()
        child.wait(timeout=30)
    time.sleep(0.5)
    left = [name for name in set(os.listdir(tempfile.gettempdir())) - before if name.startswith('dbops-pass-')]
    assert not left, left
    for root, _dirs, files in os.walk(tempfile.gettempdir()):
        for name in files:
            path = os.path.join(root, name)
            try:
                if os.path.isfile(path) and os.path.getmtime(path) >= started and os.path.getsize(path) < 1 << 20:
                    with open(path, 'rb') as stream:
                        assert secret not in stream.read(), path
            except OSError:
                continue


def test_a_failed_program_reports_stderr_without_secret(pg):
    params = tcp_params(pg, login_password='wrong-' + pg.app_password)
    psql = postgres.find_program('psql', pg.bin_dir)
    with postgres.client_environment(params) as env:
        with pytest.raises(programs.ProgramError) as caught:
            programs.run([psql, '-X', '-c', 'SELECT 1'], env)
    assert 'password authentication failed' in str(caught.value)
    assert pg.app_password not in str(caught.value)
