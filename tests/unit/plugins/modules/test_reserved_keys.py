"""No module documents a result key that Ansible reads as its own (a list under `failed` fails the task)."""
import ast
import os

import pytest
import yaml

MODULES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'modules')
RESERVED = {'failed', 'changed', 'skipped', 'rc', 'unreachable', 'msg', 'exception', 'warnings', 'deprecations',
            'invocation', 'results', 'stdout', 'stderr'}


def _returns(path):
    with open(path, encoding='utf-8') as stream:
        tree = ast.parse(stream.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == 'RETURN':
            return yaml.safe_load(node.value.value) or {}
    raise AssertionError('%s has no RETURN' % path)


@pytest.mark.parametrize('name', sorted(n for n in os.listdir(MODULES) if n.endswith('.py')))
def test_no_module_returns_a_reserved_key(name):
    keys = set(_returns(os.path.join(MODULES, name)))
    assert not keys & RESERVED, '%s returns %s' % (name, sorted(keys & RESERVED))
    assert not [k for k in keys if k.startswith('ansible_')], name
