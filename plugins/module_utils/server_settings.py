# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server settings through ALTER SYSTEM, idempotent, telling which changes wait for a restart."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres

CURRENT = """
SELECT s.name, s.setting, current_setting(s.name) AS shown, s.context, s.pending_restart,
       (SELECT f.setting FROM pg_file_settings f
         WHERE f.name = s.name AND f.sourcefile LIKE '%%postgresql.auto.conf' ORDER BY f.seqno DESC LIMIT 1) AS auto_conf
  FROM pg_settings s WHERE s.name = ANY(%s)"""


def _as_text(value):
    if isinstance(value, bool):
        return 'on' if value else 'off'
    return str(value)


def _running(row, value):
    """Whether the server runs with `value` (as pg_settings stores it, or as SHOW prints it)."""
    return value in (row['setting'], row['shown'])


def apply(conn, wanted, check_mode=False):
    """apply_settings with the server's refusals (privileges above all) turned into an operator's message."""
    try:
        return apply_settings(conn, wanted, check_mode)
    except postgres.psycopg2.Error as err:
        raise postgres.PgError('Server settings cannot be read or changed as this user: %s. Connect as a superuser '
                               '(postgres), or grant pg_read_all_settings and ALTER SYSTEM on each setting.'
                               % postgres.first_line(err))


def apply_settings(conn, wanted, check_mode=False):
    """ALTER SYSTEM SET every setting whose configured value differs, reload, and report what changed and
    which settings wait for a restart (context postmaster: wal_level, archive_mode, ...).

    A setting counts as configured when postgresql.auto.conf holds the value, or when it holds nothing and
    the running value (as pg_settings stores it, or as SHOW prints it) is the value."""
    wanted = dict((name, _as_text(value)) for name, value in wanted.items())
    rows = dict((row['name'], row) for row in postgres.query(conn, CURRENT, (list(wanted),)))
    unknown = sorted(set(wanted) - set(rows))
    if unknown:
        raise postgres.PgError('Unknown server settings: %s. Check their spelling against SHOW ALL.' % ', '.join(unknown))
    changed = []
    for name, value in sorted(wanted.items()):
        row = rows[name]
        configured = row['auto_conf']
        if configured == value or (configured is None and _running(row, value)):
            continue
        changed.append(dict(name=name, before=configured if configured is not None else row['shown'], after=value,
                            context=row['context']))
        if not check_mode:
            postgres.query(conn, postgres.compose('ALTER SYSTEM SET {name} = %s', name=name), (value,))
    if changed and not check_mode:
        postgres.query(conn, 'SELECT pg_reload_conf()')
    # the state read before the change tells it: a reload applies everything but postmaster settings
    waiting = sorted(name for name, row in rows.items()
                     if row['pending_restart'] or (row['context'] == 'postmaster' and not _running(row, wanted[name])))
    return dict(changed=bool(changed), changes=changed, restart_required=bool(waiting), restart_settings=waiting)
