"""Per-table data fingerprints: equal fingerprints mean identical rows (compared in id order)."""
import paths

paths.collections_root()
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres  # noqa: E402  pylint: disable=wrong-import-position


def table_fingerprint(conn, table, skip_ids_like=None):
    """Row count and md5 of every row of a table in id order (rows whose id is LIKE skip_ids_like aside)."""
    name = postgres.identifier(table).as_string(conn)
    return postgres.query(conn, "SELECT count(*) AS n, md5(string_agg(t::text, '|' ORDER BY t.id)) AS h "
                                "FROM %s t WHERE %%(skip)s::text IS NULL OR t.id NOT LIKE %%(skip)s" % name,
                          dict(skip=skip_ids_like))[0]


def fingerprints(params, tables, skip_ids_like=None):
    conn = postgres.connect(params)
    try:
        return dict((table, table_fingerprint(conn, table, skip_ids_like)) for table in tables)
    finally:
        conn.close()
