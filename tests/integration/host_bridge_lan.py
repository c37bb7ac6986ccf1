"""The seed's topology for host_bridge tests, in throwaway namespaces.

``lan`` namespace: a bridge ``sw`` (the LAN switch) with the gateway 198.51.100.254/24 on it and a
client namespace ``client`` (198.51.100.50/24) plugged in; ``host`` namespace: ``em1`` (a veth
whose other end is a port of ``sw``) with 198.51.100.11/24 and a default route via the gateway,
plus ``em2`` (a spare NIC, down).
"""
import json
import os
import subprocess
import sys

HOST_IP = "198.51.100.11"
GATEWAY = "198.51.100.254"
CLIENT_IP = "198.51.100.50"
EM1_MAC = "02:00:00:00:01:01"


class Lan:
    def __init__(self, host, lan, client):
        self.host, self.lan, self.client = host, lan, client

    def cut(self):
        """Make the gateway unreachable: take the LAN side of em1 down."""
        self.lan.ip("link", "set", "p-host", "down")


def build(netns_factory, ipv6=False, host=None, host_ip=HOST_IP):
    """The topology, with ``host`` (a namespace made before; default: a new one) as the host and
    ``host_ip`` as em1's address."""
    host = host or netns_factory("host")
    lan, client = netns_factory("lan"), netns_factory("cli")
    lan.ip("link", "add", "sw", "type", "bridge")
    lan.ip("link", "set", "sw", "up")
    lan.ip("addr", "add", GATEWAY + "/24", "dev", "sw")
    lan.ip("link", "add", "p-host", "type", "veth", "peer", "name", "em1", "netns", host.name)
    lan.ip("link", "add", "p-cli", "type", "veth", "peer", "name", "eth0", "netns", client.name)
    for port in ("p-host", "p-cli"):
        lan.ip("link", "set", port, "master", "sw")
        lan.ip("link", "set", port, "up")
    host.ip("link", "set", "em1", "address", EM1_MAC)
    host.ip("link", "set", "em1", "up")
    host.ip("addr", "add", host_ip + "/24", "brd", "+", "dev", "em1")
    host.ip("route", "add", "default", "via", GATEWAY, "dev", "em1", "proto", "static")
    host.ip("link", "add", "em2", "type", "veth", "peer", "name", "em2p")
    client.ip("addr", "add", CLIENT_IP + "/24", "dev", "eth0")
    client.ip("link", "set", "eth0", "up")
    if ipv6:
        lan.ip("addr", "add", "2001:db8::fe/64", "dev", "sw", "nodad")
        host.ip("addr", "add", "2001:db8::11/64", "dev", "em1", "nodad")
        host.ip("-6", "route", "add", "default", "via", "2001:db8::fe", "dev", "em1", "metric", "1024")
    return Lan(host, lan, client)


SERVER = r"""
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(1)
print("ready", flush=True)
conn, _ = srv.accept()
while True:
    data = conn.recv(1024)
    if not data:
        break
    conn.sendall(data)
"""

CLIENT = r"""
import json, socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((host, port), timeout=5)
print("connected", flush=True)
worst, sent, start = 0.0, 0, time.monotonic()
while time.monotonic() - start < seconds:
    t = time.monotonic()
    s.sendall(b"x" * 64)
    got = b""
    while len(got) < 64:
        got += s.recv(64 - len(got))
    worst = max(worst, time.monotonic() - t)
    sent += 1
    time.sleep(0.005)
print(json.dumps({"echoes": sent, "worst_rtt": worst}), flush=True)
"""


class TcpProbe:
    """An echo server in ``host`` and a client in ``client`` exchanging messages every 5 ms."""

    def __init__(self, lan, seconds, port=7777):
        self.server = subprocess.Popen(["ip", "netns", "exec", lan.host.name, sys.executable, "-c", SERVER, str(port)],
                                       stdout=subprocess.PIPE, text=True)
        assert self.server.stdout.readline().strip() == "ready"
        self.client = subprocess.Popen(["ip", "netns", "exec", lan.client.name, sys.executable, "-c", CLIENT, HOST_IP,
                                        str(port), str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.client.stdout.readline().strip() == "connected"

    def result(self):
        out, err = self.client.communicate(timeout=60)
        self.server.kill()
        self.server.wait()
        if self.client.returncode != 0:
            raise AssertionError("TCP client failed (%s): %s" % (self.client.returncode, err.strip()[-500:]))
        return json.loads(out.strip().splitlines()[-1])


def run(module_runner, ns, args, check=False, diff=True):
    """One host_bridge run in ``ns`` (``helpers.run_module`` through the ``module_runner`` fixture), with diff by default."""
    return module_runner("host_bridge", ns, args, check_mode=check, diff=diff)


__all__ = ["build", "TcpProbe", "run", "os"]
