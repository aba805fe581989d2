"""Pure logic of the pgBackRest layer: reading `info --output=json`, restore options, names."""
import datetime

import pytest

from ansible_collections.defneqr.dbops.plugins.module_utils import pgbackrest

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
STOP = int(datetime.datetime(2026, 11, 26, 9, 0, tzinfo=datetime.timezone.utc).timestamp())

# The shape pgBackRest 2.45 printed for a full and an incremental backup (trimmed).
INFO = dict(
    name='shop', status=dict(code=0, message='ok'),
    archive=[dict(id='15-1', min='000000010000000000000001', max='00000002000000000000000A')],
    backup=[
        dict(label='20261126-085315F', type='full', error=False, prior=None,
             archive=dict(start='000000010000000000000002', stop='000000010000000000000003'),
             info=dict(size=22988009, repository=dict(size=2810682, delta=2810682), delta=22988009),
             lsn=dict(start='0/2000028', stop='0/3000050'), timestamp=dict(start=STOP - 7200, stop=STOP - 7197)),
        dict(label='20261126-085315F_20261126-090000I', type='incr', error=True, prior='20261126-085315F',
             archive=dict(start='000000020000000000000009', stop='000000020000000000000009'),
             info=dict(size=23000000, repository=dict(size=100000), delta=50000),
             lsn=dict(start='0/9000028', stop='0/9000100'), timestamp=dict(start=STOP - 3, stop=STOP)),
    ])


def test_backups_become_manifests_newest_first():
    described = pgbackrest.describe(INFO, NOW)
    newest, oldest = described['backups']
    assert newest['id'] == '20261126-085315F_20261126-090000I' and newest['kind'] == 'incr'
    assert newest['prior'] == '20261126-085315F' and newest['age_hours'] == 3.0
    assert newest['verified'] is False  # pgBackRest flagged a page checksum error
    assert oldest['verified'] is True and oldest['duration'] == 3 and oldest['repo_size'] == 2810682
    assert oldest['started_at'] == '2026-11-26T07:00:00+00:00'
    assert described['wal'] == [dict(id='15-1', min='000000010000000000000001', max='00000002000000000000000A')]
    assert described['status'] == dict(code=0, message='ok')


def test_a_missing_stanza_is_told_apart_from_an_empty_one():
    assert not pgbackrest.stanza_exists(dict(status=dict(code=1, message='missing stanza path'), backup=[]))
    assert pgbackrest.stanza_exists(dict(status=dict(code=2, message='no valid backups'), backup=[]))
    assert pgbackrest.stanza_exists(INFO)


@pytest.mark.parametrize('target_type, target, expected', [
    ('time', '2026-11-26 08:53:25+00', ['--type=time', '--target-action=promote', '--target=2026-11-26 08:53:25+00']),
    ('name', 'deploy-1', ['--type=name', '--target-action=promote', '--target=deploy-1']),
    ('lsn', '0/3000050', ['--type=lsn', '--target-action=promote', '--target=0/3000050']),
    ('immediate', None, ['--type=immediate', '--target-action=promote']),
    ('latest', None, ['--type=default']),
])
def test_restore_options_never_archive_from_the_copy(target_type, target, expected):
    options = pgbackrest.restore_options('/srv/pitr', target_type, target, delta=False)
    assert options[:2] == ['--pg1-path=/srv/pitr', '--archive-mode=off']
    assert options[2:] == expected


def test_replace_restores_in_place_with_delta():
    assert pgbackrest.restore_options('/srv/pg', 'latest', None, delta=True)[-1] == '--delta'


@pytest.mark.parametrize('stanza', ['shop; rm -rf /', '', '-leading', 'a' * 64, 'x y', 'a/b'])
def test_stanza_names_are_plain(stanza):
    with pytest.raises(pgbackrest.PgBackRestError, match='not a plain name'):
        pgbackrest.PgBackRest(stanza)


def test_argv_carries_no_secret_and_names_the_config():
    tool = pgbackrest.PgBackRest('shop', config='/etc/pgbackrest/shop.conf', binary='/usr/bin/pgbackrest')
    assert tool.argv('backup', '--type=incr') == [
        '/usr/bin/pgbackrest', '--config=/etc/pgbackrest/shop.conf', '--stanza=shop', '--log-level-console=warn',
        '--type=incr', 'backup']
