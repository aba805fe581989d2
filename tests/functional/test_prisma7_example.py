"""The example project as Prisma 7 ships: prisma.config.ts holds the URL, schema.prisma has none.

The real Prisma 7.10.1 CLI (tools/prisma) validates the project. `prisma validate` runs Prisma's
schema logic compiled to WebAssembly inside the CLI; it only checks that a schema engine binary is
present, which cannot be downloaded here, so PRISMA_SCHEMA_ENGINE_BINARY names /bin/false and
validate never runs it. `prisma migrate deploy` itself needs that engine and is not run here.
"""
import os
import shutil
import subprocess

import paths

PRISMA = os.path.join(paths.REPO, 'tools', 'prisma', 'node_modules', '.bin', 'prisma')


def validate(project):
    env = dict(os.environ, PRISMA_SCHEMA_ENGINE_BINARY='/bin/false', CHECKPOINT_DISABLE='1',
               PRISMA_HIDE_UPDATE_MESSAGE='1', DATABASE_URL='postgresql://defneqr@127.0.0.1:5432/dijitalmenu')
    return subprocess.run([PRISMA, 'validate'], cwd=project, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_example_is_valid_for_prisma_7_and_the_old_datasource_url_is_not(tmp_path):
    done = validate(paths.BACKEND)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert 'Loaded Prisma config from prisma.config.ts' in output and 'is valid' in output
    # the test can fail: the schema as it was (url in the datasource) is what Prisma 7 rejects
    old = tmp_path / 'old'
    shutil.copytree(os.path.join(paths.BACKEND, 'prisma'), str(old / 'prisma'), ignore=shutil.ignore_patterns('migrations'))
    schema = old / 'prisma' / 'schema.prisma'
    schema.write_text(schema.read_text().replace('provider = "postgresql"\n', 'provider = "postgresql"\n  url      = env("DATABASE_URL")\n', 1))
    done = validate(str(old))
    assert done.returncode != 0 and 'P1012' in done.stdout + done.stderr, done.stdout + done.stderr
