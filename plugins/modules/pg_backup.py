#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_backup
short_description: Verified, durable backups of a PostgreSQL database (pg_dump or snapshot), locally and to S3
version_added: 0.1.0
description:
  - Backs up one database with C(pg_dump) into C(<dest>/<kind>/<id>/), inside an exported snapshot, writes
    the data as C(.partial), fsyncs and renames it, verifies it, and writes C(manifest.json) last. A folder
    without a manifest is not a backup; the next run removes such leftovers and reports them.
  - Or takes a snapshot database (C(CREATE DATABASE <db>_<label> TEMPLATE <db>)), the rollback point of the
    deploy runbook, taken while the application is stopped.
  - Then optionally uploads the backup to S3 and expires old backups of the same kind.
  - Or, with I(method=pgbackrest), takes a physical full, differential or incremental backup through pgBackRest
    (the hourly/daily base backups behind point-in-time recovery), described in the same manifest shape.
  - Or, with I(method=restore_point), names the current WAL position (C(pg_create_restore_point)) so that a
    point-in-time restore can stop exactly there, for example just before a deploy's migrations.
  - Replaces the runbook's C(pg_dump -F c -Z 9), C(pg_restore --list) check, C(find -mtime +30 -delete) and
    C(pg_dump | aws s3 cp -).
  - One module with I(method), not one per verb, by choice. Every method writes the same manifest into the same
    store under the same retention (a snapshot and a dump of kind C(snapshot) expire together, by the same
    fresh checks), takes the same connection and returns the same C(backup) shape, as community.postgresql's
    C(postgresql_db) keeps dump and restore in one module. I(method=restore_point) writes no backup and returns
    C(restore_point) instead; I(retention_only) only expires.
options:
  database:
    description:
      - Database to back up. Default is I(login_db).
    type: str
  dest:
    description:
      - Backup root folder. Backups go to C(<dest>/<kind>/<id>/) with mode 0700 folders and 0600 files.
      - Required with I(method=dump) and I(method=snapshot).
    type: path
  kind:
    description:
      - Backup class, a folder under I(dest) and the scope of retention (C(daily), C(weekly), C(pre_migration),
        C(manual), ...).
    type: str
    default: manual
  label:
    description:
      - Extra name part, for example the migration name. With I(method=snapshot) it names the snapshot database
        C(<database>_<label>); with I(method=restore_point) it is the restore point's name.
    type: str
  method:
    description:
      - C(dump) runs C(pg_dump). C(snapshot) copies the database inside the server; it needs no other session
        on the database (see I(terminate_sessions)).
      - C(pgbackrest) runs C(pgbackrest backup) of I(backup_type) for the stanza in I(pgbackrest); pgBackRest's
        own retention expires old backups and their WAL.
      - C(restore_point) creates a named restore point (superuser or C(EXECUTE) on C(pg_create_restore_point));
        with C(archive_mode=off) it changes nothing and says why.
    type: str
    choices: [ dump, snapshot, pgbackrest, restore_point ]
    default: dump
  format:
    description:
      - C(custom) (one file, C(pg_dump -Fc)) or C(directory) (C(pg_dump -Fd), allows I(jobs)).
    type: str
    choices: [ custom, directory ]
    default: custom
  compression:
    description:
      - C(auto) picks the fastest good option here, the C(zstd) program at level 5 on all cores behind an
        uncompressed C(pg_dump -Fc), else pg_dump's own zstd or lz4, else gzip level 1.
      - Or explicitly C(zstd[:LEVEL]), C(gzip[:LEVEL]), C(lz4[:LEVEL]), C(none). When pg_dump cannot
        compress with the method, an external program of that name is used through a pipe.
    type: str
    default: auto
  jobs:
    description:
      - Parallel dump jobs (I(format=directory) only); pg_dump opens I(jobs)+1 connections.
    type: int
    default: 1
  verify:
    description:
      - C(checksum) re-reads the files against their sha256; C(list) also reads the table of contents with
        C(pg_restore --list) (fast, but it reads only the table of contents, so a truncated archive passes it);
        C(full) also decompresses and reads every data block back with C(pg_restore), as a restore reads it,
        and counts every table's rows in it against the counts of the dump's own snapshot (the deploy's
        default; the counts are taken for C(full) and C(restore)); C(restore) also restores into a scratch database, compares every
        table's row count with the dump's own (counted in the dump's snapshot), and drops it (the restore drill).
    type: str
    choices: [ none, checksum, list, full, restore ]
    default: list
  exact_counts:
    description:
      - Count every table's rows in the dump's snapshot and record them in the manifest even without
        I(verify=full) or I(verify=restore) (so that a later check or restore can be compared with them).
    type: bool
    default: false
  free_space_factor:
    description:
      - Refuse to start when the free space at I(dest) is below this fraction of the database size.
    type: float
    default: 0.5
  lock_wait:
    description:
      - Seconds to wait for another backup run that holds the backup root's lock (a scheduled daily backup, say),
        then refuse, naming the holder and the wait. C(0) refuses at once.
    type: int
    default: 0
  retention_days:
    description:
      - After a successful backup, delete backups of the same I(kind) and database older than this many days.
        Nothing is deleted after a failed backup.
    type: int
  min_keep:
    description:
      - Retention never deletes the newest I(min_keep) verified backups, however old, and deletes a backup only while
        I(min_keep) newer ones pass a fresh check in the same run (files re-hashed against their manifest, a snapshot
        database still the one that was made); a stored "verified" flag alone is history, not proof.
    type: int
    default: 3
  terminate_sessions:
    description:
      - With I(method=snapshot), end other sessions on the database instead of refusing.
    type: bool
    default: false
  snapshot_method:
    description:
      - With I(method=snapshot), how the database's files are made. C(auto) uses PostgreSQL 18's
        C(file_copy_method=clone) where it works (C(copy_file_range) on Linux; shared extents on XFS with reflink
        or btrfs, so constant time whatever the size; an in-kernel copy that grows with the size on filesystems
        such as ext4) and the plain copy otherwise, saying why in C(backup.not_cloned). C(clone) refuses instead
        of copying; C(copy) always copies.
    type: str
    choices: [auto, clone, copy]
    default: auto
  retention_only:
    description:
      - Take no backup; only expire old backups of I(kind) by I(retention_days) and I(min_keep) (the runbook's
        weekly C(backup.sh cleanup)).
    type: bool
    default: false
  restore_point:
    description:
      - With I(method=dump) or I(method=snapshot), also name the moment the backup was taken in the WAL
        (C(pg_create_restore_point)) with this name, in the same run. For a deploy, whose rollback point is taken
        with the application stopped, the two mark the same moment, and the outage is one module run shorter.
      - A restore point that cannot be made (archiving off, the privilege missing) does not fail the backup,
        which is the rollback point; I(restore_point_problem) says why.
    type: str
    version_added: 0.4.0
  backup_type:
    description:
      - With I(method=pgbackrest), C(full), C(diff) (changes since the last full) or C(incr) (since the last backup).
    type: str
    choices: [ full, diff, incr ]
    default: full
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.s3
  - defneqr.dbops.pgbackrest
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details:
      - Returns the plan (argv, destination, compression, free-space check, leftovers and retention) and writes nothing.
      - With I(method=snapshot), the plan predicts the snapshot (C(copy_method), C(predicted_seconds),
        C(predicted_from)); to know which method this server takes, it clones C(template0) into
        C(dbops_clone_probe) and drops it at once, the one object a dry run makes. The seconds come from the size
        at the rate of this host's newest snapshot made the same way.
notes:
  - The password reaches pg_dump through a temporary 0600 passfile; the manifest holds no secret.
'''

EXAMPLES = r'''
- name: Pre-migration backup, verified by a restore drill (the runbook's step 2)
  defneqr.dbops.pg_backup:
    login_host: db1
    login_user: postgres
    login_password: "{{ vault_pg_password }}"
    database: dijitalmenu
    dest: /backups
    kind: pre_migration
    label: add_performance_indexes
    verify: restore

- name: Daily backup with 30 days retention (cron 0 3 * * *)
  defneqr.dbops.pg_backup:
    database: dijitalmenu
    dest: /backups
    kind: daily
    retention_days: 30
    min_keep: 7

- name: Weekly backup to S3 with the 90-day lifecycle rule
  defneqr.dbops.pg_backup:
    database: dijitalmenu
    dest: /backups
    kind: weekly
    s3:
      bucket: defneqr-backups
      prefix: dijitalmenu
      lifecycle_days: 90

- name: Snapshot after the application stopped (the rollback point)
  defneqr.dbops.pg_backup:
    database: dijitalmenu
    dest: /backups
    kind: snapshot
    method: snapshot
    label: pre_20260218

- name: Hourly incremental backup through pgBackRest
  defneqr.dbops.pg_backup:
    method: pgbackrest
    backup_type: incr
    pgbackrest:
      stanza: dijitalmenu
      os_user: postgres

- name: Name the moment just before the migrations (a point-in-time restore target)
  defneqr.dbops.pg_backup:
    method: restore_point
    label: deploy-20260218T021503Z
'''

RETURN = r'''
backup:
  description: The manifest of the new backup (in check mode, the plan).
  returned: when method is dump, snapshot or pgbackrest
  type: dict
  contains:
    id:
      description: Backup id, C(<database>_<UTC time>[_<label>]).
      type: str
    folder:
      description: Folder holding the backup and its manifest.
      type: str
    files:
      description: Files with C(path), C(size) (bytes) and C(sha256).
      type: list
      elements: dict
    compression:
      description: Method, level and whether an external program compressed.
      type: dict
    argv:
      description: The pg_dump command (no secrets; the snapshot id replaced).
      type: list
      elements: str
    tables:
      description: Per table, C(schema), C(table), C(estimate), C(bytes), and C(rows) when counted.
      type: list
      elements: dict
    verification:
      description: C(level), C(ok), C(message), and for C(restore) C(restore_seconds).
      type: dict
    duration:
      description: Seconds from start to manifest.
      type: float
    snapshot_database:
      description: With I(method=snapshot), the database holding the copy.
      type: str
    copy_method:
      description: With I(method=snapshot), C(clone), C(copy) or C(wal_log) (PostgreSQL before 15).
      type: str
    not_cloned:
      description: With I(method=snapshot) and no clone, why (the server's version, or its error on the attempt).
      type: str
    predicted_seconds:
      description:
        - With I(method=snapshot) in check mode, how long the snapshot would take inside the outage, and
          C(predicted_from) what that is based on (the size at this host's measured rate for that method).
      type: float
  sample:
    id: dijitalmenu_20260218T021503Z_add_performance_indexes
    folder: /backups/pre_migration/dijitalmenu_20260218T021503Z_add_performance_indexes
restore_point:
  description:
    - With I(method=restore_point), or with the I(restore_point) option, C(name), C(lsn) and C(created_at); null
      when none was made.
  returned: when method is restore_point, or the restore_point option is set
  type: dict
restore_point_problem:
  description: With the I(restore_point) option, why no restore point was made (archiving off, a missing privilege).
  returned: when the restore_point option is set
  type: str
pgbackrest:
  description: With I(method=pgbackrest), the repository after the backup, C(backups) (newest first, the
    manifest shape of I(backup)), C(wal) (archived WAL ranges with C(min) and C(max)) and C(status).
  returned: when method is pgbackrest
  type: dict
expired:
  description: With I(method=pgbackrest), labels of the backups pgBackRest's retention expired.
  returned: when method is pgbackrest
  type: list
  elements: str
database_size:
  description: Size of the database in bytes when the run started.
  returned: when method is dump or snapshot
  type: int
space:
  description: C(free_bytes) at I(dest) and C(needed_bytes) by the estimate.
  returned: when method is dump
  type: dict
cleaned:
  description: Leftover folders of interrupted runs that were removed (would be, in check mode).
  returned: when method is dump or snapshot
  type: list
  elements: str
retention:
  description:
    - C(deleted) and C(kept) backup ids (would be, in check mode); C(damaged), the verified backups that failed the
      fresh check of this run (kept, never counted toward I(min_keep)) with their C(problems); C(not_dropped), snapshot
      manifests whose database could not be proven to be the one this collection made (left alone).
  returned: when method is dump or snapshot
  type: dict
s3:
  description: Uploaded objects with their keys and sizes, and whether the lifecycle rule changed.
  returned: when s3 is set
  type: dict
commands:
  description: The argv of each program the run started, in order, passwords masked (docs/operator-guide.md).
  returned: always
  type: list
  elements: list
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import backup_module, postgres, programs


def main():
    spec = postgres.postgres_argument_spec()
    spec.update(backup_module.backup_argument_spec())
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_if=backup_module.REQUIRED_IF)
    if module.params['method'] != 'pgbackrest':
        postgres.ensure_driver(module)
    with postgres.failing_module(module):
        result = backup_module.take(module.params, module.check_mode)
    module.exit_json(commands=programs.ran(), **result)


if __name__ == '__main__':
    main()
