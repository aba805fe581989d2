# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # What every module of the collection shares: full check mode, no diff unless the module says so, POSIX hosts,
    # the authors. Ansible merges attributes key by key, so a module adds its own details or overrides one.
    DOCUMENTATION = r'''
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - Defne Qr operations team (@defneqr)
'''
