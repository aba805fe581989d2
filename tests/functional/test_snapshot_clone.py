"""A snapshot that does not grow with the database: PostgreSQL 18 cloning files on XFS with reflink.

The data directory of an embedded PostgreSQL 18 lives on a loop-mounted XFS made with reflink=1
(root, Debian's xfsprogs). The deploy's snapshot (pg_backup method=snapshot, snapshot_method auto)
must clone there: the copy holds the same rows, the filesystem's free space barely moves (shared
extents, where a copy would take the database's size again), and the manifest says `clone`. Where
the server cannot clone (PostgreSQL 15), snapshot_method=clone refuses with the fix and leaves no
database; PostgreSQL 18 on ext4 takes the clone method as an in-kernel copy.
"""
import os

import pytest

import loopxfs
import pgcluster
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from conftest import tcp_params
from modrun import run_module


@pytest.fixture(scope='module')
def xfs():
    """A 2 GB XFS with reflink, loop-mounted; removed afterwards."""
    try:
        mounted = loopxfs.LoopXfs().start()
    except RuntimeError as err:
        pytest.fail(str(err))
    yield mounted
    mounted.stop()


@pytest.fixture(scope='module')
def pg18_on_xfs(xfs):
    cluster = pgcluster.Cluster(name='pg18-xfs', base_dir=os.path.join(xfs.mount, 'pg')).start()
    yield cluster
    cluster.stop()


def make_database(cluster, name, megabytes):
    cluster.create_database(name)
    conn = postgres.connect(tcp_params(cluster, login_db=name))
    postgres.query(conn, "CREATE TABLE scans AS SELECT g AS id, repeat(md5(g::text), 30) AS body "
                         "FROM generate_series(1, %s) AS g", (megabytes * 1024,))
    postgres.query(conn, 'VACUUM scans')  # hint bits set now, as on a live database, not by the first read later
    size = postgres.query(conn, 'SELECT pg_database_size(current_database()) AS bytes')[0]['bytes']
    conn.close()
    return size


def settle(cluster):
    """Every write on disk, so that free space counts what is really allocated (XFS allocates late)."""
    cluster.psql('CHECKPOINT')
    os.sync()


def count_rows(cluster, database):
    conn = postgres.connect(tcp_params(cluster, login_db=database))
    try:
        return postgres.query(conn, 'SELECT count(*) AS n, sum(id) AS total FROM scans')[0]
    finally:
        conn.close()


def test_the_snapshot_clones_on_xfs_and_takes_almost_no_space(pg18_on_xfs, xfs, tmp_path):
    size = make_database(pg18_on_xfs, 'clone_me', 150)
    assert size > 100 * 1024 * 1024, size
    settle(pg18_on_xfs)
    free_before = xfs.free_bytes()
    made = run_module('pg_backup', dict(tcp_params(pg18_on_xfs, login_db='clone_me'), dest=str(tmp_path),
                                        kind='snapshot', method='snapshot', label='pre_clone'))
    assert not made.get('failed'), made.get('msg')
    backup = made['backup']
    assert (backup['copy_method'], backup['not_cloned']) == ('clone', ''), backup
    settle(pg18_on_xfs)
    used = free_before - xfs.free_bytes()
    # a copy takes the database's size again; a clone shares the extents (some WAL and catalog pages).
    # Pages written later in either database stop being shared (copy on write): measured before any.
    assert used < size / 4, (used, size)
    assert count_rows(pg18_on_xfs, 'clone_me_pre_clone') == count_rows(pg18_on_xfs, 'clone_me')
    # the next dry run predicts from this measured clone, not from a default rate, and leaves nothing
    plan = run_module('pg_backup', dict(tcp_params(pg18_on_xfs, login_db='clone_me'), dest=str(tmp_path),
                                        kind='snapshot', method='snapshot', label='next'), check_mode=True)['backup']
    assert plan['copy_method'] == 'clone' and backup['id'] in plan['predicted_from'], plan
    assert plan['predicted_seconds'] <= max(1.0, 2 * backup['duration']), plan
    probe = postgres.connect(tcp_params(pg18_on_xfs))
    assert not postgres.query(probe, "SELECT 1 AS x FROM pg_database WHERE datname IN ('dbops_clone_probe', "
                                     "'clone_me_next')")
    probe.close()


def test_a_server_that_cannot_clone_copies_with_auto_and_refuses_clone_with_the_fix(pg, fresh_db, tmp_path):
    options = dict(tcp_params(pg, login_db=fresh_db), dest=str(tmp_path), kind='snapshot', method='snapshot')
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    postgres.query(conn, 'CREATE TABLE scans AS SELECT g AS id FROM generate_series(1, 1000) AS g')
    conn.close()
    refused = run_module('pg_backup', dict(options, label='must_clone', snapshot_method='clone'))
    probe = postgres.connect(tcp_params(pg))
    exists = postgres.query(probe, 'SELECT 1 AS x FROM pg_database WHERE datname = %s', (fresh_db + '_must_clone',))
    if not refused.get('failed'):  # PostgreSQL 18 takes the clone method (an in-kernel copy on ext4)
        assert pg.version_num >= 180000 and refused['backup']['copy_method'] == 'clone'
        return
    assert 'snapshot_method=clone' in refused['msg'] and 'XFS' in refused['msg'] and not exists, refused['msg']
    made = run_module('pg_backup', dict(options, label='auto'))
    assert not made.get('failed'), made.get('msg')
    assert made['backup']['copy_method'] == 'copy' and made['backup']['not_cloned'], made['backup']
    assert count_rows(pg, fresh_db + '_auto')['n'] == 1000
    pg.psql('DROP DATABASE IF EXISTS "%s_auto"' % fresh_db)
