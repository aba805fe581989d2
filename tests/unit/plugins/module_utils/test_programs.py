import subprocess
import sys

import pytest

from ansible_collections.defneqr.dbops.plugins.module_utils import programs

TOOL = programs.Program('tool', fixed=('--quiet',), options=(
    ('format', '--format={}'), ('verbose', '--verbose'), ('name', ('--name', '{}'))))


def test_argv_follows_the_table_not_the_call():
    assert TOOL.argv('/bin/tool', 'a', 'b', name='x y', verbose=True, format='c') == [
        '/bin/tool', '--quiet', '--format=c', '--verbose', '--name', 'x y', 'a', 'b']
    assert TOOL.argv(None, format=None, verbose=False) == ['tool', '--quiet']
    with pytest.raises(ValueError, match='no option shell'):
        TOOL.argv(shell='rm -rf /')


def test_shown_masks_passwords_in_conninfo_and_urls():
    assert programs.shown(['psql', 'host=db1 password=s3cret user=app', 'postgresql://app:s3cret@db1/x',
                           '--password=s3cret']) == [
        'psql', 'host=db1 password=******** user=app', 'postgresql://app:********@db1/x', '--password=********']


def test_every_command_is_kept_and_a_failure_names_the_program():
    before = len(programs.ran())
    done = programs.run([sys.executable, '-c', 'print("ok")'])
    assert done.stdout == b'ok\n'
    with pytest.raises(programs.ProgramError, match=r'python[0-9.]* failed \(exit 3\): boom'):
        programs.run([sys.executable, '-c', 'import sys; sys.stderr.write("boom"); sys.exit(3)'])
    with pytest.raises(programs.ProgramError, match='Cannot run /nonexistent/tool'):
        programs.run(['/nonexistent/tool'])
    proc = programs.start([sys.executable, '-c', 'print(1)'], stderr=subprocess.DEVNULL)
    proc.communicate()
    assert [command[0] for command in programs.ran()[before:]] == [sys.executable] * 2 + ['/nonexistent/tool', sys.executable]
