"""pg_capture on real servers: the writes after a rollback point survive a snapshot swap.

The scene is the deploy's: the example schema at migration 11 with data, capture installed, a snapshot
copy (CREATE DATABASE ... TEMPLATE, as the deploy takes it), migrations 12-14 applied to the live
database, writes through the new schema, the snapshot swapped into place, and the replay.
"""
import json
import os
import stat

import pytest

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from conftest import tcp_params
from modrun import run_module
from test_prisma_migrate import M11

SEED = '''
INSERT INTO users (id, email, password, name, "updatedAt") VALUES
  ('u1', 'owner@example.com', 'x', 'Owner', now()), ('u2', 'waiter@example.com', 'x', 'Waiter', now());
INSERT INTO restaurants (id, name, slug, "ownerId", "updatedAt") VALUES ('r1', 'Defne', 'defne', 'u1', now());
INSERT INTO categories (id, name, "restaurantId", "updatedAt") VALUES ('c1', 'Drinks', 'r1', now());
INSERT INTO products (id, name, "categoryId", "restaurantId", "updatedAt")
  VALUES ('p1', 'Tea', 'c1', 'r1', now()), ('p2', 'Coffee', 'c1', 'r1', now());
INSERT INTO tables (id, name, "restaurantId", "updatedAt") VALUES ('t1', 'Table 1', 'r1', now()), ('t2', 'Table 2', 'r1', now());
CREATE TABLE counters (id serial PRIMARY KEY, note text NOT NULL);
INSERT INTO counters (note) VALUES ('before');
'''

# What the new release does after the deploy (new columns of migration 12 included) and a straggler
# client during the migration (before the new release starts).
WRITES = '''
INSERT INTO menu_scans (id, "restaurantId") VALUES ('s1', 'r1'), ('s2', 'r1'), ('s3', 'r1');
INSERT INTO orders (id, "orderNumber", "restaurantId", "totalAmount", "updatedAt") VALUES ('o1', 'N-1', 'r1', 12.50, now());
INSERT INTO order_items (id, "orderId", "productId", quantity, "unitPrice", "totalPrice")
  VALUES ('i1', 'o1', 'p1', 1, 2.50, 2.50), ('i2', 'o1', 'p2', 2, 5.00, 10.00), ('i3', 'o1', 'p2', 1, 5.00, 5.00);
INSERT INTO payments (id, "orderId", "restaurantId", amount, method, "updatedAt") VALUES ('pay1', 'o1', 'r1', 12.50, 'CASH', now());
UPDATE orders SET status = 'PREPARING', "updatedAt" = now() WHERE id = 'o1';
UPDATE orders SET status = 'SERVED', note = 'table by the window' WHERE id = 'o1';
DELETE FROM order_items WHERE id = 'i3';
UPDATE products SET name = 'Black tea' WHERE id = 'p1';
DELETE FROM tables WHERE id = 't2';
UPDATE users SET "failedLoginAttempts" = 2, name = 'Waiter Two' WHERE id = 'u2';
INSERT INTO users (id, email, password, name, "updatedAt", "failedLoginAttempts") VALUES ('u3', 'new@example.com', 'x', 'New', now(), 1);
INSERT INTO refresh_tokens (id, "userId", token, "expiresAt") VALUES ('rt1', 'u3', 'tok', now() + interval '1 day');
INSERT INTO menu_scans (id, "restaurantId") VALUES ('s4', 'r1');
DELETE FROM menu_scans WHERE id = 's4';
UPDATE tables SET id = 't1b' WHERE id = 't1';
INSERT INTO counters (id, note) VALUES (50, 'late');
INSERT INTO counters (note) VALUES ('after');
'''


def connect(pg, db):
    return postgres.connect(tcp_params(pg, login_db=db))


def sql(pg, db, statements):
    conn = connect(pg, db)
    with conn.cursor() as cur:
        cur.execute(statements)
    conn.close()


def rows(pg, db, statement):
    conn = connect(pg, db)
    try:
        return postgres.query(conn, statement)
    finally:
        conn.close()


def capture(pg, db, state, check_mode=False, **extra):
    return run_module('pg_capture', dict(tcp_params(pg, login_db=db), database=db, state=state, **extra),
                      check_mode=check_mode)


def migrate(pg, db, project, target=None):
    args = dict(tcp_params(pg, login_db=db), project_dir=str(project))
    if target:
        args['target'] = target
    result = run_module('prisma_migrate', args)
    assert not result.get('failed'), result


def swap_in(pg, live, snapshot, replaced):
    """What pg_restore mode=replace does with a snapshot: the names move, the app is stopped."""
    pg.psql('ALTER DATABASE "%s" RENAME TO "%s"' % (live, replaced))
    pg.psql('ALTER DATABASE "%s" RENAME TO "%s"' % (snapshot, live))


def capture_objects(pg, db):
    return rows(pg, db, '''SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'dbops_capture%%') AS triggers,
                                  (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                                    WHERE n.nspname = 'dbops') AS functions,
                                  to_regclass('dbops.change_log') IS NOT NULL AS log''')[0]


@pytest.fixture
def scene(pg, fresh_db, project, tmp_path):
    """Live database at migration 11 with data, capture on, snapshot taken, migrations 12-14 applied."""
    live = fresh_db
    migrate(pg, live, project, M11)
    sql(pg, live, SEED)
    installed = capture(pg, live, 'present')
    assert not installed.get('failed'), installed
    assert set(['users', 'orders', 'order_items', 'menu_scans', 'counters']) <= set(installed['added'])
    assert '_prisma_migrations' not in installed['tables']
    snapshot, replaced = live + '_snap', live + '_old'
    for name in (snapshot, replaced):
        pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    sql(pg, 'postgres', 'CREATE DATABASE "%s" TEMPLATE "%s"' % (snapshot, live))  # as the app role, as the deploy
    migrate(pg, live, project)
    # the migrations' tables get the trigger too (before the new release starts)
    again = capture(pg, live, 'present')
    assert set(again['added']) == set(['password_resets', 'refresh_tokens', 'token_blacklist'])
    yield dict(live=live, snapshot=snapshot, replaced=replaced, quarantine=str(tmp_path / 'quarantine.jsonl'))
    for name in (snapshot, replaced):
        pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def test_every_write_after_the_snapshot_is_replayed_or_quarantined_with_its_reason(pg, scene):
    live = scene['live']
    # the migration engine's own writes (a data migration) are never captured
    assert rows(pg, live, 'SELECT count(*) AS n FROM dbops.change_log')[0]['n'] == 0
    sql(pg, live, WRITES)
    # a row the restored users table cannot take: its email is taken there by another id
    sql(pg, scene['snapshot'], '''SET dbops.capture = 'off';
        INSERT INTO users (id, email, password, name, "updatedAt") VALUES ('u9', 'new@example.com', 'x', 'Other', now())''')
    info = run_module('pg_capture_info', dict(tcp_params(pg, login_db=live), database=live))
    assert info['installed'] and info['changes'] == 21 and info['bytes'] > 0

    swap_in(pg, live, scene['snapshot'], scene['replaced'])
    dry = capture(pg, live, 'replayed', source_database=scene['replaced'], label='run1', check_mode=True)
    assert not dry.get('failed'), dry
    assert rows(pg, live, "SELECT count(*) AS n FROM menu_scans")[0]['n'] == 0, 'check mode replayed for real'
    result = capture(pg, live, 'replayed', source_database=scene['replaced'], label='run1',
                     quarantine_file=scene['quarantine'])
    assert not result.get('failed'), result
    assert result['captured'] == 21 and dry['captured'] == 21

    assert [r['id'] for r in rows(pg, live, 'SELECT id FROM menu_scans ORDER BY id')] == ['s1', 's2', 's3']
    order = rows(pg, live, 'SELECT status::text, note, "totalAmount"::text AS total FROM orders WHERE id = %s' % "'o1'")
    assert order == [dict(status='SERVED', note='table by the window', total='12.50')]
    assert [r['id'] for r in rows(pg, live, 'SELECT id FROM order_items ORDER BY id')] == ['i1', 'i2']
    assert rows(pg, live, 'SELECT amount::text FROM payments')[0]['amount'] == '12.50'
    assert rows(pg, live, "SELECT name FROM products WHERE id = 'p1'")[0]['name'] == 'Black tea'
    assert [r['id'] for r in rows(pg, live, 'SELECT id FROM tables ORDER BY id')] == ['t1b'], json.dumps({k: result[k] for k in ('applied', 'quarantined')})
    assert rows(pg, live, "SELECT name FROM users WHERE id = 'u2'")[0]['name'] == 'Waiter Two'
    assert [r['note'] for r in rows(pg, live, 'SELECT note FROM counters ORDER BY id')] == ['before', 'after', 'late']
    # the sequence is past every id the replaced database handed out
    sql(pg, live, "INSERT INTO counters (note) VALUES ('next')")
    assert rows(pg, live, "SELECT id FROM counters WHERE note = 'next'")[0]['id'] == 51

    assert result['dropped_columns'] == {'users': ['failedLoginAttempts', 'lastLoginAt', 'lockedUntil',
                                                   'passwordChangedAt']}
    assert result['quarantined'] == {
        'refresh_tokens': {'table is not in the restored schema (made by the new release)': 1},
        'users': {'duplicate key value violates unique constraint "users_email_key"': 1}}
    assert result['applied']['orders'] == {'insert': 1} and result['applied']['order_items'] == {'insert': 2}
    assert result['applied']['tables'] == {'insert': 1, 'delete': 2}
    kept = rows(pg, live, 'SELECT tbl, action, reason, change_ids FROM dbops.quarantine ORDER BY tbl')
    assert [(r['tbl'], r['action']) for r in kept] == [('refresh_tokens', 'insert'), ('users', 'insert')]
    mode = stat.S_IMODE(os.stat(scene['quarantine']).st_mode)
    assert mode == 0o600
    with open(scene['quarantine']) as stream:
        lines = [json.loads(line) for line in stream]
    assert sorted(line['table'] for line in lines) == ['refresh_tokens', 'users']
    assert [line['row']['email'] for line in lines if line['table'] == 'users'] == ['new@example.com']
    # the restored database carries no capture any more; the replaced one keeps its log as evidence
    assert capture_objects(pg, live) == dict(triggers=0, functions=0, log=False)
    assert capture_objects(pg, scene['replaced'])['log'] is True
    listed = run_module('pg_capture_info', dict(tcp_params(pg, login_db=live), database=live, label='run1'))
    assert not listed['installed'] and listed['quarantined'] == result['quarantined']


def test_a_replay_that_fails_as_a_whole_leaves_the_restored_database_as_restored(pg, scene):
    live = scene['live']
    sql(pg, live, WRITES)
    # a deferred check that fails at COMMIT: nothing of the replay may stay
    sql(pg, scene['snapshot'], '''
        CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit service unavailable'; END $$;
        CREATE CONSTRAINT TRIGGER audit AFTER INSERT ON menu_scans DEFERRABLE INITIALLY DEFERRED
          FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();''')
    swap_in(pg, live, scene['snapshot'], scene['replaced'])
    before = rows(pg, live, 'SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM menu_scans) AS scans')
    result = capture(pg, live, 'replayed', source_database=scene['replaced'], label='run2')
    assert result.get('failed') and 'audit service unavailable' in result['msg'], result
    after = rows(pg, live, 'SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM menu_scans) AS scans')
    assert before == after == [dict(orders=0, scans=0)]
    assert capture_objects(pg, live)['log'] is True and not os.path.exists(scene['quarantine'])


def test_capture_refuses_a_table_without_a_key_and_leaves_nothing_after_acceptance(pg, fresh_db):
    sql(pg, fresh_db, 'CREATE TABLE audit (at timestamptz, what text); CREATE TABLE ok (id int PRIMARY KEY)')
    refused = capture(pg, fresh_db, 'present')
    assert refused.get('failed') and 'public.audit has none' in refused['msg'] and 'capture_exclude' in refused['msg']
    assert capture_objects(pg, fresh_db) == dict(triggers=0, functions=0, log=False)
    # a table of another owner: the trigger could be added by a TRIGGER grant, but never dropped again
    pg.psql('CREATE TABLE other_owner (id int PRIMARY KEY); GRANT ALL ON other_owner TO defneqr', fresh_db)
    foreign = capture(pg, fresh_db, 'present', exclude=['audit'])
    assert foreign.get('failed') and 'public.other_owner is owned by a role defneqr is not a member of' in foreign['msg']
    assert capture_objects(pg, fresh_db) == dict(triggers=0, functions=0, log=False)
    installed = capture(pg, fresh_db, 'present', exclude=['audit', 'other_owner'])
    assert installed['added'] == ['ok'] and capture_objects(pg, fresh_db)['triggers'] == 2
    sql(pg, fresh_db, 'INSERT INTO ok VALUES (1); UPDATE ok SET id = id; TRUNCATE ok')
    logged = rows(pg, fresh_db, 'SELECT op::text FROM dbops.change_log ORDER BY id')
    assert [r['op'] for r in logged] == ['I', 'T'], 'a no-op update is not logged, a TRUNCATE is'
    gone = capture(pg, fresh_db, 'absent')
    assert gone['changed'] and capture_objects(pg, fresh_db) == dict(triggers=0, functions=0, log=False)
    assert rows(pg, fresh_db, "SELECT to_regnamespace('dbops') IS NULL AS gone")[0]['gone']
    assert not capture(pg, fresh_db, 'absent')['changed']


def test_a_new_log_drops_an_earlier_capture_and_its_changes_in_the_same_call(pg, fresh_db):
    """What a deploy does after one that kept its capture: the old log must not reach the new rollback point."""
    sql(pg, fresh_db, 'CREATE TABLE ok (id int PRIMARY KEY); CREATE TABLE skipped (id int PRIMARY KEY)')
    assert capture(pg, fresh_db, 'present')['added'] == ['ok', 'skipped']
    sql(pg, fresh_db, 'INSERT INTO ok VALUES (1), (2); INSERT INTO skipped VALUES (1)')
    logged = "SELECT new_row->>'id' AS id FROM dbops.change_log ORDER BY id"
    planned = capture(pg, fresh_db, 'present', check_mode=True, new_log=True, exclude=['skipped'])
    assert planned['changed'] and planned['ended_earlier'] and planned['added'] == ['ok'], planned
    assert len(rows(pg, fresh_db, logged)) == 3 and capture_objects(pg, fresh_db)['triggers'] == 4
    started = capture(pg, fresh_db, 'present', new_log=True, exclude=['skipped'])
    assert started['changed'] and started['ended_earlier'] and started['added'] == ['ok'], started
    assert rows(pg, fresh_db, logged) == [] and capture_objects(pg, fresh_db)['triggers'] == 2
    sql(pg, fresh_db, 'INSERT INTO ok VALUES (3); INSERT INTO skipped VALUES (2)')
    assert rows(pg, fresh_db, logged) == [dict(id='3')]
    kept = capture(pg, fresh_db, 'present', exclude=['skipped'])  # without new_log the log is kept
    assert not kept['changed'] and not kept['ended_earlier'] and rows(pg, fresh_db, logged) == [dict(id='3')]
