"""Statement splitting and the long-lock rules."""
from ansible_collections.defneqr.dbops.plugins.module_utils import sql_lint


def test_split_honours_quotes_comments_and_dollar_bodies():
    script = ("-- a comment; with a semicolon\nCREATE TABLE \"a;b\" (x text DEFAULT 'it''s; fine');\n"
              "/* block; */ CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; $fn$ LANGUAGE sql;\n\nSELECT 2")
    statements = sql_lint.split_statements(script)
    assert [line for line, _text in statements] == [2, 3, 5]
    assert statements[0][1] == 'CREATE TABLE "a;b" (x text DEFAULT \'it\'\'s; fine\')'
    assert statements[1][1].endswith('$fn$ SELECT 1; $fn$ LANGUAGE sql')


def test_rules_flag_existing_tables_only():
    script = ('CREATE TABLE "coupons" ("id" TEXT NOT NULL);\n'
              'CREATE INDEX "coupons_id_idx" ON "coupons"("id");\n'
              'ALTER TABLE "coupons" ADD CONSTRAINT "c_fkey" FOREIGN KEY ("id") REFERENCES "orders"("id");\n'
              'CREATE INDEX "orders_x_idx" ON "orders"("x");\n'
              'CREATE INDEX CONCURRENTLY "orders_y_idx" ON "orders"("y");\n'
              'ALTER TABLE "orders" ADD COLUMN "flag" BOOLEAN NOT NULL;\n'
              'ALTER TABLE "orders" ADD COLUMN "ok" BOOLEAN NOT NULL DEFAULT false;\n'
              'ALTER TABLE "products" ALTER COLUMN "basePrice" SET NOT NULL;\n'
              'ALTER TABLE "products" ALTER COLUMN "name" SET DATA TYPE VARCHAR(50);\n'
              'ALTER TABLE "orders" ADD CONSTRAINT "o_fkey" FOREIGN KEY ("t") REFERENCES "tables"("id");\n'
              'ALTER TABLE "orders" ADD CONSTRAINT "o2_fkey" FOREIGN KEY ("t") REFERENCES "tables"("id") NOT VALID;\n'
              'ALTER TABLE "orders" DROP COLUMN "note";\n'
              'ALTER TABLE "orders" RENAME COLUMN "a" TO "b";\n')
    found = [(f['line'], f['rule']) for f in sql_lint.lint(script, 'm/migration.sql')]
    assert found == [(4, 'index-without-concurrently'), (6, 'add-column-not-null-without-default'),
                     (8, 'set-not-null'), (9, 'change-column-type'), (10, 'foreign-key-without-not-valid'),
                     (12, 'drop-column'), (13, 'rename')]


def test_needs_own_transaction_control():
    assert sql_lint.needs_own_transaction_control('CREATE INDEX CONCURRENTLY "i" ON "t"("c");')
    assert sql_lint.needs_own_transaction_control('BEGIN;\nALTER TABLE t ADD COLUMN c int;\nCOMMIT;')
    assert not sql_lint.needs_own_transaction_control('CREATE INDEX "i" ON "t"("c"); -- CONCURRENTLY later')
