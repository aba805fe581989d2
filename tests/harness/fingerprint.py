"""Per-table data fingerprints: equal fingerprints mean identical rows (compared in id order)."""
import paths

paths.collections_root()
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres  # noqa: E402  pylint: disable=wrong-import-position


def table_fingerprint(conn, table):
    """Row count and md5 of every row of a table in id order."""
    name = postgres.identifier(table).as_string(conn)
    return postgres.query(conn, "SELECT count(*) AS n, md5(string_agg(t::text, '|' ORDER BY t.id)) AS h "
                                "FROM %s t" % name)[0]


def fingerprints(params, tables):
    conn = postgres.connect(params)
    try:
        return dict((table, table_fingerprint(conn, table)) for table in tables)
    finally:
        conn.close()
