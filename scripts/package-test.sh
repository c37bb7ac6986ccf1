#!/usr/bin/env bash
# Build the collection tarball, install it into an empty collections path, and use its
# content by FQCN from there: what a user who installs from a tarball gets.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$VENV/bin/ansible-galaxy" collection build --force --output-path "$work" "$ROOT" >/dev/null
tarball=$(ls "$work"/lanbridge-core-*.tar.gz)
echo "package: built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
if tar -tzf "$tarball" | grep -qE '(^|/)(\.venv|\.build|\.lab|\.git|tests/output)(/|$)'; then
  echo "package: the tarball contains build or lab state" >&2; exit 1
fi
"$VENV/bin/ansible-galaxy" collection install -p "$work/collections" "$tarball" >/dev/null
export ANSIBLE_COLLECTIONS_PATH="$work/collections"
for module in host_bridge container_veth; do
  "$VENV/bin/ansible-doc" -t module "lanbridge.core.$module" | head -1
done
"$VENV/bin/ansible-doc" -t role lanbridge.core.container_lan | head -1
"$VENV/bin/ansible-playbook" --syntax-check lanbridge.core.site >/dev/null
echo "package: installed tarball is usable by FQCN"
