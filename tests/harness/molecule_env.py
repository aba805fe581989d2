"""The db1/app1/app2 hosts of the molecule scenarios, made and removed by their create/destroy playbooks.

`create WORK_DIR INVENTORY_FILE`: a throwaway PostgreSQL holding the Defne Qr database at migration 11
with a little example data, the release archives (1.3.0 with migrations 1-11, 1.4.0 with 1-14), and an
inventory file (0600: it holds the passwords) that the scenario's own inventory folder picks up.
`destroy WORK_DIR [INVENTORY_FILE]`: every pm2 daemon and the PostgreSQL are stopped, the folder and
the inventory file are removed.
"""
import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'examples', 'demo'))

import apphost  # noqa: E402  pylint: disable=wrong-import-position
import pgcluster  # noqa: E402  pylint: disable=wrong-import-position
import run_demo  # noqa: E402  pylint: disable=wrong-import-position

STATE = 'molecule-env.json'


def create(work_dir, inventory_file, scale):
    demo = run_demo.Demo(work_dir, scale, monitor_seconds=3)
    demo.prepare(quiet=True)
    with open(demo.inventory, encoding='utf-8') as stream:
        inventory = json.load(stream)
    inventory['all']['vars'].update(molecule_release_archives=demo.archives,
                                    molecule_runbook_indexes=run_demo.runbook_indexes())
    pgcluster.write_private(inventory_file, json.dumps(inventory, indent=2))
    state = dict(cluster=demo.cluster.describe(),
                 hosts=[dict(name=host.name, base_dir=host.base_dir, port=host.port) for host in demo.hosts])
    pgcluster.write_private(os.path.join(work_dir, STATE), json.dumps(state))


def destroy(work_dir, inventory_file=None):
    path = os.path.join(work_dir, STATE)
    if os.path.exists(path):
        with open(path, encoding='utf-8') as stream:
            state = json.load(stream)
        for host in state['hosts']:
            apphost.AppHost(host['base_dir'], host['port'], name=host['name']).kill()
        pgcluster.Cluster.from_description(state['cluster']).stop()
    shutil.rmtree(work_dir, ignore_errors=True)
    if inventory_file and os.path.exists(inventory_file):
        os.unlink(inventory_file)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('action', choices=['create', 'destroy'])
    parser.add_argument('work_dir')
    parser.add_argument('inventory_file', nargs='?')
    parser.add_argument('--scale', type=float, default=0.05)
    args = parser.parse_args(argv)
    if args.action == 'create':
        if not args.inventory_file:
            parser.error('create needs INVENTORY_FILE')
        create(args.work_dir, args.inventory_file, args.scale)
    else:
        destroy(args.work_dir, args.inventory_file)
    return 0


if __name__ == '__main__':
    sys.exit(main())
