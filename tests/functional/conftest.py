"""Real PostgreSQL servers for the functional tests: 18 (embedded wheel) and 15 (Debian).

DBOPS_TEST_SERVERS selects them: a comma-separated list of `embedded` or bin folders.
A server that is asked for but missing is an error, not a skip.
"""
import os
import shutil

import pytest

import paths
import pgcluster

DEFAULT_SERVERS = 'embedded,/usr/lib/postgresql/15/bin'


def _servers():
    return [item.strip() for item in os.environ.get('DBOPS_TEST_SERVERS', DEFAULT_SERVERS).split(',') if item.strip()]


def _server_id(spec):
    if spec == 'embedded':
        return 'pg18-embedded'
    digits = [part for part in spec.split('/') if part.isdigit()]
    return 'pg%s' % digits[0] if digits else spec


@pytest.fixture(scope='session', params=_servers(), ids=_server_id)
def pg(request):
    """A running cluster (pgcluster.Cluster) shared by the tests of one server version."""
    bin_dir = None if request.param == 'embedded' else request.param
    if bin_dir and not os.path.isfile(os.path.join(bin_dir, 'postgres')):
        pytest.fail('PostgreSQL server binaries not found in %s (apt-get install postgresql-15, '
                    'or set DBOPS_TEST_SERVERS)' % bin_dir)
    cluster = pgcluster.Cluster(name=_server_id(request.param), bin_dir=bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def fresh_db(pg, request):
    """An empty database owned by the application role, dropped after the test."""
    name = 'test_%s' % request.node.name.split('[')[0][-40:].lower()
    pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    pg.create_database(name)
    yield name
    pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def tcp_params(cluster, **overrides):
    """The connection options of the collection for the application role over TCP."""
    params = dict(login_host='127.0.0.1', login_port=cluster.port, login_user=pgcluster.APP_ROLE,
                  login_password=cluster.app_password, login_db='postgres', ssl_mode='disable',
                  connect_timeout=5, login_unix_socket='', ca_cert=None,
                  pg_bin_dir=cluster.bin_dir)
    params.update(overrides)
    return params


@pytest.fixture
def project(tmp_path):
    """A copy of the example project that a test may change."""
    root = tmp_path / 'backend'
    shutil.copytree(os.path.join(paths.BACKEND, 'prisma'), str(root / 'prisma'))
    shutil.copytree(paths.ROLLBACKS, str(root / 'migrations' / 'rollback'))
    return root
