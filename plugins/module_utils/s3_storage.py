# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups on S3: upload with a checked size and sha256, list, download, lifecycle rule.

Objects are <prefix>/<kind>/<id>/<file>, the manifest uploaded last, as on disk.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import json
import os
import types

from ansible_collections.defneqr.dbops.plugins.module_utils import backup_store as store_mod
from ansible_collections.defneqr.dbops.plugins.module_utils.errors import DbopsError

S3_CONNECTION = ('region', 'endpoint_url', 'access_key', 'secret_key')


class S3Error(DbopsError):
    """The bucket cannot be reached or written, or an object is not what it should be."""


def s3_argument_spec(*names):
    """The s3 suboptions (all, or only the given names): one definition for every module."""
    spec = dict(
        bucket=dict(type='str', required=True),
        prefix=dict(type='str', default=''),
        region=dict(type='str'),
        endpoint_url=dict(type='str'),
        access_key=dict(type='str', no_log=True),
        secret_key=dict(type='str', no_log=True),
        sse=dict(type='str', default='AES256'),
        kms_key_id=dict(type='str', no_log=False),
        storage_class=dict(type='str', default='STANDARD'),
        lifecycle_days=dict(type='int'),
        multipart_chunk_mb=dict(type='int', default=64),
    )
    return dict((name, spec[name]) for name in names) if names else spec


@functools.lru_cache(maxsize=None)
def _boto3():
    """boto3 and what this file uses of it, imported at first use: the import takes about 0.13 s, longer than
    a small dump, and most module runs never reach S3."""
    try:
        import boto3  # pylint: disable=import-outside-toplevel
        from boto3.exceptions import Boto3Error  # pylint: disable=import-outside-toplevel
        from boto3.s3.transfer import TransferConfig  # pylint: disable=import-outside-toplevel
        from botocore.exceptions import BotoCoreError, ClientError  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise S3Error('The Python package boto3 is required for S3 backups on the host that runs the module: '
                      'apt-get install python3-boto3 (Debian, Ubuntu), or pip install boto3 into the Python that '
                      'Ansible uses there (ansible_python_interpreter).')
    return types.SimpleNamespace(client=boto3.client, TransferConfig=TransferConfig, ClientError=ClientError,
                                 errors=(Boto3Error, BotoCoreError, ClientError))


def client(opts):
    kwargs = dict(region_name=opts.get('region'), endpoint_url=opts.get('endpoint_url'))
    if opts.get('access_key'):
        kwargs.update(aws_access_key_id=opts['access_key'], aws_secret_access_key=opts.get('secret_key'))
    return _boto3().client('s3', **dict((k, v) for k, v in kwargs.items() if v))


def _explain(err, opts):
    code = getattr(err, 'response', {}).get('Error', {}).get('Code', '') if hasattr(err, 'response') else ''
    if not code:  # upload_file wraps the ClientError into text
        code = next((c for c in ('NoSuchBucket', 'AccessDenied', 'InvalidAccessKeyId') if c in str(err)), '')
    if code in ('NoSuchBucket', '404'):
        return 'S3 bucket "%s" does not exist (or is not visible with these credentials). Create it or fix ' \
               's3.bucket.' % opts['bucket']
    if code in ('AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', '403'):
        return 'S3 refused access to bucket "%s" (%s). Check the credentials and the bucket policy.' % (
            opts['bucket'], code)
    return 'S3 error on bucket "%s": %s' % (opts['bucket'], err)


def check_reachable(opts):
    """Before a dump starts: boto3 present, the endpoint answers and the bucket is there and ours to use, so a
    copy that cannot be made fails in seconds, not after the whole dump."""
    s3 = client(opts)
    try:
        s3.head_bucket(Bucket=opts['bucket'])
    except _boto3().errors as err:
        raise S3Error(_explain(err, opts) + ' Nothing was dumped.')


def key_prefix(opts, kind, ident):
    return '/'.join(part.strip('/') for part in (opts.get('prefix') or '', kind, ident) if part.strip('/'))


def upload_backup(opts, manifest, kind, check_mode=False):
    """Upload the files of a backup and then its manifest; check every object's size and sha256."""
    base = key_prefix(opts, kind, manifest['id'])
    planned = [dict(key='%s/%s' % (base, f['path']), size=f['size']) for f in manifest.get('files', [])]
    planned.append(dict(key='%s/%s' % (base, store_mod.MANIFEST), size=None))
    if check_mode:
        return dict(bucket=opts['bucket'], objects=planned, lifecycle_changed=None)
    s3 = client(opts)
    extra = dict(StorageClass=opts.get('storage_class') or 'STANDARD')
    if opts.get('sse'):
        extra['ServerSideEncryption'] = opts['sse']
        if opts.get('kms_key_id'):
            extra['SSEKMSKeyId'] = opts['kms_key_id']
    chunk = (opts.get('multipart_chunk_mb') or 64) * 2 ** 20
    config = _boto3().TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk)
    try:
        for entry in manifest.get('files', []):
            key = '%s/%s' % (base, entry['path'])
            args = dict(extra, Metadata=dict(sha256=entry['sha256']))
            s3.upload_file(os.path.join(manifest['folder'], entry['path']), opts['bucket'], key, ExtraArgs=args,
                           Config=config)
            head = s3.head_object(Bucket=opts['bucket'], Key=key)
            if head['ContentLength'] != entry['size'] or head.get('Metadata', {}).get('sha256') != entry['sha256']:
                raise S3Error('The uploaded s3://%s/%s does not match the local file (size %s vs %s); the upload is '
                              'incomplete.' % (opts['bucket'], key, head['ContentLength'], entry['size']))
        body = json.dumps(dict((k, v) for k, v in manifest.items() if k != 'folder'), indent=2, sort_keys=True,
                          default=str).encode()
        s3.put_object(Bucket=opts['bucket'], Key='%s/%s' % (base, store_mod.MANIFEST), Body=body, **extra)
        planned[-1]['size'] = len(body)
        changed = ensure_lifecycle(s3, opts, kind) if opts.get('lifecycle_days') else False
    except _boto3().errors as err:
        raise S3Error(_explain(err, opts))
    return dict(bucket=opts['bucket'], objects=planned, lifecycle_changed=changed)


def ensure_lifecycle(s3, opts, kind):
    """A rule expiring <prefix>/<kind>/ after lifecycle_days; other rules are kept. Returns changed."""
    prefix = key_prefix(opts, kind, '') + '/'
    rule_id = 'dbops-expire-%s' % prefix.strip('/').replace('/', '-')
    wanted = dict(ID=rule_id, Filter=dict(Prefix=prefix), Status='Enabled',
                  Expiration=dict(Days=opts['lifecycle_days']))
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=opts['bucket']).get('Rules', [])
    except _boto3().ClientError as err:
        if err.response.get('Error', {}).get('Code') != 'NoSuchLifecycleConfiguration':
            raise
        rules = []
    current = [r for r in rules if r.get('ID') == rule_id]
    if current and current[0].get('Expiration', {}).get('Days') == opts['lifecycle_days'] \
            and current[0].get('Status') == 'Enabled':
        return False
    rules = [r for r in rules if r.get('ID') != rule_id] + [wanted]
    s3.put_bucket_lifecycle_configuration(Bucket=opts['bucket'], LifecycleConfiguration=dict(Rules=rules))
    return True


def parse_uri(uri):
    if not uri.startswith('s3://'):
        raise S3Error('%r is not an s3:// URI.' % uri)
    bucket, _sep, key = uri[5:].partition('/')
    return bucket, key.strip('/')


def list_backups(opts, kind=None):
    """Manifests stored under the prefix (newest first), each with its s3 URI."""
    s3 = client(opts)
    base = key_prefix(opts, kind or '', '')
    found = []
    try:
        paginator = s3.get_paginator('list_objects_v2')
        for page in paginator.paginate(Bucket=opts['bucket'], Prefix=base):
            for item in page.get('Contents', []):
                if item['Key'].endswith('/' + store_mod.MANIFEST):
                    body = s3.get_object(Bucket=opts['bucket'], Key=item['Key'])['Body'].read()
                    manifest = json.loads(body.decode())
                    manifest['uri'] = 's3://%s/%s' % (opts['bucket'], item['Key'].rsplit('/', 1)[0])
                    found.append(manifest)
    except _boto3().errors as err:
        raise S3Error(_explain(err, opts))
    return sorted(found, key=lambda m: m['started_at'], reverse=True)


def download_backup(opts, uri, into):
    """Download a backup folder (manifest first, then its files, checked) into `into`; returns the folder."""
    bucket, key = parse_uri(uri)
    opts = dict(opts, bucket=bucket)
    s3 = client(opts)
    try:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key='%s/%s' % (key, store_mod.MANIFEST))['Body'].read())
        folder = os.path.join(into, manifest['id'])
        store_mod.make_private_dir(folder)
        for entry in manifest['files']:
            target = os.path.join(folder, entry['path'])
            store_mod.make_private_dir(os.path.dirname(target))
            s3.download_file(bucket, '%s/%s' % (key, entry['path']), target)
            os.chmod(target, 0o600)
    except _boto3().errors as err:
        raise S3Error(_explain(err, opts))
    store_mod.write_json_durably(os.path.join(folder, store_mod.MANIFEST), manifest)
    return folder
