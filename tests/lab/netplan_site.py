"""The administrator's netplan file of the lab's netplan hosts (test data as well).

Ordinary YAML as administrators write it: comments, a flow mapping over two
lines (``nameservers``), an anchor (``&jumbo``) on a mapping and its alias,
and interfaces besides the uplink that are not plugged in (the storage ports
by name, ``spare`` by MAC with ``set-name``). ``site_yaml`` fills in one
host's addresses; ``PATH`` is where the lab writes it (mode 0600, as netplan
wants).

    from tests.lab import netplan_site
    text = netplan_site.site_yaml(renderer="networkd", dhcp=False,
                                  address4="198.51.100.11/24",
                                  address6="2001:db8:100::b/64")
"""

from ._const import GATEWAY4, GATEWAY6

PATH = "/etc/netplan/50-site.yaml"
MODE = 0o600
# netplan's spelling of each renderer
RENDERERS = {"networkd": "networkd", "networkmanager": "NetworkManager"}
SPARE_MAC = "02:00:c6:33:64:fe"
DNS4, DNS6 = GATEWAY4, GATEWAY6  # the lab has no DNS server: the names are only carried
SEARCH = "lab.example"

_HEAD = """\
# {path}: the site's network, written by the installer and edited by hand since.
# Keep the comments: the next administrator reads them.
network:
  version: 2
  renderer: {renderer}
  ethernets:
    em1:                          # the uplink to the LAN switch
"""
_STATIC = """\
      addresses:
        - {address4}
        - "{address6}"
      routes:
        - to: default
          via: {gateway4}
        - to: default
          via: "{gateway6}"
"""
_DHCP = """\
      dhcp4: true                 # a fixed lease per MAC from the site's DHCP server
      addresses: ["{address6}"]
      routes:
        - to: default
          via: "{gateway6}"
"""
_TAIL = """\
      accept-ra: false
      nameservers: {{addresses: [{dns4}, "{dns6}"],
                    search: [{search}]}}
    storage0: &jumbo              # the storage ports: jumbo frames, cabled on demand
      mtu: 9000
      optional: true
      dhcp4: false
      link-local: []
    storage1: *jumbo
    spare:                        # the spare port, known by its MAC (not plugged in)
      match:
        macaddress: "{spare}"
      set-name: spare
      optional: true
"""


def site_yaml(renderer, dhcp, address4, address6, gateway4=GATEWAY4, gateway6=GATEWAY6):
    """The file's text for one host: ``renderer`` networkd or networkmanager, CIDR addresses."""
    text = _HEAD + (_DHCP if dhcp else _STATIC) + _TAIL
    return text.format(path=PATH, renderer=RENDERERS[renderer], address4=address4,
                       address6=address6, gateway4=gateway4, gateway6=gateway6,
                       dns4=DNS4, dns6=DNS6, search=SEARCH, spare=SPARE_MAC)
