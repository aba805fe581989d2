#!/usr/bin/env bash
# Copy the checkout (tracked and new files, as git sees them) to
# build/<name>/ansible_collections/defneqr/dbops (name: the first argument, default stage) with a git index of its
# own: ansible-test must run from such a path and lists files through git. Prints the staged path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
stage="$repo/build/${1:-stage}/ansible_collections/defneqr/dbops"
rm -rf "$stage"
mkdir -p "$stage"
cd "$repo"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  [ -e "$file" ] && printf '%s\0' "$file"
done | xargs -0 cp --parents -t "$stage"
cd "$stage"
git init -q
git add -A
echo "$stage"
