"""Put the offline get-pip stand-in where ansible-test looks for its cached bootstrap script."""
import os
import re
import shutil
import sys

import ansible_test

source = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
with open(source, encoding='utf-8') as stream:
    version = re.search(r"pip='([0-9.]+)'", stream.read()).group(1)
target = os.path.expanduser('~/.ansible/test/cache/get_pip_%s.py' % version.replace('.', '_'))
os.makedirs(os.path.dirname(target), exist_ok=True)
shutil.copyfile(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'get_pip_offline.py'), target)
print('ansible-test pip %s bootstrap -> %s' % (version, target), file=sys.stderr)
