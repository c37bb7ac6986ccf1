#!/usr/bin/env bash
# Install everything lanbridge.core's tests, lab and demo need on a fresh Debian 12 (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  docker.io            # the lab's Docker Engines (one per lab host, inside its namespace)
  busybox-static       # the lab's container image (docker import)
  podman uidmap        # Podman targets
  runc containernetworking-plugins   # the lab's Podman: runc through its wrapper, the CNI network "lab"
  curl                 # tests/lab/test_podman_lab.py asks Podman's API socket directly
  openssh-server openssh-client   # the lab hosts' sshd, the controller's ssh
  netcat-openbsd       # ProxyCommand from the controller namespace
  iproute2 iptables iputils-ping iputils-arping procps
  python3-pyroute2     # the managed nodes' pyroute2 (Debian 12: 0.7.2), used by /usr/bin/python3
  python3-venv rsync git make
  shellcheck           # ansible-test sanity checks the shell scripts with it
  mmdebstrap systemd-container   # the lab's booted hosts: their Debian 12 image, systemd-nspawn
  dnsmasq-base         # DHCP on the lab LAN (runs only inside the lab's switch namespace)
  netplan.io           # netplan generate --root-dir for the netplan corpus test (writes only under its root; no service started)
)
if [ "$(id -u)" != 0 ]; then echo "install-deps: run as root" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
# Docker's packaged service must not start an engine in the root namespace: the lab starts its own.
systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
make venv
