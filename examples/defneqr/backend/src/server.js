'use strict';
// Defne Qr backend (example): the endpoints the runbook's steps 6 and 7 call.
//   GET  /health            200 {"status":"ok","db":"ok","migration":...} or 503
//   POST /api/auth/login    {"email","password"} -> {"token", "user"}
//   GET  /api/restaurants   Bearer token -> restaurants with category and product counts
//   POST /api/scans         {"restaurantId"} -> a QR menu scan recorded (201 {"id"})
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
  return [200, { token, user: { id: user.id, email: user.email, name: user.name, role: user.role } }];
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

const routes = {
  'GET /health': health,
  'POST /api/auth/login': login,
  'GET /api/restaurants': restaurants,
  'POST /api/scans': recordScan,
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
