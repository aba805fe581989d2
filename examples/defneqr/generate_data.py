#!/usr/bin/env python3
"""Realistic, deterministic Defne Qr data, loaded with COPY.

    generate_data.py --scale 1 --dsn postgresql://defneqr@127.0.0.1:5432/dijitalmenu

Scale 1 is about 100 MB on disk (400 restaurants, 60k orders, 120k QR menu scans) and the
size grows linearly with the scale. The same seed gives the same rows. The loader looks at
the columns the database has, so it fills a database at any point of the migration history
(tables that do not exist yet are skipped, columns added later are left out).

The password belongs in PGPASSWORD or ~/.pgpass (or DATABASE_URL), not in the --dsn argument.
Seed users (see README): test@example.com / test123 (owner of the first restaurant, the
runbook's smoke-test login) and admin@defneqr.com / admin123 (ADMIN); every other user has
the password DefneQr!2026.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import random
import sys
import time

import psycopg2
from psycopg2 import sql

SEED = 20260218
BASE_TIME = datetime.datetime(2025, 9, 1, 8, 0, 0)
HISTORY_SECONDS = 170 * 24 * 3600  # from September 2025 up to the February 2026 migrations

PER_SCALE = dict(restaurants=400, categories_per_restaurant=10, products_per_category=12, tables_per_restaurant=12,
                 orders_per_restaurant=150, scans_per_restaurant=300, waiters_per_restaurant=2)

CITIES = ['İstanbul', 'Ankara', 'İzmir', 'Bursa', 'Antalya', 'Eskişehir', 'Trabzon', 'Gaziantep', 'Mersin', 'Konya']
DISTRICTS = ['Kadıköy', 'Beşiktaş', 'Çankaya', 'Karşıyaka', 'Nilüfer', 'Muratpaşa', 'Odunpazarı', 'Ortahisar',
             'Şahinbey', 'Selçuklu', 'Üsküdar', 'Bornova']
NAME_HEADS = ['Defne', 'Lezzet', 'Anadolu', 'Boğaziçi', 'Karadeniz', 'Ege', 'Çınaraltı', 'Köşk', 'Sultan', 'Huzur',
              'Lale', 'Nar', 'Zeytin', 'Güneş', 'Mavi', 'Eski', 'Yeni', 'Bereket', 'Tarihi', 'Asmalı']
NAME_TAILS = ['Sofrası', 'Kebap Salonu', 'Cafe', 'Lokantası', 'Pide Fırını', 'Balık Evi', 'Ocakbaşı', 'Kahvaltı Evi',
              'Meyhanesi', 'Tatlıcısı', 'Bistro', 'Dürüm Evi']
FIRST_NAMES = ['Ayşe', 'Mehmet', 'Fatma', 'Mustafa', 'Emine', 'Ahmet', 'Hatice', 'Ali', 'Zeynep', 'Hüseyin', 'Elif',
               'Hasan', 'Defne', 'İbrahim', 'Merve', 'Murat', 'Selin', 'Can', 'Büşra', 'Emre']
LAST_NAMES = ['Yılmaz', 'Kaya', 'Demir', 'Şahin', 'Çelik', 'Yıldız', 'Yıldırım', 'Öztürk', 'Aydın', 'Özdemir',
              'Arslan', 'Doğan', 'Kılıç', 'Aslan', 'Çetin', 'Kara', 'Koç', 'Kurt', 'Özkan', 'Şimşek']
MENU = {
    'Çorbalar': [('Mercimek Çorbası', 85), ('Ezogelin Çorbası', 85), ('Yayla Çorbası', 80), ('İşkembe Çorbası', 120),
                 ('Tarhana Çorbası', 80)],
    'Başlangıçlar': [('Humus', 110), ('Haydari', 95), ('Acılı Ezme', 90), ('Sigara Böreği', 130), ('Patlıcan Salatası', 105)],
    'Kebaplar': [('Adana Kebap', 340), ('Urfa Kebap', 340), ('İskender', 390), ('Beyti', 410), ('Patlıcan Kebabı', 380),
                 ('Ali Nazik', 395)],
    'Pideler': [('Kıymalı Pide', 220), ('Kaşarlı Pide', 200), ('Karışık Pide', 260), ('Lahmacun', 95), ('Kuşbaşılı Pide', 280)],
    'Ana Yemekler': [('Hünkar Beğendi', 420), ('Karnıyarık', 260), ('Etli Kuru Fasulye', 210), ('Tavuk Şiş', 280),
                     ('Köfte', 290), ('Mantı', 240)],
    'Salatalar': [('Çoban Salata', 110), ('Gavurdağı Salatası', 140), ('Mevsim Salata', 100), ('Roka Salatası', 120)],
    'Tatlılar': [('Künefe', 190), ('Baklava', 220), ('Sütlaç', 110), ('Kazandibi', 120), ('Kabak Tatlısı', 130),
                 ('Revani', 100)],
    'Sıcak İçecekler': [('Çay', 25), ('Türk Kahvesi', 70), ('Salep', 90), ('Bitki Çayı', 50)],
    'Soğuk İçecekler': [('Ayran', 40), ('Şalgam', 45), ('Limonata', 70), ('Maden Suyu', 35), ('Vişne Suyu', 55)],
    'Kahvaltı': [('Serpme Kahvaltı', 650), ('Menemen', 160), ('Sucuklu Yumurta', 180), ('Gözleme', 140), ('Simit', 30)],
}
CATEGORY_NAMES = list(MENU)
DESCRIPTIONS = ['Ev yapımı, günlük hazırlanır.', 'Odun ateşinde pişirilir.', 'Şefin önerisi.', 'Yöresel tarif.',
                'Taze ve mevsimlik malzemelerle.', 'Bol porsiyon.', 'Acılı veya acısız seçilebilir.']
USER_AGENTS = ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
               'Mozilla/5.0 (Linux; Android 15; SM-S921B) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36',
               'Mozilla/5.0 (Linux; Android 14; Redmi Note 13) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36',
               'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148']
ORDER_STATUSES = ['COMPLETED'] * 14 + ['CANCELLED', 'SERVED', 'PENDING', 'PREPARING']
PAYMENT_METHODS = ['CASH', 'CREDIT_CARD', 'CREDIT_CARD', 'DEBIT_CARD', 'MOBILE']
ASCII = str.maketrans('çğıöşüÇĞİÖŞÜ', 'cgiosuCGIOSU')
NULL = '\\N'

SEED_USERS = [('admin@defneqr.com', 'admin123', 'Defne Qr Yönetici', 'ADMIN'),
              ('test@example.com', 'test123', 'Test Kullanıcı', 'OWNER')]
DEFAULT_PASSWORD = 'DefneQr!2026'


def hash_password(password, salt):
    """The backend's scrypt$N$r$p$salt$hash format (examples/defneqr/backend/src/passwords.js)."""
    digest = hashlib.scrypt(password.encode(), salt=salt, n=16384, r=8, p=1, dklen=32)
    return 'scrypt$16384$8$1$%s$%s' % (base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


class Plan:
    """How many of everything a scale means; every count grows linearly with the scale."""

    def __init__(self, scale):
        self.scale = scale
        self.restaurants = max(1, int(round(PER_SCALE['restaurants'] * scale)))
        self.categories_per_restaurant = PER_SCALE['categories_per_restaurant']
        self.products_per_category = PER_SCALE['products_per_category']
        self.tables_per_restaurant = PER_SCALE['tables_per_restaurant']
        self.orders_per_restaurant = PER_SCALE['orders_per_restaurant']
        self.scans_per_restaurant = PER_SCALE['scans_per_restaurant']
        self.waiters_per_restaurant = PER_SCALE['waiters_per_restaurant']
        self.global_categories = 3

    def owner_id(self, r):
        return 'usr_o%07d' % r

    def waiter_id(self, r, w):
        return 'usr_w%07d_%d' % (r, w)

    def restaurant_id(self, r):
        return 'rst_%07d' % r

    def category_id(self, r, c):
        return 'cat_%07d_%02d' % (r, c)

    def product_id(self, r, c, p):
        return 'prd_%07d_%02d_%02d' % (r, c, p)

    def table_id(self, r, t):
        return 'tbl_%07d_%02d' % (r, t)


def stamp(seconds):
    return (BASE_TIME + datetime.timedelta(seconds=seconds)).strftime('%Y-%m-%d %H:%M:%S.000')


def money(value):
    return '%.2f' % value


def _bool(value):
    return 't' if value else 'f'


# -- one generator per table: (columns, rows) with every column the table ever had ------------

def users(plan, rng):
    columns = ['id', 'email', 'password', 'name', 'phone', 'role', 'isDeleted', 'createdAt', 'updatedAt',
               'failedLoginAttempts', 'lastLoginAt']

    def rows():
        shared_hash = hash_password(DEFAULT_PASSWORD, b'defneqr-seed-salt')
        for index, (email, password, name, role) in enumerate(SEED_USERS):
            user_id = 'usr_admin' if role == 'ADMIN' else plan.owner_id(0)
            salt = hashlib.sha256(email.encode()).digest()[:16]
            yield (user_id, email, hash_password(password, salt), name, NULL, role, 'f', stamp(index),
                   stamp(index), '0', NULL)
        for r in range(1, plan.restaurants):
            yield _person(rng, plan.owner_id(r), 'owner%d' % r, 'OWNER', shared_hash)
        for r in range(plan.restaurants):
            for w in range(plan.waiters_per_restaurant):
                yield _person(rng, plan.waiter_id(r, w), 'garson%d.%d' % (r, w), 'WAITER', shared_hash)
    return columns, rows()


def _person(rng, user_id, handle, role, password_hash):
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    created = rng.randrange(HISTORY_SECONDS // 2)
    email = '%s.%s.%s@defneqr.example' % (first.translate(ASCII).lower(), last.translate(ASCII).lower(), handle)
    return (user_id, email, password_hash, '%s %s' % (first, last), '+90 5%02d %03d %02d %02d' % (
        rng.randrange(30, 60), rng.randrange(1000), rng.randrange(100), rng.randrange(100)), role,
        _bool(rng.random() < 0.02), stamp(created), stamp(created + rng.randrange(86400 * 30)), '0',
        stamp(HISTORY_SECONDS - rng.randrange(86400 * 20)))


def restaurants(plan, rng):
    columns = ['id', 'name', 'slug', 'description', 'address', 'phone', 'logoUrl', 'ownerId', 'isDeleted',
               'createdAt', 'updatedAt', 'menuSettings']

    def rows():
        for r in range(plan.restaurants):
            name = '%s %s' % (rng.choice(NAME_HEADS), rng.choice(NAME_TAILS))
            city, district = rng.choice(CITIES), rng.choice(DISTRICTS)
            slug = '%s-%s-%d' % (name.translate(ASCII).lower().replace(' ', '-'), city.translate(ASCII).lower(), r)
            settings = json.dumps({'theme': rng.choice(['klasik', 'modern', 'gece']), 'currency': 'TRY',
                                   'language': 'tr', 'showPrices': True, 'showImages': rng.random() < 0.7,
                                   'primaryColor': '#%06x' % rng.randrange(0x1000000)}, ensure_ascii=False)
            created = rng.randrange(HISTORY_SECONDS // 2)
            yield (plan.restaurant_id(r), name, slug, '%s, %s: %s' % (district, city, rng.choice(DESCRIPTIONS)),
                   '%s Mah. No:%d, %s/%s' % (district, rng.randrange(1, 200), district, city),
                   '+90 2%02d %03d %02d %02d' % (rng.randrange(12, 99), rng.randrange(1000), rng.randrange(100),
                                                 rng.randrange(100)),
                   'https://cdn.defneqr.example/logos/%s.png' % slug, plan.owner_id(r), _bool(rng.random() < 0.01),
                   stamp(created), stamp(created + 3600), settings)
    return columns, rows()


def categories(plan, rng):
    columns = ['id', 'name', 'description', 'imageUrl', 'order', 'restaurantId', 'isGlobal', 'isDeleted',
               'createdAt', 'updatedAt']

    def rows():
        for g in range(plan.global_categories):
            yield ('cat_global_%02d' % g, CATEGORY_NAMES[g], 'Tüm restoranlar için hazır kategori', NULL, str(g), NULL,
                   't', 'f', stamp(0), stamp(0))
        for r in range(plan.restaurants):
            for c in range(plan.categories_per_restaurant):
                created = rng.randrange(HISTORY_SECONDS)
                yield (plan.category_id(r, c), CATEGORY_NAMES[c % len(CATEGORY_NAMES)], rng.choice(DESCRIPTIONS),
                       NULL, str(c), plan.restaurant_id(r), 'f', _bool(rng.random() < 0.03), stamp(created),
                       stamp(created))
    return columns, rows()


def product_price(c, p):
    dishes = MENU[CATEGORY_NAMES[c % len(CATEGORY_NAMES)]]
    return dishes[p % len(dishes)]


def products(plan, rng):
    columns = ['id', 'name', 'description', 'imageUrl', 'basePrice', 'categoryId', 'restaurantId', 'isGlobal',
               'isDeleted', 'createdAt', 'updatedAt', 'isActive', 'order']

    def rows():
        for r in range(plan.restaurants):
            for c in range(plan.categories_per_restaurant):
                for p in range(plan.products_per_category):
                    dish, price = product_price(c, p)
                    created = rng.randrange(HISTORY_SECONDS)
                    yield (plan.product_id(r, c, p), dish if p < 6 else '%s (%d)' % (dish, p),
                           rng.choice(DESCRIPTIONS), 'https://cdn.defneqr.example/menu/%s/%d.jpg' % (
                               plan.restaurant_id(r), p), money(price * rng.uniform(0.85, 1.3)),
                           plan.category_id(r, c), plan.restaurant_id(r), 'f', _bool(rng.random() < 0.03),
                           stamp(created), stamp(created), _bool(rng.random() < 0.95), str(p))
    return columns, rows()


def tables(plan, rng):
    columns = ['id', 'name', 'capacity', 'qrCode', 'restaurantId', 'isActive', 'isDeleted', 'createdAt', 'updatedAt']

    def rows():
        for r in range(plan.restaurants):
            for t in range(plan.tables_per_restaurant):
                name = 'Bahçe %d' % (t + 1) if t >= 8 else 'Masa %d' % (t + 1)
                yield (plan.table_id(r, t), name, str(rng.choice([2, 4, 4, 6, 8])),
                       'https://defneqr.example/m/%s?t=%d' % (plan.restaurant_id(r), t), plan.restaurant_id(r),
                       _bool(rng.random() < 0.95), 'f', stamp(0), stamp(0))
    return columns, rows()


def orders_with_items_and_payments(plan, rng):
    """Orders, their items and payments come from one walk so that totals agree."""
    order_rows, item_rows, payment_rows = [], [], []
    for r in range(plan.restaurants):
        rest = plan.restaurant_id(r)
        for o in range(plan.orders_per_restaurant):
            order_id = 'ord_%07d_%04d' % (r, o)
            created = rng.randrange(HISTORY_SECONDS)
            status = rng.choice(ORDER_STATUSES)
            total = 0.0
            items = []
            for i in range(rng.choice([1, 2, 2, 3, 3, 4, 5])):
                c, p = rng.randrange(plan.categories_per_restaurant), rng.randrange(plan.products_per_category)
                quantity = rng.choice([1, 1, 1, 2, 2, 3])
                price = product_price(c, p)[1]
                total += price * quantity
                items.append(('itm_%07d_%04d_%d' % (r, o, i), order_id, plan.product_id(r, c, p), str(quantity),
                              money(price), money(price * quantity), NULL, stamp(created)))
            t = rng.randrange(plan.tables_per_restaurant)
            order_rows.append((order_id, 'DQ-%07d-%04d' % (r, o), rest, 'Masa %d' % (t + 1),
                               plan.waiter_id(r, o % plan.waiters_per_restaurant), status, money(total),
                               NULL, 'f', stamp(created), stamp(created + rng.randrange(600, 7200)),
                               plan.table_id(r, t)))
            item_rows.extend(items)
            if status in ('COMPLETED', 'SERVED'):
                paid = created + rng.randrange(900, 7200)
                payment_rows.append(('pay_%07d_%04d' % (r, o), order_id, rest, money(total),
                                     rng.choice(PAYMENT_METHODS), 'COMPLETED' if status == 'COMPLETED' else 'PENDING',
                                     'TX%012d' % rng.randrange(10 ** 12), stamp(paid), 'f', stamp(paid), stamp(paid)))
        if len(order_rows) >= 20000 or r == plan.restaurants - 1:
            yield order_rows, item_rows, payment_rows
            order_rows, item_rows, payment_rows = [], [], []


ORDER_COLUMNS = ['id', 'orderNumber', 'restaurantId', 'tableNumber', 'waiterId', 'status', 'totalAmount', 'note',
                 'isDeleted', 'createdAt', 'updatedAt', 'tableId']
ITEM_COLUMNS = ['id', 'orderId', 'productId', 'quantity', 'unitPrice', 'totalPrice', 'note', 'createdAt']
PAYMENT_COLUMNS = ['id', 'orderId', 'restaurantId', 'amount', 'method', 'status', 'transactionId', 'paidAt',
                   'isDeleted', 'createdAt', 'updatedAt']


def stocks(plan, rng):
    columns = ['id', 'restaurantId', 'productId', 'quantity', 'minQuantity', 'unit', 'isDeleted', 'createdAt',
               'updatedAt']

    def rows():
        for r in range(plan.restaurants):
            for c in range(plan.categories_per_restaurant):
                for p in range(0, plan.products_per_category, 2):
                    yield ('stk_%07d_%02d_%02d' % (r, c, p), plan.restaurant_id(r), plan.product_id(r, c, p),
                           str(rng.randrange(0, 200)), str(rng.choice([5, 10, 20])),
                           rng.choice(['adet', 'porsiyon', 'kg', 'litre']), 'f', stamp(0), stamp(0))
    return columns, rows()


def menu_scans(plan, rng):
    columns = ['id', 'restaurantId', 'ipAddress', 'userAgent', 'scannedAt']

    def rows():
        for r in range(plan.restaurants):
            rest = plan.restaurant_id(r)
            for s in range(plan.scans_per_restaurant):
                address = '85.%d.%d.%d' % (rng.randrange(96, 111), rng.randrange(256), rng.randrange(1, 255))
                yield ('scn_%07d_%05d' % (r, s), rest, address, rng.choice(USER_AGENTS),
                       stamp(rng.randrange(HISTORY_SECONDS)))
    return columns, rows()


def system_settings(plan, rng):  # pylint: disable=unused-argument
    columns = ['id', 'siteName', 'maintenanceMode', 'allowRegistration', 'createdAt', 'updatedAt', 'supportEmail',
               'defaultCurrency', 'defaultLanguage']
    return columns, iter([('settings', 'Defne Qr', 'f', 't', stamp(0), stamp(0), 'destek@defneqr.com', 'TRY', 'tr')])


PLANS = [('plan_baslangic', 'Başlangıç', '149.00', 1, 50, 5, 'f', NULL),
         ('plan_profesyonel', 'Profesyonel', '399.00', 3, 500, 30, 't', '99.00'),
         ('plan_kurumsal', 'Kurumsal', '999.00', 20, 5000, 200, 'f', '79.00')]


def plans(plan, rng):  # pylint: disable=unused-argument
    columns = ['id', 'name', 'description', 'price', 'billingPeriod', 'maxRestaurants', 'maxProducts', 'maxTables',
               'features', 'isActive', 'createdAt', 'updatedAt', 'isPopular', 'extraRestaurantPrice']
    rows = [(pid, name, '%s paket' % name, price, 'MONTHLY', str(max_r), str(max_p), str(max_t),
             json.dumps({'qrMenu': True, 'pos': max_t > 5, 'analytics': max_r > 1}), 't', stamp(0), stamp(0),
             popular, extra) for pid, name, price, max_r, max_p, max_t, popular, extra in PLANS]
    return columns, iter(rows)


def subscriptions(plan, rng):
    columns = ['id', 'userId', 'planId', 'status', 'startDate', 'endDate', 'createdAt', 'updatedAt']

    def rows():
        for r in range(plan.restaurants):
            start = rng.randrange(HISTORY_SECONDS // 2)
            yield ('sub_%07d' % r, plan.owner_id(r), rng.choice(PLANS)[0],
                   rng.choice(['ACTIVE', 'ACTIVE', 'ACTIVE', 'TRIAL', 'PAST_DUE', 'CANCELLED']), stamp(start),
                   stamp(start + 365 * 86400), stamp(start), stamp(start))
    return columns, rows()


SIMPLE_TABLES = [('users', users), ('restaurants', restaurants), ('categories', categories), ('products', products),
                 ('tables', tables), ('stocks', stocks), ('menu_scans', menu_scans),
                 ('system_settings', system_settings), ('plans', plans), ('subscriptions', subscriptions)]
APP_TABLES = [name for name, _make in SIMPLE_TABLES] + ['orders', 'order_items', 'payments']


class CopyStream:
    """A file-like object that feeds COPY from a row generator, so the server parses while we generate."""

    def __init__(self, rows, keep):
        self.rows = rows
        self.keep = keep
        self.buffer = ''
        self.count = 0

    def read(self, size=-1):
        parts = [self.buffer]
        length = len(self.buffer)
        keep = self.keep
        for row in self.rows:
            line = '\t'.join([row[i] for i in keep]) + '\n'
            parts.append(line)
            length += len(line)
            self.count += 1
            if 0 < size <= length:
                break
        data = ''.join(parts)
        if size > 0:
            self.buffer = data[size:]
            return data[:size]
        self.buffer = ''
        return data


class Loader:
    def __init__(self, conn):
        self.conn = conn
        self.counts = {}
        with conn.cursor() as cur:
            cur.execute("SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema()")
            self.columns = {}
            for table, column in cur.fetchall():
                self.columns.setdefault(table, set()).add(column)

    def has(self, table):
        return table in self.columns

    def copy(self, table, columns, rows):
        if not self.has(table):
            return
        keep = [i for i, column in enumerate(columns) if column in self.columns[table]]
        statement = sql.SQL('COPY {} ({}) FROM STDIN').format(
            sql.Identifier(table), sql.SQL(', ').join(sql.Identifier(columns[i]) for i in keep))
        stream = CopyStream(rows, keep)
        with self.conn.cursor() as cur:
            cur.copy_expert(statement.as_string(self.conn), stream, size=1 << 20)
        self.counts[table] = self.counts.get(table, 0) + stream.count


def load(conn, scale, seed=SEED, replace=False, log=print):
    """Fill the database; returns {table: rows}."""
    loader = Loader(conn)
    if not loader.has('users'):
        raise SystemExit('The database has no Defne Qr schema (table "users" is missing): apply the '
                         'migrations first (at least 20260215174415_init).')
    with conn.cursor() as cur:
        present = [t for t in APP_TABLES if loader.has(t)]
        if replace:
            cur.execute(sql.SQL('TRUNCATE {} CASCADE').format(sql.SQL(', ').join(map(sql.Identifier, present))))
        else:
            cur.execute('SELECT EXISTS (SELECT 1 FROM users)')
            if cur.fetchone()[0]:
                raise SystemExit('The database already holds users: pass --replace to empty the Defne Qr '
                                 'tables first, or load into an empty database.')
    plan = Plan(scale)
    started = time.time()
    for table, make in SIMPLE_TABLES:
        if table == 'stocks':  # orders come before stocks so that the big tables start early
            for order_rows, item_rows, payment_rows in orders_with_items_and_payments(plan, random.Random(seed + 7)):
                loader.copy('orders', ORDER_COLUMNS, iter(order_rows))
                loader.copy('order_items', ITEM_COLUMNS, iter(item_rows))
                loader.copy('payments', PAYMENT_COLUMNS, iter(payment_rows))
        columns, rows = make(plan, random.Random('%d-%s' % (seed, table)))
        loader.copy(table, columns, rows)
        log('  %-16s %9d rows  %6.1fs' % (table, loader.counts.get(table, 0), time.time() - started))
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute('ANALYZE')
    return loader.counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--scale', type=float, default=1.0, help='1 = about 100 MB; grows linearly (default 1)')
    parser.add_argument('--dsn', default=os.environ.get('DATABASE_URL', ''),
                        help='libpq connection string or URL without the password (default: $DATABASE_URL)')
    parser.add_argument('--seed', type=int, default=SEED)
    parser.add_argument('--replace', action='store_true', help='empty the Defne Qr tables before loading')
    args = parser.parse_args(argv)
    started = time.time()
    conn = psycopg2.connect(args.dsn, application_name='defneqr-generate-data')
    print('Loading Defne Qr data at scale %g (seed %d)' % (args.scale, args.seed))
    counts = load(conn, args.scale, args.seed, args.replace)
    with conn.cursor() as cur:
        cur.execute('SELECT pg_database_size(current_database())')
        size = cur.fetchone()[0]
    elapsed = time.time() - started
    print('Loaded %d rows in %.1fs; database size %.1f MB' % (sum(counts.values()), elapsed, size / 1e6))
    return 0


if __name__ == '__main__':
    sys.exit(main())
