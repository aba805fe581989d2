# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""engine=cli: run the Prisma CLI itself (`npx prisma migrate deploy|status|resolve`) and read its output.

DATABASE_URL reaches the CLI through the environment, never argv. The output parsing follows
Prisma's documented messages (reference/prisma-migrate-compat.md, sections 3 and 4).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.defneqr.dbops.plugins.module_utils import programs

MIGRATION_NAME = re.compile(r'^[0-9]{14}_[A-Za-z0-9_]+$|^[A-Za-z0-9_.-]+$')
# `npx --no-install prisma migrate <command> [options]`: never a download at deploy time
PRISMA_MIGRATE = programs.Program('npx', fixed=('--no-install', 'prisma', 'migrate'), options=())
RESOLVE = programs.Program('npx', fixed=('--no-install', 'prisma', 'migrate', 'resolve'), options=(
    ('applied', ('--applied', '{}')), ('rolled_back', ('--rolled-back', '{}'))))


def argv(action, npx='npx', applied=None, rolled_back=None):
    """The CLI command for deployed / status / resolved (names checked: they become argv items)."""
    if action == 'deployed':
        return PRISMA_MIGRATE.argv(npx, 'deploy')
    if action == 'status':
        return PRISMA_MIGRATE.argv(npx, 'status')
    if action == 'resolved':
        name = applied or rolled_back
        if not name or not MIGRATION_NAME.match(name):
            raise programs.ProgramError('A migration name must be a folder name such as '
                                        '20260218193213_add_performance_indexes, not %r.' % name)
        return RESOLVE.argv(npx, applied=applied, rolled_back=rolled_back)
    raise programs.ProgramError('engine=cli supports state deployed and resolved, and the status of '
                                'prisma_migrate_info; use engine=native for %s.' % action)


def parse_deploy(output):
    """Applied migration names and whether nothing was pending, from `prisma migrate deploy` output."""
    applied = re.findall(r'Applying migration `([^`]+)`', output)
    listed = re.findall(r'^\s*└─ (\S+)/\s*$|^\s*└─ (\S+)/migration\.sql', output, re.M)
    for pair in listed:
        name = pair[0] or pair[1]
        if name and name not in applied:
            applied.append(name)
    return dict(applied=applied, nothing_pending='No pending migrations to apply' in output)


def parse_status(output, exit_code):
    """Pending and failed migrations and the in-sync flag, from `prisma migrate status` output."""
    def block(title):
        match = re.search(title + r'\s*\n((?:[ \t]*\S+[ \t]*\n)+)', output)
        return [line.strip() for line in match.group(1).splitlines() if line.strip()] if match else []
    pending = block(r'Following migrations? have not yet been applied:')
    failed = block(r'Following migrations? have failed:')
    return dict(pending=pending, failed=failed, in_sync='Database schema is up to date!' in output and exit_code == 0,
                managed='not managed by Prisma Migrate' not in output)


def error_code(output):
    match = re.search(r'\b(P[0-9]{4})\b', output)
    return match.group(1) if match else None


def run(action, project_dir, database_url, npx='npx', applied=None, rolled_back=None, timeout=3600):
    """Run the CLI; returns (exit code, combined output). The URL goes through the environment."""
    env = dict(os.environ, DATABASE_URL=database_url)
    try:
        done = programs.run(argv(action, npx, applied=applied, rolled_back=rolled_back), env=env, cwd=project_dir,
                            timeout=timeout, check=False)
    except programs.ProgramError as err:
        raise programs.ProgramError('Cannot run the Prisma CLI (%s): %s. Install it in the project (npm install '
                                    'prisma) or use engine=native.' % (npx, err))
    output = (done.stdout + done.stderr).decode('utf-8', 'replace')
    return done.returncode, output.replace(database_url, '********') if database_url else output
