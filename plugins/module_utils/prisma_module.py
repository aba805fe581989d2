# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What prisma_migrate and prisma_migrate_info share: options, project, connection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
from urllib.parse import quote

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_cli
from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_migrations

SCHEMA_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_$-]{0,62}$')


def project_argument_spec():
    spec = postgres.postgres_argument_spec()
    spec.update(
        project_dir=dict(type='path'),
        migrations_dir=dict(type='path'),
        rollback_dir=dict(type='path'),
        database_url=dict(type='str', no_log=True),
        schema=dict(type='str'),
    )
    return spec


def database_url(params, schema):
    """Prisma's DATABASE_URL for the connection options (for engine=cli; it travels in the environment)."""
    if params.get('database_url'):
        return params['database_url']
    host = params.get('login_unix_socket') or params.get('login_host') or 'localhost'
    query = 'schema=%s' % quote(schema)
    if host.startswith('/'):
        query += '&host=%s' % quote(host, safe='')
        host = 'localhost'
    return 'postgresql://%s:%s@%s:%s/%s?%s' % (
        quote(params.get('login_user') or 'postgres', safe=''), quote(params.get('login_password') or '', safe=''),
        host, params.get('login_port') or 5432, quote(params.get('login_db') or 'postgres', safe=''), query)


def run_cli(params, project, schema, state, applied=None, rolled_back=None):
    """engine=cli: the Prisma CLI in the project folder; returns what it applied or resolved."""
    project_dir = os.path.dirname(os.path.dirname(project.migrations_dir.rstrip('/')))
    code, output = prisma_cli.run(state, project_dir, database_url(params, schema), params.get('npx') or 'npx',
                                  applied=applied, rolled_back=rolled_back)
    if code != 0:
        raise prisma_migrations.MigrationError('prisma migrate %s failed (exit %d): %s' % (
            state, code, output.strip()[-2000:]), prisma_cli.error_code(output))
    parsed = prisma_cli.parse_deploy(output) if state == 'deployed' else dict(applied=[])
    return dict(applied=[dict(name=name) for name in parsed['applied']], output=output.strip().splitlines()[-20:])


def open_project(module):
    """(connection, project, schema, connection parameters) for the module's options; PgError on bad input."""
    params = dict(module.params)
    url_query = {}
    if params.get('database_url'):
        params, url_query = postgres.params_from_url(params['database_url'], params)
    schema = params.get('schema') or url_query.get('schema') or 'public'
    if not SCHEMA_NAME.match(schema):
        raise postgres.PgError('schema %r is not a plain PostgreSQL schema name (letters, digits, _ $ -, starting '
                               'with a letter or _). Check the schema option or ?schema= in database_url.' % schema)
    project = prisma_migrations.Project(params.get('project_dir'), params.get('migrations_dir'),
                                        params.get('rollback_dir'))
    conn = postgres.connect(params)
    return conn, project, schema, params
