# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup folder: manifests, durable writes, listing, retention and the run lock.

Layout: <dest>/<kind>/<id>/ holding the dump and manifest.json. A backup is written in
<dest>/<kind>/.<id>.partial/, fsynced, renamed, and its manifest is written last: a folder
without a manifest is not a backup, and the next run removes it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time

from ansible_collections.defneqr.dbops.plugins.module_utils.postgres import PgError

MANIFEST = 'manifest.json'
MANIFEST_VERSION = 1
KIND = re.compile(r'^[a-z][a-z0-9_-]{0,31}$')
LABEL = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')
CHUNK = 1 << 20


def check_name(value, pattern, what):
    if value is not None and not pattern.match(value):
        raise PgError('%s %r may hold only letters, digits, "_", "-" and "." (and must start with a letter or '
                      'digit): it becomes part of file and database names.' % (what, value))


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def safe_name(text):
    """A name that is one plain file name: every character but letters, digits, '.', '_' and '-' becomes '_',
    and it never starts with a dot (a database named ../../x must not become a path)."""
    cleaned = re.sub(r'[^A-Za-z0-9._-]', '_', text or '')
    return ('_' + cleaned[1:] if cleaned.startswith('.') else cleaned)[:200] or '_'


def backup_id(database, when, label=None):
    stamp = when.strftime('%Y%m%dT%H%M%SZ')
    return '%s_%s%s' % (safe_name(database), stamp, '_' + safe_name(label) if label else '')


def inside(root, relative):
    """The path of `relative` under root, or None when it is absolute or resolves outside root."""
    if not relative or os.path.isabs(relative):
        return None
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, relative))
    return path if path.startswith(base + os.sep) else None


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dir(path):
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def write_private(path, text):
    """A file only its owner may read (0600 even when it existed with other modes), in a 0700 folder
    made when missing."""
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        make_private_dir(folder)
    # a link planted in its place is refused, never followed (it could point at any file we may write)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(handle, 'w') as stream:
        os.fchmod(stream.fileno(), 0o600)
        stream.write(text)


def file_entries(folder):
    """Every file below folder with its relative path, size and sha256 (sorted)."""
    entries = []
    for root, _dirs, files in os.walk(folder):
        for name in sorted(files):
            if name == MANIFEST:
                continue
            path = os.path.join(root, name)
            entries.append(dict(path=os.path.relpath(path, folder), size=os.path.getsize(path),
                                sha256=sha256_file(path)))
    return sorted(entries, key=lambda e: e['path'])


def sync_tree(folder):
    """fsync every file and folder below folder, then folder itself."""
    for root, dirs, files in os.walk(folder):
        for name in files:
            fsync_path(os.path.join(root, name))
        for name in dirs:
            fsync_path(os.path.join(root, name))
    fsync_path(folder)


def write_json_durably(path, document):
    tmp = path + '.partial'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, 'w') as stream:
        json.dump(document, stream, indent=2, sort_keys=True, default=str)
        stream.flush()
        os.fsync(stream.fileno())
    os.rename(tmp, path)
    fsync_path(os.path.dirname(path))


def read_manifest(folder):
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path) as stream:
            return json.load(stream)
    except (IOError, OSError, ValueError):
        return None


def check_files(folder, manifest):
    """Problems found when re-hashing the files against the manifest (empty when intact)."""
    problems = []
    for entry in manifest.get('files', []):
        path = inside(folder, entry.get('path'))
        if path is None:
            problems.append('%s is not a file inside the backup folder: the manifest is not trusted' % entry.get('path'))
        elif not os.path.isfile(path):
            problems.append('%s is missing' % entry['path'])
        elif os.path.getsize(path) != entry['size']:
            problems.append('%s has %d bytes, the manifest says %d'
                            % (entry['path'], os.path.getsize(path), entry['size']))
        elif sha256_file(path) != entry['sha256']:
            problems.append('%s has a different sha256 than the manifest (corrupted)' % entry['path'])
    return problems


class Store(object):
    """A backup root on the local file system."""

    def __init__(self, dest):
        self.dest = dest

    def kind_dir(self, kind):
        return os.path.join(self.dest, kind)

    def prepare(self, kind):
        try:
            make_private_dir(self.kind_dir(kind))
        except OSError as err:
            raise PgError('Cannot create the backup folder %s: %s. Choose a dest the user running the module can '
                          'write to.' % (self.kind_dir(kind), err.strerror))
        if not os.access(self.kind_dir(kind), os.W_OK):
            raise PgError('The backup folder %s is not writable by this user. Fix its owner or mode, or choose '
                          'another dest.' % self.kind_dir(kind))

    def free_bytes(self, kind=None):
        path = self.kind_dir(kind) if kind and os.path.isdir(self.kind_dir(kind)) else self.dest
        while not os.path.exists(path):
            path = os.path.dirname(path)
        stats = os.statvfs(path)
        return stats.f_bavail * stats.f_frsize

    def leftovers(self, kind):
        """Folders an interrupted run left: .partial folders and folders without a manifest."""
        folder = self.kind_dir(kind)
        if not os.path.isdir(folder):
            return []
        found = []
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isdir(path) and (name.endswith('.partial') or read_manifest(path) is None):
                found.append(path)
        return found

    def clean_leftovers(self, kind, check_mode=False):
        found = self.leftovers(kind)
        if not check_mode:
            for path in found:
                shutil.rmtree(path, ignore_errors=True)
        return found

    def kinds(self):
        if not os.path.isdir(self.dest):
            return []
        return sorted(k for k in os.listdir(self.dest) if os.path.isdir(os.path.join(self.dest, k)) and KIND.match(k))

    def backups(self, kind=None, database=None):
        """Manifests of complete backups (newest first), with their folder."""
        found = []
        for one in [kind] if kind else self.kinds():
            folder = self.kind_dir(one)
            if not os.path.isdir(folder):
                continue
            for name in os.listdir(folder):
                path = os.path.join(folder, name)
                manifest = read_manifest(path) if os.path.isdir(path) and not name.endswith('.partial') else None
                if manifest and (database is None or manifest.get('database') == database):
                    manifest['folder'] = path
                    found.append(manifest)
        return sorted(found, key=lambda m: m['started_at'], reverse=True)

    def lock(self, wait=0):
        """An exclusive lock on the backup root: a second concurrent run waits up to `wait` seconds, then is
        refused, never interleaved."""
        make_private_dir(self.dest)
        path = os.path.join(self.dest, '.dbops-backup.lock')
        handle = open(path, 'a+')
        deadline = time.time() + (wait or 0)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    handle.close()
                    raise
                if time.time() < deadline:
                    time.sleep(0.5)
                    continue
                handle.seek(0)
                holder = handle.read().strip() or 'another process'
                handle.close()
                raise PgError('Another backup run holds %s (%s)%s. Wait for it to finish (or give lock_wait, '
                              'deploy_backup_lock_wait, the seconds to wait); two runs must not write the same '
                              'backup folder at once.' % (path, holder, ' after waiting %s s' % wait if wait else ''))
        handle.seek(0)
        handle.truncate()
        handle.write('pid %d' % os.getpid())
        handle.flush()
        return handle


def is_verified(manifest):
    verification = manifest.get('verification') or {}
    return bool(verification.get('ok')) and verification.get('level', 'none') != 'none'


def plan_retention(manifests, now, days, min_keep, intact=lambda manifest: True):
    """The backups to delete: older than `days`, and only while at least `min_keep` newer backups were verified
    when made and pass `intact`, a fresh check in this run (a stored flag is history, not proof).

    manifests: of one kind and database, any order. intact is asked newest first, no more often than needed.
    Returns (delete, keep, damaged): lists of manifests; a damaged backup is kept, reported, never counted.
    """
    newest_first = sorted(manifests, key=lambda m: m['started_at'], reverse=True)
    cutoff = now - datetime.timedelta(days=days)
    delete, keep, damaged = [], [], []
    proven = 0
    for manifest in newest_first:
        if parse_time(manifest['started_at']) < cutoff and proven >= min_keep:
            delete.append(manifest)
            continue
        keep.append(manifest)
        if proven < min_keep:
            if is_verified(manifest) and intact(manifest):
                proven += 1
            elif is_verified(manifest):
                damaged.append(manifest)
    return delete, keep, damaged


def parse_time(text):
    """ISO time; naive times (Ansible's now(utc=true)) are UTC."""
    value = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
