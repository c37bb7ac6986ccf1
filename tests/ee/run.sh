#!/usr/bin/env bash
# The execution environment (AWX / AAP), without a container runtime or registry:
# 1. the collection's meta/execution-environment.yml, read from the INSTALLED tarball by
#    `ansible-builder introspect` (what ansible-builder does inside the image build), yields
#    pyroute2 and the bindep.txt packages;
# 2. `ansible-builder create` on tests/ee/execution-environment.yml writes a build context whose
#    _build/requirements.txt, _build/bindep.txt, _build/requirements.yml and Containerfile name
#    them and the collection tarball. Nothing is pulled or built.
# EE_CONTEXT=dir keeps the build context there (make ee); otherwise it goes to a temp dir.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "ee: $*" >&2; exit 1; }

# The packages bindep.txt names (first word of each non-comment line), and pyroute2.
mapfile -t bindep_pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$ROOT/bindep.txt" | awk '{print $1}')
[ "${#bindep_pkgs[@]}" -gt 0 ] || fail "bindep.txt names no package"
"$VENV/bin/bindep" -f "$ROOT/bindep.txt" -b >/dev/null || [ $? -eq 1 ] || fail "bindep cannot read bindep.txt"
grep -q '^pyroute2' "$ROOT/requirements.txt" || fail "requirements.txt does not name pyroute2"

# The tarball, where tests/ee/execution-environment.yml expects it (.build/ee/lanbridge-core.tar.gz).
stage=$ROOT/.build/ee
mkdir -p "$stage"
rm -f "$stage"/lanbridge-core*.tar.gz
"$VENV/bin/ansible-galaxy" collection build --force --output-path "$work" "$ROOT" >/dev/null
mv "$work"/lanbridge-core-*.tar.gz "$stage/lanbridge-core.tar.gz"

# 1. introspection of the installed collection
ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false "$VENV/bin/ansible-galaxy" collection install --force \
  -p "$work/collections" "$stage/lanbridge-core.tar.gz" >/dev/null
found=$("$VENV/bin/ansible-builder" introspect "$work/collections")
for want in pyroute2 "${bindep_pkgs[@]}"; do
  grep -Eq "^- '?${want}[ >=<\[].*# from collection lanbridge\.core" <<<"$found" \
    || fail "ansible-builder introspect does not find $want in lanbridge.core: $found"
done
echo "ee: ansible-builder introspect finds pyroute2 and ${bindep_pkgs[*]} in the installed collection"

# 2. the build context
context=${EE_CONTEXT:-$work/context}
rm -rf "$context"
"$VENV/bin/ansible-builder" create -f "$ROOT/tests/ee/execution-environment.yml" -c "$context" \
  --output-filename Containerfile >/dev/null
build=$context/_build
grep -q '^pyroute2' "$build/requirements.txt" || fail "_build/requirements.txt does not name pyroute2"
for pkg in "${bindep_pkgs[@]}"; do
  grep -q "^$pkg " "$build/bindep.txt" || fail "_build/bindep.txt does not name $pkg"
done
grep -q 'collections/lanbridge-core.tar.gz' "$build/requirements.yml" || fail "_build/requirements.yml does not name the collection"
[ -s "$build/collections/lanbridge-core.tar.gz" ] || fail "the collection tarball is not in the build context"
cf=$context/Containerfile
for line in 'COPY _build/requirements.txt requirements.txt' 'COPY _build/bindep.txt bindep.txt' \
            'ansible-galaxy collection install' 'introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt'; do
  grep -qF "$line" "$cf" || fail "Containerfile lacks: $line"
done
echo "ee: ansible-builder create wrote a build context with pyroute2, ${bindep_pkgs[*]} and the collection${EE_CONTEXT:+ ($context)}"
