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


# Online safety is an allowlist: a statement is safe with the old release running only when it is one
# of these shapes; anything else (DML on old tables, DROP, RENAME, a type change...) is not proven.
_SAFE_ON_ANY_TABLE = [
    re.compile(r'^CREATE (?:UNIQUE )?INDEX CONCURRENTLY ', re.I),  # builds without blocking writes
    re.compile(r'^CREATE (?:TYPE|SCHEMA|SEQUENCE) ', re.I),  # a new object the old release does not use
    re.compile(r'^ALTER TYPE \S+ ADD VALUE ', re.I),  # a new enum value the old release does not send
    re.compile(r'^COMMENT ON ', re.I),  # metadata only
]
_ALTER_ACTION_SAFE = [
    re.compile(r'^ADD CONSTRAINT .* NOT VALID$', re.I),
    re.compile(r'^VALIDATE CONSTRAINT ', re.I),
    re.compile(r'^ADD CONSTRAINT \S+ (?:UNIQUE|PRIMARY KEY) USING INDEX \S+$', re.I),
    re.compile(r'^ALTER COLUMN \S+ (?:SET DEFAULT (?P<default>.+)|DROP DEFAULT|DROP NOT NULL)$', re.I),
]
_CONSTRAINT_REASONS = [
    (re.compile(r'\bFOREIGN KEY\b', re.I), 'ADD FOREIGN KEY without NOT VALID validates every row while locking both tables'),
    (re.compile(r'\bCHECK\b', re.I), 'ADD CHECK without NOT VALID scans every row under an ACCESS EXCLUSIVE lock'),
    (re.compile(r'\b(?:UNIQUE|PRIMARY KEY)\b', re.I),
     'a UNIQUE or PRIMARY KEY constraint builds its index under a lock; build it CONCURRENTLY, then ADD CONSTRAINT ... '
     'USING INDEX'),
]
_ADD_COLUMN = re.compile(r'^ADD (?:COLUMN )?(?:IF NOT EXISTS )?\S+ (?P<rest>.+)$', re.I)
_REWRITING_TYPES = re.compile(r'^(?:SMALL|BIG)?SERIAL\b|\bGENERATED\b|\bIDENTITY\b', re.I)
_CONSTANT = re.compile(r"^(?:'(?:[^']|'')*'(?:::[\w\s\"\[\]()]+)?|-?\d+(?:\.\d+)?|TRUE|FALSE|NULL|"
                       r"CURRENT_TIMESTAMP|CURRENT_DATE|now\(\))$", re.I)
_DEFAULT = re.compile(r'\bDEFAULT (.+?)(?: NOT NULL| NULL)?$', re.I)
_INSERT_INTO = re.compile(r'^INSERT INTO ("?[\w.]+"?)', re.I)


def _top_level_parts(text):
    """The comma-separated parts of an ALTER TABLE action list (commas inside parentheses or quotes do not split)."""
    parts, depth, start, quote = [], 0, 0, None
    for index, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in ("'", '"'):
            quote = char
        elif char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        elif char == ',' and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


def _unsafe_add_column(rest):
    """Why adding a column with this definition is not online-safe, or None."""
    if _REWRITING_TYPES.search(rest):
        return 'a serial, identity or generated column fills every existing row (a table rewrite)'
    default = _DEFAULT.search(rest)
    if default and not _CONSTANT.match(default.group(1).strip()):
        return 'a default that may be volatile (%s) rewrites the table' % default.group(1).strip()
    if re.search(r'\bNOT NULL\b', rest, re.I) and not default:
        return 'NOT NULL without a default fails for the rows the old release keeps inserting'
    if re.search(r'\bREFERENCES\b', rest, re.I) and not re.search(r'\bNOT VALID\b', rest, re.I):
        return 'an inline foreign key validates every row under a lock'
    return None


def _unsafe_alter(actions):
    for action in _top_level_parts(actions):
        column = _ADD_COLUMN.match(action) if not re.match(r'^ADD CONSTRAINT ', action, re.I) else None
        if column:
            reason = _unsafe_add_column(column.group('rest'))
            if reason:
                return reason
            continue
        matched = next(filter(None, (pattern.match(action) for pattern in _ALTER_ACTION_SAFE)), None)
        if matched is None:
            return next((why for pattern, why in _CONSTRAINT_REASONS if pattern.search(action)
                         and action.upper().startswith('ADD CONSTRAINT')),
                        '%s... is not one of the online-safe changes' % ' '.join(action.split(' ')[:3]))
        default = matched.groupdict().get('default')
        if default and not _CONSTANT.match(default.strip()):
            return 'a default that may be volatile (%s)' % default.strip()
    return None


def online_unsafe(script, source=''):
    """The first statement of a migration that is not proven safe to run with the old release serving
    (file, line, statement, reason), or None when every statement is. Tables the script creates are new:
    anything on them is safe."""
    created = set()
    for line, statement in split_statements(script):
        flat = _normal(statement)
        reason = None
        new_table = _CREATE_TABLE.match(flat)
        altered = _TABLE_OF_ALTER.match(flat)
        target = altered or _TABLE_OF_INDEX.match(flat) or _INSERT_INTO.match(flat)
        if new_table:
            created.add(_table_name(new_table.group(1)))
        elif target and _table_name(target.group(1)) in created:
            pass
        elif any(pattern.match(flat) for pattern in _SAFE_ON_ANY_TABLE):
            pass
        elif altered:
            reason = _unsafe_alter(flat[altered.end():].strip())
        elif _TABLE_OF_INDEX.match(flat):
            reason = 'CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds'
        else:
            reason = 'not one of the online-safe statements (new tables, nullable columns, concurrent indexes, ' \
                     'NOT VALID constraints)'
        if reason:
            return dict(file=source, line=line, statement=flat[:200], reason=reason)
    return None
