#!/usr/bin/env bash
# Shell baseline of the benchmark: the seed's per-container commands (docs: seed-procedure.md),
# with ip in place of brctl/ifconfig/route, one command per step, in a plain loop.
# Run by tests/bench/bench.py inside a lab host's namespace (ip netns exec), never elsewhere:
#   bash shell_baseline.sh LIST BRIDGE      (LIST lines: index pid address/prefix gateway)
set -eu
list=$1
bridge=$2
while read -r i pid addr gw; do
  ip link add "sb$i" type veth peer name "sc$i"       # ip link add peerA type veth peer name peerB
  ip link set "sb$i" master "$bridge"                 # brctl addif br0 peerA
  ip link set "sb$i" up                               # ip link set peerA up
  ip link set "sc$i" netns "$pid"                     # ip link set peerB netns ${container-pid}
  # inside the container's network namespace:
  nsenter --net="/proc/$pid/ns/net" ip link set dev "sc$i" name eth1
  nsenter --net="/proc/$pid/ns/net" ip link set eth1 up
  nsenter --net="/proc/$pid/ns/net" ip addr add "$addr" dev eth1
  # route add default gw: replace, as Docker's default route is already there
  nsenter --net="/proc/$pid/ns/net" ip route replace default via "$gw" dev eth1
done < "$list"
