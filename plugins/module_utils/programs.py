# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way a module starts a program.

A command line is built from a declared table of the program's options (`Program`), never from strings; no shell;
passwords reach programs through the environment or a nameless passfile (postgres.client_environment), never argv.
Every command started is kept, secrets masked, so that a module's result can say what it ran (`ran()`, returned
as ``commands``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import re
import subprocess

from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError

# what may carry a secret in an argument: a conninfo or URL password, a --password=... option
_SECRET = re.compile(r'(password=|://[^:/@\s]+:)[^\s@&]+', re.IGNORECASE)
_ran = []


class ProgramError(DbopsError):
    """A program failed or could not start; the message names it, its exit code and its stderr."""


class Program:
    """A program's command line from a declared table.

    `fixed` arguments come first, then each option that is given, in the table's order (a form with `{}` takes the
    value, a pair of forms makes two arguments; a True value writes a flag alone; None, False or '' leaves the
    option out), then the operands.
    """

    def __init__(self, name, fixed=(), options=()):
        self.name = name
        self.fixed = tuple(fixed)
        self.options = tuple(options)
        self._forms = dict(self.options)

    def argv(self, path=None, *operands, **values):
        unknown = sorted(set(values) - set(self._forms))
        if unknown:
            raise ValueError('%s has no option %s' % (self.name, ', '.join(unknown)))
        argv = [path or self.name] + list(self.fixed)
        for option, form in self.options:
            value = values.get(option)
            if value is None or value is False or value == '':
                continue
            forms = form if isinstance(form, tuple) else (form,)
            argv.extend(part if value is True else part.format(value) for part in forms)
        return argv + [str(operand) for operand in operands]


def shown(argv):
    """argv as a result may show it: any password masked."""
    return [_SECRET.sub(lambda match: match.group(1) + '********', str(arg)) for arg in argv]


def ran():
    """The commands started so far by this module run, secrets masked, in order."""
    return [list(command) for command in _ran]


def passed_fds(env):
    """The descriptors a child needs from its environment: a nameless passfile handed over as /dev/fd/N."""
    passfile = (env or {}).get('PGPASSFILE', '')
    return (int(passfile[len('/dev/fd/'):]),) if passfile.startswith('/dev/fd/') else ()


def account_of(user):
    """The passwd entry of another OS account to act as, or None for the current one (or none given)."""
    if not user:
        return None
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise ProgramError('The OS account %r does not exist on this host. Set it to the account that runs '
                           'PostgreSQL (Debian: postgres).' % user)
    return None if account.pw_uid == os.geteuid() else account


def os_account(user):
    """subprocess keywords that run a program as the OS account `user` (the one owning the data folder).

    Empty or the current account: nothing to change. Another account needs root, as `become_user` would."""
    account = account_of(user)
    if account is None:
        return {}
    if os.geteuid() != 0:
        raise ProgramError('Running as the OS account %s needs root: connect as root or with become, or leave the '
                           'account option empty and become %s yourself.' % (user, user))

    def become():
        os.setgroups([])
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)
    return dict(preexec_fn=become)


def failure(argv, code, stderr):
    text = stderr.decode('utf-8', 'replace') if isinstance(stderr, bytes) else (stderr or '')
    return ProgramError('%s failed (exit %d): %s' % (os.path.basename(argv[0]), code, text.strip()))


def run(argv, env=None, stdin=None, stdout=None, timeout=None, user=None, cwd=None, check=True):
    """Run a program to its end (stdout and stderr captured unless stdout is given) and return the
    CompletedProcess; ProgramError when it cannot start, times out, or (with check) exits non-zero."""
    _ran.append(shown(argv))
    try:
        completed = subprocess.run(argv, env=env, stdin=stdin, stdout=subprocess.PIPE if stdout is None else stdout,
                                   stderr=subprocess.PIPE, timeout=timeout, cwd=cwd, check=False,
                                   pass_fds=passed_fds(env), **os_account(user))
    except OSError as err:
        raise ProgramError('Cannot run %s: %s' % (argv[0], err))
    except subprocess.TimeoutExpired:
        raise ProgramError('%s did not finish within %s seconds.' % (os.path.basename(argv[0]), timeout))
    if check and completed.returncode != 0:
        raise failure(argv, completed.returncode, completed.stderr)
    return completed


def start(argv, env=None, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
    """Start a program of a pipe (the caller waits for it and checks its exit status)."""
    _ran.append(shown(argv))
    try:
        return subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout, stderr=stderr, close_fds=True,
                                pass_fds=passed_fds(env))
    except OSError as err:
        raise ProgramError('Cannot run %s: %s' % (argv[0], err))
