# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What prisma_migrate and prisma_migrate_info share: options, project, connection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
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


def open_project(module):
    """(connection, project, schema) for the module's options; PgError on bad input."""
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
    return conn, project, schema
