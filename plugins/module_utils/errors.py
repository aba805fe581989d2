# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of every failure a module reports to the operator (postgres.failing_module turns it into fail_json).

Each part raises its own kind, so that a caller can tell a refused query from a failed program or an unreachable
bucket: postgres.PgError (PostgreSQL, its connection and options), programs.ProgramError (a program that failed or
could not start: pg_dump, pgBackRest, the Prisma CLI, compressors), s3_storage.S3Error (the bucket).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class DbopsError(Exception):
    """A failure with a message fit for an operator: the thing, the cause, the fix."""
