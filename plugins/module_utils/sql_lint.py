# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Split migration SQL into statements and flag the ones that take long locks.

The rules follow squawk and strong_migrations: statements that rewrite or scan a table that
already holds rows while holding a lock that blocks the application. Tables created in the
same script are new and empty, so statements on them are not flagged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_DOLLAR = re.compile(r'\$[A-Za-z_0-9]*\$')


def split_statements(script):
    """Statements of a script as (line, text), honouring quotes, dollar quotes and comments."""
    statements = []
    current = []
    line = 1
    start_line = None
    i = 0
    length = len(script)
    while i < length:
        char = script[i]
        if char == '-' and script.startswith('--', i):
            end = script.find('\n', i)
            end = length if end == -1 else end
            i = end
            continue
        if char == '/' and script.startswith('/*', i):
            end = script.find('*/', i + 2)
            end = length if end == -1 else end + 2
            line += script.count('\n', i, end)
            i = end
            continue
        if start_line is None and not char.isspace() and char != ';':
            start_line = line
        if char in ("'", '"'):
            end = i + 1
            while end < length:
                if script[end] == char:
                    if end + 1 < length and script[end + 1] == char:
                        end += 2
                        continue
                    break
                end += 1
            current.append(script[i:end + 1])
            line += script.count('\n', i, end + 1)
            i = end + 1
            continue
        if char == '$':
            tag = _DOLLAR.match(script, i)
            if tag:
                end = script.find(tag.group(0), tag.end())
                end = length if end == -1 else end + len(tag.group(0))
                current.append(script[i:end])
                line += script.count('\n', i, end)
                i = end
                continue
        if char == ';':
            text = ''.join(current).strip()
            if text:
                statements.append((start_line, text))
            current = []
            start_line = None
            i += 1
            continue
        if char == '\n':
            line += 1
        current.append(char)
        i += 1
    text = ''.join(current).strip()
    if text:
        statements.append((start_line, text))
    return statements


def _normal(statement):
    return re.sub(r'\s+', ' ', statement).strip()


_CREATE_TABLE = re.compile(r'^CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?("?[\w.]+"?)', re.I)
_TABLE_OF_ALTER = re.compile(r'^ALTER TABLE (?:ONLY )?(?:IF EXISTS )?("?[\w.]+"?)', re.I)
_TABLE_OF_INDEX = re.compile(r'^CREATE (?:UNIQUE )?INDEX (?!CONCURRENTLY).*? ON (?:ONLY )?("?[\w.]+"?)', re.I)

RULES = [
    ('index-without-concurrently', re.compile(r'^CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)', re.I),
     'CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds; '
     'use CREATE INDEX CONCURRENTLY in a migration of its own.'),
    ('add-column-not-null-without-default', re.compile(r'ADD COLUMN (?:(?!DEFAULT).)*NOT NULL(?:(?!DEFAULT).)*$', re.I),
     'ADD COLUMN ... NOT NULL without a DEFAULT fails on a table with rows, or forces a rewrite; '
     'add it nullable or with a default, backfill, then SET NOT NULL.'),
    ('set-not-null', re.compile(r'ALTER COLUMN \S+ SET NOT NULL', re.I),
     'SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock; add a CHECK (...) NOT VALID '
     'constraint, VALIDATE it, then SET NOT NULL.'),
    ('change-column-type', re.compile(r'ALTER COLUMN \S+ (SET DATA )?TYPE ', re.I),
     'Changing a column type rewrites the table under an ACCESS EXCLUSIVE lock; add a new column and backfill.'),
    ('foreign-key-without-not-valid', re.compile(r'ADD CONSTRAINT .* FOREIGN KEY (?!.*NOT VALID)', re.I),
     'ADD FOREIGN KEY validates every row while locking both tables; add it NOT VALID, then VALIDATE CONSTRAINT.'),
    ('drop-column', re.compile(r'DROP COLUMN', re.I),
     'DROP COLUMN breaks the running release if it still reads the column; drop it only after the code stopped using it.'),
    ('drop-table', re.compile(r'^DROP TABLE', re.I),
     'DROP TABLE removes data for good; make sure the rollback plan (backup, snapshot) covers it.'),
    ('rename', re.compile(r'RENAME (COLUMN |TO |CONSTRAINT )?', re.I),
     'RENAME breaks the running release that still uses the old name; add the new name, migrate, then drop the old.'),
]


def _table_name(raw):
    return raw.strip('"').split('.')[-1].strip('"').lower()


def lint(script, source=''):
    """Findings for the statements of one migration script: rule, line, statement, message."""
    created = set()
    findings = []
    for line, statement in split_statements(script):
        flat = _normal(statement)
        new_table = _CREATE_TABLE.match(flat)
        if new_table:
            created.add(_table_name(new_table.group(1)))
            continue
        target = _TABLE_OF_ALTER.match(flat) or _TABLE_OF_INDEX.match(flat)
        if target and _table_name(target.group(1)) in created:
            continue  # a table made by this script is empty: nothing to lock out
        for rule, pattern, message in RULES:
            if pattern.search(flat):
                findings.append(dict(rule=rule, file=source, line=line, statement=flat[:200], message=message))
                break
    return findings


_NON_TRANSACTIONAL = re.compile(
    r'\b(CREATE|DROP|REINDEX)\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b|\bREINDEX\b.*\bCONCURRENTLY\b|'
    r'^\s*VACUUM\b|\bCREATE\s+DATABASE\b|\bDROP\s+DATABASE\b|\bALTER\s+SYSTEM\b|'
    r'\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b', re.I | re.M)
_OWN_TRANSACTION = re.compile(r'^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK)\b', re.I)


def needs_own_transaction_control(script):
    """True when a script cannot be wrapped in our transaction: it manages its own, or holds
    statements that PostgreSQL refuses inside a transaction block."""
    for _line, statement in split_statements(script):
        if _NON_TRANSACTIONAL.search(statement) or _OWN_TRANSACTION.match(statement):
            return True
    return False
