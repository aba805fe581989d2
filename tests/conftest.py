"""Shared pytest set-up: make the collection importable as ansible_collections.defneqr.dbops."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'harness'))

import paths  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, paths.collections_root())
