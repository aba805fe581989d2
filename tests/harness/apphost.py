"""An application host for tests and the demo: the example backend under its own pm2 daemon.

Each host has its own folder (PM2_HOME, logs, the 0600 env file with DATABASE_URL) and port, so
several hosts (app1, app2) run side by side on one machine.
"""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import paths

PM2 = os.path.join(paths.REPO, 'tools', 'pm2', 'node_modules', '.bin', 'pm2')
APP_NAME = 'defneqr-backend'


def write_env_file(path, values):
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, 'w') as stream:
        for key, value in values.items():
            stream.write('%s=%s\n' % (key, value))


def http(method, url, body=None, token=None, timeout=5):
    """(status, parsed JSON or None) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header('Content-Type', 'application/json')
    if token:
        request.add_header('Authorization', 'Bearer %s' % token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read().decode() or 'null')
    except urllib.error.HTTPError as err:
        text = err.read().decode()
        return err.code, json.loads(text) if text.startswith('{') else None
    except (urllib.error.URLError, OSError):
        return None, None


class AppHost:
    def __init__(self, base_dir, port, release_dir=None, name='app'):
        self.name = name
        self.base_dir = base_dir
        self.port = port
        self.release_dir = release_dir or paths.BACKEND
        self.pm2_home = os.path.join(base_dir, 'pm2')
        self.log_dir = os.path.join(base_dir, 'logs')
        self.env_file = os.path.join(base_dir, 'backend.env')
        os.makedirs(self.pm2_home, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def configure(self, database_url, jwt_secret='test-secret'):
        write_env_file(self.env_file, dict(DATABASE_URL=database_url, JWT_SECRET=jwt_secret))

    def pm2(self, *args, extra_env=None):
        env = dict(os.environ, PM2_HOME=self.pm2_home, PORT=str(self.port), LOG_DIR=self.log_dir,
                   DEFNEQR_ENV_FILE=self.env_file, APP_NAME=APP_NAME)
        env.update(extra_env or {})
        return subprocess.run([PM2] + list(args), env=env, capture_output=True, text=True, check=True, timeout=120)

    def start(self, fault=None):
        extra = {'DEFNEQR_FAULT': fault} if fault else None
        self.pm2('start', os.path.join(self.release_dir, 'ecosystem.config.js'), '--update-env', extra_env=extra)

    def stop(self):
        self.pm2('stop', APP_NAME)

    def processes(self):
        lines = self.pm2('jlist').stdout.strip().splitlines()  # the daemon may print banners first
        return json.loads(lines[-1] if lines else '[]')

    def restarts(self):
        return sum(p['pm2_env'].get('restart_time', 0) for p in self.processes())

    def wait_for_health(self, expect=200, timeout=30):
        deadline = time.time() + timeout
        status, body = None, None
        while time.time() < deadline:
            status, body = http('GET', self.url + '/health')
            if status == expect:
                return body
            time.sleep(0.2)
        raise AssertionError('%s: /health answered %s (%s), not %s, within %ss' % (
            self.name, status, body, expect, timeout))

    def kill(self):
        try:
            self.pm2('kill')
        except subprocess.CalledProcessError:
            pass
