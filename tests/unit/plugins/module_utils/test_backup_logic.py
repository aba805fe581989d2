"""Pure logic of backups: compression choice, pg_dump argv, retention plans, names."""
import datetime
import os
import stat

import pytest

from ansible_collections.defneqr.dbops.plugins.module_utils import backup_store as store
from ansible_collections.defneqr.dbops.plugins.module_utils import dumps
from ansible_collections.defneqr.dbops.plugins.module_utils.postgres import PgError

NOW = datetime.datetime(2026, 11, 26, 3, 0, tzinfo=datetime.timezone.utc)


def manifest(ident, days_ago, verified=True):
    return dict(id=ident, started_at=(NOW - datetime.timedelta(days=days_ago)).isoformat(),
                verification=dict(level='list' if verified else 'none', ok=verified))


def test_retention_keeps_recent_and_the_newest_verified():
    backups = [manifest('a', 1), manifest('b', 20, verified=False), manifest('c', 31), manifest('d', 40),
               manifest('e', 50), manifest('f', 60, verified=False)]
    delete, keep, _damaged = store.plan_retention(backups, NOW, days=30, min_keep=2)
    assert [m['id'] for m in delete] == ['d', 'e', 'f']
    assert [m['id'] for m in keep] == ['a', 'b', 'c']


def test_retention_never_deletes_the_last_verified_even_when_all_are_old():
    backups = [manifest('old1', 100), manifest('old2', 200), manifest('bad', 1, verified=False)]
    delete, _keep, _damaged = store.plan_retention(backups, NOW, days=30, min_keep=1)
    assert [m['id'] for m in delete] == ['old2']


def test_retention_with_every_recent_backup_failed_keeps_the_verified_ones():
    backups = [manifest('fail1', 1, False), manifest('fail2', 2, False), manifest('good', 45), manifest('good2', 50)]
    delete, _keep, _damaged = store.plan_retention(backups, NOW, days=30, min_keep=2)
    assert delete == []


def test_retention_rechecks_before_deleting_and_never_counts_a_damaged_backup():
    """Three dailies 8-10 days old, the newest with a flipped byte: the intact ones are not deleted for it."""
    backups = [manifest('flipped', 8), manifest('good9', 9), manifest('good10', 10)]
    asked = []

    def intact(candidate):
        asked.append(candidate['id'])
        return candidate['id'] != 'flipped'
    delete, keep, damaged = store.plan_retention(backups, NOW, days=3, min_keep=1, intact=intact)
    assert [m['id'] for m in delete] == ['good10']
    assert [m['id'] for m in keep] == ['flipped', 'good9'] and [m['id'] for m in damaged] == ['flipped']
    assert asked == ['flipped', 'good9']  # no more checks than needed
    nothing_intact = store.plan_retention(backups, NOW, days=3, min_keep=1, intact=lambda m: False)
    assert nothing_intact[0] == []


@pytest.mark.parametrize('name, expected', [
    ('dijitalmenu', 'dijitalmenu'), ('../../x', '_._.._x'), ('a/b c', 'a_b_c'), ('.hidden', '_hidden'), ('', '_')])
def test_names_become_one_plain_file_name(name, expected):
    assert store.safe_name(name) == expected
    assert '/' not in store.backup_id(name, NOW, '../label')


def test_manifest_paths_must_stay_inside_the_folder(tmp_path):
    (tmp_path / 'b').mkdir()
    (tmp_path / 'b' / 'ok.dump').write_bytes(b'x')
    assert store.inside(str(tmp_path / 'b'), 'ok.dump') == str(tmp_path / 'b' / 'ok.dump')
    for hostile in ('/etc/passwd', '../../etc/passwd', '', 'sub/../../x'):
        assert store.inside(str(tmp_path / 'b'), hostile) is None
    problems = store.check_files(str(tmp_path / 'b'), dict(files=[dict(path='/etc/passwd', size=1, sha256='x')]))
    assert problems and 'not trusted' in problems[0]


@pytest.mark.parametrize('spec, expected', [
    ('auto', ('auto', None)), ('zstd', ('zstd', None)), ('zstd:9', ('zstd', 9)), ('gzip:1', ('gzip', 1)),
    ('none', ('none', None)),
])
def test_parse_spec(spec, expected):
    assert dumps.parse_spec(spec) == expected


@pytest.mark.parametrize('spec', ['zstd:0', 'gzip:10', 'lz4:13', 'bzip2', 'zstd;rm -rf /'])
def test_parse_spec_refuses(spec):
    with pytest.raises(PgError):
        dumps.parse_spec(spec)


def test_auto_prefers_the_external_zstd_for_custom_format(monkeypatch):
    monkeypatch.setattr(dumps, 'pg_dump_supports', lambda pg_dump, method: method == 'gzip')
    chosen = dumps.choose('auto', '/usr/bin/pg_dump', 'custom', which=lambda name: '/usr/bin/' + name)
    assert (chosen.method, chosen.level, chosen.external) == ('zstd', 5, True)
    fallback = dumps.choose('auto', '/usr/bin/pg_dump', 'custom', which=lambda name: None)
    assert (fallback.method, fallback.level, fallback.external) == ('gzip', 1, False)
    directory = dumps.choose('auto', '/usr/bin/pg_dump', 'directory', which=lambda name: '/usr/bin/' + name)
    assert directory.external is False


def test_explicit_method_without_any_support_is_an_error(monkeypatch):
    monkeypatch.setattr(dumps, 'pg_dump_supports', lambda pg_dump, method: False)
    with pytest.raises(PgError) as caught:
        dumps.choose('lz4', '/usr/bin/pg_dump', 'custom', which=lambda name: None)
    assert 'Install lz4' in str(caught.value)


def test_dump_argv():
    external = dumps.Compression('zstd', 5, external=True)
    assert dumps.dump_argv('pg_dump', 'custom', external, 1, snapshot='0003-1') == [
        'pg_dump', '--blobs', '--no-password', '--format=c', '--compress=0', '--snapshot=0003-1']
    native = dumps.Compression('gzip', 1)
    assert dumps.dump_argv('pg_dump', 'directory', native, 2, out_path='/b/data') == [
        'pg_dump', '--blobs', '--no-password', '--format=d', '--compress=1', '--jobs=2', '--file=/b/data']
    assert dumps.dump_argv('pg_dump', 'custom', dumps.Compression('zstd', 3), 1)[4] == '--compress=zstd:3'
    assert dumps.dump_file_name('dijitalmenu', 'custom', external) == 'dijitalmenu.dump.zst'


@pytest.mark.parametrize('label', ['add_performance_indexes', 'pre-20260218', 'v1.4.0'])
def test_labels_accepted(label):
    store.check_name(label, store.LABEL, 'label')


@pytest.mark.parametrize('label', ['../etc', 'a b', 'x;y', '', 'é'])
def test_labels_refused(label):
    with pytest.raises(PgError):
        store.check_name(label, store.LABEL, 'label')


@pytest.mark.parametrize('line, table', [
    ('public.users (id, email) FROM stdin;\n', 'public.users'),
    ('public."User" ("id", "restaurantId") FROM stdin;\n', 'public.User'),
    ('"odd schema"."say ""hi""" (x) FROM stdin;\n', 'odd schema.say "hi"'),
    ('public.no_columns  FROM stdin;\n', 'public.no_columns'),
])
def test_copy_lines_name_their_table_unquoted(line, table):
    assert dumps.qualified_name(line) == table


def test_copy_rows_are_counted_per_table_and_only_inside_copy_blocks():
    output = [b'SET statement_timeout = 0;\n', b'COPY public."User" (id, bio) FROM stdin;\n',
              b'1\tline one\\nline two\n', b'2\t\\N\n', b'\\.\n', b'SELECT 1;\n',
              b'COPY public.empty (id) FROM stdin;\n', b'\\.\n', b'COPY public."User" (id, bio) FROM stdin;\n',
              b'3\tx\n', b'\\.\n']
    assert dumps.count_copy_rows(output) == {'public.User': 3, 'public.empty': 0}


def test_derived_names_keep_their_time_stamp_within_63_bytes():
    from ansible_collections.defneqr.dbops.plugins.module_utils import backup  # pylint: disable=import-outside-toplevel
    long_name = 'd' * 60
    first, second = backup.derived_name(long_name, '_old_20261202013608'), backup.derived_name(long_name, '_old_20261202013609')
    assert len(first) == 63 and first != second and first.endswith('_old_20261202013608')
    assert backup.derived_name('dijitalmenu', '_old_1') == 'dijitalmenu_old_1'
    assert backup.is_derived_name(first, long_name) and backup.is_derived_name('dijitalmenu_pre_1', 'dijitalmenu')
    assert not backup.is_derived_name('dijitalmenu', 'dijitalmenu') and not backup.is_derived_name('other_old_1', 'dijitalmenu')
    assert not backup.is_derived_name('dijitalmenux_old_1', 'dijitalmenu')


def test_private_files_are_0600_in_a_0700_folder_and_a_planted_link_is_refused(tmp_path):
    report = tmp_path / 'reports' / 'health.md'
    store.write_private(str(report), 'SELECT secret FROM t')
    assert stat.S_IMODE(os.stat(str(report)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(report.parent)).st_mode) == 0o700
    shared = tmp_path / 'shared.md'
    shared.write_text('old')
    os.chmod(str(shared), 0o644)
    store.write_private(str(shared), 'new')
    assert stat.S_IMODE(os.stat(str(shared)).st_mode) == 0o600 and shared.read_text() == 'new'
    victim = tmp_path / 'victim'
    victim.write_text('keep me')
    planted = tmp_path / 'planted.jsonl'
    os.symlink(str(victim), str(planted))
    with pytest.raises(OSError):
        store.write_private(str(planted), 'rows')
    assert victim.read_text() == 'keep me'
