#!/usr/bin/env bash
# make integration: the ansible-test integration targets (tests/integration/targets), one per module, against
# the PostgreSQL 15 and 18 clusters that the setup_dbops_postgresql target starts. Fails unless every target
# ran: ansible-test itself exits 0 when all were skipped. Extra arguments go to ansible-test (e.g. a target).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
state=$(mktemp -d /tmp/dbops-it-XXXXXX)
chmod 711 "$state"  # the server's account reaches its pgBackRest folder in it; the 0600 state files stay private
stop_clusters() {
  for file in "$state"/*.json; do
    [ -e "$file" ] && "$python" "$repo/tests/harness/pgcluster.py" stop "$file"
  done
  rm -rf "$state"
}
trap stop_clusters EXIT
stage=$("$repo/tests/tools/stage_collection.sh" stage-integration)  # its own copy: make sanity may run beside it
# The clusters' state files (0600, with their passwords) stay in $state; this file holds only paths.
cat > "$stage/tests/integration/integration_config.yml" <<CONFIG
dbops_it_state_dir: $state
dbops_it_harness: $repo/tests/harness
dbops_it_python: $python
CONFIG
cd "$stage"
"$(dirname "$python")/ansible-test" integration --allow-destructive --color no --python-interpreter "$python" "$@" \
  2>&1 | tee "$state/log"
wanted=$(find tests/integration/targets -mindepth 1 -maxdepth 1 -type d ! -name 'setup_*' | wc -l)
[ $# -gt 0 ] && wanted=$(printf '%s\n' "$@" | grep -vc '^-' || true)  # the targets named, not the options
ran=$(grep -c '^Running .* integration test role$' "$state/log" || true)
if [ "$ran" -lt "$wanted" ]; then
  echo "integration: $ran of $wanted targets ran; a skipped target is a failure (see the lines above)" >&2
  exit 1
fi
echo "integration: all $ran targets ran"
