"""Backups to S3 through moto's real S3 HTTP API on loopback (boto3 is not mocked)."""
import hashlib
import os

import boto3
import pytest
from moto.server import ThreadedMotoServer

import pgcluster
from ansible_collections.defneqr.dbops.plugins.module_utils import postgres
from conftest import tcp_params
from modrun import run_module
from test_backup_restore import args_for, conn_args, drop, fingerprints, sample_db  # noqa: F401 pylint: disable=unused-import

CREDENTIALS = dict(AWS_ACCESS_KEY_ID='testing', AWS_SECRET_ACCESS_KEY='testing', AWS_DEFAULT_REGION='eu-central-1')


@pytest.fixture(scope='module')
def s3_endpoint():
    port = pgcluster.free_port()
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    server.start()
    yield 'http://127.0.0.1:%d' % port
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch, request):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    name = 'defneqr-backups-%s' % hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    client = boto3.client('s3', endpoint_url=s3_endpoint, region_name='eu-central-1')
    client.create_bucket(Bucket=name, CreateBucketConfiguration=dict(LocationConstraint='eu-central-1'))
    return client, name


def test_weekly_backup_to_s3_lists_and_restores(pg, sample_db, tmp_path, s3_endpoint, bucket):
    client, name = bucket
    s3 = dict(bucket=name, prefix='dijitalmenu', endpoint_url=s3_endpoint, region='eu-central-1',
              lifecycle_days=90, multipart_chunk_mb=5)
    before = fingerprints(pg, sample_db)
    made = run_module('pg_backup', args_for(pg, sample_db, tmp_path / 'bk', kind='weekly', s3=s3))
    assert not made.get('failed'), made.get('msg')
    keys = sorted(o['Key'] for o in client.list_objects_v2(Bucket=name)['Contents'])
    ident = made['backup']['id']
    data_key = 'dijitalmenu/weekly/%s/%s' % (ident, made['backup']['files'][0]['path'])
    assert keys == sorted([data_key, 'dijitalmenu/weekly/%s/manifest.json' % ident])
    head = client.head_object(Bucket=name, Key=data_key)
    assert head['ContentLength'] == made['backup']['files'][0]['size']
    assert head['Metadata']['sha256'] == made['backup']['files'][0]['sha256']
    assert head['ServerSideEncryption'] == 'AES256'
    rules = client.get_bucket_lifecycle_configuration(Bucket=name)['Rules']
    assert [(r['Filter']['Prefix'], r['Expiration']['Days']) for r in rules] == [('dijitalmenu/weekly/', 90)]
    assert made['s3']['lifecycle_changed'] is True
    again = run_module('pg_backup', args_for(pg, sample_db, tmp_path / 'bk', kind='weekly', s3=s3, label='second'))
    assert again['s3']['lifecycle_changed'] is False
    listed = run_module('pg_backup_info', dict(s3=dict(bucket=name, prefix='dijitalmenu', endpoint_url=s3_endpoint)))
    assert [b['id'] for b in listed['backups']] == [again['backup']['id'], ident]
    copy = sample_db + '_from_s3'
    drop(pg, copy)
    try:
        restored = run_module('pg_restore', conn_args(pg, sample_db, src=listed['backups'][1]['uri'], database=copy,
                                                      mode='new', s3=dict(endpoint_url=s3_endpoint),
                                                      work_dir=str(tmp_path)))
        assert not restored.get('failed'), restored.get('msg')
        assert fingerprints(pg, copy) == before
        assert [p.name for p in tmp_path.iterdir()] == ['bk'], 'the download folder is removed afterwards'
    finally:
        drop(pg, copy)


def test_wrong_bucket_is_a_clear_error(pg, sample_db, tmp_path, s3_endpoint, bucket):
    del bucket
    result = run_module('pg_backup', args_for(pg, sample_db, tmp_path / 'bk', kind='weekly', s3=dict(
        bucket='no-such-bucket', endpoint_url=s3_endpoint, region='eu-central-1')))
    assert result['failed'] and 'S3 bucket "no-such-bucket" does not exist' in result['msg']
    conn = postgres.connect(tcp_params(pg, login_db=sample_db))
    assert postgres.query(conn, 'SELECT 1 AS x')[0]['x'] == 1


def test_a_bucket_that_is_not_there_fails_before_the_dump(pg, sample_db, tmp_path, s3_endpoint, bucket):
    """The weekly copy used to be tried only after the whole dump, leaving a local backup and a failure."""
    _client, name = bucket
    s3 = dict(bucket=name + '-missing', endpoint_url=s3_endpoint, region='eu-central-1')
    made = run_module('pg_backup', args_for(pg, sample_db, tmp_path / 'bk', kind='weekly', s3=s3))
    assert made['failed'] and 'S3 bucket "%s-missing" does not exist' % name in made['msg']
    assert 'Nothing was dumped' in made['msg']
    assert not os.path.isdir(str(tmp_path / 'bk' / 'weekly')) or not os.listdir(str(tmp_path / 'bk' / 'weekly'))
