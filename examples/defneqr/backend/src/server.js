'use strict';
// Defne Qr backend (example): the endpoints the runbook's steps 6 and 7 call.
//   GET  /health            200 {"status":"ok","db":"ok","migration":...} or 503
//   POST /api/auth/login    {"email","password"} -> {"token", "user"}
//   GET  /api/restaurants   Bearer token -> restaurants with category and product counts
//   POST /api/scans         {"restaurantId"} -> a QR menu scan recorded (201 {"id"})
//   POST /api/orders        {"restaurantId", "tableNumber", "items": [{"productId", "quantity"}], "payment": "CASH"}
//                           -> an order from the table's QR menu, its items and its payment, in one transaction
//                           (201 {"id", "orderNumber", "totalAmount", "items": [ids], "paymentId"})
//   POST /api/orders/status {"id", "status"} -> the order's new status (200 {"id", "status"})
//   POST /api/orders/remove-item {"orderId", "itemId"} -> the item deleted, the total and payment lowered
const crypto = require('crypto');
const http = require('http');
const { Pool } = require('pg');
const config = require('./config').load();
const { verifyPassword } = require('./passwords');
const tokens = require('./tokens');

if (config.fault === 'crash') {
  console.error('FATAL: release started with DEFNEQR_FAULT=crash (deliberately broken release)');
  process.exit(1);
}
if (!config.databaseUrl) {
  console.error('FATAL: DATABASE_URL is not set (environment or env file)');
  process.exit(1);
}

const pool = new Pool({
  connectionString: config.databaseUrl,
  max: 5,
  connectionTimeoutMillis: 2000,
  query_timeout: 5000,
  application_name: 'defneqr-backend',
});
pool.on('error', (err) => console.error(`database pool error: ${err.message}`));

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => {
      data += chunk;
      if (data.length > 65536) reject(new Error('body too large'));
    });
    req.on('end', () => {
      try {
        resolve(data ? JSON.parse(data) : {});
      } catch (err) {
        reject(err);
      }
    });
  });
}

async function health() {
  if (config.fault === 'health') {
    return [500, { status: 'error', reason: 'deliberately broken release (DEFNEQR_FAULT=health)' }];
  }
  let applied;
  try {
    const result = await pool.query(
      `SELECT migration_name FROM "_prisma_migrations"
        WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
        ORDER BY migration_name DESC LIMIT 1`);
    applied = result.rows.length ? result.rows[0].migration_name : null;
  } catch (err) {
    const unreachable = !err.code || /^(08|57P)/.test(err.code) || err.code === 'ECONNREFUSED';
    return [503, { status: 'error', db: unreachable ? 'unreachable' : 'error', error: err.message }];
  }
  const body = { status: 'ok', db: 'ok', migration: applied, expected: config.expectedMigration, release: config.release };
  if (!applied || applied < config.expectedMigration) {
    return [503, { ...body, status: 'error', reason: 'database schema is older than this release expects' }];
  }
  return [200, body];
}

const REFRESH_TOKENS_MIGRATION = '20260218190130_add_refresh_token_and_blacklist';

async function login(req) {
  if (config.fault === 'login') return [500, { error: 'deliberately broken release (DEFNEQR_FAULT=login)' }];
  const { email, password } = await readJson(req);
  if (typeof email !== 'string' || typeof password !== 'string') {
    return [400, { error: 'email and password are required' }];
  }
  const result = await pool.query(
    'SELECT id, email, name, role, password FROM users WHERE email = $1 AND "isDeleted" = false', [email]);
  const user = result.rows[0];
  if (!user || !verifyPassword(password, user.password)) return [401, { error: 'invalid email or password' }];
  const token = tokens.sign({ sub: user.id, role: user.role }, config.jwtSecret);
  const answer = { token, user: { id: user.id, email: user.email, name: user.name, role: user.role } };
  if (config.expectedMigration >= REFRESH_TOKENS_MIGRATION) {
    // releases built on the refresh-token migration keep a refresh token and the login time
    answer.refreshToken = crypto.randomBytes(32).toString('base64url');
    await pool.query(
      `INSERT INTO refresh_tokens (id, "userId", token, "expiresAt") VALUES ($1, $2, $3, now() + interval '30 days')`,
      [`rft_${crypto.randomUUID()}`, user.id, answer.refreshToken]);
    await pool.query('UPDATE users SET "lastLoginAt" = now() WHERE id = $1', [user.id]);
  }
  return [200, answer];
}

async function restaurants(req) {
  const header = req.headers.authorization || '';
  const claims = tokens.verify(header.replace(/^Bearer\s+/i, ''), config.jwtSecret);
  if (!claims) return [401, { error: 'a valid bearer token is required' }];
  const params = claims.role === 'ADMIN' ? [] : [claims.sub];
  const result = await pool.query(
    `SELECT r.id, r.name, r.slug,
            (SELECT count(*) FROM categories c WHERE c."restaurantId" = r.id AND NOT c."isDeleted")::int AS "categoryCount",
            (SELECT count(*) FROM products p WHERE p."restaurantId" = r.id AND NOT p."isDeleted")::int AS "productCount"
       FROM restaurants r
      WHERE NOT r."isDeleted" ${params.length ? 'AND r."ownerId" = $1' : ''}
      ORDER BY r.name LIMIT 100`, params);
  return [200, { restaurants: result.rows }];
}

// A customer scanned a table's QR code: the analytics row the menu writes on every visit.
async function recordScan(req) {
  const { restaurantId } = await readJson(req);
  if (typeof restaurantId !== 'string') return [400, { error: 'restaurantId is required' }];
  const id = `scn_${crypto.randomUUID()}`;
  await pool.query(
    'INSERT INTO menu_scans (id, "restaurantId", "ipAddress", "userAgent") VALUES ($1, $2, $3, $4)',
    [id, restaurantId, req.socket.remoteAddress || null, String(req.headers['user-agent'] || '').slice(0, 200)]);
  return [201, { id }];
}

const ORDER_STATUSES = ['PENDING', 'PREPARING', 'READY', 'SERVED', 'COMPLETED', 'CANCELLED'];

async function inTransaction(work) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

// A guest orders from the table's QR menu and pays at the table: order, items and payment together.
async function createOrder(req) {
  const { restaurantId, tableNumber, items, payment } = await readJson(req);
  if (typeof restaurantId !== 'string' || !Array.isArray(items) || items.length === 0 ||
      !items.every((i) => typeof i.productId === 'string' && Number.isInteger(i.quantity) && i.quantity > 0)) {
    return [400, { error: 'restaurantId and items [{productId, quantity}] are required' }];
  }
  return inTransaction(async (client) => {
    const prices = await client.query(
      'SELECT id, coalesce("basePrice", 0)::numeric AS price FROM products WHERE id = ANY($1) AND "restaurantId" = $2',
      [items.map((i) => i.productId), restaurantId]);
    const priceOf = new Map(prices.rows.map((row) => [row.id, Number(row.price)]));
    if (items.some((i) => !priceOf.has(i.productId))) return [400, { error: 'unknown product for this restaurant' }];
    const id = `ord_${crypto.randomUUID()}`;
    const orderNumber = `QR-${Date.now()}-${crypto.randomBytes(3).toString('hex')}`;
    const lines = items.map((i) => ({ ...i, id: `itm_${crypto.randomUUID()}`, total: priceOf.get(i.productId) * i.quantity }));
    const total = lines.reduce((sum, line) => sum + line.total, 0).toFixed(2);
    await client.query(
      `INSERT INTO orders (id, "orderNumber", "restaurantId", "tableNumber", "totalAmount", "updatedAt")
       VALUES ($1, $2, $3, $4, $5, now())`, [id, orderNumber, restaurantId, tableNumber || null, total]);
    for (const line of lines) {
      await client.query(
        `INSERT INTO order_items (id, "orderId", "productId", quantity, "unitPrice", "totalPrice")
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [line.id, id, line.productId, line.quantity, priceOf.get(line.productId).toFixed(2), line.total.toFixed(2)]);
    }
    const paymentId = `pay_${crypto.randomUUID()}`;
    await client.query(
      `INSERT INTO payments (id, "orderId", "restaurantId", amount, method, "updatedAt")
       VALUES ($1, $2, $3, $4, $5, now())`, [paymentId, id, restaurantId, total, payment || 'CASH']);
    return [201, { id, orderNumber, totalAmount: total, items: lines.map((line) => line.id), paymentId }];
  });
}

async function setOrderStatus(req) {
  const { id, status } = await readJson(req);
  if (typeof id !== 'string' || !ORDER_STATUSES.includes(status)) {
    return [400, { error: `id and a status (${ORDER_STATUSES.join(', ')}) are required` }];
  }
  const result = await pool.query(
    'UPDATE orders SET status = $2, "updatedAt" = now() WHERE id = $1 AND NOT "isDeleted" RETURNING id, status', [id, status]);
  return result.rows.length ? [200, result.rows[0]] : [404, { error: 'no such order' }];
}

// The waiter takes an item off the bill: the item goes, the order's total and its payment go down.
async function removeOrderItem(req) {
  const { orderId, itemId } = await readJson(req);
  if (typeof orderId !== 'string' || typeof itemId !== 'string') return [400, { error: 'orderId and itemId are required' }];
  return inTransaction(async (client) => {
    const removed = await client.query(
      'DELETE FROM order_items WHERE id = $1 AND "orderId" = $2 RETURNING "totalPrice"', [itemId, orderId]);
    if (!removed.rows.length) return [404, { error: 'no such item on this order' }];
    const order = await client.query(
      `UPDATE orders SET "totalAmount" = "totalAmount" - $2, "updatedAt" = now() WHERE id = $1
       RETURNING "totalAmount"::text AS total`, [orderId, removed.rows[0].totalPrice]);
    await client.query('UPDATE payments SET amount = $2, "updatedAt" = now() WHERE "orderId" = $1',
      [orderId, order.rows[0].total]);
    return [200, { orderId, itemId, totalAmount: order.rows[0].total }];
  });
}

const routes = {
  'GET /health': health,
  'POST /api/auth/login': login,
  'GET /api/restaurants': restaurants,
  'POST /api/scans': recordScan,
  'POST /api/orders': createOrder,
  'POST /api/orders/status': setOrderStatus,
  'POST /api/orders/remove-item': removeOrderItem,
};

const server = http.createServer(async (req, res) => {
  const started = process.hrtime.bigint();
  const handler = routes[`${req.method} ${req.url.split('?')[0]}`];
  let status = 500;
  try {
    if (config.fault === 'slow') await new Promise((resolve) => setTimeout(resolve, 1500));
    const [code, body] = handler ? await handler(req) : [404, { error: 'not found' }];
    status = code;
    send(res, code, body);
  } catch (err) {
    console.error(`error ${req.method} ${req.url}: ${err.message}`);
    send(res, status, { error: 'internal error' });
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(JSON.stringify({ method: req.method, path: req.url, status, ms: Math.round(ms * 10) / 10 }));
});

server.listen(config.port, config.host, () => {
  console.log(`defneqr-backend ${config.release} listening on ${config.host}:${config.port}, expects ${config.expectedMigration}`);
  if (process.send) process.send('ready'); // pm2 wait_ready
});

function shutdown(signal) {
  console.log(`received ${signal}, closing`);
  server.close(() => pool.end().then(() => process.exit(0)));
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
