'use strict';
// Bearer tokens: compact HS256 JWTs signed with JWT_SECRET (no dependency needed).
const crypto = require('crypto');

const b64url = (buffer) => Buffer.from(buffer).toString('base64url');

function sign(payload, secret, ttlSeconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const body = { ...payload, iat: now, exp: now + ttlSeconds, jti: crypto.randomUUID() };
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify(body));
  const mac = crypto.createHmac('sha256', secret).update(`${head}.${claims}`).digest('base64url');
  return `${head}.${claims}.${mac}`;
}

function verify(token, secret) {
  const parts = String(token || '').split('.');
  if (parts.length !== 3) return null;
  const mac = crypto.createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== mac.length || !crypto.timingSafeEqual(given, mac)) return null;
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  return claims.exp > Date.now() / 1000 ? claims : null;
}

module.exports = { sign, verify };
