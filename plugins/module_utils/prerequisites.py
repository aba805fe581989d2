# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host needs before a run changes anything there: Python libraries, programs, folders the
account can write, and sudo where become is asked. Every problem names its fix, and all of a
host's problems are reported at once (an operator fixes them in one go, not one per run)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import grp
import importlib
import os
import pwd
import shutil
import stat
import sys

from ansible_collections.defneqr.dbops.plugins.module_utils import postgres, programs


def python_library_problem(name, package):
    try:
        importlib.import_module(name)
    except ImportError as err:
        return ('the Python library %s is missing for %s (%s): install it for that interpreter (on Debian and '
                'Ubuntu: apt-get install %s; Debian\'s pip refuses system-wide installs), or point '
                'ansible_python_interpreter at a Python that has it' % (name, sys.executable, err, package))
    return ''


def program_problem(program):
    """A program by absolute path (must be executable) or by name (on PATH, or in pg_bin_dir for PostgreSQL's)."""
    name, path = program['name'], program.get('path') or ''
    if os.path.isabs(path):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return ''
        state = 'missing' if not os.path.exists(path) else 'not executable'
        return '%s is not an executable file (%s)%s' % (path, state, _fix(program))
    try:
        if program.get('postgresql'):
            postgres.find_program(name, program.get('pg_bin_dir') or None)
        else:
            postgres.find_program_on_path(path or name, program.get('fix') or '')
    except postgres.PgError as err:
        return '%s%s' % (err, ' (%s)' % program['variable'] if program.get('variable') else '')
    return ''


def _fix(program):
    parts = [part for part in (program.get('fix'), 'or set %s' % program['variable'] if program.get('variable') else '')
             if part]
    return ': %s' % ', '.join(parts) if parts else ''


def nearest_existing(path):
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def describe_owner(path):
    info = os.stat(path)
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return '%s:%s %04o' % (owner, group, stat.S_IMODE(info.st_mode))


def folder_problem(folder, user=None):
    """Whether the account can write `folder`, or create it (every missing part under a folder it can write)."""
    user = user or getpass.getuser()
    path, purpose, variable = folder['path'], folder.get('purpose') or 'folder', folder.get('variable') or ''
    existing = nearest_existing(path)
    if existing == os.path.abspath(path) and not os.path.isdir(path):
        return 'the %s %s is not a folder%s' % (purpose, path, ': set %s to a folder' % variable if variable else '')
    if os.access(existing, os.W_OK | os.X_OK) and os.path.isdir(existing):
        return ''
    where = ('it does not exist and %s (%s) cannot be written' % (existing, describe_owner(existing))
             if existing != os.path.abspath(path) else 'it is %s' % describe_owner(existing))
    fixes = ['create it for the account (as root: install -d -o %s -m 0700 %s)' % (user, path)]
    if variable:
        fixes.append('set %s to a folder %s can write' % (variable, user))
    fixes.append('or run with become')
    return 'the %s %s cannot be written by %s: %s. Fix: %s' % (purpose, path, user, where, ', '.join(fixes))


def sudo_problem():
    """become is asked: sudo must be there. A password it asks for may come with --ask-become-pass (-K),
    so only a missing sudo is a problem; a password prompt is a note."""
    if os.geteuid() == 0:
        return '', ''
    if not shutil.which('sudo'):
        return ('become is asked but sudo is not installed on this host: install it (apt-get install sudo) and give '
                '%s the right to use it, or run without become on paths the account owns' % getpass.getuser()), ''
    done = programs.run(['sudo', '-n', 'true'], check=False)
    if done.returncode == 0:
        return '', ''
    return '', ('sudo asks %s for a password (sudo -n true: %s): give it with --ask-become-pass (-K), or grant '
                'NOPASSWD sudo' % (getpass.getuser(), done.stderr.decode(errors='replace').strip().splitlines()[-1:]))


def check(python_libraries=(), programs=(), folders=(), become=False):
    """(the problems, the notes, what was checked) of one host."""
    checked, problems, notes = [], [], []

    def record(kind, what, problem):
        checked.append(dict(check=kind, what=what, ok=not problem))
        if problem:
            problems.append(problem)

    for library in python_libraries:
        record('python_library', library['name'], python_library_problem(library['name'], library.get('package') or
                                                                         'python3-%s' % library['name']))
    for program in programs:
        record('program', program.get('path') or program['name'], program_problem(program))
    for folder in folders:
        record('writable_folder', folder['path'], folder_problem(folder))
    if become:
        problem, note = sudo_problem()
        record('sudo', 'sudo', problem)
        if note:
            notes.append(note)
    return problems, notes, checked
