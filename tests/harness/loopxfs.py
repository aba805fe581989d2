"""A loop-mounted XFS with reflink, for a PostgreSQL 18 data directory whose files can be cloned.

Needs root, a free loop device and Debian's xfsprogs. Used by the snapshot clone test and `make bench`.
"""
import os
import shutil
import subprocess
import tempfile


class LoopXfs:
    def __init__(self, size='2G'):
        self.size = size
        self.folder = tempfile.mkdtemp(prefix='dbops-xfs-')
        self.image = os.path.join(self.folder, 'xfs.img')
        self.mount = os.path.join(self.folder, 'mnt')

    def start(self):
        if shutil.which('mkfs.xfs') is None:
            raise RuntimeError('mkfs.xfs is missing: apt-get install xfsprogs')
        os.makedirs(self.mount)
        for argv in (['truncate', '-s', self.size, self.image], ['mkfs.xfs', '-q', '-m', 'reflink=1', self.image],
                     ['mount', '-o', 'loop', self.image, self.mount]):
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            if done.returncode:
                self.stop()
                raise RuntimeError('%s failed: %s (needs root, a loop device and xfsprogs)' % (argv[0], done.stderr))
        os.chmod(self.mount, 0o755)  # the PostgreSQL service account makes its folder here
        return self

    def free_bytes(self):
        stats = os.statvfs(self.mount)
        return stats.f_bavail * stats.f_frsize

    def stop(self):
        if os.path.ismount(self.mount):
            subprocess.run(['umount', self.mount], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)
