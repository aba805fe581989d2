# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend's stop and start under pm2, each as one module run inside a deploy's outage.

Each Ansible task costs about 0.3 s before it does anything; the stop (pm2 delete, then the port closed) and the
start (the release switch, pm2 start or reload, then /health) were five tasks and some thirty skipped ones. Here
each is one process that polls every 50 ms; what is slow or unusual (a crash loop, a held port, a slow start)
is left to the app_service role, which reads pm2 and names the cause.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import socket
import ssl
import time
import urllib.request
from http.client import HTTPException

from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError

POLL_SECONDS = 0.05
# the marker the release role writes last when it unpacks a release (release/tasks/unpack.yml)
RELEASE_COMPLETE = '.release-complete'


class AppProcessError(DbopsError):
    """The release cannot be switched to, or pm2 refused the command."""


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def port_open(port):
    """Whether something accepts connections on the port on loopback (what ansible.builtin.wait_for checks)."""
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port_closed(port, timeout):
    """True once nothing listens on the port, False if it is still open after timeout seconds."""
    deadline = time.monotonic() + timeout
    while port_open(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def health_client():
    """A client for the host's own /health: no proxy from the environment, a self-signed certificate accepted.
    The standard library's, not ansible.module_utils.urls, whose imports cost some 40 ms of CPU on each app host
    at once inside the outage."""
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # loads no CA certificates: none are checked
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=unverified))


def health_answer(url, client):
    """The body of a 200 answer (parsed JSON where it is JSON), or None when the URL does not answer 200."""
    try:
        with client.open(url, timeout=1) as response:
            if response.status != 200:
                return None
            body = response.read().decode('utf-8', 'replace')
    # refused, reset, an error status (urllib's HTTPError is an OSError), a half-started server's garbage
    except (OSError, ValueError, HTTPException):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def wait_healthy(url, seconds):
    """(when /health first answered 200, ISO 8601 UTC, and what it answered), or ('', None) if it did not within
    seconds."""
    deadline = time.monotonic() + seconds
    client = health_client()
    while True:
        answer = health_answer(url, client)
        if answer is not None:
            return now(), answer
        if time.monotonic() >= deadline:
            return '', None
        time.sleep(POLL_SECONDS)


def release_path(root, release_id):
    return os.path.join(root, 'releases', release_id)


def needs_switch(root, release_id):
    """Whether root/current points elsewhere than the release; refuses a release not unpacked completely."""
    if not release_id:
        return False
    if '/' in release_id or release_id in ('.', '..'):
        raise AppProcessError('Release id %r is not a folder name under %s/releases.' % (release_id, root))
    target = release_path(root, release_id)
    if not os.path.exists(os.path.join(target, RELEASE_COMPLETE)):
        raise AppProcessError('Release %s is not unpacked completely under %s/releases; run release_action=unpack '
                              'first.' % (release_id, root))
    return os.path.realpath(os.path.join(root, 'current')) != os.path.realpath(target)


def switch_current(root, release_id):
    """Point root/current at the release in one atomic rename (a new link beside it, renamed over it)."""
    link = os.path.join(root, 'current')
    staged = os.path.join(root, '.current.%d' % os.getpid())
    try:
        if os.path.lexists(staged):
            os.unlink(staged)
        os.symlink(release_path(root, release_id), staged)
        os.rename(staged, link)
    except OSError as err:
        if os.path.lexists(staged):
            os.unlink(staged)
        raise AppProcessError('Cannot point %s at release %s: %s. Check that current is a link (not a folder) and '
                              'that this account may write %s.' % (link, release_id, err, root))


def pm2(pm2_bin, *args):
    try:
        return programs.run([pm2_bin] + list(args), timeout=120)
    except programs.ProgramError as err:
        raise AppProcessError('%s. Check app_pm2_bin and that pm2 runs for this account.' % err)


def stop(params, check_mode):
    """pm2 delete (the runbook's pm2 stop, with the definition gone), then wait until the port closes."""
    result = dict(changed=bool(params['remove']), removed=False, port_closed=not port_open(params['port']))
    if check_mode:
        return result
    if params['remove']:
        result['stopped_at'] = now()
        pm2(params['pm2'], 'delete', params['name'])
        result['removed'] = True
    result['port_closed'] = wait_port_closed(params['port'], params['timeout'])
    return result


def start(params, check_mode):
    """Switch current to the release (when given), pm2 start (or reload) and wait a little for /health."""
    switch = needs_switch(params['root'], params['release'])
    result = dict(changed=True, switched=switch, healthy=False, healthy_at='', health=None)
    if check_mode:
        return result
    if switch:
        switch_current(params['root'], params['release'])
    current = os.path.join(params['root'], 'current')
    if params['state'] == 'reloaded':
        pm2(params['pm2'], 'reload', params['name'], '--update-env')
    else:
        # working in the current link (not the release it names), so that a later pm2 reload follows the link
        pm2(params['pm2'], 'start', os.path.join(current, 'ecosystem.config.js'), '--cwd', current, '--update-env')
    result['healthy_at'], result['health'] = wait_healthy(params['health_url'], params['health_wait'])
    result['healthy'] = bool(result['healthy_at'])
    return result
