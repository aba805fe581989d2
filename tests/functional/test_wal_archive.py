"""WAL archiving with pgBackRest on a real PostgreSQL 15: the wal_archive role, point-in-time restore, the
restore point of a deploy, and the archiver check when the repository breaks.

PostgreSQL 15 only: Debian's pgBackRest 2.45 predates PostgreSQL 18 (its newest supported version is 15).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import modrun
import paths
import pgcluster

PG15 = '/usr/lib/postgresql/15/bin'
STANZA = 'shop'


@pytest.fixture(scope='module')
def archived():
    """A PostgreSQL 15 cluster configured by the wal_archive role (its first run), with a table to write to."""
    if not shutil.which('pgbackrest'):
        pytest.fail('pgbackrest is not installed (apt-get install pgbackrest; .ci/run does it)')
    base = tempfile.mkdtemp(prefix='dbops-wal-')
    os.chmod(base, 0o755)
    cluster = pgcluster.Cluster(name='wal', bin_dir=PG15, base_dir=os.path.join(base, 'pg'), durable=True).start()
    cluster.create_database(STANZA)
    cluster.psql('CREATE TABLE scans (batch int, n int, at timestamptz DEFAULT clock_timestamp())', database=STANZA)
    cluster.psql('GRANT ALL ON scans TO %s' % pgcluster.APP_ROLE, database=STANZA)
    world = dict(cluster=cluster, base=base, config=os.path.join(base, 'etc', 'pgbackrest.conf'),
                 repo=os.path.join(base, 'repo'))
    world['check_run'] = run_role(world, '--check')
    world['settings_after_check'] = cluster.psql("SELECT setting FROM pg_settings WHERE name = 'archive_mode'").strip()
    world['config_after_check'] = os.path.exists(world['config'])
    world['first_run'] = run_role(world)
    yield world
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


def role_vars(world):
    cluster = world['cluster']
    account = cluster.account.pw_name if cluster.account else os.environ.get('USER', 'root')
    restart = ['runuser', '-u', account, '--'] if cluster.account else []
    return dict(
        wal_archive_install=False, wal_archive_stanza=STANZA, wal_archive_os_user=account,
        wal_archive_cipher_pass='test-only-passphrase',
        wal_archive_config=world['config'], wal_archive_pg_data=cluster.data_dir, wal_archive_pg_port=cluster.port,
        wal_archive_pg_socket=cluster.socket_dir, wal_archive_login_host='127.0.0.1',
        wal_archive_login_password=cluster.superuser_password, wal_archive_ssl_mode='disable',
        wal_archive_repo_path=world['repo'], wal_archive_log_path=os.path.join(world['base'], 'log'),
        wal_archive_lock_path=os.path.join(world['base'], 'lock'),
        wal_archive_spool_path=os.path.join(world['base'], 'spool'),
        wal_archive_restart_command=restart + [os.path.join(PG15, 'pg_ctl'), '-D', cluster.data_dir, '-l',
                                               cluster.log_file, '-w', 'restart'])


def run_role(world, *options):
    """ansible-playbook with the role on a local host; returns (exit code, output)."""
    play = '- hosts: db1\n  gather_facts: false\n  roles: [defneqr.dbops.wal_archive]\n'
    return run_playbook(play, role_vars(world), *options)


def run_playbook(playbook, variables, *options):
    """ansible-playbook of a playbook text or path on a local db1 (group db); variables in a 0600 file."""
    folder = tempfile.mkdtemp(prefix='dbops-wal-play-')
    if '\n' in playbook:
        path = os.path.join(folder, 'play.yml')
        with open(path, 'w', encoding='utf-8') as stream:
            stream.write(playbook)
        playbook = path
    pgcluster.write_private(os.path.join(folder, 'vars.json'), json.dumps(variables))
    with open(os.path.join(folder, 'hosts'), 'w', encoding='utf-8') as stream:
        stream.write('[db]\ndb1 ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=paths.collections_root(), ANSIBLE_FORCE_COLOR='0')
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i',
                           os.path.join(folder, 'hosts'), playbook, '-e', '@' + os.path.join(folder, 'vars.json')]
                          + list(options), capture_output=True, text=True, env=env, check=False)
    shutil.rmtree(folder)
    return done.returncode, done.stdout + done.stderr


def pgbackrest_option(world):
    return dict(stanza=STANZA, config=world['config'], os_user=role_vars(world)['wal_archive_os_user'])


def superuser(world, **overrides):
    cluster = world['cluster']
    params = dict(login_host='127.0.0.1', login_port=cluster.port, login_user='postgres',
                  login_password=cluster.superuser_password, login_db=STANZA, ssl_mode='disable',
                  pg_bin_dir=PG15)
    params.update(overrides)
    return params


def write_batch(world, batch, rows=100):
    """Commit a batch of rows and push its WAL segment to the archive; returns the archived WAL name."""
    cluster = world['cluster']
    cluster.psql('INSERT INTO scans (batch, n) SELECT %d, g FROM generate_series(1, %d) g' % (batch, rows),
                 database=STANZA)
    segment = cluster.psql('SELECT pg_walfile_name(pg_switch_wal())').strip()
    wait_archived(cluster, segment)
    return segment


def wait_archived(cluster, segment, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        last = cluster.psql('SELECT coalesce(last_archived_wal, \'\') FROM pg_stat_archiver').strip()
        if last >= segment:
            return
        time.sleep(0.2)
    raise AssertionError('WAL segment %s was not archived within %ss' % (segment, timeout))


def now(cluster):
    return cluster.psql('SELECT clock_timestamp()').strip()


def pitr(world, tmp_path, name, **target):
    data_dir = os.path.join(world['base'], 'pitr-%s' % name)
    result = modrun.run_module('pg_pitr', dict(
        superuser(world), pgbackrest=pgbackrest_option(world), data_dir=data_dir, start_port=pgcluster.free_port(),
        **target))
    assert not result.get('failed'), result.get('msg')
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def test_check_mode_reports_and_changes_nothing(archived):
    code, output = archived['check_run']
    assert code == 0, output
    assert archived['settings_after_check'] == 'off' and not archived['config_after_check']
    recap = [line for line in output.splitlines() if line.startswith('db1 ') and 'ok=' in line][-1]
    assert ' changed=0 ' not in recap  # it says what it would change


def test_role_configures_archiving_and_takes_the_first_backup(archived):
    code, output = archived['first_run']
    assert code == 0, output
    cluster = archived['cluster']
    settings = dict(line.split('|') for line in cluster.psql(
        "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'archive_mode', 'archive_timeout', "
        "'archive_command')").strip().splitlines())
    assert settings['wal_level'] == 'replica' and settings['archive_mode'] == 'on'
    assert settings['archive_timeout'] == '3600'  # the runbook's hourly segment
    assert settings['archive_command'] == 'pgbackrest --config=%s --stanza=%s archive-push %%p' % (
        archived['config'], STANZA)
    assert 'PostgreSQL was restarted: archive_mode' in output
    assert oct(os.stat(archived['config']).st_mode & 0o777) == '0o600'
    # the repository is encrypted on the client: its info files are not readable text
    with open(os.path.join(archived['repo'], 'archive', STANZA, 'archive.info'), 'rb') as stream:
        assert not stream.read(64).startswith(b'[')
    assert 'test-only-passphrase' not in output  # the passphrase never reaches the log
    info = modrun.run_module('pg_backup_info', dict(pgbackrest=pgbackrest_option(archived)))
    assert [b['kind'] for b in info['backups']] == ['full'] and info['backups'][0]['verified']
    assert info['status']['code'] == 0 and info['wal'][0]['min'] <= info['wal'][0]['max']


def test_second_run_changes_nothing(archived):
    code, output = run_role(archived)
    assert code == 0, output
    recap = [line for line in output.splitlines() if line.startswith('db1 ') and 'ok=' in line][-1]
    assert ' changed=0 ' in recap, output
    assert 'PostgreSQL was restarted:' not in output  # nothing that needs a restart changed


def test_point_in_time_restore_to_a_timestamp_has_exactly_the_rows_committed_before(archived, tmp_path):
    write_batch(archived, 1)
    time.sleep(0.5)
    target = now(archived['cluster'])
    time.sleep(0.5)
    write_batch(archived, 2)
    result = pitr(archived, tmp_path, 'time', target_type='time', target=target)
    assert result['recovery']['recovering'] is False and result['recovery']['timeline'] >= 2
    cluster = archived['cluster']
    before = int(cluster.psql("SELECT count(*) FROM scans WHERE at <= '%s'" % target, database=STANZA))
    assert result['tables']['public.scans'] == before
    assert result['tables']['public.scans'] < int(cluster.psql('SELECT count(*) FROM scans', database=STANZA))
    assert result['running'] is False


def test_restore_point_of_a_deploy_is_a_target(archived, tmp_path):
    """The deploy names the moment of its rollback point in the same pg_backup run that takes it."""
    write_batch(archived, 3)
    point = modrun.run_module('pg_backup', dict(superuser(archived), database=STANZA, dest=str(tmp_path / 'points'),
                                                verify='none', restore_point='deploy-20261126T000000Z'))
    assert point['changed'] and point['backup']['files'] and point['restore_point']['lsn'], point
    assert point['restore_point_problem'] is None
    rows_at_point = int(archived['cluster'].psql('SELECT count(*) FROM scans', database=STANZA))
    write_batch(archived, 4)
    result = pitr(archived, tmp_path, 'name', target_type='name', target='deploy-20261126T000000Z')
    assert result['tables']['public.scans'] == rows_at_point


def test_restore_playbook_restores_to_the_restore_point_of_a_deploy(archived):
    """playbooks/restore.yml restore_method=pitr, as an operator runs it after a late problem with a deploy."""
    cluster = archived['cluster']
    write_batch(archived, 8)
    point = modrun.run_module('pg_backup', dict(superuser(archived), method='restore_point', label='deploy-run-8'))
    assert point['restore_point']['lsn'], point
    rows_at_point = int(cluster.psql('SELECT count(*) FROM scans', database=STANZA))
    write_batch(archived, 9)
    data_dir = os.path.join(archived['base'], 'pitr-playbook')
    code, output = run_playbook(os.path.join(paths.REPO, 'playbooks', 'restore.yml'), dict(
        restore_method='pitr', restore_pitr_stanza=STANZA, restore_pitr_config=archived['config'],
        restore_pitr_os_user=role_vars(archived)['wal_archive_os_user'], restore_pitr_data_dir=data_dir,
        restore_pitr_target_type='name', restore_pitr_target='deploy-run-8', restore_pitr_port=pgcluster.free_port(),
        dbops_db_name=STANZA, dbops_db_login_host='127.0.0.1', dbops_db_login_port=cluster.port,
        dbops_db_login_user='postgres', dbops_db_login_password=cluster.superuser_password, dbops_db_ssl_mode='disable',
        dbops_pg_bin_dir=PG15), '-v')
    shutil.rmtree(data_dir, ignore_errors=True)
    assert code == 0, output
    assert '"public.scans": %d' % rows_at_point in output, output
    assert 'Restored to name deploy-run-8' in output and 'stopped in' in output


def test_incremental_backup_is_listed_in_our_manifest_shape(archived):
    result = modrun.run_module('pg_backup', dict(method='pgbackrest', backup_type='incr',
                                                 pgbackrest=pgbackrest_option(archived)))
    assert result['changed'] and result['backup']['kind'] == 'incr'
    assert result['backup']['prior'] and result['backup']['size'] > 0 and result['backup']['verified']
    listed = modrun.run_module('pg_backup_info', dict(pgbackrest=pgbackrest_option(archived), kind='incr'))
    assert [b['id'] for b in listed['backups']] == [result['backup']['id']]


def test_backup_playbook_takes_and_schedules_the_hourly_incremental(archived, tmp_path):
    playbook = os.path.join(paths.REPO, 'playbooks', 'backup.yml')
    before = modrun.run_module('pg_backup_info', dict(pgbackrest=pgbackrest_option(archived), kind='incr'))
    code, output = run_playbook(playbook, dict(backup_kind='wal_incr', backup_pgbackrest=pgbackrest_option(archived),
                                               dbops_db_name=STANZA))
    assert code == 0, output
    after = modrun.run_module('pg_backup_info', dict(pgbackrest=pgbackrest_option(archived), kind='incr'))
    assert len(after['backups']) == len(before['backups']) + 1
    cron_file = str(tmp_path / 'cron')
    code, output = run_playbook(playbook, dict(backup_kind='schedule', backup_pgbackrest=pgbackrest_option(archived),
                                               backup_s3=dict(bucket='defneqr-backups'), backup_cron_file=cron_file, backup_log_dir=str(tmp_path / 'logs'),
                                               backup_cron_user=os.environ.get('USER') or 'root'))
    assert code == 0, output
    with open(cron_file, encoding='utf-8') as stream:
        jobs = [line for line in stream.read().splitlines() if line[:1].isdigit() or line.startswith('*')]
    assert len(jobs) == 6
    assert [j for j in jobs if j.startswith('15 * * * * ') and j.endswith('/run-backup.sh wal_incr')]
    assert [j for j in jobs if j.startswith('0 1 * * 0 ') and j.endswith('/run-backup.sh wal_full')]


def test_archiving_survives_a_restart_and_health_reads_pgbackrest(archived):
    cluster = archived['cluster']
    cluster._run('pg_ctl', '-D', cluster.data_dir, '-l', cluster.log_file, '-w', 'restart')
    write_batch(archived, 5)
    health = modrun.run_module('pg_health', dict(superuser(archived), checks=['archiver'],
                                                 pgbackrest=pgbackrest_option(archived)))
    archiver = health['checks']['archiver']
    assert archiver['status'] == 'ok', archiver
    assert archiver['rows'][1]['source'] == 'pgbackrest' and archiver['rows'][1]['newest_backup']


def test_a_broken_repository_makes_the_archiver_critical_while_postgres_runs(archived):
    cluster = archived['cluster']
    moved = archived['repo'] + '.moved'
    os.rename(archived['repo'], moved)
    try:
        cluster.psql('INSERT INTO scans (batch, n) VALUES (6, 1)', database=STANZA)
        cluster.psql('SELECT pg_switch_wal()')
        deadline = time.time() + 60
        while int(cluster.psql('SELECT failed_count FROM pg_stat_archiver')) == 0 and time.time() < deadline:
            time.sleep(0.3)
        health = modrun.run_module('pg_health', dict(superuser(archived), checks=['archiver'], fail_on='never',
                                                     pgbackrest=pgbackrest_option(archived)))
        archiver = health['checks']['archiver']
        assert archiver['status'] == 'critical', archiver
        assert 'archive_command is failing' in archiver['message']
        assert cluster.psql('SELECT count(*) FROM scans WHERE batch = 6', database=STANZA).strip() == '1'
    finally:
        os.rename(moved, archived['repo'])
    write_batch(archived, 7)  # archiving catches up once the repository is back


def test_restore_refuses_a_folder_in_use_and_bad_names(archived, tmp_path):
    refused = modrun.run_module('pg_pitr', dict(superuser(archived), pgbackrest=pgbackrest_option(archived),
                                                data_dir=archived['cluster'].data_dir))
    assert refused['failed'] and 'running server' in refused['msg']
    as_app = superuser(archived, login_user=pgcluster.APP_ROLE, login_password=archived['cluster'].app_password)
    app_role = modrun.run_module('pg_backup', dict(as_app, method='restore_point', label='deploy-by-app-role'))
    assert app_role['failed'] and 'GRANT EXECUTE ON FUNCTION pg_create_restore_point' in app_role['msg'], app_role
    # beside a backup the missing privilege is named, and the backup (a deploy's rollback point) still counts
    beside = modrun.run_module('pg_backup', dict(as_app, database=STANZA, dest=str(tmp_path / 'by-app'),
                                                 verify='list', restore_point='deploy-by-app-role'))
    assert not beside.get('failed') and beside['backup']['verification']['ok'], beside
    assert beside['restore_point'] is None and 'GRANT EXECUTE' in beside['restore_point_problem'], beside
    injected = modrun.run_module('pg_backup_info', dict(pgbackrest=dict(stanza='shop; rm -rf /')))
    assert injected['failed'] and 'not a plain name' in injected['msg']


def test_a_server_newer_than_pgbackrest_is_named(tmp_path):
    """PostgreSQL 18 with Debian's pgBackRest 2.45: refused with the reason, not a bare pgBackRest code."""
    cluster = pgcluster.Cluster(name='wal18').start()
    try:
        repo = tmp_path / 'repo'
        repo.mkdir()
        pgcluster._open_path_for_others(str(tmp_path))  # pylint: disable=protected-access
        if cluster.account:
            os.chown(str(repo), cluster.account.pw_uid, cluster.account.pw_gid)
        config = tmp_path / 'pgbackrest.conf'
        values = (repo, repo, repo, cluster.data_dir, cluster.port, cluster.socket_dir)
        config.write_text('[global]\nrepo1-path=%s\nlog-path=%s\nlock-path=%s\n[pg18]\npg1-path=%s\npg1-port=%d\n'
                          'pg1-socket-path=%s\npg1-user=postgres\n' % values)
        config.chmod(0o644)
        account = cluster.account.pw_name if cluster.account else ''
        result = modrun.run_module('pgbackrest_stanza', dict(pgbackrest=dict(stanza='pg18', config=str(config),
                                                                             os_user=account)))
        assert result['failed'] and 'older than the PostgreSQL server' in result['msg'], result
        assert not list(repo.glob('*/pg18'))  # no stanza was written
    finally:
        cluster.stop()
