#!/usr/bin/env bash
# make demo: bring up the lab, run `ansible-playbook lanbridge.core.site` with the example
# inventory (examples/inventory: uplink em1, bridge br0, containers on eth1 with LAN addresses,
# LAN gateway 198.51.100.254), then show from the LAN client which container answers where.
# The lab stays up afterwards (try it yourself); `make lab-down` removes it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_HOST_KEY_CHECKING=false
export ANSIBLE_PIPELINING=true
LAB_DIR=${LANBRIDGE_LAB_DIR:-$ROOT/.lab}
# The example inventory names the lab's hosts lb-h1 and lb-h2: the lab's default prefix.
PREFIX=lb
mkdir -p "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/lanbridge"
ln -sfn "$ROOT" "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/lanbridge/core"

echo "== 1. the lab: a LAN in network namespaces, 2 hosts (em1, sshd, Docker with app1..app3)"
python3 tests/lab/lab.py up --state-dir "$LAB_DIR" --prefix "$PREFIX" --hosts 2 --containers 3 --forward-drop 2

echo
echo "== 2. ansible-playbook lanbridge.core.site -i $LAB_DIR/inventory.yml -i examples/inventory"
ansible-playbook -i "$LAB_DIR/inventory.yml" -i examples/inventory lanbridge.core.site

echo
echo "== 3. from the LAN client ($PREFIX-client, 198.51.100.250): ping every container and host"
ansible-inventory -i "$LAB_DIR/inventory.yml" -i examples/inventory --list \
  | python3 -c '
import json, sys
inv = json.load(sys.stdin)
hostvars = inv["_meta"]["hostvars"]
for host in inv["container_lan"]["hosts"]:
    hv = hostvars[host]
    print("%s\t(the host itself)\t%s" % (host, hv["ansible_host"]))
    for entry in hv.get("container_lan_interfaces", []):
        addresses = entry.get("addresses") or [entry.get("address")]
        print("%s\t%s\t%s" % (host, entry["container"], addresses[0].split("/")[0]))
' > "$LAB_DIR/demo-targets.tsv"

printf '%-8s %-20s %-16s %s\n' HOST CONTAINER ADDRESS "PING FROM THE LAN"
failures=0
while IFS=$'\t' read -r host container address; do
  if ip netns exec "$PREFIX-client" ping -c 1 -W 2 "$address" >/dev/null 2>&1; then
    result=answers
  else
    result="NO ANSWER"; failures=$((failures + 1))
  fi
  printf '%-8s %-20s %-16s %s\n' "$host" "$container" "$address" "$result"
done < "$LAB_DIR/demo-targets.tsv"

echo
echo "The lab is still up: try  ip netns exec $PREFIX-client ping 198.51.100.21"
echo "or  docker -H unix:///run/lanbridge-lab/$PREFIX/h1/docker.sock exec app1 ip addr show eth1"
echo "Remove it with: make lab-down"
exit $(( failures > 0 ))
