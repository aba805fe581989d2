# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The connection options of every defneqr.dbops module, documented once.
    DOCUMENTATION = r'''
options:
  login_host:
    description:
      - Host name or IP address of the PostgreSQL server.
      - Empty means the default unix socket, unless I(login_unix_socket) is set.
    type: str
    default: ''
    aliases: [ host ]
  login_port:
    description:
      - TCP port of the server (also the number in the unix socket's file name).
    type: int
    default: 5432
    aliases: [ port ]
  login_user:
    description:
      - Role to connect as.
    type: str
    default: postgres
    aliases: [ login ]
  login_password:
    description:
      - Password of I(login_user).
      - It never appears in an argument vector, a result or a log. Client programs receive it
        through a temporary C(.pgpass) file with mode 0600 that is removed when they finish.
    type: str
    default: ''
  login_unix_socket:
    description:
      - Folder of the server's unix socket. Takes precedence over I(login_host).
    type: str
    default: ''
  login_db:
    description:
      - Database to connect to.
    type: str
    default: ''
    aliases: [ db ]
  ssl_mode:
    description:
      - libpq's C(sslmode) for the connection.
    type: str
    default: prefer
    choices: [ allow, disable, prefer, require, verify-ca, verify-full ]
  ca_cert:
    description:
      - File of certificate authorities that signed the server's certificate (libpq's C(sslrootcert)).
    type: path
    aliases: [ ssl_rootcert ]
  connect_timeout:
    description:
      - Seconds to wait for a connection before giving up.
    type: int
    default: 10
  pg_bin_dir:
    description:
      - Folder of the PostgreSQL client programs (C(pg_dump), C(pg_restore), C(psql)).
      - Default is to search C(PATH). The programs must be of the server's major version or newer;
        an older C(pg_dump) is refused before anything starts.
    type: path
requirements:
  - psycopg2 (C(psycopg2-binary)) on the host that runs the module
notes:
  - Set these options once for all modules of the collection with
    C(module_defaults) and the action group C(group/defneqr.dbops.postgres).
'''
