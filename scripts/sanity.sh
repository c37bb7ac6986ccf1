#!/usr/bin/env bash
# ansible-test sanity, offline-capable, with no ignore file.
# ansible-test wants the collection at a path ending in ansible_collections/lanbridge/core and
# bootstraps pip in its own virtualenvs with a get-pip script it downloads; here a stand-in
# builds pip from the interpreter's bundled ensurepip and then pip-installs what it was asked for.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PYVER=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
CACHE=$HOME/.ansible/test/cache
mkdir -p "$CACHE"
for v in 24_2 25_1 25_3; do
  cat > "$CACHE/get_pip_$v.py" <<'PY'
"""Stand-in for get-pip.py: ensurepip in a separate process, then pip install the given args."""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
done

DEST=$ROOT/.build/sanity/ansible_collections/lanbridge/core
mkdir -p "$DEST"
rsync -a --delete \
  --exclude '/.git' --exclude '/.venv*' --exclude '/.build' --exclude '/.lab' --exclude '/.cache' \
  --exclude '/tests/output' --exclude '__pycache__' --exclude '.pytest_cache' --exclude '.ruff_cache' \
  "$ROOT/" "$DEST/"
if ls "$DEST"/tests/sanity/ignore-*.txt >/dev/null 2>&1; then
  echo "sanity: ignore files are not allowed: $(ls "$DEST"/tests/sanity/ignore-*.txt)" >&2
  exit 1
fi
cd "$DEST"
# ansible-test finds the collection's files through git.
rm -rf .git && git init -q && git add -A
"$VENV/bin/ansible-test" sanity --color no --python "$PYVER" "$@"
