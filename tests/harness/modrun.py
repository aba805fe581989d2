"""Run a collection module as Ansible runs it: a child process reading ANSIBLE_MODULE_ARGS.

The arguments go through a 0600 file, never argv. Returns the module's JSON result.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

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
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            child = subprocess.Popen(  # pylint: disable=consider-using-with
                [sys.executable, '-m', 'ansible_collections.defneqr.dbops.plugins.modules.%s' % name, args_file],
                stdout=out, stderr=err, env=child_env)
            watchdog = threading.Timer(600, child.kill)
            watchdog.start()
            own_peak_kb, status, usage = _wait_measuring(child.pid)
            watchdog.cancel()
            child.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode('utf-8', 'replace'), err.read().decode('utf-8', 'replace')
    finally:
        os.unlink(args_file)
    try:
        result = json.loads(stdout)
    except ValueError:
        raise AssertionError('module %s printed no JSON (exit %d):\n%s\n%s' % (name, child.returncode, stdout, stderr))
    result['_stdout'] = stdout
    # benchmarks report both: the module's Python process, and the largest process of its tree (pg_dump, zstd)
    result['_peak_rss_kb'] = own_peak_kb
    result['_tree_peak_rss_kb'] = usage.ru_maxrss
    return result


def _wait_measuring(pid):
    """Wait for the child; return (its own peak RSS in kB from /proc VmHWM, exit status, rusage of its tree)."""
    peak = 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return peak, status, usage
        try:
            with open('/proc/%d/status' % pid, encoding='ascii') as stream:
                for line in stream:
                    if line.startswith('VmHWM:'):
                        peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
