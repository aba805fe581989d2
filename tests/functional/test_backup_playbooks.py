"""playbooks/backup.yml (the runbook's backup.sh commands), restore.yml and health.yml."""
import json
import os
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
