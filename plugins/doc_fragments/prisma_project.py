# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Where a Prisma project's migrations are, shared by prisma_migrate and prisma_migrate_info.
    DOCUMENTATION = r'''
options:
  project_dir:
    description:
      - Folder of the Prisma project (the one that holds C(prisma/)).
      - One of I(project_dir) or I(migrations_dir) is required.
    type: path
  migrations_dir:
    description:
      - The migrations folder itself. Default C(<project_dir>/prisma/migrations).
    type: path
  rollback_dir:
    description:
      - Folder of the rollback scripts named C(<timestamp>_rollback_<name>.sql) (the runbook's convention).
        Default C(<project_dir>/migrations/rollback). A C(down.sql) inside a migration folder is used when
        there is no script there.
    type: path
  database_url:
    description:
      - Prisma's C(DATABASE_URL) (C(postgresql://user:password@host:port/db?schema=public)).
      - Overrides the connection options it sets; C(?schema=) sets I(schema) unless I(schema) is given.
    type: str
  schema:
    description:
      - Schema that holds C(_prisma_migrations) and the objects, as Prisma's C(?schema=). Default C(public).
    type: str
'''
