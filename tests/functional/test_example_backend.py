"""The example Defne Qr backend under real pm2, against a database filled by the generator."""
import os
import sys
import time

import pytest

import paths
from apphost import AppHost, http
import pgcluster
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations
from conftest import tcp_params

sys.path.insert(0, paths.EXAMPLE)
import generate_data  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

LATEST = '20260218193213_add_performance_indexes'
M11 = '20260218174944_add_plan_popular_and_extra_price'


@pytest.fixture
def filled_db(pg, fresh_db):
    conn = postgres.connect(tcp_params(pg, login_db=fresh_db))
    prisma_migrations.deploy(conn, prisma_migrations.Project(paths.BACKEND))
    data_conn = postgres.connect(tcp_params(pg, login_db=fresh_db), autocommit=False)
    counts = generate_data.load(data_conn, 0.1, log=lambda *a: None)
    assert counts['restaurants'] == 40 and counts['orders'] == 40 * 150
    return fresh_db


@pytest.fixture
def app(pg, filled_db, tmp_path):
    host = AppHost(str(tmp_path / 'app1'), pgcluster.free_port(), name='app1')
    host.configure('postgresql://%s:%s@127.0.0.1:%d/%s' % (pgcluster.APP_ROLE, pg.app_password, pg.port, filled_db))
    yield host
    host.kill()


def login(app, email='test@example.com', password='test123'):
    return http('POST', app.url + '/api/auth/login', dict(email=email, password=password))


def test_health_login_and_restaurants(app, pg, filled_db):
    app.start()
    body = app.wait_for_health(200)
    assert body['status'] == 'ok' and body['db'] == 'ok' and body['migration'] == LATEST
    status, answer = login(app)
    assert status == 200 and answer['user']['email'] == 'test@example.com' and answer['user']['role'] == 'OWNER'
    status, listing = http('GET', app.url + '/api/restaurants', token=answer['token'])
    assert status == 200
    assert [r['id'] for r in listing['restaurants']] == ['rst_0000000']
    assert listing['restaurants'][0]['categoryCount'] >= 9
    assert listing['restaurants'][0]['productCount'] >= 110
    status, admin = login(app, 'admin@defneqr.com', 'admin123')
    status, everything = http('GET', app.url + '/api/restaurants', token=admin['token'])
    conn = postgres.connect(tcp_params(pg, login_db=filled_db))
    live = postgres.query(conn, 'SELECT count(*) AS n FROM restaurants WHERE NOT "isDeleted"')[0]['n']
    assert status == 200 and len(everything['restaurants']) == live
    assert http('GET', app.url + '/api/restaurants')[0] == 401
    assert http('GET', app.url + '/api/restaurants', token=answer['token'][:-2] + 'xx')[0] == 401
    assert login(app, password='wrong')[0] == 401
    processes = app.processes()
    assert [p['name'] for p in processes] == ['defneqr-backend'] and processes[0]['pm2_env']['status'] == 'online'
    env_dump = repr(processes)
    assert pg.app_password not in env_dump, 'the database password must not be in pm2 process env'
    with open(os.path.join(app.log_dir, 'out.log'), encoding='utf-8') as stream:
        assert '"path":"/health"' in stream.read()


def test_health_is_503_when_schema_is_older_than_the_code(app, pg, filled_db):
    conn = postgres.connect(tcp_params(pg, login_db=filled_db))
    prisma_migrations.rollback(conn, prisma_migrations.Project(paths.BACKEND), M11)
    app.start()
    body = app.wait_for_health(503)
    assert body['migration'] == M11 and body['expected'] == LATEST
    assert 'older than this release expects' in body['reason']


def test_broken_release_faults(app):
    app.start(fault='health')
    assert app.wait_for_health(500)['reason'].startswith('deliberately broken release')
    app.pm2('delete', 'defneqr-backend')
    app.start(fault='login')
    app.wait_for_health(200)
    assert login(app)[0] == 500
    app.pm2('delete', 'defneqr-backend')
    app.start(fault='crash')
    restarts = 0
    for _attempt in range(50):
        restarts = app.restarts()
        if restarts >= 2:
            break
        time.sleep(0.2)
    assert restarts >= 2, 'pm2 should keep restarting a release that crashes at start'


def test_health_turns_503_when_the_database_stops(app, pg):
    app.start()
    app.wait_for_health(200)
    pg.pause()
    try:
        body = app.wait_for_health(503, timeout=20)
        assert body['db'] == 'unreachable'
    finally:
        pg.resume()
    app.wait_for_health(200, timeout=30)


def test_orders_with_items_and_payment_status_and_item_removal(app, pg, filled_db):
    app.start()
    app.wait_for_health(200)
    items = [dict(productId='prd_0000003_00_00', quantity=2), dict(productId='prd_0000003_00_01', quantity=1)]
    status, order = http('POST', app.url + '/api/orders', dict(restaurantId='rst_0000003', tableNumber='7',
                                                               items=items, payment='CASH'))
    assert status == 201 and len(order['items']) == 2, order
    conn = postgres.connect(tcp_params(pg, login_db=filled_db))
    prices = postgres.query(conn, '''SELECT id, "basePrice"::text AS price FROM products
                                     WHERE id IN ('prd_0000003_00_00', 'prd_0000003_00_01') ORDER BY id''')
    expected = '%.2f' % (2 * float(prices[0]['price']) + float(prices[1]['price']))
    stored = postgres.query(conn, '''
        SELECT o."totalAmount"::text AS total, o.status::text AS status, p.amount::text AS paid,
               (SELECT count(*) FROM order_items i WHERE i."orderId" = o.id) AS items
          FROM orders o JOIN payments p ON p."orderId" = o.id WHERE o.id = %s''', (order['id'],))
    assert stored == [dict(total=expected, status='PENDING', paid=expected, items=2)] and order['totalAmount'] == expected
    assert http('POST', app.url + '/api/orders/status', dict(id=order['id'], status='SERVED')) == (
        200, dict(id=order['id'], status='SERVED'))
    status, removed = http('POST', app.url + '/api/orders/remove-item', dict(orderId=order['id'],
                                                                             itemId=order['items'][1]))
    assert status == 200 and removed['totalAmount'] == '%.2f' % (2 * float(prices[0]['price']))
    after = postgres.query(conn, '''SELECT o.status::text AS status, p.amount::text AS paid,
                                           array(SELECT i.id FROM order_items i WHERE i."orderId" = o.id) AS items
                                      FROM orders o JOIN payments p ON p."orderId" = o.id WHERE o.id = %s''',
                           (order['id'],))
    assert after == [dict(status='SERVED', paid=removed['totalAmount'], items=[order['items'][0]])]
    assert http('POST', app.url + '/api/orders/status', dict(id=order['id'], status='EATEN'))[0] == 400
    assert http('POST', app.url + '/api/orders', dict(restaurantId='rst_0000003', items=[
        dict(productId='prd_0000004_00_00', quantity=1)]))[0] == 400
