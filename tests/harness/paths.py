"""Where things are: the checkout, and the ansible_collections tree that points at it."""
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, 'examples', 'defneqr')
BACKEND = os.path.join(EXAMPLE, 'backend')
MIGRATIONS = os.path.join(BACKEND, 'prisma', 'migrations')
ROLLBACKS = os.path.join(BACKEND, 'migrations', 'rollback')


def collections_root():
    """build/collections, holding ansible_collections/defneqr/dbops -> the checkout (made on demand)."""
    root = os.path.join(REPO, 'build', 'collections')
    link = os.path.join(root, 'ansible_collections', 'defneqr', 'dbops')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    return root
