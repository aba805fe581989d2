"""pg_settings on real servers: ALTER SYSTEM only when needed, restarts named, bad input refused."""
from conftest import tcp_params
from modrun import run_module


def superuser(pg):
    return tcp_params(pg, login_user='postgres', login_password=pg.superuser_password)


def current(pg, name):
    return pg.psql("SELECT setting FROM pg_settings WHERE name = '%s'" % name).strip()


def test_changes_once_reloads_and_names_the_settings_that_wait_for_a_restart(pg):
    try:
        checked = run_module('pg_settings', dict(superuser(pg), settings=dict(log_min_duration_statement=2500)),
                             check_mode=True)
        assert checked['changed'] and current(pg, 'log_min_duration_statement') == '1000'  # check mode: told, not done
        first = run_module('pg_settings', dict(superuser(pg), settings=dict(log_min_duration_statement=2500,
                                                                            max_wal_senders=7)))
        assert first['changed'] and first['restart_required'] and first['restart_settings'] == ['max_wal_senders']
        assert [c['name'] for c in first['changes']] == ['log_min_duration_statement', 'max_wal_senders']
        assert current(pg, 'log_min_duration_statement') == '2500'  # reloaded
        again = run_module('pg_settings', dict(superuser(pg), settings=dict(log_min_duration_statement='2500',
                                                                            max_wal_senders=7)))
        assert not again['changed'] and not again['changes']
        assert again['restart_settings'] == ['max_wal_senders']  # still waits for the restart, and says so
    finally:
        pg.psql('ALTER SYSTEM RESET log_min_duration_statement')
        pg.psql('ALTER SYSTEM RESET max_wal_senders')
        pg.psql('SELECT pg_reload_conf()')


def test_unknown_or_injected_names_and_a_non_superuser_are_refused(pg):
    unknown = run_module('pg_settings', dict(superuser(pg), settings={'archive_mod': 'on'}))
    assert unknown['failed'] and 'Unknown server settings: archive_mod' in unknown['msg']
    injected = run_module('pg_settings', dict(superuser(pg), settings={'work_mem = 1; DROP TABLE x; --': '4MB'}))
    assert injected['failed'] and 'Unknown server settings' in injected['msg']
    app_role = run_module('pg_settings', dict(tcp_params(pg), settings=dict(work_mem='8MB')))
    assert app_role['failed'] and 'Connect as a superuser' in app_role['msg'], app_role['msg']
    assert 'permission denied' in app_role['msg'] and 'Traceback' not in app_role['msg']
    assert pg.psql("SELECT count(*) FROM pg_file_settings WHERE name = 'work_mem'").strip() == '0'
