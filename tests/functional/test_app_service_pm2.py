"""The app_service role's pm2 stop against the real pm2: a release in a crash loop."""
import json
import os
import subprocess
import sys
import time

import pytest

import apphost
import paths
import pgcluster

PLAYBOOK = '''
- name: Stop the backend
  hosts: app1
  gather_facts: false
  tasks:
    - name: Stop it
      ansible.builtin.include_role:
        name: defneqr.dbops.app_service
      vars:
        app_service_action: stop
'''

# the example's pm2 definition (wait_ready, restart_delay 1 s, or pm2's default of none), for a release
# that takes 4 s to crash
ECOSYSTEM = '''
const app = Object.assign({}, require(%s).apps[0], {script: 'crashes_slowly.js', cwd: __dirname});
if (%s) delete app.restart_delay;
module.exports = {apps: [app]};
'''
CRASHES_SLOWLY = "setTimeout(() => { console.error('FATAL: cannot start'); process.exit(1); }, 4000);\n"


@pytest.mark.parametrize('restart_delay', ['1 s', 'none'])
def test_a_crash_loop_stopped_while_it_starts_is_not_relaunched_by_pm2_afterwards(tmp_path, restart_delay):
    """pm2 takes the exit of a try killed before it reports ready for a crash and schedules a restart; after a
    delete that restart came back restart_delay later under the same name (CI: a step 6 rollback whose start
    found it, restarted it and reported a crash). Without the role's second stop this fails on every attempt.
    With no restart_delay every stop lands in a try, until pm2 gives up on the process (max_restarts)."""
    host = apphost.AppHost(str(tmp_path / 'app1'), pgcluster.free_port(), name='app1')
    release = tmp_path / 'root' / 'releases' / 'crashes'
    release.mkdir(parents=True)
    (release / 'ecosystem.config.js').write_text(
        ECOSYSTEM % (json.dumps(os.path.join(paths.BACKEND, 'ecosystem.config.js')), json.dumps(restart_delay == 'none')),
        encoding='utf-8')
    (release / 'crashes_slowly.js').write_text(CRASHES_SLOWLY, encoding='utf-8')
    os.symlink(str(release), str(tmp_path / 'root' / 'current'))
    variables = dict(ansible_connection='local', ansible_python_interpreter=sys.executable,
                     app_root=str(tmp_path / 'root'), app_port=host.port, app_pm2_bin=apphost.PM2,
                     app_pm2_home=host.pm2_home, app_log_dir=host.log_dir, app_env_file=host.env_file)
    inventory = tmp_path / 'inventory.json'
    inventory.write_text(json.dumps(dict(all=dict(hosts=dict(app1=variables)))), encoding='utf-8')
    playbook = tmp_path / 'stop.yml'
    playbook.write_text(PLAYBOOK, encoding='utf-8')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=paths.collections_root(), ANSIBLE_LOCALHOST_WARNING='false')
    try:
        for attempt in range(2):
            # returns at the first crash; pm2 tries again (1 s later, or at once), and the stop comes during that try
            host.pm2('start', str(release / 'ecosystem.config.js'))
            done = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i',
                                   str(inventory), str(playbook)], env=env, capture_output=True, text=True,
                                  check=False, timeout=120)
            assert done.returncode == 0, done.stdout[-3000:]
            # nor a try that pm2 forgot while it ran (a delete that removed the relaunch's entry)
            tries = subprocess.run(['pgrep', '-f', str(release / 'crashes_slowly.js')], capture_output=True, check=False)
            assert tries.returncode == 1, 'attempt %d: a try runs on: %s' % (attempt, tries.stdout)
            time.sleep(2.5)  # past restart_delay: a relaunch scheduled before the delete has come by now
            named = [p['pm2_env']['status'] for p in host.processes() if p['name'] == apphost.APP_NAME]
            assert not named, 'attempt %d: pm2 lists %s again after the stop: %s\n%s' % (
                attempt, apphost.APP_NAME, named, done.stdout[-3000:])
    finally:
        host.kill()
