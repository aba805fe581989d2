"""prisma_migrate / prisma_migrate_info against real servers, through the module processes."""
import hashlib
import os
import re
import subprocess
import threading
import uuid

import pytest

import paths
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from conftest import tcp_params
from modrun import run_module

ALL = sorted(n for n in os.listdir(paths.MIGRATIONS) if os.path.isdir(os.path.join(paths.MIGRATIONS, n)))
M11 = '20260218174944_add_plan_popular_and_extra_price'


def module_args(pg, db, project, **extra):
    args = dict(tcp_params(pg, login_db=db), project_dir=str(project))
    args.update(extra)
    return args


def rows(pg, db):
    conn = postgres.connect(tcp_params(pg, login_db=db))
    return postgres.query(conn, 'SELECT * FROM _prisma_migrations ORDER BY started_at')


def schema_of(pg, db):
    with postgres.client_environment(tcp_params(pg, login_db=db)) as env:
        out = programs.run([os.path.join(pg.bin_dir, 'pg_dump'), '--schema-only', '--no-owner',
                            '--exclude-table=_prisma_migrations'], env).stdout.decode()
    return '\n'.join(line for line in out.splitlines() if line.strip() and not line.startswith(('--', '\\')))


def file_sha(project, name):
    with open(str(project / 'prisma' / 'migrations' / name / 'migration.sql'), 'rb') as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def table_exists(pg, db, table):
    conn = postgres.connect(tcp_params(pg, login_db=db))
    return bool(postgres.query(conn, 'SELECT to_regclass(%s) IS NOT NULL AS x', ('public.' + table,))[0]['x'])


def test_deploy_writes_prismas_rows_field_by_field(pg, fresh_db, project):
    result = run_module('prisma_migrate', module_args(pg, fresh_db, project))
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True
    assert [m['name'] for m in result['applied']] == ALL
    assert result['pending'] == []
    recorded = rows(pg, fresh_db)
    assert [r['migration_name'] for r in recorded] == ALL
    for row in recorded:
        assert uuid.UUID(row['id']).version == 4 and row['id'] == str(uuid.UUID(row['id']))
        assert row['checksum'] == file_sha(project, row['migration_name'])
        assert row['applied_steps_count'] == 1
        assert row['logs'] is None and row['rolled_back_at'] is None
        assert row['started_at'] <= row['finished_at']
    assert pg.app_password not in result['_stdout']
    again = run_module('prisma_migrate', module_args(pg, fresh_db, project))
    assert again['changed'] is False and again['applied'] == []
    assert len(rows(pg, fresh_db)) == 14


def test_check_mode_changes_nothing(pg, fresh_db, project):
    run_module('prisma_migrate', module_args(pg, fresh_db, project, target=M11))
    schema_before, rows_before = schema_of(pg, fresh_db), rows(pg, fresh_db)
    preview = run_module('prisma_migrate', module_args(pg, fresh_db, project), check_mode=True, diff=True)
    assert preview['changed'] is True
    assert [m['name'] for m in preview['applied']] == ALL[11:]
    assert preview['applied'][2]['checksum'] == file_sha(project, ALL[13])
    assert len([f for f in preview['lint'] if f['rule'] == 'index-without-concurrently']) == 39
    assert '20260218193213_add_performance_indexes: pending' in preview['diff']['after']
    rollback_preview = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='rolled_back',
                                                                target=ALL[8]), check_mode=True)
    assert [m['name'] for m in rollback_preview['rolled_back']] == [ALL[10], ALL[9]]
    assert schema_of(pg, fresh_db) == schema_before
    assert rows(pg, fresh_db) == rows_before


def test_reads_rows_prisma_wrote_and_deploys_onward(pg, fresh_db, project):
    """Legacy unpadded checksum, a CRLF-edited file, a rolled-back failed attempt: all read as applied."""
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations as pm
    postgres.query(conn, pm.MIGRATIONS_TABLE_DDL)
    for name in ALL[:3]:
        with open(str(project / 'prisma' / 'migrations' / name / 'migration.sql'), encoding='utf-8') as stream:
            postgres.query(conn, stream.read())
    raw = [open(str(project / 'prisma' / 'migrations' / n / 'migration.sql'), 'rb').read() for n in ALL[:3]]
    legacy = ''.join('%x' % b for b in hashlib.sha256(raw[2]).digest())
    assert len(legacy) < 64  # this file's digest has bytes below 0x10: the old formatter dropped their zeros
    insert = ('INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, '
              'started_at, applied_steps_count) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)')
    postgres.query(conn, insert, (str(uuid.uuid4()), hashlib.sha256(raw[0]).hexdigest(), None, ALL[0],
                                  'P3018 ... syntax error', '2021-03-01 11:00:00+00', '2021-03-01 10:00:00+00', 0))
    postgres.query(conn, insert, (str(uuid.uuid4()), hashlib.sha256(raw[0]).hexdigest(), '2021-03-01 12:00:01+00',
                                  ALL[0], None, None, '2021-03-01 12:00:00+00', 1))
    postgres.query(conn, insert, (str(uuid.uuid4()), hashlib.sha256(raw[1]).hexdigest(), '2021-03-02 10:00:01+00',
                                  ALL[1], None, None, '2021-03-02 10:00:00+00', 1))
    postgres.query(conn, insert, (str(uuid.uuid4()), legacy, '2021-03-03 10:00:01+00', ALL[2], None, None,
                                  '2021-03-03 10:00:00+00', 1))
    crlf_file = project / 'prisma' / 'migrations' / ALL[1] / 'migration.sql'
    crlf_file.write_bytes(raw[1].replace(b'\n', b'\r\n'))  # git autocrlf on a Windows checkout
    info = run_module('prisma_migrate_info', module_args(pg, fresh_db, project))
    states = dict((m['name'], m['state']) for m in info['migrations'])
    assert [states[n] for n in ALL[:3]] == ['applied', 'applied', 'applied']
    assert info['pending'] == ALL[3:] and info['failed_migrations'] == [] and info['modified'] == []
    deployed = run_module('prisma_migrate', module_args(pg, fresh_db, project))
    assert [m['name'] for m in deployed['applied']] == ALL[3:], deployed.get('msg')
    assert table_exists(pg, fresh_db, 'token_blacklist')


def add_migration(project, name, sql):
    folder = project / 'prisma' / 'migrations' / name
    folder.mkdir()
    (folder / 'migration.sql').write_text(sql)
    return folder


FAILING = ('-- CreateTable\nCREATE TABLE "coupons" ("id" TEXT NOT NULL, CONSTRAINT "coupons_pkey" PRIMARY KEY ("id"));'
           '\n\n-- AlterTable\nALTER TABLE "orders" ADD COLUMN "couponId" TEXT;\n\n'
           '-- AddForeignKey\nALTER TABLE "orders" ADD CONSTRAINT "orders_couponId_fkey" FOREIGN KEY ("couponId") '
           'REFERENCES "coupon"("id");\n')


def test_failing_third_statement_leaves_schema_untouched_and_does_not_block(pg, fresh_db, project):
    run_module('prisma_migrate', module_args(pg, fresh_db, project))
    schema_before = schema_of(pg, fresh_db)
    folder = add_migration(project, '20260301120000_add_coupons', FAILING)
    failed = run_module('prisma_migrate', module_args(pg, fresh_db, project))
    assert failed['failed'] is True and failed['error_code'] == 'P3018'
    assert 'relation "coupon" does not exist' in failed['msg']
    assert schema_of(pg, fresh_db) == schema_before
    attempt = rows(pg, fresh_db)[-1]
    assert attempt['migration_name'] == '20260301120000_add_coupons'
    assert attempt['finished_at'] is None and attempt['rolled_back_at'] is not None
    assert 'Database error code: 42P01' in attempt['logs'] and attempt['applied_steps_count'] == 0
    (folder / 'migration.sql').write_text(FAILING.replace('"coupon"("id")', '"coupons"("id")'))
    fixed = run_module('prisma_migrate', module_args(pg, fresh_db, project))
    assert [m['name'] for m in fixed['applied']] == ['20260301120000_add_coupons'], fixed.get('msg')
    assert table_exists(pg, fresh_db, 'coupons')


def test_transaction_never_takes_prismas_p3009_path(pg, fresh_db, project):
    run_module('prisma_migrate', module_args(pg, fresh_db, project))
    add_migration(project, '20260301120000_add_coupons', FAILING)
    failed = run_module('prisma_migrate', module_args(pg, fresh_db, project, transaction='never'))
    assert failed['error_code'] == 'P3018'
    attempt = rows(pg, fresh_db)[-1]
    assert attempt['finished_at'] is None and attempt['rolled_back_at'] is None and attempt['logs']
    blocked = run_module('prisma_migrate', module_args(pg, fresh_db, project))
    assert blocked['error_code'] == 'P3009'
    assert 'The `20260301120000_add_coupons` migration started at' in blocked['msg']
    assert 'rolled_back=20260301120000_add_coupons' in blocked['msg']
    resolved = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='resolved',
                                                        rolled_back='20260301120000_add_coupons'))
    assert resolved['changed'] is True
    assert rows(pg, fresh_db)[-1]['rolled_back_at'] is not None


def test_resolve_applied_writes_prismas_row(pg, fresh_db, project):
    run_module('prisma_migrate', module_args(pg, fresh_db, project, target=ALL[0]))
    with open(str(project / 'prisma' / 'migrations' / ALL[1] / 'migration.sql'), encoding='utf-8') as stream:
        postgres.query(postgres.connect(tcp_params(pg, login_db=fresh_db)), stream.read())  # applied by hand
    result = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='resolved', applied=ALL[1]))
    assert result['changed'] is True
    row = rows(pg, fresh_db)[-1]
    assert row['migration_name'] == ALL[1] and row['logs'] == '' and row['applied_steps_count'] == 0
    assert row['started_at'] == row['finished_at'] and row['checksum'] == file_sha(project, ALL[1])
    again = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='resolved', applied=ALL[1]))
    assert again['error_code'] == 'P3008'
    never = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='resolved', rolled_back=ALL[1]))
    assert never['error_code'] == 'P3012'


def test_concurrent_deploys_exclude_each_other(pg, fresh_db, project):
    holder = postgres.connect(tcp_params(pg, login_db=fresh_db))
    postgres.query(holder, 'SELECT pg_advisory_lock(72707369)')
    waited = run_module('prisma_migrate', module_args(pg, fresh_db, project, advisory_lock_timeout=1))
    assert waited['error_code'] == 'P1002'
    assert 'another migration runs on this database' in waited['msg']
    assert not table_exists(pg, fresh_db, 'users')
    holder.close()
    results = []
    runs = [threading.Thread(target=lambda: results.append(
        run_module('prisma_migrate', module_args(pg, fresh_db, project, advisory_lock_timeout=60))))
        for _run in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sorted(len(r['applied']) for r in results) == [0, 14], [r.get('msg') for r in results]
    names = [r['migration_name'] for r in rows(pg, fresh_db)]
    assert sorted(names) == ALL  # each applied exactly once


def test_roll_back_to_11_and_deploy_again_equals_a_straight_deploy(pg, fresh_db, project):
    straight = fresh_db + '_straight'
    pg.psql('DROP DATABASE IF EXISTS "%s"' % straight)
    pg.create_database(straight)
    try:
        run_module('prisma_migrate', module_args(pg, straight, project))
        run_module('prisma_migrate', module_args(pg, fresh_db, project))
        back = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='rolled_back', target=M11))
        assert [m['name'] for m in back['rolled_back']] == ALL[:10:-1]
        assert back['rolled_back'][0]['script'].endswith('20260218193213_rollback_add_performance_indexes.sql')
        assert back['pending'] == ALL[11:]
        assert not table_exists(pg, fresh_db, 'refresh_tokens')
        marked = [r for r in rows(pg, fresh_db) if r['migration_name'] in ALL[11:]]
        assert len(marked) == 3 and all(r['rolled_back_at'] is not None for r in marked)
        forward = run_module('prisma_migrate', module_args(pg, fresh_db, project))
        assert [m['name'] for m in forward['applied']] == ALL[11:]
        assert schema_of(pg, fresh_db) == schema_of(pg, straight)
    finally:
        pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % straight)


def test_missing_rollback_script_is_refused_before_anything_runs(pg, fresh_db, project):
    run_module('prisma_migrate', module_args(pg, fresh_db, project))
    os.unlink(str(project / 'migrations' / 'rollback' / '20260218190130_rollback_add_refresh_token_and_blacklist.sql'))
    result = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='rolled_back', target=M11))
    assert result['failed'] and 'No rollback script for 20260218190130_add_refresh_token_and_blacklist' in result['msg']
    assert all(r['rolled_back_at'] is None for r in rows(pg, fresh_db))
    assert table_exists(pg, fresh_db, 'refresh_tokens')


def test_modified_migration_fails_by_default_and_warns_when_asked(pg, fresh_db, project):
    run_module('prisma_migrate', module_args(pg, fresh_db, project, target=M11))
    edited = project / 'prisma' / 'migrations' / ALL[4] / 'migration.sql'
    edited.write_text(edited.read_text() + '\n-- tweaked after deploy\n')
    refused = run_module('prisma_migrate', module_args(pg, fresh_db, project))
    assert refused['failed'] and '20260216093851_add_system_settings' in refused['msg']
    assert len(rows(pg, fresh_db)) == 11
    warned = run_module('prisma_migrate', module_args(pg, fresh_db, project, on_modified='warn'))
    assert len(warned['applied']) == 3
    assert any('changed on disk' in w for w in warned['warnings_list'])
    info = run_module('prisma_migrate_info', module_args(pg, fresh_db, project))
    assert info['modified'] == [ALL[4]] and info['in_sync'] is False


def test_lint_fail_refuses_long_locks(pg, fresh_db, project):
    run_module('prisma_migrate', module_args(pg, fresh_db, project, target=ALL[12]))
    refused = run_module('prisma_migrate', module_args(pg, fresh_db, project, lint='fail'))
    assert refused['failed'] and 'index-without-concurrently' in refused['msg']
    assert len(rows(pg, fresh_db)) == 13


@pytest.mark.parametrize('change, expected', [
    ('no_dir', 'The migrations folder'),
    ('no_sql', 'Could not find the migration file at'),
    ('provider', 'The datasource provider `postgresql` specified in your schema does not match'),
    ('target', "Unknown target migration 'x\"; DROP TABLE users; --'"),
    ('password', 'rejected the password of role "defneqr"'),
    ('schema', "schema 'public\"; DROP SCHEMA public; --' is not a plain PostgreSQL schema name"),
])
def test_bad_input_gives_clear_errors_and_changes_nothing(pg, fresh_db, project, change, expected):
    args = module_args(pg, fresh_db, project)
    if change == 'no_dir':
        args['project_dir'] = str(project / 'nowhere')
    elif change == 'no_sql':
        add_migration(project, '00000000000000_broken', 'SELECT 1;')
        os.unlink(str(project / 'prisma' / 'migrations' / '00000000000000_broken' / 'migration.sql'))
    elif change == 'provider':
        (project / 'prisma' / 'migrations' / 'migration_lock.toml').write_text('provider = "mysql"\n')
    elif change == 'target':
        args['target'] = 'x"; DROP TABLE users; --'
    elif change == 'password':
        args['login_password'] = 'wrong'
    elif change == 'schema':
        args['schema'] = 'public"; DROP SCHEMA public; --'
    result = run_module('prisma_migrate', args)
    assert result['failed'] is True
    assert expected in result['msg']
    assert not table_exists(pg, fresh_db, 'users')
    assert not table_exists(pg, fresh_db, '_prisma_migrations')
    assert pg.app_password not in result['_stdout']


def test_non_empty_unmanaged_schema_is_refused_p3005(pg, fresh_db, project):
    postgres.query(postgres.connect(tcp_params(pg, login_db=fresh_db)), 'CREATE TABLE legacy (id int)')
    result = run_module('prisma_migrate', module_args(pg, fresh_db, project))
    assert result['error_code'] == 'P3005' and 'legacy' in result['msg']
    assert not table_exists(pg, fresh_db, '_prisma_migrations')


def test_database_url_with_prisma_schema_parameter(pg, fresh_db, project):
    url = 'postgresql://defneqr:%s@127.0.0.1:%d/%s?schema=tenant_a&connection_limit=5' % (
        pg.app_password, pg.port, fresh_db)
    result = run_module('prisma_migrate', dict(project_dir=str(project), database_url=url, target=ALL[0]))
    assert [m['name'] for m in result['applied']] == [ALL[0]], result.get('msg')
    assert table_exists(pg, fresh_db, 'users') is False
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    assert postgres.query(conn, "SELECT to_regclass('tenant_a.users') IS NOT NULL AS x")[0]['x'] is True
    assert pg.app_password not in result['_stdout']


def test_module_defaults_action_group_through_ansible_playbook(pg, fresh_db, project, tmp_path):
    playbook = tmp_path / 'play.yml'
    playbook.write_text(
        '- hosts: localhost\n  gather_facts: false\n'
        '  module_defaults:\n    group/defneqr.dbops.postgres:\n'
        '      login_host: 127.0.0.1\n      login_port: %d\n      login_user: defneqr\n'
        '      login_password: "{{ lookup(\'ansible.builtin.file\', \'%s\') }}"\n      login_db: %s\n'
        '  tasks:\n    - defneqr.dbops.prisma_migrate:\n        project_dir: %s\n      register: out\n'
        '    - defneqr.dbops.prisma_migrate_info:\n        project_dir: %s\n      register: info\n'
        '    - ansible.builtin.assert:\n        that: [out.changed, info.in_sync, "info.latest_applied == \'%s\'"]\n'
        % (pg.port, tmp_path / 'pw', fresh_db, project, project, ALL[-1]))
    (tmp_path / 'pw').write_text(pg.app_password)
    os.chmod(str(tmp_path / 'pw'), 0o600)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=paths.collections_root(), ANSIBLE_PYTHON_INTERPRETER=sys_python(),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    done = subprocess.run([os.path.join(os.path.dirname(sys_python()), 'ansible-playbook'), str(playbook)],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r'ok=3\s+changed=1\s+unreachable=0\s+failed=0', done.stdout)
    assert pg.app_password not in done.stdout


def sys_python():
    import sys  # pylint: disable=import-outside-toplevel
    return sys.executable


def test_a_migration_whose_connection_is_lost_leaves_no_row_and_blocks_nobody(pg, fresh_db, project):
    """A server restart or a killed controller mid-migration: the transaction rolled back, so the history
    must not hold an unfinished row (Prisma's P3009 would block every later deploy and rollback)."""
    assert not run_module('prisma_migrate', module_args(pg, fresh_db, project, target=M11)).get('failed')
    slow = project / 'prisma' / 'migrations' / '20260218185216_add_password_reset_and_security' / 'migration.sql'
    slow.write_text('SELECT pg_sleep(30);\n' + slow.read_text())
    admin = postgres.connect(tcp_params(pg, login_db=fresh_db))

    def terminate_the_migration():
        for _attempt in range(200):
            found = postgres.query(admin, "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE "
                                          "'SELECT pg_sleep(30)%%'", (fresh_db,))
            if found:
                postgres.query(admin, 'SELECT pg_terminate_backend(%s)', (found[0]['pid'],))
                return
            threading.Event().wait(0.05)
    killer = threading.Thread(target=terminate_the_migration)
    killer.start()
    lost = run_module('prisma_migrate', module_args(pg, fresh_db, project))
    killer.join()
    assert lost['failed'] and 'connection to the server was lost' in lost['msg'] and 'no row was written' in lost['msg']
    history = rows(pg, fresh_db)
    assert [r['migration_name'] for r in history] == ALL[:ALL.index(M11) + 1]
    assert not table_exists(pg, fresh_db, 'password_resets')
    info = run_module('prisma_migrate_info', module_args(pg, fresh_db, project))
    assert info['failed_migrations'] == [] and info['pending'] == ALL[ALL.index(M11) + 1:]
    rolled = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='rolled_back', target=ALL[9]))
    assert not rolled.get('failed'), rolled.get('msg')


def test_a_lock_timeout_names_the_session_that_holds_the_lock(pg, fresh_db, project):
    assert not run_module('prisma_migrate', module_args(pg, fresh_db, project, target=M11)).get('failed')
    holder = postgres.connect(tcp_params(pg, login_db=fresh_db), autocommit=False)
    with holder.cursor() as cur:
        cur.execute('LOCK TABLE users IN ACCESS SHARE MODE')  # an admin shell left in a transaction
        cur.execute('SELECT pg_backend_pid()')
        pid = cur.fetchone()[0]
    try:
        result = run_module('prisma_migrate', module_args(pg, fresh_db, project, lock_timeout='1s'))
    finally:
        holder.rollback()
        holder.close()
    assert result['failed'] and 'lock timeout' in result['msg']
    assert 'pid %d' % pid in result['msg'] and 'pg_terminate_backend' in result['msg'], result['msg']
    assert not table_exists(pg, fresh_db, 'password_resets')


def test_rehearsal_proves_the_rollback_scripts_on_a_scratch_database_and_changes_nothing_live(pg, fresh_db, project):
    made = run_module('prisma_migrate', module_args(pg, fresh_db, project, target=M11))
    assert not made.get('failed'), made.get('msg')
    history_before, schema_before = rows(pg, fresh_db), schema_of(pg, fresh_db)
    databases = pg.psql('SELECT datname FROM pg_database ORDER BY 1')
    done = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='rehearsed'))
    assert not done.get('failed'), done.get('msg')
    rehearsal = done['rehearsal']
    pending = [name for name in ALL if name > M11]
    assert rehearsal['ok'] and rehearsal['rollback_tested'] and rehearsal['identical'], rehearsal
    assert [m['name'] for m in rehearsal['applied']] == pending
    assert rehearsal['rolled_back'] == pending[::-1]
    assert rehearsal['drift'] == [] and rehearsal['differences'] == []
    assert done['changed'] is False and done['pending'] == pending
    assert rows(pg, fresh_db) == history_before and schema_of(pg, fresh_db) == schema_before
    assert pg.psql('SELECT datname FROM pg_database ORDER BY 1') == databases  # the scratch database is gone
    # a rollback script that forgets an index, and an index made by hand on the live database (drift)
    script = project / 'migrations' / 'rollback' / '20260218193213_rollback_add_performance_indexes.sql'
    script.write_text(script.read_text(encoding='utf-8').replace('DROP INDEX IF EXISTS "users_role_idx";', ''),
                      encoding='utf-8')
    pg.psql('CREATE INDEX by_hand_idx ON restaurants (name)', fresh_db)
    done = run_module('prisma_migrate', module_args(pg, fresh_db, project, state='rehearsed'))
    rehearsal = done['rehearsal']
    assert rehearsal['ok'] and not rehearsal['identical'] and not rehearsal['rollback_tested']
    assert rehearsal['differences'] == ['+ index CREATE INDEX users_role_idx ON public.users USING btree (role)']
    assert rehearsal['drift'] == ['+ index CREATE INDEX by_hand_idx ON public.restaurants USING btree (name)']


def test_lock_retries_wait_out_a_short_lock_and_record_one_clean_attempt(pg, fresh_db, project):
    assert not run_module('prisma_migrate', module_args(pg, fresh_db, project, target=M11)).get('failed')
    holder = postgres.connect(tcp_params(pg, login_db=fresh_db), autocommit=False)
    with holder.cursor() as cur:
        cur.execute('LOCK TABLE users IN ACCESS SHARE MODE')  # a long read the migration must not queue behind
    releaser = threading.Timer(2.5, holder.rollback)
    releaser.start()
    try:
        result = run_module('prisma_migrate', module_args(pg, fresh_db, project, lock_timeout='500ms', lock_retries=4))
    finally:
        releaser.join()
        holder.close()
    assert not result.get('failed'), result.get('msg')
    first = result['applied'][0]
    assert first['name'] == ALL[ALL.index(M11) + 1] and first['lock_retries'] >= 1, first
    history = rows(pg, fresh_db)
    # the attempts that hit the lock left no row: one finished row per migration, none rolled back
    assert [r['migration_name'] for r in history] == ALL and all(r['rolled_back_at'] is None for r in history)
    # the pending migrations' verdict: 12 and 13 are online-safe, 14 builds indexes without CONCURRENTLY
    assert result['online_safety']['safe'] is False
    assert [u['file'].split('/')[0] for u in result['online_safety']['unsafe']] == [ALL[-1]]
