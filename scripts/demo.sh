#!/usr/bin/env bash
# make demo: the whole story on two booted Debian 12 lab hosts (systemd-networkd on lb-h1,
# NetworkManager on lb-h2, whose iptables FORWARD policy is DROP (--forward-drop 2); Docker as a
# service, containers with --restart always):
#   1. converge `ansible-playbook lanbridge.core.site` with the example inventory (examples/inventory:
#      uplink em1, bridge br0, containers on eth1 with LAN addresses, gateway 198.51.100.254);
#   2. ping every container and host from the LAN client;
#   3. `docker restart` one container: the agent puts it back on the LAN by itself;
#   4. reboot one host: its bridge comes back from its network manager's files, its containers
#      through the agent;
#   5. a second run changes nothing.
# It ends with a short table. The lab stays up afterwards (try it yourself); `make lab-down` removes it.
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
LAB=(python3 tests/lab/lab.py)
INV=(-i "$LAB_DIR/inventory.yml" -i examples/inventory)
mkdir -p "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/lanbridge"
ln -sfn "$ROOT" "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/lanbridge/core"

say() { printf '\n== %s\n' "$*"; }
answers() { ip netns exec "$PREFIX-client" ping -c 1 -W 1 "$1" >/dev/null 2>&1; }
# seconds from $3 (epoch seconds; default now) until $1 answers from the LAN client (asked every
# 0.1 s, for up to $2 s), or "never"
until_answers() {
  python3 - "$PREFIX-client" "$1" "$2" "${3:-}" <<'PY'
import subprocess, sys, time
ns, address, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
start = float(sys.argv[4]) if sys.argv[4] else time.time()
while time.time() - start < limit:
    if subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", address],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        print("%.1f s" % (time.time() - start))
        sys.exit(0)
    time.sleep(0.1)
print("never (%g s)" % limit)
sys.exit(1)
PY
}
changed_total() { grep -Eo 'changed=[0-9]+' "$1" | awk -F= '{ n += $2 } END { print n + 0 }'; }

say "1. the lab: a LAN in network namespaces, two booted hosts (networkd, NetworkManager with FORWARD DROP), Docker with app1..app3"
"${LAB[@]}" up --state-dir "$LAB_DIR" --prefix "$PREFIX" --containers 3 --booted networkd,networkmanager --forward-drop 2

say "2. ansible-playbook lanbridge.core.site ${INV[*]}"
ansible-playbook "${INV[@]}" lanbridge.core.site | tee "$LAB_DIR/demo-run1.txt" | tail -n 6

ansible-inventory "${INV[@]}" --list | python3 -c '
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
declare -A PING
failures=0
while IFS=$'\t' read -r host container address; do
  if answers "$address"; then PING["$host $container"]=answers; else PING["$host $container"]="NO ANSWER"; failures=$((failures + 1)); fi
done < "$LAB_DIR/demo-targets.tsv"

say "3. docker restart app2 on lb-h1, no Ansible run: the agent puts it back"
app2=$(awk -F'\t' '$1 == "lb-h1" && $2 == "app2" {print $3}' "$LAB_DIR/demo-targets.tsv")
t0=$(date +%s.%N)
"${LAB[@]}" exec lb-h1 --state-dir "$LAB_DIR" -- docker restart -t 1 app2 >/dev/null
restart_back=$(until_answers "$app2" 30 "$t0") || failures=$((failures + 1))
echo "lb-h1 app2 ($app2) answers again $restart_back after the restart began"

say "4. reboot lb-h2, no Ansible run: the bridge from NetworkManager's files, the containers through the agent"
t0=$(date +%s.%N)
"${LAB[@]}" reboot lb-h2 --state-dir "$LAB_DIR"
declare -A BACK
while IFS=$'\t' read -r host container address; do
  [ "$host" = lb-h2 ] || continue
  BACK["$container"]=$(until_answers "$address" 120 "$t0") || failures=$((failures + 1))
done < "$LAB_DIR/demo-targets.tsv"

say "5. the same playbook again"
ansible-playbook "${INV[@]}" lanbridge.core.site > "$LAB_DIR/demo-run2.txt"
tail -n 4 "$LAB_DIR/demo-run2.txt"
second=$(changed_total "$LAB_DIR/demo-run2.txt")
[ "$second" = 0 ] || failures=$((failures + 1))

say "the story, from the LAN client ($PREFIX-client, 198.51.100.250)"
printf '%-7s %-18s %-15s %-12s %-22s %s\n' HOST CONTAINER ADDRESS "AFTER RUN 1" "DOCKER RESTART" "REBOOT (from poweroff)"
while IFS=$'\t' read -r host container address; do
  restart=-; reboot=-
  if [ "$host $container" = "lb-h1 app2" ]; then restart="back in $restart_back"; fi
  if [ "$host" = lb-h2 ]; then reboot="back in ${BACK[$container]}"; fi
  printf '%-7s %-18s %-15s %-12s %-22s %s\n' "$host" "$container" "$address" "${PING[$host $container]}" "$restart" "$reboot"
done < "$LAB_DIR/demo-targets.tsv"
echo "second run: changed=$second"

echo
echo "The lab is still up: try  ip netns exec $PREFIX-client ping $app2"
echo "or  python3 tests/lab/lab.py exec lb-h1 -- journalctl -u lanbridge-attach"
echo "Remove it with: make lab-down"
exit $(( failures > 0 ))
