"""Every netplan YAML the administrator may write is read as netplan reads it, then persisted or refused.

The corpus: netplan's own examples (``netplan_examples/``, netplan's ``examples/``, GPL-3.0), the
lab's administrator's file (``tests/lab/netplan_site.py``: static and DHCP, both renderers) and
``netplan_corpus/`` (anchors and aliases, flow collections over several lines, block scalars,
document markers, comments). For each file, its first ``ethernets`` entry is the uplink:

- it is read as PyYAML reads netplan's YAML (the first document, every scalar a string);
- the netplan renderer either refuses it with a sentence naming the key (``network.<...>``), or
  plans files that ``netplan generate --root-dir`` accepts whenever it accepts the file as it is,
  and in what netplan generates the bridge holds the uplink's addresses and the port none.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml
from persist_samples import MAC

from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError
from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, netplan, netplan_yaml, owner
from ansible_collections.lanbridge.core.plugins.module_utils._persist.model import model_from

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", ".."))
from lab import netplan_site  # noqa: E402  the lab's administrator's netplan file, as test data

BRIDGE = "lanbr0"
PATH = "/etc/netplan/50-site.yaml"


def _yaml_name(path):
    return os.path.basename(path)[:-len(".netplan")] + ".yaml"


def corpus():
    # kept as NAME.netplan (YAML as data, not checked by the collection's YAML linters), read as NAME.yaml
    files = dict((_yaml_name(p), p) for p in sorted(glob.glob(os.path.join(HERE, "netplan_examples", "*.netplan"))))
    files.update(("corpus-" + _yaml_name(p), p) for p in sorted(glob.glob(os.path.join(HERE, "netplan_corpus", "*.netplan"))))
    out = {}
    for name, path in files.items():
        with open(path) as handle:
            out[name] = handle.read()
    for renderer in sorted(netplan_site.RENDERERS):
        for dhcp in (False, True):
            out["lab-%s-%s" % (renderer, "dhcp" if dhcp else "static")] = netplan_site.site_yaml(
                renderer, dhcp, "198.51.100.11/24", "2001:db8:100::b/64")
    return out


CORPUS = corpus()


def uplink_of(data):
    """``(entry id, interface name, MAC)`` of the first ``ethernets`` entry, or None."""
    ethernets = ((data or {}).get("network") or {}).get("ethernets") or {}
    for entry_id, written in ethernets.items():
        entry = written if isinstance(written, dict) else {}
        match = entry.get("match") if isinstance(entry.get("match"), dict) else {}
        name = entry.get("set-name") or (match.get("name") if "name" in match and "*" not in match["name"] else None)
        return entry_id, name or entry_id, (match.get("macaddress") or MAC).lower()
    return None


def generate(files):
    """``(returncode, message, {path below the root: text})`` of ``netplan generate --root-dir`` on ``files``."""
    root = tempfile.mkdtemp(prefix="lanbridge-corpus-")
    try:
        for path, text in files.items():
            full = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(full), mode=0o700, exist_ok=True)
            with open(os.open(full, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
                handle.write(text)
        proc = subprocess.run(["netplan", "generate", "--root-dir", root], capture_output=True, text=True, timeout=60, check=False)
        out = {}
        for directory, _dirs, names in os.walk(os.path.join(root, "run")):
            for name in (n for n in names if os.path.isfile(os.path.join(directory, n))):
                with open(os.path.join(directory, name)) as handle:
                    out[os.path.relpath(os.path.join(directory, name), root)] = handle.read()
        return proc.returncode, (proc.stderr or proc.stdout).strip(), out
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_read_as_pyyaml_reads_the_first_document(name):
    text = CORPUS[name]
    _node, data = netplan_yaml.load(text, name)
    assert data == next(yaml.load_all(text, Loader=yaml.BaseLoader))  # nosec: BaseLoader builds no objects


def plan_for(text):
    """``(uplink, current, plan)``: the renderer's plan for the file with its first ethernet as the uplink."""
    _node, data = netplan_yaml.load(text, PATH)
    entry_id, uplink, mac = uplink_of(data) or ("em1", "em1", MAC)
    current = {PATH: text}
    addressing = owner.addressing_of("netplan", uplink, current, mac)
    model = model_from(BRIDGE, uplink, mac, addressing, addresses=["198.51.100.31/24"], forward_delay=15)
    return (entry_id, uplink), current, netplan.render(model, current)


@pytest.mark.needs("netplan")
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_rendered_or_refused_naming_the_key(name):
    text = CORPUS[name]
    try:
        (entry_id, _uplink), current, plan = plan_for(text)
    except PersistError as exc:
        assert "persist netplan: network." in str(exc), str(exc)
        return
    before, _message, _out = generate(current)
    after = common.simulate(current, plan)
    code, message, out = generate(after)
    if before != 0:
        return  # netplan refuses the file as it is (a key newer than this netplan): no better after
    assert code == 0, "%s: netplan generate refuses the planned files: %s\n%s" % (name, message, after)
    _node, data = netplan_yaml.load(text, PATH)
    addresses = (data["network"].get("ethernets", {}).get(entry_id) or {}).get("addresses") or []
    port = "\n".join(t for p, t in out.items() if p.endswith(("-%s.network" % entry_id, "-%s.nmconnection" % entry_id)))
    bridge = "\n".join(t for p, t in out.items() if p.endswith(("-%s.network" % BRIDGE, "-%s.nmconnection" % BRIDGE)))
    assert bridge, (name, sorted(out))
    for address in addresses:
        assert str(address) in bridge and str(address) not in port, (name, address, port, bridge)


def test_the_corpus_holds_what_it_claims():
    """netplan's examples and ours are all here; some are refused, most rendered (a guard against a corpus that tests nothing)."""
    assert len([n for n in CORPUS if not n.startswith(("corpus-", "lab-"))]) >= 30
    refused = []
    for name, text in sorted(CORPUS.items()):
        try:
            plan_for(text)
        except PersistError as exc:
            refused.append((name, str(exc)))
    assert {"corpus-anchor-shared.yaml", "vlan.yaml", "bonding.yaml"} <= set(n for n, _e in refused), refused
    assert len(refused) < len(CORPUS) / 3, refused
