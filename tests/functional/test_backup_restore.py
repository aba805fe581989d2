"""pg_backup, pg_restore and pg_backup_info on real servers: data identical, failures loud."""
import datetime
import fcntl
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

import fingerprint
import paths
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations
from conftest import tcp_params
from modrun import run_module

sys.path.insert(0, paths.EXAMPLE)
import generate_data  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

TABLES = ('users', 'restaurants', 'categories', 'products', 'orders', 'order_items', 'payments', 'menu_scans',
          '_prisma_migrations')


@pytest.fixture
def sample_db(pg, fresh_db):
    # both sessions closed here, not whenever the garbage collector gets to them: a snapshot needs the
    # database without sessions
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    loader = postgres.connect(tcp_params(pg, login_db=fresh_db), autocommit=False)
    try:
        prisma_migrations.deploy(conn, prisma_migrations.Project(paths.BACKEND))
        generate_data.load(loader, 0.05, log=lambda *a: None)
    finally:
        conn.close()
        loader.close()
    return fresh_db


def fingerprints(pg, database):
    return fingerprint.fingerprints(tcp_params(pg, login_db=database), TABLES)


def conn_args(pg, login_db, **extra):
    args = tcp_params(pg, login_db=login_db)
    args.update(extra)
    return args


def args_for(pg, login_db, dest, **extra):
    return conn_args(pg, login_db, dest=str(dest), **extra)


def drop(pg, *names):
    for name in names:
        pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


@pytest.mark.parametrize('options', [
    dict(compression='auto', verify='restore'),
    dict(compression='gzip:1', verify='list'),
    dict(compression='none', verify='checksum', exact_counts=True),
    dict(format='directory', jobs=2, compression='gzip:1', verify='restore'),
], ids=['auto-restore-drill', 'gzip1-list', 'none-checksum', 'directory-jobs2'])
def test_dump_verify_and_restore_in_every_mode_gives_identical_data(pg, sample_db, tmp_path, options):
    before = fingerprints(pg, sample_db)
    made = run_module('pg_backup', args_for(pg, sample_db, tmp_path, kind='daily', **options))
    assert not made.get('failed'), made.get('msg')
    backup = made['backup']
    assert backup['verification']['ok'] is True and backup['verification']['level'] == options['verify']
    if options['verify'] == 'restore':
        assert backup['verification']['tables_compared'] >= 15 and backup['verification']['restore_seconds'] > 0
    folder = backup['folder']
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    with open(os.path.join(folder, 'manifest.json'), encoding='utf-8') as stream:
        manifest_text = stream.read()
    assert stat.S_IMODE(os.stat(os.path.join(folder, 'manifest.json')).st_mode) == 0o600
    assert pg.app_password not in manifest_text and pg.app_password not in made['_stdout']
    assert json.loads(manifest_text)['files'] == backup['files']
    copy = sample_db + '_copy'
    drop(pg, copy)
    try:
        new = run_module('pg_restore', conn_args(pg, sample_db, src=folder, database=copy, mode='new',
                                                 jobs=options.get('jobs', 1)))
        assert not new.get('failed'), new.get('msg')
        assert fingerprints(pg, copy) == before
        # the live database is changed, then replaced by the backup: the change is gone, nothing else differs
        postgres.query(postgres.connect(tcp_params(pg, login_db=sample_db)), 'DELETE FROM menu_scans')
        replaced = run_module('pg_restore', conn_args(pg, sample_db, src=folder, mode='replace', drop_old=True))
        assert not replaced.get('failed'), replaced.get('msg')
        assert replaced['previous_database'] is None
        assert fingerprints(pg, sample_db) == before
        postgres.query(postgres.connect(tcp_params(pg, login_db=copy)), 'DELETE FROM payments')
        cleaned = run_module('pg_restore', conn_args(pg, copy, src=folder, database=copy, mode='clean'))
        assert not cleaned.get('failed'), cleaned.get('msg')
        assert fingerprints(pg, copy) == before
    finally:
        drop(pg, copy)


def test_snapshot_then_swap_back_restores_the_data_in_constant_time(pg, sample_db, tmp_path):
    before = fingerprints(pg, sample_db)
    snap = run_module('pg_backup', args_for(pg, sample_db, tmp_path, kind='snapshot', method='snapshot',
                                            label='pre_test'))
    assert not snap.get('failed'), snap.get('msg')
    assert snap['backup']['snapshot_database'] == sample_db + '_pre_test'
    # how its files were made, and why not cloned (test_snapshot_clone.py proves the clone on XFS)
    made = snap['backup']
    assert (made['copy_method'] == 'clone') == (made['not_cloned'] == ''), made
    if pg.version_num < 180000:
        assert made['copy_method'] == 'copy' and 'has no file_copy_method (18 has)' in made['not_cloned']
    conn = postgres.connect(tcp_params(pg, login_db=sample_db))
    postgres.query(conn, 'DROP TABLE menu_scans')  # a migration gone wrong
    conn.close()
    back = run_module('pg_restore', conn_args(pg, sample_db, src=snap['backup']['folder']))
    try:
        assert not back.get('failed'), back.get('msg')
        assert back['swap_seconds'] < 3
        assert fingerprints(pg, sample_db) == before
        again = run_module('pg_restore', conn_args(pg, sample_db, src=snap['backup']['folder']))
        assert again['failed'] and 'no longer exists' in again['msg']
    finally:
        drop(pg, back.get('previous_database') or 'none')


def database_properties_of(pg, name):
    from ansible_collections.defneqr.dbops.plugins.module_utils import database_properties  # pylint: disable=import-outside-toplevel
    found = database_properties.read(postgres.connect(tcp_params(pg)), name)
    return dict(found, grants=sorted(found['grants'], key=str), settings=sorted(found['settings'], key=str))


@pytest.mark.parametrize('method', ['snapshot', 'dump'])
def test_a_swap_keeps_the_grants_settings_and_comment_of_the_database(pg, sample_db, tmp_path, method):
    """PostgreSQL keeps them per database oid, so a swapped-in database used to come without them: a
    REVOKE CONNECT ... FROM PUBLIC silently undone by a rollback."""
    reader = ('reader_%s' % sample_db)[:63]
    pg.psql('CREATE ROLE "%s" LOGIN' % reader)
    for statement in ('REVOKE CONNECT, TEMPORARY ON DATABASE "{db}" FROM PUBLIC',
                      'GRANT CONNECT ON DATABASE "{db}" TO "{reader}"',
                      "COMMENT ON DATABASE \"{db}\" IS 'Defne Qr production'",
                      "ALTER DATABASE \"{db}\" SET statement_timeout = '45s'",
                      'ALTER DATABASE "{db}" SET search_path = "$user", public, "Audit Log"',
                      "ALTER ROLE defneqr IN DATABASE \"{db}\" SET work_mem = '32MB'",
                      "ALTER ROLE \"{reader}\" IN DATABASE \"{db}\" SET lock_timeout = '3s'"):
        pg.psql(statement.format(db=sample_db, reader=reader))
    before = database_properties_of(pg, sample_db)
    made = run_module('pg_backup', args_for(pg, sample_db, tmp_path, kind='snapshot' if method == 'snapshot' else 'daily',
                                            method=method, label='props', verify='checksum'))
    assert not made.get('failed'), made.get('msg')
    back = run_module('pg_restore', conn_args(pg, sample_db, src=made['backup']['folder'], mode='replace',
                                              drop_old=True))
    try:
        assert not back.get('failed'), back.get('msg')
        after = database_properties_of(pg, sample_db)
        # the application role may not change another role's settings: said, with the statement to run
        [missed] = back['database_properties']['not_carried']
        assert missed['what'] == 'set lock_timeout for role %s' % reader
        assert missed['statement'] == 'ALTER ROLE "%s" IN DATABASE "%s" SET "lock_timeout" TO \'3s\'' % (reader, sample_db)
        assert after['settings'] == [s for s in before['settings'] if s[0] != reader]
        assert dict(after, settings=None) == dict(before, settings=None)
        assert (None, 'CONNECT', False) not in after['grants'] and (reader, 'CONNECT', False) in after['grants']
        assert after['comment'] == 'Defne Qr production'
        assert ('defneqr', 'work_mem=32MB') in after['settings']
        assert (None, 'search_path="$user", public, "Audit Log"') in after['settings']
    finally:
        pg.psql('DROP DATABASE IF EXISTS "%s_props"' % sample_db)
        drop(pg, sample_db)
        pg.psql('DROP ROLE "%s"' % reader)


def age_manifest(folder, days):
    path = os.path.join(folder, 'manifest.json')
    with open(path, encoding='utf-8') as stream:
        manifest = json.load(stream)
    manifest['started_at'] = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)).isoformat()
    with open(path, 'w', encoding='utf-8') as stream:
        json.dump(manifest, stream)
    return manifest


def test_databases_replaced_by_swaps_are_recorded_and_expire_by_oid(pg, sample_db, tmp_path):
    """Every rollback used to leave <db>_old_<time> behind for good (118 MB each in a trial)."""
    kept = []
    for label, days in (('first', 12), ('second', 10)):
        snap = run_module('pg_backup', args_for(pg, sample_db, tmp_path, kind='snapshot', method='snapshot', label=label))
        assert not snap.get('failed'), snap.get('msg')
        back = run_module('pg_restore', conn_args(pg, sample_db, src=snap['backup']['folder']))
        assert not back.get('failed'), back.get('msg')
        assert back['previous_recorded'].startswith(str(tmp_path / 'replaced'))
        manifest = age_manifest(back['previous_recorded'], days)
        assert manifest['snapshot_database'] == back['previous_database'] and manifest['kind'] == 'replaced'
        kept.append(back['previous_database'])
        time.sleep(1.1)  # the _old_ names carry the time to the second
    # a planted manifest naming the live database, old enough to expire: data, not an order to drop it
    planted = tmp_path / 'replaced' / 'planted'
    planted.mkdir()
    (planted / 'manifest.json').write_text(json.dumps(dict(
        manifest_version=1, id='planted', database=sample_db, kind='replaced', method='snapshot', files=[],
        snapshot_database=sample_db, snapshot_oid=1, started_at='2020-01-01T00:00:00+00:00',
        verification=dict(level='exists', ok=True))), encoding='utf-8')
    try:
        expired = run_module('pg_backup', args_for(pg, sample_db, tmp_path, kind='replaced', retention_only=True,
                                                   retention_days=7, min_keep=1))
        assert not expired.get('failed'), expired.get('msg')
        exists = pg.psql('SELECT datname FROM pg_database').split()
        assert kept[0] not in exists and kept[1] in exists and sample_db in exists
        [planted_found] = expired['retention']['not_dropped']
        assert planted_found['id'] == 'planted' and 'which is not a snapshot of' in planted_found['problem']
        assert len(expired['retention']['deleted']) == 1
    finally:
        drop(pg, *kept)


def test_snapshot_refuses_while_sessions_are_connected(pg, sample_db, tmp_path):
    app_session = postgres.connect(tcp_params(pg, login_db=sample_db))
    refused = run_module('pg_backup', args_for(pg, sample_db, tmp_path, method='snapshot', label='busy'))
    assert refused['failed'] and 'other session(s)' in refused['msg'] and 'terminate_sessions' in refused['msg']
    assert not pg.psql("SELECT 1 FROM pg_database WHERE datname = '%s_busy'" % sample_db).strip()
    forced = run_module('pg_backup', args_for(pg, sample_db, tmp_path, method='snapshot', label='busy',
                                              terminate_sessions=True))
    assert not forced.get('failed'), forced.get('msg')
    assert len(forced['backup']['terminated_sessions']) == 1
    assert app_session.closed or _is_dead(app_session)
    drop(pg, sample_db + '_busy')


def _is_dead(conn):
    try:
        postgres.query(conn, 'SELECT 1')
    except postgres.psycopg2.Error:
        return True
    return False


def test_killed_dump_leaves_no_backup_and_the_next_run_cleans_up(pg, sample_db, tmp_path):
    blocker = postgres.connect(tcp_params(pg, login_db=sample_db), autocommit=False)
    postgres.query(blocker, 'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE')  # pg_dump will wait on it
    args_file = tmp_path / 'args.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args_for(pg, sample_db, tmp_path / 'bk', kind='daily')}))
    os.chmod(str(args_file), 0o600)
    child = subprocess.Popen([sys.executable, '-m', 'ansible_collections.defneqr.dbops.plugins.modules.pg_backup',
                              str(args_file)], env=dict(os.environ, PYTHONPATH=paths.collections_root()),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    daily = tmp_path / 'bk' / 'daily'
    for _wait in range(200):
        if daily.is_dir() and any(p.name.endswith('.partial') for p in daily.iterdir()):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    blocker.rollback()
    blocker.close()
    leftovers = [p.name for p in daily.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].endswith('.partial')
    assert not (daily / leftovers[0] / 'manifest.json').exists()
    info = run_module('pg_backup_info', dict(dest=str(tmp_path / 'bk')))
    assert info['backups'] == [] and len(info['leftovers']) == 1
    after = run_module('pg_backup', args_for(pg, sample_db, tmp_path / 'bk', kind='daily'))
    assert not after.get('failed'), after.get('msg')
    assert [os.path.basename(p) for p in after['cleaned']] == leftovers
    assert sorted(p.name for p in daily.iterdir()) == [after['backup']['id']]


def test_corrupted_and_truncated_dumps_are_caught(pg, sample_db, tmp_path):
    made = run_module('pg_backup', args_for(pg, sample_db, tmp_path, kind='daily', compression='gzip:1'))
    folder = made['backup']['folder']
    dump = os.path.join(folder, made['backup']['files'][0]['path'])
    with open(dump, 'r+b') as stream:
        stream.seek(os.path.getsize(dump) // 2)
        byte = stream.read(1)
        stream.seek(-1, 1)
        stream.write(bytes([byte[0] ^ 0xFF]))
    checked = run_module('pg_backup_info', conn_args(pg, sample_db, dest=str(tmp_path), verify='checksum'))
    assert checked['backups'][0]['check']['ok'] is False
    assert 'different sha256' in checked['backups'][0]['check']['message']
    refused = run_module('pg_restore', conn_args(pg, sample_db, src=folder, database='never_made', mode='new'))
    assert refused['failed'] and 'is damaged' in refused['msg']
    assert not pg.psql("SELECT 1 FROM pg_database WHERE datname = 'never_made'").strip()
    # truncated before it was hashed: the checksum agrees, the table of contents does not
    with open(dump, 'r+b') as stream:
        stream.truncate(200)
    manifest_path = os.path.join(folder, 'manifest.json')
    with open(manifest_path, encoding='utf-8') as stream:
        manifest = json.load(stream)
    from ansible_collections.defneqr.dbops.plugins.module_utils import backup_store
    manifest['files'][0].update(size=200, sha256=backup_store.sha256_file(dump))
    with open(manifest_path, 'w', encoding='utf-8') as stream:
        json.dump(manifest, stream)
    listed = run_module('pg_backup_info', conn_args(pg, sample_db, dest=str(tmp_path), verify='list'))
    assert listed['backups'][0]['check']['ok'] is False
    assert 'pg_restore --list cannot read it' in listed['backups'][0]['check']['message']


def fake_backup(root, kind, database, ident, started, verified, **extra):
    folder = root / kind / ident
    folder.mkdir(parents=True)
    data = ('backup %s\n' % ident).encode()
    (folder / 'db.dump').write_bytes(data)
    manifest = dict(id=ident, kind=kind, database=database, method='dump', started_at=started,
                    files=[dict(path='db.dump', size=len(data), sha256=hashlib.sha256(data).hexdigest())],
                    verification=dict(level='list' if verified else 'none', ok=verified))
    manifest.update(extra)
    (folder / 'manifest.json').write_text(json.dumps(manifest))
    return folder


def test_retention_deletes_exactly_the_expired_and_never_the_newest_verified(pg, sample_db, tmp_path):
    root = tmp_path / 'bk'
    now = time.time()

    def ago(days):
        return time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(now - days * 86400))
    fake_backup(root, 'daily', sample_db, 'old_verified_40', ago(40), True)
    fake_backup(root, 'daily', sample_db, 'old_verified_35', ago(35), True)
    fake_backup(root, 'daily', sample_db, 'old_unverified_33', ago(33), False)
    fake_backup(root, 'daily', sample_db, 'recent_unverified_2', ago(2), False)
    fake_backup(root, 'daily', 'otherdb', 'otherdb_old_50', ago(50), True)
    fake_backup(root, 'weekly', sample_db, 'weekly_old_60', ago(60), True)
    preview = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily', retention_days=30, min_keep=2),
                         check_mode=True)
    # planned as if the new (verified) backup existed: only what is older than two proven newer backups goes
    # (old_unverified_33 has one proven backup newer than it, the new one)
    assert sorted(preview['retention']['deleted']) == ['old_verified_40']
    assert sorted(p.name for p in (root / 'daily').iterdir()) == sorted(
        ['old_verified_40', 'old_verified_35', 'old_unverified_33', 'recent_unverified_2', 'otherdb_old_50'])
    made = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily', retention_days=30, min_keep=2))
    assert sorted(made['retention']['deleted']) == ['old_verified_40']
    assert sorted(p.name for p in (root / 'daily').iterdir()) == sorted(
        [made['backup']['id'], 'old_verified_35', 'old_unverified_33', 'recent_unverified_2', 'otherdb_old_50'])
    assert (root / 'weekly' / 'weekly_old_60').is_dir()


def test_retention_rechecks_the_backups_it_keeps_and_keeps_the_intact_ones(pg, sample_db, tmp_path):
    """Three dailies 8-10 days old, the newest with one flipped byte; retention 3 days, min_keep 1."""
    root = tmp_path / 'bk'
    now = time.time()
    folders = [fake_backup(root, 'daily', sample_db, 'd%d' % days, time.strftime(
        '%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(now - days * 86400)), True) for days in (8, 9, 10)]
    dump = folders[0] / 'db.dump'
    data = bytearray(dump.read_bytes())
    data[3] ^= 0x01
    dump.write_bytes(bytes(data))
    result = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily', retention_only=True,
                                              retention_days=3, min_keep=1))
    assert not result.get('failed'), result.get('msg')
    assert result['retention']['deleted'] == ['d10']
    assert [d['id'] for d in result['retention']['damaged']] == ['d8'] and 'sha256' in \
        result['retention']['damaged'][0]['problems']
    assert sorted(p.name for p in (root / 'daily').iterdir()) == ['d8', 'd9']


def test_a_hostile_snapshot_manifest_drops_no_database(pg, sample_db, tmp_path):
    """A manifest placed in snapshot/ naming another database, with an old date: retention leaves it alone."""
    victim = 'victim_%d' % os.getpid()
    pg.psql('DROP DATABASE IF EXISTS %s' % victim)
    pg.create_database(victim)
    root = tmp_path / 'bk'
    old = time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(time.time() - 90 * 86400))
    fake_backup(root, 'snapshot', sample_db, 'planted', old, True, method='snapshot', files=[],
                snapshot_database=victim, verification=dict(level='exists', ok=True))
    fake_backup(root, 'snapshot', sample_db, 'planted_prefix', old, True, method='snapshot', files=[],
                snapshot_database='%s_%s' % (sample_db, 'x'), snapshot_oid=1,
                verification=dict(level='exists', ok=True))
    pg.psql('DROP DATABASE IF EXISTS "%s_x"' % sample_db)
    pg.psql('CREATE DATABASE "%s_x"' % sample_db)
    made = {}
    try:
        made = run_module('pg_backup', args_for(pg, sample_db, root, kind='snapshot', method='snapshot', label='s1',
                                                retention_days=30, min_keep=1))
        assert not made.get('failed'), made.get('msg')
        conn = postgres.connect(tcp_params(pg, login_db='postgres'))
        names = set(r['datname'] for r in postgres.query(conn, 'SELECT datname FROM pg_database'))
        assert victim in names and '%s_x' % sample_db in names
        assert sorted(n['id'] for n in made['retention']['not_dropped']) == ['planted', 'planted_prefix']
    finally:
        pg.psql('DROP DATABASE IF EXISTS %s' % victim)
        pg.psql('DROP DATABASE IF EXISTS "%s_x"' % sample_db)
        if (made.get('backup') or {}).get('snapshot_database'):
            pg.psql('DROP DATABASE IF EXISTS "%s"' % made['backup']['snapshot_database'])


@pytest.mark.parametrize('compression', ['gzip', 'none', 'auto'])
def test_full_verification_catches_a_truncated_dump_that_list_passes(pg, sample_db, tmp_path, compression):
    """80 % of the dump kept and the manifest re-hashed (a disk that filled, a copy cut short): the table of
    contents still reads, every byte does not."""
    root = tmp_path / 'bk'
    made = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily', verify='full', compression=compression))
    assert not made.get('failed'), made.get('msg')
    assert made['backup']['verification']['ok'] and made['backup']['verification']['read_seconds'] >= 0
    folder = made['backup']['folder']
    entry = made['backup']['files'][0]
    path = os.path.join(folder, entry['path'])
    with open(path, 'rb') as stream:
        data = stream.read()
    with open(path, 'wb') as stream:
        stream.write(data[:int(len(data) * 0.8)])
    with open(os.path.join(folder, 'manifest.json'), encoding='utf-8') as stream:
        manifest = json.load(stream)
    manifest['files'][0].update(size=int(len(data) * 0.8), sha256=hashlib.sha256(data[:int(len(data) * 0.8)]).hexdigest())
    with open(os.path.join(folder, 'manifest.json'), 'w', encoding='utf-8') as stream:
        json.dump(manifest, stream)
    listed = run_module('pg_backup_info', conn_args(pg, sample_db, dest=str(root), verify='list'))
    read = run_module('pg_backup_info', conn_args(pg, sample_db, dest=str(root), verify='full'))
    assert listed['backups'][0]['check']['ok'] is True  # the fast check's blind spot, named honestly
    assert read['backups'][0]['check']['ok'] is False
    assert 'pg_restore cannot read all of it' in read['backups'][0]['check']['message']


def test_full_verification_counts_every_row_against_the_dump_snapshot(pg, sample_db, tmp_path):
    """A complete, readable archive that is not the one dumped (a file swapped in from a later dump after
    rows were deleted, the manifest re-hashed): every checksum and the table of contents pass; the row
    counts of the dump's own snapshot do not."""
    root = tmp_path / 'bk'
    made = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily', verify='full', compression='none'))
    assert not made.get('failed'), made.get('msg')
    dumped = dict((t['table'], t['rows']) for t in made['backup']['tables'])
    assert made['backup']['verification']['rows_counted'] == sum(dumped.values()) > 0
    pg.psql('DELETE FROM menu_scans WHERE id IN (SELECT id FROM menu_scans ORDER BY id LIMIT 7)', sample_db)
    folder = made['backup']['folder']
    entry = made['backup']['files'][0]
    path = os.path.join(folder, entry['path'])
    env = dict(os.environ, PGPASSWORD=pg.superuser_password)
    subprocess.run([os.path.join(pg.bin_dir, 'pg_dump'), '-h', '127.0.0.1', '-p', str(pg.port), '-U', 'postgres',
                    '-Fc', '-Z0', '-f', path, sample_db], env=env, check=True)
    with open(path, 'rb') as stream:
        data = stream.read()
    with open(os.path.join(folder, 'manifest.json'), encoding='utf-8') as stream:
        manifest = json.load(stream)
    manifest['files'][0].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    with open(os.path.join(folder, 'manifest.json'), 'w', encoding='utf-8') as stream:
        json.dump(manifest, stream)
    listed = run_module('pg_backup_info', conn_args(pg, sample_db, dest=str(root), verify='list'))
    read = run_module('pg_backup_info', conn_args(pg, sample_db, dest=str(root), verify='full'))
    assert listed['backups'][0]['check']['ok'] is True
    check = read['backups'][0]['check']
    assert check['ok'] is False
    assert 'public.menu_scans (dumped %d, found %d)' % (dumped['menu_scans'], dumped['menu_scans'] - 7) in check['message']
    assert 'take a new backup' in check['message']


@pytest.mark.parametrize('compression', ['auto', 'gzip'])
def test_a_full_disk_is_named_with_its_fix_and_leaves_nothing(pg, sample_db, tmp_path, compression):
    """A 256 kB tmpfs as the backup root (root mounts it, as CI runs): ENOSPC in the middle of the dump."""
    root = tmp_path / 'small'
    root.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k,mode=0777', 'tmpfs', str(root)], check=True)
    try:
        result = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily', compression=compression,
                                                  free_space_factor=0.0, verify='none'))
        assert result['failed'], result
        assert 'No space left on the device' in result['msg'] and str(root) in result['msg'], result['msg']
        assert 'Traceback' not in result.get('_stdout', '') and 'exception' not in result
        assert not list((root / 'daily').iterdir()), 'the partial backup must be removed'
    finally:
        subprocess.run(['umount', str(root)], check=False)


def test_a_role_without_createdb_is_told_the_grant_before_anything_changes(pg, sample_db, tmp_path):
    role = 'nocreatedb_%d' % os.getpid()
    pg.psql("DROP ROLE IF EXISTS %s" % role)
    pg.psql("CREATE ROLE %s LOGIN PASSWORD 'pw-%s' NOCREATEDB" % (role, role))
    pg.psql('GRANT CONNECT ON DATABASE "%s" TO %s' % (sample_db, role))
    try:
        args = args_for(pg, sample_db, tmp_path / 'bk', kind='snapshot', method='snapshot', label='nocreate',
                        login_user=role, login_password='pw-' + role)
        for check_mode in (True, False):
            result = run_module('pg_backup', args, check_mode=check_mode)
            assert result['failed'] and 'ALTER ROLE %s CREATEDB' % role in result['msg'], result.get('msg')
        conn = postgres.connect(tcp_params(pg, login_db='postgres'))
        assert not postgres.query(conn, 'SELECT 1 FROM pg_database WHERE datname = %s', ('%s_nocreate' % sample_db,))
    finally:
        pg.psql('REVOKE CONNECT ON DATABASE "%s" FROM %s' % (sample_db, role))
        pg.psql("DROP ROLE IF EXISTS %s" % role)


def test_a_database_named_like_a_path_stays_inside_the_backup_root(pg, tmp_path):
    name = '../../escape_%d' % os.getpid()
    pg.psql('DROP DATABASE IF EXISTS "%s"' % name)
    pg.psql('CREATE DATABASE "%s" OWNER %s' % (name, 'defneqr'))
    try:
        root = tmp_path / 'deep' / 'bk'
        made = run_module('pg_backup', args_for(pg, name, root, database=name, kind='daily', verify='full'))
        assert not made.get('failed'), made.get('msg')
        assert os.path.realpath(made['backup']['folder']).startswith(os.path.realpath(str(root)) + os.sep)
        assert sorted(os.listdir(str(tmp_path))) == ['deep'] and sorted(os.listdir(str(tmp_path / 'deep'))) == ['bk']
        listed = run_module('pg_backup_info', conn_args(pg, 'postgres', dest=str(root), verify='full'))
        assert [b['database'] for b in listed['backups']] == [name] and listed['backups'][0]['check']['ok']
    finally:
        pg.psql('DROP DATABASE IF EXISTS "%s"' % name)


def test_a_failed_backup_deletes_nothing(pg, sample_db, tmp_path):
    root = tmp_path / 'bk'
    fake_backup(root, 'daily', sample_db, 'old_verified_40', time.strftime(
        '%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(time.time() - 40 * 86400)), True)
    pg.psql('CREATE TABLE audit_secrets (x int)', sample_db)  # owned by postgres: pg_dump as the app role fails
    failed = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily', retention_days=1, min_keep=0))
    assert failed['failed'] and 'permission denied for table audit_secrets' in failed['msg']
    assert sorted(p.name for p in (root / 'daily').iterdir()) == ['old_verified_40']  # no partial left either
    assert (root / 'daily' / 'old_verified_40').is_dir()


def test_check_mode_writes_nothing(pg, sample_db, tmp_path):
    plan = run_module('pg_backup', args_for(pg, sample_db, tmp_path / 'bk', kind='daily'), check_mode=True)
    assert plan['changed'] is True and '--format=c' in plan['backup']['argv']
    assert plan['space']['free_bytes'] > plan['space']['needed_bytes']
    assert not (tmp_path / 'bk').exists()


@pytest.mark.parametrize('change, expected', [
    ('unknown_db', 'Database "no_such_db" does not exist'),
    ('password', 'rejected the password'),
    ('no_pg_dump', 'pg_dump was not found in pg_bin_dir='),
    ('not_writable', 'Cannot create the backup folder'),
    ('no_space', 'MB are free at'),
    ('label', "label 'x; rm -rf /' may hold only letters"),
])
def test_bad_input_is_refused_clearly_and_changes_nothing(pg, sample_db, tmp_path, change, expected):
    args = args_for(pg, sample_db, tmp_path / 'bk', kind='daily')
    if change == 'unknown_db':
        args['database'] = 'no_such_db'
    elif change == 'password':
        args['login_password'] = 'wrong'
    elif change == 'no_pg_dump':
        args['pg_bin_dir'] = str(tmp_path)
    elif change == 'not_writable':
        (tmp_path / 'file').write_text('')
        args['dest'] = str(tmp_path / 'file' / 'bk')
    elif change == 'no_space':
        args['free_space_factor'] = 1e9
    elif change == 'label':
        args['label'] = 'x; rm -rf /'
    result = run_module('pg_backup', args)
    assert result['failed'] and expected in result['msg']
    backups = run_module('pg_backup_info', dict(dest=str(tmp_path / 'bk')))
    assert backups['backups'] == []


def test_client_older_than_server_is_refused(pg, sample_db, tmp_path):
    if pg.version_num < 160000:
        older = None  # nothing older than 15 is installed here: the newer-client direction is shown instead
        result = run_module('pg_backup', args_for(pg, sample_db, tmp_path, pg_bin_dir=pg.bin_dir))
        assert not result.get('failed'), result.get('msg')
    else:
        older = '/usr/lib/postgresql/15/bin'
        result = run_module('pg_backup', args_for(pg, sample_db, tmp_path, pg_bin_dir=older))
        assert result['failed'] and 'pg_dump is version 15 but the server is version 18' in result['msg']
        assert not any(tmp_path.iterdir()) or not list((tmp_path / 'manual').iterdir())


def test_second_concurrent_run_is_refused(pg, sample_db, tmp_path):
    root = tmp_path / 'bk'
    root.mkdir()
    with open(str(root / '.dbops-backup.lock'), 'a+') as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily'))
        clock = time.time()
        waited = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily', lock_wait=2))
        assert time.time() - clock >= 2
    assert result['failed'] and 'Another backup run holds' in result['msg']
    assert waited['failed'] and 'after waiting 2 s' in waited['msg']


def test_a_run_that_waits_for_the_lock_backs_up_once_it_is_free(pg, sample_db, tmp_path):
    root = tmp_path / 'bk'
    root.mkdir()
    held = open(str(root / '.dbops-backup.lock'), 'a+')
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    threading.Timer(1.5, held.close).start()
    result = run_module('pg_backup', args_for(pg, sample_db, root, kind='daily', lock_wait=30))
    assert not result.get('failed'), result.get('msg')
    assert os.path.isfile(os.path.join(result['backup']['folder'], result['backup']['files'][0]['path']))


def test_replace_refuses_a_database_with_sessions(pg, sample_db, tmp_path):
    made = run_module('pg_backup', args_for(pg, sample_db, tmp_path, kind='daily'))
    before = fingerprints(pg, sample_db)
    session = postgres.connect(tcp_params(pg, login_db=sample_db))
    result = run_module('pg_restore', conn_args(pg, sample_db, src=made['backup']['folder']))
    assert result['failed'] and 'other session(s)' in result['msg']
    session.close()
    assert fingerprints(pg, sample_db) == before
    leftovers = pg.psql("SELECT datname FROM pg_database WHERE datname LIKE '%s_restore_%%'" % sample_db).split()
    drop(pg, *leftovers)
