'use strict';
// Password hashes: scrypt with a per-user salt, stored as scrypt$N$r$p$salt$hash (base64).
// Python's hashlib.scrypt writes the same format (examples/defneqr/generate_data.py).
const crypto = require('crypto');

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function hashPassword(password, salt = crypto.randomBytes(16)) {
  const hash = crypto.scryptSync(password, salt, KEYLEN, { N, r: R, p: P });
  return ['scrypt', N, R, P, salt.toString('base64'), hash.toString('base64')].join('$');
}

function verifyPassword(password, stored) {
  const parts = String(stored || '').split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, expected] = parts;
  const want = Buffer.from(expected, 'base64');
  const got = crypto.scryptSync(password, Buffer.from(salt, 'base64'), want.length,
    { N: Number(n), r: Number(r), p: Number(p) });
  return crypto.timingSafeEqual(got, want);
}

module.exports = { hashPassword, verifyPassword };

if (require.main === module) {
  process.stdout.write(`${hashPassword(process.argv[2] || '')}\n`);
}
