# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a database is besides its contents, so that a swap (rollback, restore) keeps it under its name:
owner, connection limit, grants (datacl: a REVOKE CONNECT ... FROM PUBLIC), comment, and the
ALTER DATABASE ... SET / ALTER ROLE ... IN DATABASE ... SET settings (pg_db_role_setting).

A database made by CREATE DATABASE (a clone, a restore target) has none of these; PostgreSQL keeps them
per database oid, so they stay with the old database when the names are swapped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils.postgres import PgError

# settings whose stored value is a list of (double-quoted when needed) elements
LIST_SETTINGS = frozenset(['search_path', 'temp_tablespaces', 'session_preload_libraries', 'local_preload_libraries',
                           'shared_preload_libraries'])
GENERAL = """
SELECT pg_get_userbyid(d.datdba) AS owner, d.datconnlimit AS connection_limit, d.datallowconn AS allow_connections,
       shobj_description(d.oid, 'pg_database') AS comment
  FROM pg_database d WHERE d.datname = %s"""
GRANTS = """
SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee,
       a.privilege_type AS privilege, a.is_grantable AS grantable
  FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
 WHERE d.datname = %s"""
SETTINGS = """
SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END AS role, c.setting
  FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) AS c(setting)
 WHERE d.datname = %s"""


def read(conn, name):
    rows = postgres.query(conn, GENERAL, (name,))
    if not rows:
        raise PgError('Database "%s" does not exist.' % name)
    found = dict(rows[0])
    found['grants'] = set((r['grantee'], r['privilege'], r['grantable']) for r in postgres.query(conn, GRANTS, (name,)))
    found['settings'] = set((r['role'], r['setting']) for r in postgres.query(conn, SETTINGS, (name,)))
    return found


def list_elements(value):
    """search_path's stored '"$user", public' -> ['$user', 'public']."""
    elements, current, quoted, i = [], '', False, 0
    while i < len(value):
        char = value[i]
        if char == '"' and quoted and value[i + 1:i + 2] == '"':
            current, i = current + '"', i + 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == ',' and not quoted:
            elements.append(current.strip())
            current = ''
        else:
            current += char
        i += 1
    return elements + [current.strip()]


def _grantee(name):
    return postgres.pgsql.SQL('PUBLIC') if name is None else postgres.identifier(name)


def _setting_target(database, role):
    if role is None:
        return postgres.compose('ALTER DATABASE {db}', db=database)
    return postgres.compose('ALTER ROLE {role} IN DATABASE {db}', role=role, db=database)


def _set(database, role, setting):
    name, value = setting.split('=', 1)
    values = list_elements(value) if name in LIST_SETTINGS else [value]
    return postgres.pgsql.SQL('{} SET {} TO {}').format(
        _setting_target(database, role), postgres.identifier(*name.split('.')),
        postgres.pgsql.SQL(', ').join(postgres.pgsql.Literal(v) for v in values))


def _reset(database, role, setting):
    return postgres.pgsql.SQL('{} RESET {}').format(_setting_target(database, role),
                                                    postgres.identifier(*setting.split('=', 1)[0].split('.')))


def statements(source, target, target_name):
    """(what, SQL) that give target_name the properties of source; target: its properties now, owner already equal."""
    sql, lit = postgres.pgsql.SQL, postgres.pgsql.Literal
    changes = []
    if source['connection_limit'] != target['connection_limit'] or \
            source['allow_connections'] != target['allow_connections']:
        changes.append(('connection limit', sql('ALTER DATABASE {} WITH ALLOW_CONNECTIONS {} CONNECTION LIMIT {}').format(
            postgres.identifier(target_name), lit(source['allow_connections']), lit(source['connection_limit']))))
    if source['comment'] != target['comment']:
        changes.append(('comment', sql('COMMENT ON DATABASE {} IS {}').format(postgres.identifier(target_name),
                                                                              lit(source['comment']))))
    for grantee, privilege, _grantable in sorted(target['grants'] - source['grants'], key=str):
        changes.append(('revoke %s from %s' % (privilege, grantee or 'PUBLIC'), sql('REVOKE {} ON DATABASE {} FROM {} CASCADE').format(
            sql(privilege), postgres.identifier(target_name), _grantee(grantee))))
    for grantee, privilege, grantable in sorted(source['grants'] - target['grants'], key=str):
        changes.append(('grant %s to %s' % (privilege, grantee or 'PUBLIC'), sql('GRANT {} ON DATABASE {} TO {}{}').format(
            sql(privilege), postgres.identifier(target_name), _grantee(grantee),
            sql(' WITH GRANT OPTION' if grantable else ''))))
    for role, setting in sorted(target['settings'] - source['settings'], key=str):
        changes.append(('reset %s' % setting.split('=', 1)[0], _reset(target_name, role, setting)))
    for role, setting in sorted(source['settings'] - target['settings'], key=str):
        changes.append(('set %s%s' % (setting.split('=', 1)[0], ' for role %s' % role if role else ''),
                        _set(target_name, role, setting)))
    return changes


def carry(admin, source_name, target_name):
    """Give target_name every database-level property of source_name, before target_name takes its place.

    Each change is tried on its own, so one the connected role may not make (a setting of another role)
    is reported with the statement to run, and the others still apply: a rollback never stays down for
    a database comment.
    """
    source = read(admin, source_name)
    outcome = dict(carried=[], not_carried=[])

    def apply(changes, after_swap):
        # after_swap: the same statements naming the database as it will be named, for the operator to run
        for (what, statement), (_what, shown) in zip(changes, after_swap):
            try:
                postgres.query(admin, statement)
                outcome['carried'].append(what)
            except postgres.psycopg2.Error as err:
                outcome['not_carried'].append(dict(what=what, error=postgres.first_line(str(err)),
                                                   statement=shown.as_string(admin)))

    def owner(name):
        return [('owner %s' % source['owner'], postgres.compose('ALTER DATABASE {db} OWNER TO {owner}', db=name,
                                                                owner=source['owner']))]

    if read(admin, target_name)['owner'] != source['owner']:
        # the owner first: the default grants (acldefault) follow it
        apply(owner(target_name), owner(source_name))
    target = read(admin, target_name)
    apply(statements(source, target, target_name), statements(source, target, source_name))
    return outcome
