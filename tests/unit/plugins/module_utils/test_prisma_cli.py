"""engine=cli: argv, environment and Prisma's documented output (the CLI cannot download its engine here)."""
import json
import os
import stat

import pytest

from ansible_collections.defneqr.dbops.plugins.module_utils import prisma_cli
from ansible_collections.defneqr.dbops.plugins.module_utils.programs import ProgramError
from ansible_collections.defneqr.dbops.plugins.module_utils.prisma_module import database_url

DEPLOY_OUTPUT = """Environment variables loaded from .env
Prisma schema loaded from prisma/schema.prisma
Datasource "db": PostgreSQL database "dijitalmenu", schema "public" at "db1:5432"

14 migrations found in prisma/migrations

Applying migration `20260218185216_add_password_reset_and_security`
Applying migration `20260218190130_add_refresh_token_and_blacklist`
Applying migration `20260218193213_add_performance_indexes`

The following migration(s) have been applied:

migrations/
  └─ 20260218185216_add_password_reset_and_security/
    └─ migration.sql
  └─ 20260218190130_add_refresh_token_and_blacklist/
    └─ migration.sql
  └─ 20260218193213_add_performance_indexes/
    └─ migration.sql

All migrations have been successfully applied.
"""

STATUS_BEHIND = """14 migrations found in prisma/migrations
Following migrations have not yet been applied:
20260218190130_add_refresh_token_and_blacklist
20260218193213_add_performance_indexes

To apply migrations in development run prisma migrate dev.
To apply migrations in production run prisma migrate deploy.
"""


def test_argv_never_holds_the_url_and_checks_names():
    assert prisma_cli.argv('deployed') == ['npx', '--no-install', 'prisma', 'migrate', 'deploy']
    assert prisma_cli.argv('resolved', rolled_back='20260218193213_add_performance_indexes')[-2:] == [
        '--rolled-back', '20260218193213_add_performance_indexes']
    with pytest.raises(ProgramError):
        prisma_cli.argv('resolved', applied='x; rm -rf /')
    with pytest.raises(ProgramError):
        prisma_cli.argv('rolled_back')


def test_parse_deploy_and_nothing_pending():
    parsed = prisma_cli.parse_deploy(DEPLOY_OUTPUT)
    assert parsed['applied'] == ['20260218185216_add_password_reset_and_security',
                                 '20260218190130_add_refresh_token_and_blacklist',
                                 '20260218193213_add_performance_indexes']
    assert prisma_cli.parse_deploy('14 migrations found\n\nNo pending migrations to apply.\n') == dict(
        applied=[], nothing_pending=True)


def test_parse_status_and_error_codes():
    behind = prisma_cli.parse_status(STATUS_BEHIND, 1)
    assert behind['pending'] == ['20260218190130_add_refresh_token_and_blacklist',
                                 '20260218193213_add_performance_indexes']
    assert behind['in_sync'] is False
    assert prisma_cli.parse_status('14 migrations found\n\nDatabase schema is up to date!\n', 0)['in_sync'] is True
    failed = prisma_cli.parse_status('Following migration have failed:\n20260218193213_add_performance_indexes\n\n'
                                     'During development ...', 1)
    assert failed['failed'] == ['20260218193213_add_performance_indexes']
    assert prisma_cli.error_code('Error: P3009\n\nmigrate found failed migrations') == 'P3009'


def test_database_url_from_connection_options_is_escaped():
    params = dict(login_host='db1', login_port=5433, login_user='app', login_password='p@ss:w/rd',
                  login_db='dijitalmenu', login_unix_socket='')
    assert database_url(params, 'public') == 'postgresql://app:p%40ss%3Aw%2Frd@db1:5433/dijitalmenu?schema=public'
    socket = database_url(dict(params, login_unix_socket='/run/postgresql'), 'tenant')
    assert socket.endswith('?schema=tenant&host=%2Frun%2Fpostgresql')


def test_run_passes_the_url_in_the_environment_only(tmp_path):
    fake = tmp_path / 'npx'
    record = tmp_path / 'seen.json'
    fake.write_text('#!/usr/bin/env python3\nimport json, os, sys\n'
                    'json.dump(dict(argv=sys.argv, url=os.environ.get("DATABASE_URL")), open(%r, "w"))\n'
                    'print("Applying migration `20260218193213_add_performance_indexes`")\n'
                    'print("url was " + os.environ["DATABASE_URL"])\n' % str(record))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    url = 'postgresql://app:s3cret@db1/dijitalmenu?schema=public'
    code, output = prisma_cli.run('deployed', str(tmp_path), url, npx=str(fake))
    seen = json.loads(record.read_text())
    assert code == 0 and seen['url'] == url
    assert not any('s3cret' in arg for arg in seen['argv'])
    assert 's3cret' not in output and 'url was ********' in output
    assert prisma_cli.parse_deploy(output)['applied'] == ['20260218193213_add_performance_indexes']
    assert os.path.isfile(str(record))
