#!/usr/bin/env bash
# make bench: the benchmark of issues 6 and 14 (not part of make test). Run as root from the repository.
# Extra arguments go to bench.py (see its --help), e.g.  bash tests/bench/run.sh --sizes 10 --fleet 1,2
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
if [ "$(id -u)" != 0 ]; then
  echo "make bench: run as root (the lab creates network namespaces)" >&2
  exit 2
fi
mkdir -p .build/collections/ansible_collections/lanbridge
[ -e .build/collections/ansible_collections/lanbridge/core ] ||
  ln -sfn "$ROOT" .build/collections/ansible_collections/lanbridge/core
exec "$ROOT/.venv/bin/python" tests/bench/bench.py "$@"
