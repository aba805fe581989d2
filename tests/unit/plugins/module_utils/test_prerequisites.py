"""Host prerequisites: every problem found at once, each naming its fix."""
import os
import sys

from ansible_collections.defneqr.dbops.plugins.module_utils import prerequisites


def test_every_problem_of_a_host_is_reported_at_once_with_its_fix(tmp_path):
    a_file = tmp_path / 'not-a-folder'
    a_file.write_text('x')
    problems, notes, checked = prerequisites.check(
        python_libraries=[dict(name='dbops_no_such_library', package='python3-dbops-no-such')],
        programs=[dict(name='pm2', path='/nonexistent/pm2', fix='install pm2 (npm install -g pm2)', variable='app_pm2_bin'),
                  dict(name='pg_dump', postgresql=True, pg_bin_dir=str(tmp_path), variable='dbops_pg_bin_dir'),
                  dict(name='dbops-no-such-program', fix='install it')],
        folders=[dict(path=str(a_file), purpose='backup folder', variable='dbops_backup_dest'),
                 dict(path=str(tmp_path / 'new' / 'deeper'), purpose='log folder')])
    assert len(problems) == 5, problems
    assert 'dbops_no_such_library' in problems[0] and 'apt-get install python3-dbops-no-such' in problems[0]
    assert sys.executable in problems[0]
    assert problems[1].startswith('/nonexistent/pm2 is not an executable file (missing): install pm2')
    assert 'or set app_pm2_bin' in problems[1]
    assert 'pg_dump was not found in pg_bin_dir=%s' % tmp_path in problems[2] and '(dbops_pg_bin_dir)' in problems[2]
    assert problems[3] == 'dbops-no-such-program was not found on PATH. install it'
    assert problems[4] == 'the backup folder %s is not a folder: set dbops_backup_dest to a folder' % a_file
    # a folder that does not exist yet under a writable one can be created: no problem
    assert [c['ok'] for c in checked] == [False, False, False, False, False, True]
    assert notes == []
    assert not os.path.exists(tmp_path / 'new'), 'the check created a folder'


def test_a_host_with_everything_passes(tmp_path):
    program = tmp_path / 'pm2'
    program.write_text('#!/bin/sh\n')
    program.chmod(0o755)
    problems, _notes, checked = prerequisites.check(
        python_libraries=[dict(name='json')], programs=[dict(name='pm2', path=str(program)), dict(name='sh')],
        folders=[dict(path=str(tmp_path))])
    assert problems == [] and all(c['ok'] for c in checked) and len(checked) == 4
