"""Hosts reached as operators reach them: sshd on a loopback port, one Unix account per host.

The lab needs root (it creates the accounts and runs sshd) and Debian's openssh-server; the hosts'
Python is Debian's /usr/bin/python3 with python3-psycopg2 and python3-boto3, as docs/hosts.md says.
Nothing of the controller's venv or checkout is visible to the accounts: what a host runs comes
over SSH, except pm2, copied into the lab's world-readable folder (the operator's own pm2 install).
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import paths
import pgcluster

SSHD = '/usr/sbin/sshd'
HOST_PYTHON = '/usr/bin/python3'


def missing_prerequisites():
    """What this machine lacks to run the lab, each with its fix ('' when nothing)."""
    missing = []
    if os.geteuid() != 0:
        missing.append('root (the lab creates Unix accounts and runs sshd)')
    if not os.path.isfile(SSHD):
        missing.append('%s (apt-get install openssh-server)' % SSHD)
    for module, package in (('psycopg2', 'python3-psycopg2'), ('boto3', 'python3-boto3')):
        if subprocess.run([HOST_PYTHON, '-c', 'import %s' % module], capture_output=True, check=False).returncode:
            missing.append('%s for %s (apt-get install %s)' % (module, HOST_PYTHON, package))
    return '; '.join(missing)


def _wait_for_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError('sshd did not listen on 127.0.0.1:%d in %d s' % (port, timeout))


class SshLab:
    """sshd on 127.0.0.1 and the accounts it lets in with the lab's key (and nothing else)."""

    def __init__(self, accounts):
        self.accounts = tuple(accounts)
        self.root = tempfile.mkdtemp(prefix='dbops-ssh-')
        os.chmod(self.root, 0o755)  # the accounts read the lab's pm2 copy
        self.port = None
        self.sshd = None
        self.key = os.path.join(self.root, 'id_ed25519')
        self.known_hosts = os.path.join(self.root, 'known_hosts')
        self.pm2 = None

    def start(self):
        for account in self.accounts:
            self._fresh_account(account)
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', self.key], check=True)
        host_key = os.path.join(self.root, 'host_ed25519')
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', host_key], check=True)
        keys = os.path.join(self.root, 'authorized_keys')
        shutil.copy(self.key + '.pub', keys)
        os.chmod(keys, 0o644)
        self.port = pgcluster.free_port()
        with open(host_key + '.pub', encoding='utf-8') as stream:
            public = stream.read().split()
        with open(self.known_hosts, 'w', encoding='utf-8') as stream:
            stream.write('[127.0.0.1]:%d %s %s\n' % (self.port, public[0], public[1]))
        config = os.path.join(self.root, 'sshd_config')
        with open(config, 'w', encoding='utf-8') as stream:
            stream.write('\n'.join([
                'Port %d' % self.port, 'ListenAddress 127.0.0.1', 'HostKey %s' % host_key,
                'PidFile %s' % os.path.join(self.root, 'sshd.pid'), 'AuthorizedKeysFile %s' % keys,
                # the lab folder lies under the world-writable /tmp, which StrictModes refuses for key files
                'StrictModes no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no',
                'PermitRootLogin no', 'AllowUsers %s' % ' '.join(self.accounts), 'MaxStartups 50',
                'Subsystem sftp /usr/lib/openssh/sftp-server', 'LogLevel ERROR', '']))
        os.makedirs('/run/sshd', mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        self.sshd = subprocess.Popen([SSHD, '-D', '-f', config, '-E', os.path.join(self.root, 'sshd.log')])
        _wait_for_port(self.port)
        self.pm2 = os.path.join(self.root, 'pm2')
        shutil.copytree(os.path.join(paths.REPO, 'tools', 'pm2'), self.pm2, symlinks=True)
        return self

    @staticmethod
    def _fresh_account(account):
        """The account with an empty home (a previous lab's processes and files gone)."""
        try:
            pwd.getpwnam(account)
        except KeyError:
            subprocess.run(['useradd', '--create-home', '--user-group', '--shell', '/bin/sh', account],
                           check=True, capture_output=True)
        # '*': no password, not locked (sshd refuses a locked account even for a key)
        subprocess.run(['usermod', '-p', '*', account], check=True, capture_output=True)
        end_processes(account)
        home = pwd.getpwnam(account).pw_dir
        for name in os.listdir(home):
            if name != '.npm':  # the npm cache only saves downloads
                target = os.path.join(home, name)
                shutil.rmtree(target) if os.path.isdir(target) and not os.path.islink(target) else os.unlink(target)

    def home(self, account):
        return pwd.getpwnam(account).pw_dir

    def host_vars(self, account):
        """Inventory variables that reach `account` over SSH, as an operator's inventory would."""
        return dict(ansible_host='127.0.0.1', ansible_port=self.port, ansible_user=account,
                    ansible_connection='ssh', ansible_ssh_private_key_file=self.key,
                    ansible_ssh_common_args='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes '
                                            '-o IdentitiesOnly=yes' % self.known_hosts,
                    ansible_python_interpreter=HOST_PYTHON)

    def ssh(self, account, command):
        """Run a shell command as `account` over the lab's SSH (what an operator's `ssh host` would do)."""
        return subprocess.run(['ssh', '-i', self.key, '-p', str(self.port), '-o', 'UserKnownHostsFile=' + self.known_hosts,
                               '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
                               '%s@127.0.0.1' % account, command], capture_output=True, text=True, check=False)

    def stop(self):
        for account in self.accounts:
            end_processes(account)
        if self.sshd:
            self.sshd.terminate()
            self.sshd.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def end_processes(account):
    subprocess.run(['pkill', '-KILL', '-u', account], capture_output=True, check=False)
    for _attempt in range(50):
        if subprocess.run(['pgrep', '-u', account], capture_output=True, check=False).returncode:
            return
        time.sleep(0.1)
