"""Offline stand-in for the get-pip script that ansible-test downloads to bootstrap its venvs.

ansible-test runs `python get_pip.py <pip options> pip==X setuptools wheel ...` inside a fresh
venv; the real script comes from a host that is unreachable here. ensurepip gives the venv a
pip, which then installs what was asked for from the package index.
"""
import subprocess
import sys

DROPPED = {'--no-setuptools', '--no-wheel'}

subprocess.run([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'], check=True)
arguments = [arg for arg in sys.argv[1:] if arg not in DROPPED]
sys.exit(subprocess.run([sys.executable, '-m', 'pip', 'install'] + arguments, check=False).returncode)
