"""container_veth against real rootful Podman containers (Debian 12's Podman 4.3, its Docker API).

The engine is ``podman_engine.py``: the lab's Podman service in a throwaway namespace of its own,
so its bridge-mode containers (203.0.113.0/24 on ``cni-podman0``) and CNI's firewall rules never
touch the root namespace. The module runs in a throwaway "host" namespace with br0 and a LAN
namespace (198.51.100.1/24), as in test_container_veth.py.

``runtime: auto`` picks the socket by what exists at the standard paths (``/run/docker.sock``,
``/run/podman/podman.sock``). That situation is made only inside a private mount namespace
(``unshare --mount``) with a tmpfs over /run, in which the module process is started: the
machine's own /run is never touched.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

import pytest
from helpers import IN_NETNS, ModuleResult, assert_same, bridged_lan, ip_json, ping, snapshot, veth_four_ways
from engine import SLEEPER
from podman_engine import BRIDGE_SUBNET, images, podman_engine_fixture  # noqa: F401  # pylint: disable=unused-import

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, rootful podman)")

PODMAN_SOCKET = "/run/podman/podman.sock"  # Podman's standard socket, as container_veth knows it
DOCKER_SOCKET = "/run/docker.sock"


@pytest.fixture
def lan(netns_factory):
    """(host, lan): br0 in the host namespace, the LAN gateway 198.51.100.1 plugged into it."""
    return bridged_lan(netns_factory)


def run_in_mount_ns(host, args, sockets, check_mode=False, diff=False):
    """Run container_veth in ``host``'s namespace *and* a private mount namespace whose /run is an
    empty tmpfs holding only ``sockets`` (``{standard path: real socket or None}``; None makes an
    empty file: it exists, nothing answers). DOCKER_HOST is unset."""
    payload = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, f)
        path = f.name
    script = ["mount -t tmpfs -o mode=0755 lanbridge-test /run"]
    for at, real in sockets.items():
        script.append("mkdir -p %s && touch %s" % (shlex.quote(os.path.dirname(at)), shlex.quote(at)))
        if real:
            script.append("mount --bind %s %s" % (shlex.quote(real), shlex.quote(at)))
    script.append('exec "$@"')
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "CONTAINER_HOST")}
    try:
        proc = subprocess.run(
            ["nsenter", "--net=" + host.path, "unshare", "--mount", "--propagation", "private", "--",
             "sh", "-ec", " && ".join(script), "lanbridge-test", sys.executable, IN_NETNS, "container_veth", path],
            capture_output=True, text=True, check=False, env=env, timeout=120)
    finally:
        os.unlink(path)
    try:
        return ModuleResult(json.loads(proc.stdout))
    except ValueError as exc:
        raise AssertionError("container_veth printed no JSON (rc %d): %s %s" % (proc.returncode, proc.stdout, proc.stderr)) from exc


def _assert_attached(podman_engine, host, lan, item, name, cid, address):
    pid = podman_engine.pid(name)
    assert item["container_name"] == name and item["container_id"] == cid and item["pid"] == pid
    assert item["netns"] == "/proc/%d/ns/net" % pid and item["ifname"] == "eth1"
    assert ping(lan, address.split("/")[0], attempts=10)
    routes = ip_json(item["netns"], "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in routes] == [("198.51.100.1", "eth1")]
    link = host.links()[item["host_ifname"]]
    assert link["master"] == "br0" and link["ifalias"].startswith("lanbridge:veth id=container:" + cid)
    assert "name=%s" % name in link["ifalias"]


@pytest.mark.parametrize("network", ["bridge", "none"])
def test_podman_container_by_name(lan, podman_engine, module_runner, network):
    """A rootful Podman container by name, through Podman's socket; the repeat changes nothing."""
    host, lan_ns = lan
    name, cid = podman_engine.run(network=network)
    address = "198.51.100.20/24" if network == "bridge" else "198.51.100.21/24"
    args = {"container": name, "runtime": "podman", "docker_host": podman_engine.url, "bridge": "br0",
            "addresses": [address], "gateway": "198.51.100.1"}

    def run(a, check_mode=False, diff=False):
        return module_runner("container_veth", host, a, check_mode=check_mode, diff=diff)

    before_engine_ns = snapshot(podman_engine.netns)
    result = veth_four_ways(run, args)
    _assert_attached(podman_engine, host, lan_ns, result["interfaces"][0], name, cid, address)
    if network == "bridge":
        # Podman's own eth0 stays: its subnet route is still there, only the default route moved
        routes = ip_json(result["interfaces"][0]["netns"], "route", "show")
        assert any(r["dst"] == BRIDGE_SUBNET and r["dev"] == "eth0" for r in routes), routes
    # the engine's namespace (cni-podman0 and the containers' host ends) is not where the module acts
    assert_same(before_engine_ns, snapshot(podman_engine.netns), "the Podman service's namespace")


def test_runtime_auto_with_only_podmans_socket(lan, podman_engine):
    """No docker_host, no DOCKER_HOST, /run/docker.sock absent, /run/podman/podman.sock present:
    ``runtime: auto`` must take Podman's socket (a private mount namespace makes that world)."""
    host, lan_ns = lan
    name, cid = podman_engine.run()
    args = {"container": name, "bridge": "br0", "addresses": ["198.51.100.30/24"], "gateway": "198.51.100.1"}
    sockets = {PODMAN_SOCKET: podman_engine.sock}

    def run(a, check_mode=False, diff=False):
        return run_in_mount_ns(host, a, sockets, check_mode=check_mode, diff=diff)

    result = veth_four_ways(run, args)
    _assert_attached(podman_engine, host, lan_ns, result["interfaces"][0], name, cid, "198.51.100.30/24")
    # and the engine it asked was Podman, at its standard path
    missing = run_in_mount_ns(host, dict(args, container="lbt-nosuch"), sockets)
    assert missing.failed
    assert "no container named lbt-nosuch (runtime podman at unix://%s)" % PODMAN_SOCKET in missing["msg"], missing["msg"]
    # the machine's own /run was not touched
    assert not os.path.exists(PODMAN_SOCKET) or os.path.realpath(PODMAN_SOCKET) != podman_engine.sock


def test_runtime_auto_prefers_docker_when_both_sockets_exist(lan, podman_engine):
    """With /run/docker.sock there too, ``runtime: auto`` takes Docker's socket (documented order):
    here nothing answers on it, so the message names the Docker engine and its standard path."""
    host, _lan_ns = lan
    name, _cid = podman_engine.run()
    args = {"container": name, "bridge": "br0", "addresses": ["198.51.100.31/24"]}
    before = snapshot(host, link_state=False)
    result = run_in_mount_ns(host, args, {PODMAN_SOCKET: podman_engine.sock, DOCKER_SOCKET: None})
    assert result.failed
    assert "docker engine at unix://%s" % DOCKER_SOCKET in result["msg"], result["msg"]
    assert_same(before, snapshot(host, link_state=False), "host namespace after the failed run")


def test_a_pod_member_is_refused_and_its_infra_container_is_attached(lan, podman_engine, module_runner):
    """Members of a Podman pod share the infra container's network namespace: attaching a member would
    let two entries rewrite one namespace, so it is refused naming the infra container, and the infra
    container (the namespace's owner) is what to target."""
    host, lan_ns = lan
    pod = "lbt-pod-%s" % os.urandom(4).hex()
    # an infra image that sleeps (no registry for Podman's pause image): the lab's busybox, committed
    # with the test containers' sleeper as entrypoint (--infra-command takes no arguments; the image's
    # CMD becomes the script's $0)
    podman_engine.podman("create", "--name", pod + "-base", images.IMAGE)
    podman_engine.podman("commit", "--change", "ENTRYPOINT " + json.dumps(SLEEPER), pod + "-base", "localhost/" + pod)
    podman_engine.podman("rm", pod + "-base")
    podman_engine.podman("pod", "create", "--name", pod, "--network", "none", "--infra-image", "localhost/" + pod,
                         "--cgroup-parent=" + podman_engine.cgroup_parent)
    try:
        member, _cid = podman_engine.start_container(None, ["--pod", pod])
        infra = podman_engine.podman("pod", "inspect", "-f", "{{.InfraContainerID}}", pod)
        assert podman_engine.pid(member) != podman_engine.pid(infra)
        args = {"container": member, "runtime": "podman", "docker_host": podman_engine.url, "bridge": "br0",
                "addresses": ["198.51.100.40/24"], "gateway": "198.51.100.1"}
        before = snapshot(host, link_state=False)
        refused = module_runner("container_veth", host, args)
        assert refused.failed and not refused.get("changed")
        # Podman 4.3 reports a member's network mode as container:<infra ID>, so the refusal names the infra
        # container (the unit tests cover engines that report the pod instead)
        infra_name = podman_engine.podman("inspect", "-f", "{{.Name}}", infra)
        assert refused["msg"].startswith("container %s shares the network namespace of container %s" % (member, infra_name))
        assert "target container %s instead" % infra_name in refused["msg"], refused["msg"]
        assert_same(before, snapshot(host, link_state=False), "host namespace after the refusal")
        attached = module_runner("container_veth", host, dict(args, container=infra))
        assert attached["changed"] and not attached.failed, attached
        assert ping(lan_ns, "198.51.100.40", attempts=10)
        member_ns = "/proc/%d/ns/net" % podman_engine.pid(member)
        assert os.stat(member_ns).st_ino == os.stat(attached["interfaces"][0]["netns"]).st_ino  # the member is on the LAN too
    finally:
        podman_engine.podman("pod", "rm", "-f", "-t", "0", pod, check=False)
        podman_engine.podman("rmi", "localhost/" + pod, check=False)
