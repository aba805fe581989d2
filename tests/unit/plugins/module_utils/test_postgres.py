"""Pure logic of the connection layer."""
import os
import stat

import pytest

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import programs

PARAMS = dict(login_host='db1', login_port=5433, login_user='app', login_password='s3:cr\\et',
              login_unix_socket='', login_db='dijitalmenu', ssl_mode='require', ca_cert=None,
              connect_timeout=3, pg_bin_dir=None)


@pytest.mark.parametrize('output, expected', [
    ('pg_dump (PostgreSQL) 18.1 (Debian 18.1-1.pgdg120+1)', 180001),
    ('psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)', 150018),
    ('pg_restore (PostgreSQL) 9.6.24', 90624),
    ('pg_dump (PostgreSQL) 17devel', 170000),
])
def test_parse_program_version(output, expected):
    assert postgres.parse_program_version(output) == expected


def test_parse_program_version_rejects_garbage():
    with pytest.raises(postgres.PgError):
        postgres.parse_program_version('bash: pg_dump: command not found')


def test_older_client_refused_newer_allowed():
    postgres.require_client_not_older('pg_dump', 180001, 150018)
    postgres.require_client_not_older('pg_dump', 150002, 150018)  # same major: fine
    with pytest.raises(postgres.PgError) as caught:
        postgres.require_client_not_older('pg_dump', 150018, 180001)
    assert 'pg_dump is version 15 but the server is version 18' in str(caught.value)
    assert '/usr/lib/postgresql/18/bin' in str(caught.value)


def test_connection_kwargs_prefers_socket_and_keeps_password_out_of_nothing_else():
    kwargs = postgres.connection_kwargs(dict(PARAMS, login_unix_socket='/run/pg'))
    assert kwargs['host'] == '/run/pg'
    assert kwargs['dbname'] == 'dijitalmenu'
    assert kwargs['sslmode'] == 'require'
    assert 'sslrootcert' not in kwargs


@pytest.mark.parametrize('libpq_text, expected_start', [
    ('FATAL:  password authentication failed for user "app"', 'PostgreSQL at db1 port 5433 rejected the password'),
    ('FATAL:  database "nope" does not exist', 'Database "dijitalmenu" does not exist on db1 port 5433'),
    ('FATAL:  role "app" does not exist', 'Role "app" does not exist'),
    ('connection to server at "db1" (10.0.0.1), port 5433 failed: Connection refused',
     'Cannot reach PostgreSQL at db1 port 5433'),
    ('could not translate host name "db1" to address', 'Cannot reach PostgreSQL at db1 port 5433'),
    ('FATAL:  no pg_hba.conf entry for host "1.2.3.4"', 'PostgreSQL at db1 port 5433 refused the connection'),
])
def test_explain_connect_error(libpq_text, expected_start):
    assert postgres.explain_connect_error(libpq_text, PARAMS, 'dijitalmenu').startswith(expected_start)


def test_client_environment_uses_private_passfile_with_escaping(monkeypatch):
    monkeypatch.setenv('PGPASSWORD', 'inherited-secret')
    with postgres.client_environment(PARAMS) as env:
        assert 'PGPASSWORD' not in env
        assert env['PGHOST'] == 'db1' and env['PGPORT'] == '5433' and env['PGUSER'] == 'app'
        assert env['PGDATABASE'] == 'dijitalmenu' and env['PGSSLMODE'] == 'require'
        path = env['PGPASSFILE']
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert os.stat(path).st_nlink == 0  # no name on disk: nothing is left behind by a SIGKILL
        assert programs.passed_fds(env) == (int(path.rsplit('/', 1)[1]),)
        with open(path, encoding='utf-8') as stream:
            assert stream.read() == '*:*:*:*:s3\\:cr\\\\et\n'
    assert not os.path.exists(path)


def test_client_environment_without_password_has_no_passfile():
    with postgres.client_environment(dict(PARAMS, login_password='')) as env:
        assert 'PGPASSFILE' not in env


def test_compose_quotes_identifiers():
    composed = postgres.compose('DROP DATABASE {db}', db='x"; DROP TABLE users; --')
    parts = composed.seq if hasattr(composed, 'seq') else None
    assert parts is not None
    assert parts[1].strings == ('x"; DROP TABLE users; --',)
