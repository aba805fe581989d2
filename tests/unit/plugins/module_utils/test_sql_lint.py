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


def _reason(script):
    unsafe = sql_lint.online_unsafe(script, 'm/migration.sql')
    return unsafe and unsafe['reason']


def test_online_safe_statements_pass():
    script = '''CREATE TABLE "loyalty" ("id" TEXT NOT NULL, CONSTRAINT "loyalty_pkey" PRIMARY KEY ("id"));
        CREATE UNIQUE INDEX "loyalty_id_key" ON "loyalty"("id");
        ALTER TABLE "loyalty" ADD CONSTRAINT "l_fkey" FOREIGN KEY ("id") REFERENCES "users"("id");
        INSERT INTO "loyalty" (id) VALUES ('a');
        ALTER TABLE "menu_scans" ADD COLUMN "source" TEXT, ADD COLUMN "n" INTEGER NOT NULL DEFAULT 0,
            ADD COLUMN "label" TEXT DEFAULT 'a,b', ADD COLUMN "at" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP;
        CREATE INDEX CONCURRENTLY "menu_scans_source_idx" ON "menu_scans"("source");
        ALTER TABLE "orders" ADD CONSTRAINT "o_fkey" FOREIGN KEY ("x") REFERENCES "tables"("id") NOT VALID;
        ALTER TABLE "orders" VALIDATE CONSTRAINT "o_fkey";
        ALTER TABLE "products" ALTER COLUMN "basePrice" DROP NOT NULL;
        CREATE TYPE "Mood" AS ENUM ('A');
        ALTER TYPE "Role" ADD VALUE 'AUDITOR';
        COMMENT ON TABLE "orders" IS 'x';'''
    assert sql_lint.online_unsafe(script) is None


def test_online_unsafe_statement_is_named_with_its_line_and_reason():
    script = 'ALTER TABLE "menu_scans" ADD COLUMN "source" TEXT;\n\nCREATE INDEX "users_role_idx" ON "users"("role");\n'
    assert sql_lint.online_unsafe(script, 'm/migration.sql') == dict(
        file='m/migration.sql', line=3, statement='CREATE INDEX "users_role_idx" ON "users"("role")',
        reason='CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds')


def test_online_unsafe_changes_each_have_their_own_reason():
    assert 'volatile' in _reason('ALTER TABLE a ADD COLUMN id uuid DEFAULT gen_random_uuid()')
    assert 'NOT NULL without a default' in _reason('ALTER TABLE a ADD COLUMN n int NOT NULL')
    assert 'rewrite' in _reason('ALTER TABLE a ADD COLUMN n bigserial')
    assert 'NOT VALID' in _reason('ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES b(id)')
    assert 'scans every row' in _reason('ALTER TABLE a ADD CONSTRAINT c CHECK (x > 0)')
    assert 'not one of the online-safe changes' in _reason('ALTER TABLE a RENAME COLUMN x TO y')
    assert 'not one of the online-safe changes' in _reason('ALTER TABLE a ALTER COLUMN x TYPE bigint')
    assert 'not one of the online-safe statements' in _reason('UPDATE a SET b = 1')
    assert 'not one of the online-safe statements' in _reason('DROP TABLE a')
    # only the allowlisted second action of an ALTER decides
    assert 'NOT NULL without a default' in _reason('ALTER TABLE a ADD COLUMN x text, ADD COLUMN y int NOT NULL')
