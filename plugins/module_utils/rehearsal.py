# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rehearse a deploy and its rollback on a scratch database, so preflight proves what the checklist claims.

The scratch database is built from the release's own migration history up to what the live database has
applied (so no client program is needed on the host that runs it, and no row of live data is copied),
then the pending migrations are applied and rolled back with their rollback scripts. The schema is
compared from the catalog before and after: identical means the rollback scripts undo the migrations.
The scratch schema at the live history is also compared with the live schema: a difference is drift
(a change made by hand, outside the migrations).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import time

from ansible_collections.defneqr.dbops.plugins.module_utils import backup as backup_mod
from ansible_collections.defneqr.dbops.plugins.module_utils import backup_store as store_mod
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations
from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError

# One line per schema object, database-independent; column order is not compared (a rollback that
# re-adds a dropped column puts it last, which no query sees).
SCHEMA_LINES = """
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%%'
     AND nspname NOT LIKE 'pg\\_temp%%'
)
SELECT line FROM (
  SELECT 'schema ' || ns.nspname AS line FROM ns
  UNION ALL
  SELECT 'relation ' || ns.nspname || '.' || c.relname || ' kind ' || c.relkind::text
    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  UNION ALL
  SELECT 'column ' || ns.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
         || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  UNION ALL
  SELECT 'constraint ' || ns.nspname || '.' || c.relname || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
    FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN ns ON ns.oid = c.relnamespace
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN ns ON ns.oid = c.relnamespace
  UNION ALL
  SELECT 'enum ' || ns.nspname || '.' || t.typname || ' ' || string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
    FROM pg_type t JOIN ns ON ns.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
   GROUP BY ns.nspname, t.typname
  UNION ALL
  SELECT 'view ' || ns.nspname || '.' || c.relname || ' ' || pg_get_viewdef(c.oid)
    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'function ' || ns.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
         || md5(pg_get_functiondef(p.oid))
    FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
   WHERE p.prokind IN ('f', 'p')
     AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.objid = p.oid AND dep.deptype = 'e')
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    JOIN ns ON ns.oid = c.relnamespace WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
) objects ORDER BY 1"""


def schema_lines(conn):
    return [row['line'] for row in postgres.query(conn, SCHEMA_LINES)]


def differences(before, after, limit=40):
    """The lines only one side has, as `- line` (before) and `+ line` (after)."""
    lines = [line[0] + ' ' + line[1:] for line in difflib.unified_diff(before, after, lineterm='', n=0)
             if line[:1] in '+-' and not line.startswith(('---', '+++'))]
    return lines[:limit]


def rehearse(params, project, last_applied, target=None, schema='public', check_mode=False):
    """Build a scratch database at last_applied, apply up to target, roll back to last_applied, compare."""
    scratch = backup_mod.derived_name('dbops_rehearsal', '_' + store_mod.utcnow().strftime('%Y%m%d%H%M%S'))
    # ok: True when the pending migrations applied, False when one failed, None when that was not tried
    result = dict(database=scratch, applied=[], rolled_back=[], ok=None, rollback_tested=False,
                  identical=None, differences=[], drift=[], error='')
    if check_mode:
        return dict(result, error='not rehearsed in check mode')
    clock = time.time()
    admin = postgres.connect(params, database='postgres')
    backup_mod.require_createdb(admin)
    postgres.query(admin, postgres.compose('CREATE DATABASE {name} TEMPLATE template0', name=scratch))
    conn = None
    stage = 'building the history'
    try:
        conn = postgres.connect(params, database=scratch)
        live = postgres.connect(params)
        try:
            live_schema = schema_lines(live)
        finally:
            live.close()
        if last_applied:
            prisma_migrations.deploy(conn, project, schema, target=last_applied, lint='off')
        before = schema_lines(conn)
        result['drift'] = differences(before, live_schema)
        stage = 'applying'
        forward = prisma_migrations.deploy(conn, project, schema, target=target, lint='off')
        result['applied'] = [dict(name=m['name'], duration=m.get('duration')) for m in forward['applied']]
        result['ok'] = True
        stage = 'rolling back'
        if last_applied:
            back = prisma_migrations.rollback(conn, project, last_applied, schema)
            result['rolled_back'] = [m['name'] for m in back['rolled_back']]
            after = schema_lines(conn)
            result['identical'] = after == before
            result['differences'] = differences(before, after)
            result['rollback_tested'] = result['identical']
        else:
            result['error'] = 'the live database has no applied migration to roll back to'
    except (DbopsError,) + postgres.DRIVER_ERRORS as err:
        if stage == 'applying':
            result['ok'] = False
        # our own errors carry the server's message on later lines (Database error: ...): keep them all
        text = ' '.join(str(err).split()) if isinstance(err, postgres.PgError) else postgres.first_line(str(err))
        result['error'] = '%s on the scratch database: %s' % (stage, text[:1500])
    finally:
        if conn is not None:
            conn.close()
        try:
            backup_mod.drop_database(admin, scratch)
        except postgres.DRIVER_ERRORS as err:
            result['error'] += '; the scratch database %s was not dropped: %s' % (scratch, postgres.first_line(str(err)))
        admin.close()
    result['seconds'] = round(time.time() - clock, 3)
    return result
