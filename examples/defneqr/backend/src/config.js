'use strict';
// Settings come from the environment and, for secrets, from a 0600 env file
// (DEFNEQR_ENV_FILE, default ./.env beside the release): DATABASE_URL and JWT_SECRET are
// kept out of pm2's process list that way.
const fs = require('fs');
const path = require('path');

const APP_DIR = path.resolve(__dirname, '..');

function readEnvFile(file) {
  if (!fs.existsSync(file)) return {};
  const values = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const match = line.match(/^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/);
    if (match) values[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return values;
}

// The newest migration this release ships is the schema its code expects.
function expectedMigration(appDir) {
  const dir = path.join(appDir, 'prisma', 'migrations');
  const names = fs.readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^\d{14}_/.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  return names[names.length - 1];
}

// A deliberately broken release for rollback tests: DEFNEQR_FAULT (environment or env file) or a
// FAULT file in the release folder names the failure (health, login, crash, slow). "crash@1.4.0"
// breaks only the release folder named 1.4.0 (a host whose setup the new release does not fit).
function fault(appDir, fileValues) {
  const file = path.join(appDir, 'FAULT');
  const spec = (process.env.DEFNEQR_FAULT || fileValues.DEFNEQR_FAULT
    || (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '')).trim();
  const [kind, release] = spec.split('@');
  return !release || release === path.basename(fs.realpathSync(appDir)) ? kind : '';
}

function load() {
  const fileValues = readEnvFile(process.env.DEFNEQR_ENV_FILE || path.join(APP_DIR, '.env'));
  const get = (key, fallback) => process.env[key] || fileValues[key] || fallback;
  return {
    appDir: APP_DIR,
    port: Number(get('PORT', 5000)),
    host: get('HOST', '127.0.0.1'),
    databaseUrl: get('DATABASE_URL', ''),
    jwtSecret: get('JWT_SECRET', 'defneqr-example-secret-change-me'),
    expectedMigration: expectedMigration(APP_DIR),
    fault: fault(APP_DIR, fileValues),
    release: path.basename(fs.realpathSync(APP_DIR)),
  };
}

module.exports = { load, readEnvFile, expectedMigration };
