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
# Only the fresh install may be seen (--force: a copy elsewhere must not make this a no-op).
export ANSIBLE_COLLECTIONS_PATH="$work/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_NOCOLOR=1
installed=$work/collections/ansible_collections/lanbridge/core
"$VENV/bin/ansible-galaxy" collection install --force -p "$work/collections" "$tarball" >/dev/null
# Every module in plugins/modules (discovered: modules come and go), read from the installed copy.
modules=()
for file in "$ROOT"/plugins/modules/*.py; do
  name=$(basename "$file" .py)
  case "$name" in _*|'*') ;; *) modules+=("$name") ;; esac
done
[ "${#modules[@]}" -gt 0 ] || { echo "package: no module found in plugins/modules" >&2; exit 1; }
for module in "${modules[@]}"; do
  [ -f "$installed/plugins/modules/$module.py" ] || { echo "package: $module.py is not in the tarball" >&2; exit 1; }
  doc=$("$VENV/bin/ansible-doc" -t module "lanbridge.core.$module" 2>&1)
  case "$doc" in
    *"($installed/plugins/modules/$module.py)"*) echo "package: ansible-doc lanbridge.core.$module renders" ;;
    *) echo "package: ansible-doc lanbridge.core.$module failed: $doc" >&2; exit 1 ;;
  esac
done
doc=$("$VENV/bin/ansible-doc" -t role lanbridge.core.container_lan 2>&1)
case "$doc" in
  *"ENTRY POINT: *main*"*) echo "package: ansible-doc -t role lanbridge.core.container_lan renders" ;;
  *) echo "package: ansible-doc -t role lanbridge.core.container_lan failed: $doc" >&2; exit 1 ;;
esac
"$VENV/bin/ansible-playbook" --syntax-check lanbridge.core.site >/dev/null
echo "package: installed tarball is usable by FQCN (${#modules[@]} modules: ${modules[*]}; the role; the playbook)"
