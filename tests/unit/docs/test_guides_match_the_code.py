"""Every variable and playbook the guides name exists in the collection: docs that match the code."""
import glob
import os
import re

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
GUIDES = sorted(glob.glob(os.path.join(REPO, 'docs', '*.md')) + [os.path.join(REPO, 'README.md')]
                + glob.glob(os.path.join(REPO, 'roles', '*', 'README.md')))
PREFIXES = ('dbops', 'deploy', 'backup', 'app', 'rollback', 'recover', 'health_report', 'wal_archive', 'restore',
            'release')
NAMED_VARIABLE = re.compile(r'`(?:-e )?((?:%s)_[a-z0-9_]+)(?:[=:][^`]*)?`' % '|'.join(PREFIXES))
NAMED_PLAYBOOK = re.compile(r'(?:playbooks/|defneqr\.dbops\.)([a-z_]+)(\.yml)?\b(?!/)')


def _code_text():
    """The YAML and Python of the roles, playbooks, inventory example and plugins, as one text."""
    paths = [p for pattern in ('roles/**/*.yml', 'roles/**/*.j2', 'playbooks/**/*.yml', 'examples/inventory/**/*',
                               'plugins/**/*.py')
             for p in glob.glob(os.path.join(REPO, pattern), recursive=True) if os.path.isfile(p)]
    texts = []
    for path in paths:
        with open(path, encoding='utf-8') as stream:
            texts.append(stream.read())
    return '\n'.join(texts)


def _role_options():
    names = set()
    for spec in glob.glob(os.path.join(REPO, 'roles', '*', 'meta', 'argument_specs.yml')):
        with open(spec, encoding='utf-8') as stream:
            for entry in yaml.safe_load(stream)['argument_specs'].values():
                names.update(entry.get('options') or {})
    return names


CODE = _code_text()
OPTIONS = _role_options()
ROLES = set(os.listdir(os.path.join(REPO, 'roles')))
MODULES = set(name[:-3] for name in os.listdir(os.path.join(REPO, 'plugins', 'modules')) if name.endswith('.py'))
with open(os.path.join(REPO, 'meta', 'runtime.yml'), encoding='utf-8') as _runtime:
    ACTION_GROUPS = set(yaml.safe_load(_runtime).get('action_groups') or {})
LOOKUPS = set(name[:-3] for name in os.listdir(os.path.join(REPO, 'plugins', 'lookup')) if name.endswith('.py'))
PLAYBOOKS = set(name[:-4] for name in os.listdir(os.path.join(REPO, 'playbooks')) if name.endswith('.yml'))


def _named(pattern):
    found = []
    for guide in GUIDES:
        with open(guide, encoding='utf-8') as stream:
            for number, line in enumerate(stream, 1):
                found.extend((os.path.relpath(guide, REPO), number, match) for match in pattern.findall(line))
    return found


def test_the_guides_name_variables():
    assert len(_named(NAMED_VARIABLE)) > 50  # the pattern reads the guides at all


@pytest.mark.parametrize('guide, line, name', _named(NAMED_VARIABLE))
def test_every_variable_a_guide_names_is_read_by_the_code(guide, line, name):
    if name in ROLES:  # a role named in backticks (`app_service`)
        return
    assert name in OPTIONS or re.search(r'\b%s\b' % re.escape(name), CODE), (
        '%s line %d names %s, which no role, playbook or plugin reads' % (guide, line, name))


@pytest.mark.parametrize('guide, line, found', _named(NAMED_PLAYBOOK))
def test_every_playbook_a_guide_names_exists(guide, line, found):
    name, suffix = found
    if suffix or name in PLAYBOOKS:
        assert name in PLAYBOOKS, '%s line %d names playbook %s, which does not exist' % (guide, line, name)
    else:  # defneqr.dbops.<module or role>
        assert name in MODULES | ROLES | ACTION_GROUPS | LOOKUPS, '%s line %d names defneqr.dbops.%s, which does not exist' % (guide, line, name)
