"""deploy_db_steps phase=migrated against real servers: the bundle the preflight read is what runs, Prisma's rows are
written for it, and the journal moves through steps 4, 5 and 6 (or stays at 4 with the rollback point on a failure)."""
import base64
import hashlib
import json
import os

import paths
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres, run_journal
from conftest import tcp_params
from modrun import run_module

ALL = sorted(n for n in os.listdir(paths.MIGRATIONS) if os.path.isdir(os.path.join(paths.MIGRATIONS, n)))
M11 = '20260218174944_add_plan_popular_and_extra_price'
PENDING = [name for name in ALL if name > M11]


def previous_release(pg, db, project):
    """The database as the previous release left it (migrations up to 11) and the new release's bundle."""
    done = run_module('prisma_migrate', dict(tcp_params(pg, login_db=db), project_dir=str(project), target=M11))
    assert not done.get('failed'), done.get('msg')
    preview = run_module('prisma_migrate', dict(tcp_params(pg, login_db=db), project_dir=str(project), bundle=True),
                         check_mode=True)
    assert not preview.get('failed'), preview.get('msg')
    return preview['bundle']


def locked_at_step_3(tmp_path):
    lock = str(tmp_path / 'backups' / '.deploy.lock')
    os.makedirs(os.path.dirname(lock), mode=0o700)
    run_journal.begin(lock, 'test-run', 'pytest', dict(kind='deploy'), 'recover', step=dict(number=3, name='stop'))
    return lock


def migrated_args(pg, db, lock, bundle, **migrate):
    return dict(tcp_params(pg, login_db=db), phase='migrated', database=db, journal_path=lock, run_id='test-run',
                journal_data=dict(stopped_at=dict(app1='now')),
                rollback_point=dict(method='down_scripts', keep_migration=M11),
                capture=dict(enabled=True),
                migrate=dict(dict(bundle=bundle, lock_timeout='5s'), **migrate),
                verify=dict(pending=PENDING, expected_indexes=['users_role_idx']))


def history(pg, db):
    conn = postgres.connect(tcp_params(pg, login_db=db))
    return postgres.query(conn, 'SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, '
                                'rolled_back_at IS NOT NULL AS rolled_back FROM _prisma_migrations ORDER BY started_at')


def journal(lock):
    with open(os.path.join(lock, 'journal.json'), encoding='utf-8') as stream:
        return json.load(stream)


def test_bundle_holds_the_exact_bytes_prisma_checksums(pg, fresh_db, project):
    bundle = previous_release(pg, fresh_db, project)
    assert [entry['name'] for entry in bundle] == ALL
    for entry in bundle:
        with open(os.path.join(str(project), 'prisma', 'migrations', entry['name'], 'migration.sql'), 'rb') as stream:
            assert base64.b64decode(entry['sql_base64']) == stream.read()
        assert entry['error'] is None


def test_migrated_applies_the_bundle_and_walks_the_journal_through_steps_4_to_6(pg, fresh_db, project, tmp_path):
    bundle = previous_release(pg, fresh_db, project)
    lock = locked_at_step_3(tmp_path)
    before = history(pg, fresh_db)

    preview = run_module('deploy_db_steps', migrated_args(pg, fresh_db, lock, bundle), check_mode=True)
    assert not preview.get('failed'), preview.get('msg')
    assert [m['name'] for m in preview['migrate']['applied']] == PENDING
    assert 'verify' not in preview and [w['step'] for w in preview['journal_writes']] == [
        dict(number=4, name='migrate'), None]
    assert history(pg, fresh_db) == before and journal(lock)['step']['number'] == 3

    # the release's files change after the preflight read them: the bundle, not the folder, is what runs
    release_file = os.path.join(str(project), 'prisma', 'migrations', PENDING[0], 'migration.sql')
    with open(release_file, 'a', encoding='utf-8') as stream:
        stream.write('\nDROP TABLE users;\n')

    done = run_module('deploy_db_steps', migrated_args(pg, fresh_db, lock, bundle))
    assert not done.get('failed'), done.get('msg')
    assert [m['name'] for m in done['migrate']['applied']] == PENDING
    rows = history(pg, fresh_db)
    assert [r['migration_name'] for r in rows] == ALL and all(r['finished'] for r in rows)
    checksums = dict((entry['name'], hashlib.sha256(base64.b64decode(entry['sql_base64'])).hexdigest())
                     for entry in bundle)
    assert all(r['checksum'] == checksums[r['migration_name']] for r in rows)
    assert done['verify']['evidence']['latest_applied'] == ALL[-1]
    assert done['verify']['evidence']['expected_indexes'] == 'all 1 expected indexes present and valid'
    state = journal(lock)
    assert state['step'] == dict(state['step'], number=6, name='start') and state['release_switched'] is True
    assert [step['name'] for step in state['steps']] == ['stop', 'migrate', 'verify']
    assert state['rollback_point']['strategy'] == 'down_scripts' and state['rollback_point']['capture'] is True
    assert [m['name'] for m in state['evidence']['migrate']['applied']] == PENDING
    assert state['evidence']['verify']['latest_applied'] == ALL[-1]


def test_a_failing_migration_leaves_the_journal_at_step_4_with_the_rollback_point(pg, fresh_db, project, tmp_path):
    bundle = previous_release(pg, fresh_db, project)
    lock = locked_at_step_3(tmp_path)
    broken = [dict(entry, sql_base64=base64.b64encode(b'ALTER TABLE users ADD COLUMN "x" int;\nSELECT 1/0;\n')
                   .decode('ascii')) if entry['name'] == PENDING[1] else entry for entry in bundle]

    done = run_module('deploy_db_steps', migrated_args(pg, fresh_db, lock, broken))
    assert done.get('failed') and PENDING[1] in done['msg'] and 'division by zero' in done['msg'], done.get('msg')
    rows = history(pg, fresh_db)
    assert [r['migration_name'] for r in rows if r['finished']] == ALL[:ALL.index(PENDING[0]) + 1]
    assert [(r['migration_name'], r['rolled_back']) for r in rows if not r['finished']] == [(PENDING[1], True)]
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    assert not postgres.query(conn, "SELECT 1 FROM information_schema.columns WHERE table_name = 'users' "
                                    "AND column_name = 'x'")
    state = journal(lock)
    assert state['step']['number'] == 4 and state['rollback_point']['keep_migration'] == M11
