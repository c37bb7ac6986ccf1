#!/usr/bin/env bash
# Release hygiene, without releasing: in a copy of the tree, `antsibull-changelog release` for the
# version in galaxy.yml must write CHANGELOG.md with that version and every entry of every
# changelog fragment. The repository itself is left alone (fragments stay, no CHANGELOG.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "release: $*" >&2; exit 1; }

copy=$work/ansible_collections/lanbridge/core
mkdir -p "$copy"
rsync -a \
  --exclude '/.git' --exclude '/.venv*' --exclude '/.build' --exclude '/.lab' --exclude '/.cache' \
  --exclude '/tests/output' --exclude '__pycache__' --exclude '.pytest_cache' --exclude '.ruff_cache' \
  "$ROOT/" "$copy/"
rm -f "$copy/CHANGELOG.md" "$copy/CHANGELOG.rst"
version=$("$VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$copy/galaxy.yml")
fragments=$(find "$copy/changelogs/fragments" -name '*.yml' -o -name '*.yaml' | wc -l)
[ "$fragments" -gt 0 ] || fail "no changelog fragments to release"

(
  cd "$copy"
  export PATH="$VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$work" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
  "$VENV/bin/antsibull-changelog" release --version "$version" --date 2000-01-01 >"$work/release.log" 2>&1 \
    || fail "antsibull-changelog release failed: $(cat "$work/release.log")"
)
[ -s "$copy/CHANGELOG.md" ] || fail "antsibull-changelog release wrote no CHANGELOG.md"

# The version's heading, each fragment entry (compared on its words, as the Markdown rendering
# changes the markup) under it, and each module; trivial entries are not part of the changelog.
# shellcheck disable=SC2016  # the Python program is single-quoted on purpose
"$VENV/bin/python" - "$ROOT/changelogs/fragments" "$copy/CHANGELOG.md" "$copy/changelogs/changelog.yaml" "$version" <<'PY'
import os
import re
import sys

import yaml

fragdir, changelog_md, changes_file, version = sys.argv[1:5]
config = yaml.safe_load(open(os.path.join(os.path.dirname(fragdir), "config.yaml")))
sections = {key for key, _title in config["sections"]} | {config["prelude_section_name"]}
# Markdown as antsibull-changelog writes it: HTML anchors and <code>, links, backslash escapes.
text = open(changelog_md, encoding="utf-8").read()
text = re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", re.sub(r"<[^>]+>", "", text.replace("\\", "")))


def words(s):
    return " ".join(re.findall(r"[A-Za-z0-9]+", s)).lower()


problems = []
heading = re.search(r"^#+ v%s$" % re.escape(version), text, re.M)
if not heading:
    problems.append("CHANGELOG.md has no heading for v%s" % version)
body = words(text[heading.end():] if heading else text)
released = yaml.safe_load(open(changes_file))["releases"].get(version, {})
entries = 0
for name in sorted(os.listdir(fragdir)):
    if not name.endswith((".yml", ".yaml")):
        continue
    for section, items in (yaml.safe_load(open(os.path.join(fragdir, name))) or {}).items():
        if section == config["trivial_section_name"] or section not in sections:
            continue
        for item in [items] if isinstance(items, str) else items:
            entries += 1
            if words(item) not in body:
                problems.append("%s: %s entry missing from CHANGELOG.md: %.70s" % (name, section, item))
            if name.rsplit(".", 1)[0] not in released.get("fragments", []) and \
                    name not in released.get("fragments", []):
                problems.append("%s: not recorded in changelog.yaml for %s" % (name, version))
# Every module present is a new module of the first release (its version_added).
moddir = os.path.join(os.path.dirname(os.path.dirname(changes_file)), "plugins", "modules")
for module in sorted(n[:-3] for n in os.listdir(moddir) if n.endswith(".py") and not n.startswith("_")):
    if words("lanbridge.core.%s - " % module) not in body:
        problems.append("CHANGELOG.md does not list the new module lanbridge.core.%s" % module)
if problems:
    sys.exit("release: " + "\n release: ".join(sorted(set(problems))))
print("release: antsibull-changelog release %s wrote CHANGELOG.md with all %d entries and modules" % (version, entries))
PY
