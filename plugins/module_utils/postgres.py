# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one connection layer of defneqr.dbops.

Every module takes the same connection options (``postgres_argument_spec``), connects through
``connect`` and hands client programs (pg_dump, pg_restore, psql) their connection through
``client_environment`` (they run through ``programs.run``). The layer raises ``PgError`` with a message that
names the problem and the fix; modules turn it into ``fail_json``. Nothing here needs an AnsibleModule, so unit tests,
the test harness and the benchmarks use the same code.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import os
import re
import shutil
import tempfile
import traceback
from urllib.parse import parse_qsl, unquote, urlsplit

from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError

PSYCOPG2_IMPORT_ERROR = None
try:
    import psycopg2
    from psycopg2 import sql as pgsql
    from psycopg2.extras import RealDictCursor
    DRIVER_ERRORS = (psycopg2.Error,)
except ImportError:  # pragma: no cover - exercised through missing_required_lib
    psycopg2 = None
    pgsql = None
    RealDictCursor = None
    DRIVER_ERRORS = ()
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()


CLIENT_PROGRAMS = ('pg_dump', 'pg_restore', 'psql', 'pg_dumpall')


def postgres_argument_spec():
    """The connection options shared by every module (documented in doc_fragments/postgres.py)."""
    return dict(
        login_host=dict(type='str', default='', aliases=['host']),
        login_port=dict(type='int', default=5432, aliases=['port']),
        login_user=dict(type='str', default='postgres', aliases=['login']),
        login_password=dict(type='str', default='', no_log=True),
        login_unix_socket=dict(type='str', default=''),
        login_db=dict(type='str', default='', aliases=['db']),
        ssl_mode=dict(type='str', default='prefer',
                      choices=['allow', 'disable', 'prefer', 'require', 'verify-ca', 'verify-full']),
        ca_cert=dict(type='path', aliases=['ssl_rootcert']),
        connect_timeout=dict(type='int', default=10),
        pg_bin_dir=dict(type='path'),
    )


class PgError(DbopsError):
    """A failure of PostgreSQL, its connection or its options, with the thing, the cause and the fix."""


def ensure_driver(module):
    """Fail the module with Ansible's standard message when psycopg2 is missing."""
    if psycopg2 is None:
        from ansible.module_utils.basic import missing_required_lib
        module.fail_json(msg=missing_required_lib(
            'psycopg2', reason='to connect to PostgreSQL (on Debian and Ubuntu: apt-get install python3-psycopg2; '
            "Debian's pip refuses system-wide installs)"), exception=PSYCOPG2_IMPORT_ERROR)


def _host(params):
    """The socket directory wins over the host name, as in libpq."""
    return params.get('login_unix_socket') or params.get('login_host') or ''


def _where(params):
    host = _host(params) or 'the default unix socket'
    return '%s port %s' % (host, params.get('login_port') or 5432)


def params_from_url(url, params):
    """Connection options from a postgresql:// URL (Prisma's DATABASE_URL) over the given ones.

    Returns (params, query) where query holds the URL parameters libpq does not know (Prisma's
    ``schema``, ``connection_limit``, ...), so that they never reach libpq.
    """
    parts = urlsplit(url)
    if parts.scheme not in ('postgresql', 'postgres'):
        raise PgError('database_url must start with postgresql:// (got %s://...).' % (parts.scheme or 'nothing'))
    merged = dict(params)
    query = dict(parse_qsl(parts.query))
    merged.update(
        login_host=query.pop('host', None) or unquote(parts.hostname or '') or merged.get('login_host', ''),
        login_port=parts.port or merged.get('login_port') or 5432,
        login_user=unquote(parts.username or '') or merged.get('login_user'),
        login_password=unquote(parts.password or '') or merged.get('login_password', ''),
        login_db=unquote(parts.path.lstrip('/')) or merged.get('login_db', ''),
    )
    if merged['login_host'].startswith('/'):
        merged['login_unix_socket'], merged['login_host'] = merged['login_host'], ''
    if 'sslmode' in query:
        merged['ssl_mode'] = query.pop('sslmode')
    return merged, query


def connection_kwargs(params, database=None):
    """psycopg2.connect keyword arguments for the connection options (password included)."""
    kwargs = dict(
        host=_host(params) or None,
        port=params.get('login_port') or 5432,
        user=params.get('login_user') or None,
        password=params.get('login_password') or None,
        dbname=database or params.get('login_db') or 'postgres',
        sslmode=params.get('ssl_mode') or 'prefer',
        sslrootcert=params.get('ca_cert') or None,
        connect_timeout=params.get('connect_timeout') or 10,
        application_name='defneqr.dbops',
    )
    return dict((key, value) for key, value in kwargs.items() if value is not None)


def explain_connect_error(message, params, database):
    """Turn a libpq error into the operator's problem and its fix."""
    text = message.strip()
    user = params.get('login_user') or 'postgres'
    if 'password authentication failed' in text or 'no password supplied' in text:
        return ('PostgreSQL at %s rejected the password of role "%s". Check login_password '
                '(or the vault variable behind it) and the role in pg_hba.conf.' % (_where(params), user))
    if re.search(r'database ".*" does not exist', text):
        return ('Database "%s" does not exist on %s. Check login_db / the database name, or list '
                'the databases with: psql -l.' % (database, _where(params)))
    if re.search(r'role ".*" does not exist', text):
        return ('Role "%s" does not exist on %s. Check login_user.' % (user, _where(params)))
    if 'pg_hba.conf' in text:
        return ('PostgreSQL at %s refused the connection in pg_hba.conf: %s. Add an entry for this '
                'host, role and database, or connect through another host.' % (_where(params), text))
    unreachable = ('Connection refused', 'could not connect', 'timeout expired', 'No such file or directory',
                   'could not translate host name', 'Name or service not known', 'Network is unreachable',
                   'connection to server', 'server closed the connection')
    if any(marker in text for marker in unreachable):
        return ('Cannot reach PostgreSQL at %s: %s. Check that the server runs and listens there '
                '(login_host, login_port, login_unix_socket) and that no firewall blocks it.'
                % (_where(params), text.splitlines()[0] if text else 'no answer'))
    return 'Cannot connect to PostgreSQL at %s: %s' % (_where(params), text)


def connect(params, database=None, autocommit=True):
    """Open a psycopg2 connection or raise PgError with the explained cause."""
    if psycopg2 is None:
        raise PgError('The Python package psycopg2 is required on the host that runs the module '
                      '(pip install psycopg2-binary).')
    kwargs = connection_kwargs(params, database)
    try:
        conn = psycopg2.connect(**kwargs)
    except psycopg2.OperationalError as err:
        raise PgError(explain_connect_error(str(err), params, kwargs['dbname']))
    conn.autocommit = autocommit
    return conn


@contextlib.contextmanager
def failing_module(module, **extra):
    """Turn DbopsError (PgError, ProgramError, S3Error) into fail_json with the message, the Prisma-like code and
    the commands run, and a full disk into a message that names the path and the fix instead of a traceback."""
    try:
        yield
    except DbopsError as err:
        if getattr(err, 'code', None):
            extra['error_code'] = err.code
        module.fail_json(msg=str(err), commands=programs.ran(), **extra)
    except DRIVER_ERRORS as err:
        # a query the module did not expect to fail: its server message, not a traceback
        lost = isinstance(err, psycopg2.OperationalError) and getattr(err, 'pgcode', None) is None
        module.fail_json(msg=('The connection to PostgreSQL was lost (the server restarted, crashed or ended the '
                              'session; see its log): %s' if lost else 'PostgreSQL refused a statement: %s')
                         % first_line(str(err)), **extra)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        module.fail_json(msg=disk_full(err.filename, err.strerror), **extra)


def disk_full(path, detail):
    return ('No space left on the device that holds %s (%s). Nothing was kept of this run: its partial files are '
            'removed now or by the next run. Free some space or point dest at a larger file system, then run '
            'again.' % (path or 'the backup folder', detail))


def first_line(err):
    """The first line of a server error: the message without psycopg2's context lines."""
    text = str(err).strip()
    return text.splitlines()[0] if text else ''


def query(conn, statement, args=None):
    """Run one statement and return its rows as dicts (an empty list for no result set)."""
    with conn.cursor(cursor_factory=RealDictCursor) as cur:
        cur.execute(statement, args)
        if cur.description is None:
            return []
        return [dict(row) for row in cur.fetchall()]


def identifier(*names):
    """A safely quoted (possibly qualified) identifier: names are never formatted into SQL."""
    return pgsql.Identifier(*names)


def compose(template, **identifiers):
    """SQL with identifiers placed through psycopg2.sql, e.g. compose('DROP DATABASE {db}', db='x')."""
    return pgsql.SQL(template).format(**dict((key, identifier(value)) for key, value in identifiers.items()))


def server_version(conn):
    """The server version as an integer, e.g. 180001 or 150018."""
    return conn.server_version


def major_of(version_num):
    """180001 -> 18, 150018 -> 15, 90624 -> 9 (PostgreSQL's numbering)."""
    return version_num // 10000


# -- client programs ---------------------------------------------------------------------------

def find_program(name, pg_bin_dir=None):
    """The absolute path of a PostgreSQL client program, or PgError with how to get it."""
    if pg_bin_dir:
        candidate = os.path.join(pg_bin_dir, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
        raise PgError('%s was not found in pg_bin_dir=%s. Point pg_bin_dir at the bin folder of a '
                      'PostgreSQL install (e.g. /usr/lib/postgresql/18/bin).' % (name, pg_bin_dir))
    return find_program_on_path(name, 'Install the PostgreSQL client programs of the server\'s major version or '
                                      'newer (Debian: apt-get install postgresql-client-18), or set pg_bin_dir.')


def find_program_on_path(name, fix):
    """The absolute path of a program on PATH, or PgError saying how to get it."""
    found = shutil.which(name)
    if found:
        return found
    raise PgError('%s was not found on PATH. %s' % (name, fix))


def parse_program_version(output):
    """'pg_dump (PostgreSQL) 18.1 (Debian 18.1-1)' -> 180001; '15.18' -> 150018; 9.6.24 -> 90624."""
    match = re.search(r'\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?', output)
    if not match:
        raise PgError('Cannot read a PostgreSQL version from: %r' % output.strip())
    major, second, third = (int(part) if part else 0 for part in match.groups())
    if major >= 10:
        return major * 10000 + second
    return major * 10000 + second * 100 + third


def program_version(path):
    """The version number of a client program, read from `<program> --version`."""
    return parse_program_version(programs.run([path, '--version'], timeout=30).stdout.decode('utf-8', 'replace'))


def require_client_not_older(program, client_num, server_num):
    """pg_dump cannot dump a newer server: refuse before starting instead of failing half way."""
    if major_of(client_num) < major_of(server_num):
        raise PgError('%s is version %d but the server is version %d: %s cannot work with a newer '
                      'server. Install the client programs of version %d or newer and point '
                      'pg_bin_dir at them (e.g. /usr/lib/postgresql/%d/bin).'
                      % (program, major_of(client_num), major_of(server_num), program,
                         major_of(server_num), major_of(server_num)))


def client_program(name, params, conn=None):
    """Locate a client program and, given a connection, check it can work with that server."""
    path = find_program(name, params.get('pg_bin_dir'))
    version = program_version(path)
    if conn is not None:
        require_client_not_older(name, version, server_version(conn))
    return path, version


def _passfile_field(value):
    """Escape a .pgpass field: backslash and colon are special."""
    return str(value).replace('\\', '\\\\').replace(':', '\\:')


@contextlib.contextmanager
def client_environment(params, database=None):
    """Environment for a child program: PG* variables, the password only in a 0600 passfile that has
    no name on disk.

    The passfile is written, opened, and unlinked at once; children read it as /dev/fd/N (programs.run
    and programs.start pass that descriptor on). So the password is in no argv, no environment
    variable and no file that outlives this process, even one killed with SIGKILL.
    """
    env = dict(os.environ)
    for inherited in ('PGPASSWORD', 'PGPASSFILE', 'PGSERVICE', 'PGSERVICEFILE'):
        env.pop(inherited, None)
    settings = dict(
        PGHOST=_host(params),
        PGPORT=str(params.get('login_port') or 5432),
        PGUSER=params.get('login_user') or '',
        PGDATABASE=database or params.get('login_db') or 'postgres',
        PGSSLMODE=params.get('ssl_mode') or 'prefer',
        PGSSLROOTCERT=params.get('ca_cert') or '',
        PGCONNECT_TIMEOUT=str(params.get('connect_timeout') or 10),
        PGAPPNAME='defneqr.dbops',
    )
    env.update((key, value) for key, value in settings.items() if value)
    descriptor = None
    try:
        if params.get('login_password'):
            descriptor = _nameless_passfile(params['login_password'])
            env['PGPASSFILE'] = '/dev/fd/%d' % descriptor
        yield env
    finally:
        if descriptor is not None:
            os.close(descriptor)


def _nameless_passfile(password):
    folder = tempfile.mkdtemp(prefix='dbops-pass-')
    path = os.path.join(folder, 'pgpass')
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, 'w') as stream:
            stream.write('*:*:*:*:%s\n' % _passfile_field(password))
        return os.open(path, os.O_RDONLY)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
