// pm2 process file for the Defne Qr backend: `pm2 start ecosystem.config.js`.
// Secrets (DATABASE_URL, JWT_SECRET) come from the 0600 env file beside the release
// (DEFNEQR_ENV_FILE, default ./.env), not from here, so `pm2 jlist` never shows them.
const path = require('path');

const logDir = process.env.LOG_DIR || path.join(__dirname, 'logs');

module.exports = {
  apps: [
    {
      name: process.env.APP_NAME || 'defneqr-backend',
      script: 'src/server.js',
      cwd: __dirname,
      // cluster lets `pm2 reload` swap the worker with no gap (online deploys); fork is the runbook's
      exec_mode: process.env.APP_EXEC_MODE || 'fork',
      instances: 1,
      env: {
        NODE_ENV: 'production',
        PORT: process.env.PORT || 5000,
        HOST: process.env.HOST || '127.0.0.1',
        DEFNEQR_ENV_FILE: process.env.DEFNEQR_ENV_FILE || path.join(__dirname, '.env'),
      },
      out_file: path.join(logDir, 'out.log'),
      error_file: path.join(logDir, 'error.log'),
      merge_logs: true,
      time: true,
      min_uptime: '5s',
      max_restarts: 10,
      restart_delay: 1000,
      kill_timeout: 5000,
      // `pm2 start` returns once the server listens (it sends 'ready'): no polling gap in the downtime
      wait_ready: true,
      listen_timeout: 8000,
    },
  ],
};
