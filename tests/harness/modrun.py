"""Run a collection module as Ansible runs it: a child process reading ANSIBLE_MODULE_ARGS.

The arguments go through a 0600 file, never argv. Returns the module's JSON result.
"""
import json
import os
import subprocess
import sys
import tempfile

import paths


def run_module(name, args, check_mode=False, diff=False, env=None):
    payload = dict(args)
    payload.update(_ansible_check_mode=check_mode, _ansible_diff=diff, _ansible_remote_tmp=tempfile.gettempdir(),
                   _ansible_keep_remote_files=False)
    handle, args_file = tempfile.mkstemp(prefix='dbops-args-', suffix='.json')
    try:
        with os.fdopen(handle, 'w') as stream:
            json.dump({'ANSIBLE_MODULE_ARGS': payload}, stream)
        child_env = dict(os.environ, PYTHONPATH=paths.collections_root())
        child_env.update(env or {})
        completed = subprocess.run(
            [sys.executable, '-m', 'ansible_collections.defneqr.dbops.plugins.modules.%s' % name, args_file],
            capture_output=True, text=True, env=child_env, timeout=600, check=False)
    finally:
        os.unlink(args_file)
    try:
        result = json.loads(completed.stdout)
    except ValueError:
        raise AssertionError('module %s printed no JSON (exit %d):\n%s\n%s'
                             % (name, completed.returncode, completed.stdout, completed.stderr))
    result['_stdout'] = completed.stdout
    return result
