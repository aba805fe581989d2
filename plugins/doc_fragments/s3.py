# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Defne Qr operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The s3 option of the modules that write, list or read backups on S3 (s3_storage.s3_argument_spec).
    # Ansible merges fragments option by option, so each use has its whole option: DOCUMENTATION for
    # uploads (pg_backup), LISTING for pg_backup_info, SOURCE for an s3:// source (pg_restore).
    DOCUMENTATION = r'''
options:
  s3:
    description:
      - Upload the backup after it succeeded locally (the runbook's weekly cloud backup). Credentials come from
        boto3's usual chain unless I(access_key)/I(secret_key) are set.
    type: dict
    suboptions:
      bucket:
        description: Bucket name.
        type: str
        required: true
      prefix:
        description: Key prefix; the backup goes to C(<prefix>/<kind>/<id>/).
        type: str
        default: ''
      region:
        description: AWS region.
        type: str
      endpoint_url:
        description: S3 endpoint of another provider or a test server.
        type: str
      access_key:
        description: Access key id.
        type: str
      secret_key:
        description: Secret access key.
        type: str
      sse:
        description: Server-side encryption (C(AES256) or C(aws:kms)); empty for none.
        type: str
        default: AES256
      kms_key_id:
        description: KMS key for I(sse=aws:kms).
        type: str
      storage_class:
        description: Storage class of the uploaded objects.
        type: str
        default: STANDARD
      lifecycle_days:
        description: Ensure a bucket lifecycle rule that expires C(<prefix>/<kind>/) after this many days
          (the runbook's 90 days for weekly backups).
        type: int
      multipart_chunk_mb:
        description: Part size of multipart uploads.
        type: int
        default: 64
'''

    LISTING = r'''
options:
  s3:
    description:
      - List backups on S3 instead of I(dest). Credentials come from boto3's usual chain unless
        I(access_key)/I(secret_key) are set.
    type: dict
    suboptions:
      bucket:
        description: Bucket name.
        type: str
        required: true
      prefix:
        description: Key prefix the backups were uploaded under.
        type: str
        default: ''
      region:
        description: AWS region.
        type: str
      endpoint_url:
        description: S3 endpoint of another provider or a test server.
        type: str
      access_key:
        description: Access key id.
        type: str
      secret_key:
        description: Secret access key.
        type: str
'''

    SOURCE = r'''
options:
  s3:
    description:
      - S3 connection for an C(s3://) I(src), as in M(defneqr.dbops.pg_backup) (the bucket and prefix come from
        the URI). Credentials come from boto3's usual chain unless I(access_key)/I(secret_key) are set.
    type: dict
    suboptions:
      region:
        description: AWS region.
        type: str
      endpoint_url:
        description: S3 endpoint of another provider or a test server.
        type: str
      access_key:
        description: Access key id.
        type: str
      secret_key:
        description: Secret access key.
        type: str
'''
