"""playbooks/awx_templates.yml: AWX job templates and schedules as code, through the real awx.awx modules.

No AWX server runs here: the modules talk HTTP to tests/harness/awx_api.py, which keeps what they
create. What this proves: the playbook's calls are valid for awx.awx (argument specs, lookups by
name, credential associations), each template names a playbook the AWX project skeleton has, the
schedules' rrules parse and fire at the runbook's times (the same table as the cron jobs), a second
run changes nothing, and a schedule changed by hand is named by --check (which writes nothing) and put
back by the next run.
"""
import datetime
import json
import os
import subprocess
import sys

import pytest
import yaml
from dateutil import rrule

import awx_api
import paths

BIN = os.path.dirname(sys.executable)
PLAYBOOK = os.path.join(paths.REPO, 'playbooks', 'awx_templates.yml')
TOKEN = 'awx-test-token-5f2c'
PREFIX = 'Defne Qr: '


@pytest.fixture
def awx():
    api = awx_api.AwxApi(TOKEN)
    api.add('organizations', dict(name='Default'))
    api.add('credentials', dict(name='Defne Qr SSH'))
    api.add('credentials', dict(name='Defne Qr vault'))
    url = api.start()
    yield api, url
    api.stop()


def play(url, *extra, **variables):
    env = dict(os.environ, CONTROLLER_HOST=url, CONTROLLER_OAUTH_TOKEN=TOKEN, CONTROLLER_VERIFY_SSL='false',
               ANSIBLE_COLLECTIONS_PATH=paths.collections_root(), ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_FORCE_COLOR='0')
    done = subprocess.run([os.path.join(BIN, 'ansible-playbook'), PLAYBOOK, '-e', json.dumps(variables)] + list(extra),
                          env=env, capture_output=True, text=True, check=False, timeout=600)
    return done.returncode, done.stdout + done.stderr


def schedule_table():
    with open(os.path.join(paths.REPO, 'playbooks', 'vars', 'schedule.yml'), encoding='utf-8') as stream:
        return yaml.safe_load(stream)


def first_run_after(rule, start):
    return rrule.rrulestr(rule.replace('DTSTART;TZID=UTC:', 'DTSTART:'), forceset=True).after(start)


def test_templates_and_schedules_of_the_runbook_then_a_second_run_changes_nothing(awx):
    api, url = awx
    settings = dict(awx_project_scm_url='https://git.example.com/ops/defneqr.git',
                    awx_credentials=['Defne Qr SSH', 'Defne Qr vault'])
    code, out = play(url, **settings)
    assert code == 0, out[-3000:]
    assert TOKEN not in out

    [project] = api.named('projects', 'Defne Qr operations')
    assert project['scm_url'] == settings['awx_project_scm_url'] and project['scm_update_on_launch'] is True
    [inventory] = api.named('inventories', 'Defne Qr')
    [source] = api.objects['inventory_sources']
    assert (source['source'], source['source_project'], source['inventory']) == ('scm', project['id'], inventory['id'])

    table = schedule_table()
    kinds = [job['kind'] for job in table['dbops_backup_schedule']]
    templates = dict((t['name'][len(PREFIX):], t) for t in api.objects['job_templates'])
    assert sorted(templates) == sorted(['deploy', 'rollback', 'recover', 'restore', 'health', 'backup verify'] +
                                       ['backup ' + kind for kind in kinds])
    credentials = sorted(c['id'] for c in api.objects['credentials'])
    for name, template in templates.items():
        # every playbook a template names is in the project skeleton operators copy
        assert os.path.isfile(os.path.join(paths.REPO, 'examples', 'awx', template['playbook'])), (name, template)
        assert (template['project'], template['inventory']) == (project['id'], inventory['id'])
        assert sorted(api.associated('job_templates', template['id'], 'credentials')) == credentials, name
        assert template['allow_simultaneous'] is False
        extra = template.get('extra_vars') or {}
        extra = json.loads(extra) if isinstance(extra, str) and extra else extra or {}
        if name.startswith('backup '):
            assert template['playbook'] == 'backup.yml' and extra == {'backup_kind': name.split()[1]}, template
    assert templates['deploy']['ask_variables_on_launch'] is True

    schedules = dict((s['name'][len(PREFIX):], s) for s in api.objects['schedules'])
    assert sorted(schedules) == sorted(['backup ' + kind for kind in kinds] + ['health'])
    monday = datetime.datetime(2026, 3, 2, 0, 0)  # a Monday, 00:00
    for job in table['dbops_backup_schedule'] + [dict(table['dbops_health_schedule'], kind=None)]:
        name = 'backup %s' % job['kind'] if job['kind'] else 'health'
        schedule = schedules[name]
        assert schedule['unified_job_template'] == templates[name]['id'], name
        fired = first_run_after(schedule['rrule'], monday)
        assert (fired.hour, fired.minute) == (int(job['hour']), int(job['minute'])), (name, schedule['rrule'])
        if job['weekday'] != '*':  # cron's weekday 0 is Sunday, Python's 6
            assert fired.isoweekday() % 7 == int(job['weekday']), (name, schedule['rrule'])
        else:
            assert fired.date() == monday.date(), (name, schedule['rrule'])

    written = len(api.writes())
    code, out = play(url, **settings)
    assert code == 0 and ' changed=0 ' in out, out[-3000:]
    assert len(api.writes()) == written, api.writes()[written:]
    # someone moves the daily backup in the UI: --check names it and writes nothing, a run puts it back
    schedules['backup daily']['rrule'] = 'DTSTART;TZID=UTC:20260101T120000 RRULE:FREQ=DAILY;INTERVAL=1'
    code, out = play(url, '--check', **settings)
    assert code == 0 and ' changed=1 ' in out, out[-3000:]
    assert len(api.writes()) == written
    code, out = play(url, **settings)
    assert code == 0 and ' changed=1 ' in out, out[-3000:]
    assert [w[0] for w in api.writes()[written:]] == ['PATCH']
    assert first_run_after(schedules['backup daily']['rrule'], monday).hour == 3


def test_without_a_project_repository_it_is_refused_and_nothing_is_made(awx):
    api, url = awx
    code, out = play(url)
    assert code != 0 and 'Set awx_project_scm_url' in out, out[-3000:]
    assert not api.writes()
