"""playbooks/backup.yml (the runbook's backup.sh commands), restore.yml and health.yml."""
import getpass
import json
import os
import stat
import subprocess
import sys

import pytest

import paths

sys.path.insert(0, os.path.join(paths.REPO, 'examples', 'demo'))
import run_demo  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    demo = run_demo.Demo(str(tmp_path_factory.mktemp('backups') / 'w'), scale=0.1)
    demo.prepare(quiet=True)
    yield demo
    demo.stop()


def play(world, name, **extra):
    code = world.playbook(os.path.join(paths.REPO, 'playbooks', name), '-e', json.dumps(extra), quiet=True)
    return code, world.last_output


def backups(world, kind):
    folder = os.path.join(world.root, 'backups', kind)
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_daily_verify_drill_and_cleanup(world):
    code, out = play(world, 'backup.yml', backup_kind='daily')
    assert code == 0, out[-3000:]
    daily = backups(world, 'daily')
    assert len(daily) == 1
    with open(os.path.join(world.root, 'backups', 'daily', daily[0], 'manifest.json'), encoding='utf-8') as stream:
        manifest = json.load(stream)
    assert manifest['verification']['ok'] and manifest['exact_counts']
    code, out = play(world, 'backup.yml', backup_kind='verify')
    assert code == 0, out[-3000:]
    code, out = play(world, 'backup.yml', backup_kind='drill')
    assert code == 0 and 'Restore it into a scratch database' in out, out[-3000:]
    code, out = play(world, 'backup.yml', backup_kind='cleanup', backup_daily_retention_days=1, backup_min_keep=1)
    assert code == 0, out[-3000:]
    assert backups(world, 'daily') == daily  # the newest verified backup stays, however old
    dump = os.path.join(world.root, 'backups', 'daily', daily[0], manifest['files'][0]['path'])
    with open(dump, 'r+b') as stream:
        stream.seek(100)
        stream.write(b'\x00\x01\x02')
    code, out = play(world, 'backup.yml', backup_kind='verify')
    assert code != 0 and 'Damaged backups' in out and daily[0] in out


def cron_command(cron_file, kind):
    """The command of a job in a cron.d file (minute hour day month weekday user command)."""
    with open(cron_file, encoding='utf-8') as stream:
        [job] = [line for line in stream.read().splitlines() if line[:1].isdigit() and line.endswith(' ' + kind)]
    fields = job.split(None, 6)
    assert fields[5] == getpass.getuser()
    return fields[6]


def run_as_cron(command):
    """As cron runs a job: an empty environment (cron sets only a few variables) and /bin/sh."""
    return subprocess.run(['env', '-i', 'SHELL=/bin/sh', 'LOGNAME=' + getpass.getuser(), '/bin/sh', '-c', command],
                          capture_output=True, text=True, timeout=900, check=False)


def test_scheduled_jobs_back_up_from_cron_empty_environment_and_fail_loudly_without_hosts(world, tmp_path):
    cron_file, logs = str(tmp_path / 'cron.d-defneqr'), tmp_path / 'logs'
    schedule = dict(backup_kind='schedule', backup_cron_file=cron_file, backup_cron_user=getpass.getuser(),
                    backup_log_dir=str(logs))
    code, out = play(world, 'backup.yml', **schedule)
    assert code != 0 and 'backup_s3 has no bucket' in out  # the weekly job would fail at 2 AM: refused now
    assert not os.path.exists(cron_file)
    schedule['backup_s3'] = dict(bucket='defneqr-backups')
    code, out = play(world, 'backup.yml', **schedule)
    assert code == 0, out[-3000:]
    assert stat.S_IMODE(os.stat(logs / 'run-backup.sh').st_mode) == 0o700
    assert stat.S_IMODE(os.stat(logs / 'schedule-vars.json').st_mode) == 0o600
    before = set(backups(world, 'daily'))
    ran = run_as_cron(cron_command(cron_file, 'daily'))
    log = (logs / 'backup-daily.log').read_text(encoding='utf-8')
    assert ran.returncode == 0, log[-3000:]
    assert len(set(backups(world, 'daily')) - before) == 1
    assert 'scheduled backup daily: start' in log and 'scheduled backup daily: ok' in log
    # the same schedule installed against an inventory without the db host: each run fails, and says so
    empty = tmp_path / 'no-db.ini'
    empty.write_text('[app]\n', encoding='utf-8')
    code, out = play(world, 'backup.yml', backup_inventory=[str(empty)], **schedule)
    assert code == 0, out[-3000:]
    before = set(backups(world, 'daily'))
    ran = run_as_cron(cron_command(cron_file, 'daily'))
    log = (logs / 'backup-daily.log').read_text(encoding='utf-8')
    assert ran.returncode != 0
    assert 'scheduled backup daily: FAILED (ansible-playbook exited 2)' in ran.stderr  # to cron's mail
    assert 'No host in group db of %s' % empty in log
    assert set(backups(world, 'daily')) == before


def test_restore_playbook_drill_and_pre_migration(world):
    code, out = play(world, 'backup.yml', backup_kind='pre_migration', backup_label='add_performance_indexes')
    assert code == 0, out[-3000:]
    [backup] = backups(world, 'pre_migration')
    assert backup.endswith('_add_performance_indexes')
    code, out = play(world, 'restore.yml', restore_src=os.path.join(world.root, 'backups', 'pre_migration', backup))
    assert code == 0 and 'drill of %s' % backup in out, out[-3000:]


def test_health_report_playbook_writes_the_report_and_uses_last_week_as_baseline(world):
    folder = os.path.join(world.root, 'health')
    probes = [dict(name='restaurants', query='SELECT count(*) FROM restaurants', runs=3)]
    for _week in range(2):
        code, out = play(world, 'health.yml', health_report_dir=folder, health_report_probes=probes)
        assert code == 0, out[-3000:]
    reports = sorted(name for name in os.listdir(folder) if name.endswith('.json'))
    assert len(reports) >= 1
    with open(os.path.join(folder, reports[-1]), encoding='utf-8') as stream:
        latest = json.load(stream)
    assert 'slowdown' in latest['checks']['probes']['rows'][0]
    assert any(name.endswith('.md') for name in os.listdir(folder))
