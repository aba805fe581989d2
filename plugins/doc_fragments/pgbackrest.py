# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # How to reach pgBackRest, shared by every module that reads or drives it.
    DOCUMENTATION = r'''
options:
  pgbackrest:
    description:
      - The pgBackRest stanza to use (set up by the C(defneqr.dbops.wal_archive) role).
    type: dict
    suboptions:
      stanza:
        description: Stanza name (letters, digits, C(_) and C(-)).
        type: str
        required: true
      config:
        description: pgBackRest configuration file. Default is pgBackRest's own (C(/etc/pgbackrest/pgbackrest.conf)).
        type: path
      os_user:
        description:
          - OS account to run C(pgbackrest) as, the one that owns the data folder (Debian C(postgres)).
            Empty runs it as the connecting account. Another account needs root.
        type: str
        default: ''
      binary:
        description: The C(pgbackrest) program, by name on C(PATH) or by absolute path.
        type: path
        default: pgbackrest
'''
