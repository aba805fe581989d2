"""The built collection tarball installs, and ansible-doc shows its modules."""
import glob
import os
import subprocess
import sys

import paths

BIN = os.path.dirname(sys.executable)


def test_galaxy_build_install_and_ansible_doc(tmp_path):
    built = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path',
                            str(tmp_path), paths.REPO], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    tarball = glob.glob(str(tmp_path / 'defneqr-dbops-*.tar.gz'))
    assert len(tarball) == 1
    listing = subprocess.run(['tar', '-tzf', tarball[0]], capture_output=True, text=True, check=True).stdout
    assert 'plugins/modules/prisma_migrate.py' in listing
    assert 'node_modules' not in listing and '.venv' not in listing
    # what users need, not the lab: playbooks (recover.yml too) and the inventory example, no bench or demo
    assert 'playbooks/recover.yml' in listing and 'examples/inventory/' in listing
    assert not [line for line in listing.splitlines() if line.startswith(('bench/', 'tools/', 'examples/defneqr'))]
    target = tmp_path / 'collections'
    installed = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '-p', str(target),
                                tarball[0]], capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target))
    for module in sorted(name[:-3] for name in os.listdir(os.path.join(paths.REPO, 'plugins', 'modules'))
                         if name.endswith('.py')):
        doc = subprocess.run([os.path.join(BIN, 'ansible-doc'), 'defneqr.dbops.%s' % module], capture_output=True,
                             text=True, env=env, check=False)
        assert doc.returncode == 0, (module, doc.stderr)
        assert str(target) in doc.stdout  # shown from the installed copy, not the checkout
        if module.startswith('prisma_migrate'):
            assert 'login_password' in doc.stdout  # from the shared doc fragment
    lookup = subprocess.run([os.path.join(BIN, 'ansible-doc'), '-t', 'lookup', 'defneqr.dbops.controller'],
                            capture_output=True, text=True, env=env, check=False)
    assert lookup.returncode == 0 and 'recorded' in lookup.stdout, lookup.stderr
    # a playbook run by its FQCN from the installed copy finds its shared vars file (vars/connection.yml)
    inventory = tmp_path / 'hosts.ini'
    python = sys.executable
    inventory.write_text('[db]\ndb1 ansible_connection=local ansible_python_interpreter=%s\n'
                         '[app]\napp1 ansible_connection=local ansible_python_interpreter=%s\n' % (python, python))
    recover = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', str(inventory), 'defneqr.dbops.recover',
                              '-e', 'dbops_backup_dest=%s' % (tmp_path / 'backups')],
                             capture_output=True, text=True, env=env, check=False)
    assert recover.returncode == 0, recover.stdout + recover.stderr
    assert 'nothing to recover' in recover.stdout
