#!/usr/bin/env bash
# Run every molecule scenario in order (make molecule; part of make test and .ci/run), each
# against a lab of its own (tests/lab/lab.py, prefixes md/mc/mr/ms/mp/mf/mz/ma/mb/mt), and print how long
# each took. Stops at the first failing scenario (molecule destroys its lab on the way out).
#   bash scripts/molecule.sh                 all scenarios
#   bash scripts/molecule.sh default purge   only these
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export MOLECULE_PROJECT_DIRECTORY="$ROOT"
mkdir -p "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/lanbridge"
ln -sfn "$ROOT" "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/lanbridge/core"

SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(default check_mode rollback restart purge fleet podman agent persist routed)

start=$(date +%s)
summary=()
for s in "${SCENARIOS[@]}"; do
  t0=$(date +%s)
  echo "=== molecule scenario $s"
  if molecule test -s "$s"; then
    summary+=("$(printf '%-11s passed  %4ss' "$s" $(( $(date +%s) - t0 )))")
  else
    summary+=("$(printf '%-11s FAILED  %4ss' "$s" $(( $(date +%s) - t0 )))")
    printf '%s\n' "${summary[@]}"
    echo "molecule: scenario $s failed after $(( $(date +%s) - start ))s"
    exit 1
  fi
done
printf '%s\n' "${summary[@]}"
echo "molecule: ${#SCENARIOS[@]} scenario(s) passed in $(( $(date +%s) - start ))s"
