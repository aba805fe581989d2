"""The way AWX runs the collection: ansible-runner with a private data dir; and the execution environment."""
import json
import os
import shutil
import subprocess
import sys

import ansible_runner
import pytest

import paths

sys.path.insert(0, os.path.join(paths.REPO, 'examples', 'demo'))
import run_demo  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order


def test_execution_environment_definition_builds_its_context(tmp_path):
    shutil.copy(os.path.join(paths.REPO, 'execution-environment.yml'), str(tmp_path))
    shutil.copytree(os.path.join(paths.REPO, 'meta'), str(tmp_path / 'meta'))
    builder = os.path.join(os.path.dirname(sys.executable), 'ansible-builder')
    done = subprocess.run([builder, 'create', '--file', 'execution-environment.yml'], cwd=str(tmp_path),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    containerfile = (tmp_path / 'context' / 'Dockerfile').read_text()
    assert 'ansible-core>=2.16,<2.20' in containerfile or 'ansible-core' in containerfile
    bindep = (tmp_path / 'context' / '_build' / 'bindep.txt').read_text()
    assert 'postgresql-client' in bindep and 'zstd' in bindep


@pytest.fixture
def world(tmp_path):
    demo = run_demo.Demo(str(tmp_path / 'w'), scale=0.1, monitor_seconds=2)
    yield demo
    demo.stop()


def test_ansible_runner_runs_the_deploy_from_a_private_data_dir(world, tmp_path):
    world.prepare(quiet=True)
    world.start_previous_release(quiet=True)
    data = tmp_path / 'runner'
    (data / 'inventory').mkdir(parents=True)
    (data / 'env').mkdir()
    shutil.copytree(os.path.join(paths.REPO, 'playbooks'), str(data / 'project'))
    shutil.copy(world.inventory, str(data / 'inventory' / 'hosts.json'))
    (data / 'env' / 'envvars').write_text(json.dumps(dict(
        ANSIBLE_COLLECTIONS_PATH=paths.collections_root(),
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])))
    extravars = dict(deploy_release_id='1.4.0', deploy_release_archive=world.archives['new'],
                     deploy_monitor_seconds=2, deploy_report_dir=str(tmp_path / 'reports'))
    run = ansible_runner.run(private_data_dir=str(data), playbook='deploy.yml', extravars=extravars, quiet=True)
    if run.status != 'successful':
        with open(world.cluster.log_file, encoding='utf-8', errors='replace') as stream:
            server_log = stream.read()[-3000:]
        raise AssertionError('%s\n--- PostgreSQL log ---\n%s' % (run.stdout.read()[-3000:], server_log))
    assert run.rc == 0
    assert run.stats['failures'] == {}
    artifacts = os.listdir(str(data / 'artifacts'))
    assert len(artifacts) == 1 and os.path.isfile(str(data / 'artifacts' / artifacts[0] / 'status'))
    reports = os.listdir(str(tmp_path / 'reports'))
    with open(str(tmp_path / 'reports' / reports[0] / 'report.json'), encoding='utf-8') as stream:
        assert json.load(stream)['outcome'] == 'deployed'
    secret = world.params['login_password']
    events = ''.join(open(os.path.join(root, name), encoding='utf-8').read()
                     for root, _dirs, files in os.walk(str(data / 'artifacts')) for name in files
                     if name.endswith('.json') and 'job_events' in root)
    assert secret not in events, 'the database password leaked into the job events'
