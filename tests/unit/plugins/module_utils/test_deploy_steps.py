"""The pure parts of the outage's db-side steps: what counts as a migration left behind, the health verdict, and
the journal writes a check-mode run lists instead of making."""
from ansible_collections.defneqr.dbops.plugins.module_utils import deploy_steps, health


def test_a_pending_migration_of_this_run_or_a_failed_one_is_left_behind():
    pending = ['m12', 'm13']
    assert deploy_steps.left_pending(dict(pending=[], failed_migrations=[]), pending) is None
    # a migration past the target is pending by design, not left behind
    assert deploy_steps.left_pending(dict(pending=['m14']), pending) is None
    assert deploy_steps.left_pending(dict(pending=['m13', 'm14']), pending) == \
        "After the migration: pending=['m13'], failed=[]"
    assert deploy_steps.left_pending(dict(pending=[], failed_migrations=['m12']), pending) == \
        "After the migration: pending=[], failed=['m12']"


def test_health_fails_at_the_level_asked_for_and_names_every_finding():
    results = dict(invalid_indexes=dict(status='ok', message='0 invalid'),
                   expected_indexes=dict(status='critical', message='missing: users_role_idx'),
                   long_running_queries=dict(status='warning', message='1 query over 30s'))
    assert health.failure(results, 'critical', 'never') is None
    assert health.failure(results, 'warning', 'critical') is None
    told = health.failure(results, 'critical', 'critical')
    assert told == ('Database health is critical: expected_indexes: missing: users_role_idx; '
                    'long_running_queries: 1 query over 30s')
    assert health.failure(results, 'warning', 'warning').startswith('Database health is warning: ')


def test_check_mode_lists_the_journal_writes_and_writes_nothing(tmp_path):
    journal = deploy_steps.Journal(str(tmp_path / '.deploy.lock') + '/', 'deploy-1', check_mode=True)
    journal.write(step=dict(number=4, name='migrate'), data=dict(stopped_at={}))
    journal.write(data=dict(rollback_point=dict(strategy='snapshot')))
    assert journal.would == [dict(step=dict(number=4, name='migrate'), data=dict(stopped_at={})),
                             dict(step=None, data=dict(rollback_point=dict(strategy='snapshot')))]
    assert journal.last is None and not (tmp_path / '.deploy.lock').exists()


def test_a_probe_is_degraded_only_when_both_relatively_and_absolutely_slower():
    def row(fastest_ms, baseline_ms):
        return dict(fastest_ms=fastest_ms, baseline_ms=baseline_ms, slowdown=health.slowdown(fastest_ms, baseline_ms))
    # load noise on a fast query: x1.6 but 1.8 ms slower
    assert health.slowdown(4.8, 3.0) == 1.6 and not health.degraded(row(4.8, 3.0), 1.5)
    # under the 2 ms floor nothing is slower
    assert health.slowdown(1.9, 0.3) == 1.0 and not health.degraded(row(1.9, 0.3), 1.5)
    # a lost index: twice as slow and tens of milliseconds more
    assert health.degraded(row(60.0, 30.0), 1.5)
    # a real slowdown of a fast query still counts once it is 5 ms
    assert health.degraded(row(8.0, 3.0), 1.5) and not health.degraded(row(8.0, 3.0), 3)
    # no baseline, no verdict
    assert not health.degraded(dict(fastest_ms=50.0), 1.5)
