#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_health
short_description: The runbook's database health check and index report, thresholded, in one read-only pass
version_added: 0.1.0
description:
  - Runs the runbook's C(db-health-check.sh) sections (database size, largest tables, index usage, unused
    indexes, connections, long-running queries, dead tuples) and the checks PgHero and check_postgres make
    (cache hit ratio, transaction ID wraparound, sequence exhaustion, invalid, duplicate and missing foreign
    key indexes, blocked queries, sessions idle in transaction, replication, archiver, vacuum and analyze age).
  - Each check returns C(status) (ok, warning, critical, unknown), C(value), C(threshold), C(message) and
    detail C(rows), and a C(fix) when it is not ok.
  - Checks the runbook's expected indexes and EXPLAIN expectations, and times probe queries against an
    earlier run (the runbook's "performance degradation > 50%" rollback trigger).
  - Everything runs on one connection in one read-only transaction; each check has its own
    C(statement_timeout) and cannot stop the others. A server that is down is a critical result, not a crash.
options:
  checks:
    description:
      - Checks to run from the catalogue. Default all.
    type: list
    elements: str
    choices: [ database_size, largest_tables, index_usage, unused_indexes, connections, long_running_queries,
               dead_tuples, cache_hit_ratio, txid_wraparound, sequence_exhaustion, invalid_indexes,
               duplicate_indexes, missing_fk_indexes, blocked_queries, idle_in_transaction, replication, archiver,
               vacuum_analyze_age ]
  thresholds:
    description:
      - "Per-check overrides of the default thresholds, for example
        C({long_running_queries: {warning_seconds: 60}, unused_indexes: {min_bytes: 0}})."
      - "Defaults: unused_indexes min_bytes 10 MB (PgHero); connections warning_ratio 0.8, critical_ratio 0.95;
        long_running_queries warning_seconds 30 (the runbook), critical_seconds 300; dead_tuples warning_ratio 0.2,
        critical_ratio 0.5, min_rows 1000; cache_hit_ratio warning_ratio 0.99 (PgHero), critical_ratio 0.95;
        txid_wraparound warning_age 646000000 (PgHero), critical_age 1400000000 (check_postgres);
        sequence_exhaustion warning_ratio 0.85, critical_ratio 0.95 (check_postgres); blocked_queries
        critical_seconds 60; idle_in_transaction warning_seconds 60, critical_seconds 600; replication
        warning_lag_seconds 5 (PgHero), critical_lag_seconds 300; vacuum_analyze_age warning_days 1,
        critical_days 2 (check_postgres), min_rows 1000; archiver warning_ready 10, critical_ready 50 (WAL segments
        waiting for archive_command), warning_backup_hours 26, critical_backup_hours 50 (with I(pgbackrest))."
    type: dict
    default: {}
  expected_indexes:
    description:
      - Index names that must exist and be valid (the runbook's index coverage list); a missing or invalid one is
        critical.
    type: list
    elements: str
    default: []
  explain_checks:
    description:
      - Queries and the index each must use, checked with plain C(EXPLAIN); with C(analyze=true) the query runs
        (C(EXPLAIN ANALYZE)) inside the read-only transaction that is rolled back.
    type: list
    elements: dict
    default: []
  probes:
    description:
      - Named read-only queries (C(name), C(query), C(runs) default 5), timed; fastest, median and p95 in
        milliseconds.
    type: list
    elements: dict
    default: []
  baseline:
    description:
      - An earlier result of this module (or its C(checks.probes.rows)); each probe then reports its slowdown.
    type: raw
  max_slowdown:
    description:
      - A probe this many times slower than the baseline is critical (1.5 = the runbook's 50% degradation).
        The fastest runs are compared (load only adds time; a worse plan slows every run). Times under 2 ms
        count as 2 ms, a probe must also be at least 5 ms slower, and a slower probe is timed again after a
        second, its better round counting, so scheduler noise and a burst of load are not a slowdown.
    type: float
    default: 1.5
  statement_timeout:
    description:
      - Time limit of each check.
    type: str
    default: 5s
  fail_on:
    description:
      - Fail the task when the overall status reaches C(critical) or C(warning); C(never) only reports.
    type: str
    choices: [ critical, warning, never ]
    default: critical
  report:
    description:
      - Write a Markdown report (the runbook's seven sections as tables, then the findings with their fixes)
        to this path, and the JSON result beside it (C(.json)), both mode 0600 as they hold query texts (a missing
        folder is made 0700; a link in a file's place is refused). Not written in check mode.
    type: path
extends_documentation_fragment:
  - defneqr.dbops.postgres
  - defneqr.dbops.pgbackrest
  - defneqr.dbops.module
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: The checks only read; in check mode the report files are not written (the Markdown is returned).
'''

EXAMPLES = r'''
- name: Weekly health report (the runbook's db-health-check.sh)
  defneqr.dbops.pg_health:
    login_db: dijitalmenu
    report: /var/log/defneqr/health-{{ ansible_date_time.date }}.md
    fail_on: never

- name: Verify the migration (the runbook's step 5) and compare probes with the pre-deploy baseline
  defneqr.dbops.pg_health:
    login_db: dijitalmenu
    checks: [invalid_indexes, blocked_queries, long_running_queries]
    expected_indexes: [users_email_isDeleted_idx, orders_restaurantId_status_isDeleted_idx]
    explain_checks:
      - query: SELECT * FROM users WHERE email = 'test@example.com' AND "isDeleted" = false
        index: users_email_key
    probes:
      - name: restaurants_list
        query: SELECT id FROM restaurants WHERE NOT "isDeleted" ORDER BY name LIMIT 100
    baseline: "{{ preflight_health }}"
'''

RETURN = r'''
healthy:
  description: True when the overall status is ok.
  returned: always
  type: bool
status:
  description: The worst status of all checks (ok, unknown, warning, critical).
  returned: always
  type: str
checks:
  description: Every check by name with C(status), C(value), C(threshold), C(message), C(rows), C(seconds) and C(fix).
  returned: always
  type: dict
  sample:
    long_running_queries:
      status: warning
      value: 41.2
      threshold: {warning: 30, critical: 300}
      message: 1 quer(ies) running longer than 30s
findings:
  description: Names of the checks that are not ok.
  returned: always
  type: list
  elements: str
report_markdown:
  description: The Markdown report.
  returned: always
  type: str
duration:
  description: Seconds the whole run took.
  returned: always
  type: float
commands:
  description: The argv of each program the run started, in order, passwords masked (docs/operator-guide.md).
  returned: always
  type: list
  elements: list
'''

import json
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defneqr.dbops.plugins.module_utils import programs
from ansible_collections.defneqr.dbops.plugins.module_utils import health
from ansible_collections.defneqr.dbops.plugins.module_utils import pgbackrest
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from ansible_collections.defneqr.dbops.plugins.module_utils.backup_store import write_private


def baseline_probes(baseline):
    """Probe rows from an earlier module result, its checks, or a plain list."""
    if isinstance(baseline, dict):
        baseline = baseline.get('checks', baseline).get('probes', {}).get('rows', [])
    return baseline or []


def main():
    spec = postgres.postgres_argument_spec()
    spec.update(
        checks=dict(type='list', elements='str', choices=sorted(health.DEFAULTS)),
        thresholds=dict(type='dict', default={}),
        expected_indexes=dict(type='list', elements='str', default=[]),
        explain_checks=dict(type='list', elements='dict', default=[]),
        probes=dict(type='list', elements='dict', default=[]),
        baseline=dict(type='raw'),
        max_slowdown=dict(type='float', default=1.5),
        statement_timeout=dict(type='str', default='5s'),
        fail_on=dict(type='str', default='critical', choices=['critical', 'warning', 'never']),
        report=dict(type='path'),
        pgbackrest=pgbackrest.pgbackrest_argument_spec(),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    postgres.ensure_driver(module)
    p = module.params
    clock = time.time()
    with postgres.failing_module(module):
        thresholds = dict(p['thresholds'])
        if p['pgbackrest']:
            thresholds['archiver'] = dict(thresholds.get('archiver') or {}, pgbackrest=p['pgbackrest'])
        results, status = health.run_checks(
            p, p['checks'], thresholds, p['expected_indexes'], p['explain_checks'], p['probes'],
            baseline_probes(p['baseline']), p['max_slowdown'], p['statement_timeout'])
    when = time.strftime('%Y-%m-%d %H:%M:%S %Z')
    report = health.markdown(results, status, p['login_db'] or 'postgres', when)
    result = dict(changed=False, healthy=status == 'ok', status=status, checks=results, report_markdown=report,
                  findings=sorted(n for n, r in results.items() if r['status'] != 'ok'),
                  duration=round(time.time() - clock, 3))
    if p['report'] and not module.check_mode:
        write_private(p['report'], report)
        write_private(p['report'].rsplit('.', 1)[0] + '.json', json.dumps(result, indent=2, default=str))
    problem = health.failure(results, status, p['fail_on'])
    if problem:
        module.fail_json(msg=problem, **result)
    module.exit_json(commands=programs.ran(), **result)


if __name__ == '__main__':
    main()
