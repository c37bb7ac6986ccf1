"""The codec's proxy neighbour message: what the request carries decodes back to the same entry."""
import socket

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import codec
from ansible_collections.lanbridge.core.plugins.module_utils._kernel import constants as C


@pytest.mark.parametrize("family, address", [("inet", "192.0.2.10"), ("inet6", "2001:db8::10")])
def test_proxy_entry_round_trip(family, address):
    number = C.FAMILY_NUMBERS[family]
    payload = C.NDMSG.pack(number, 7, C.NUD_PERMANENT, C.NTF_PROXY, 0) + codec.attr(
        C.NDA_DST, socket.inet_pton(number, address))
    assert codec.DECODERS[C.RTM_NEWNEIGH](payload) == {
        "index": 7, "family": family, "address": address, "mac": None, "proxy": True}


def test_plain_neighbour_with_mac_is_not_proxy():
    payload = (C.NDMSG.pack(socket.AF_INET, 3, C.NUD_PERMANENT, 0, 1)
               + codec.attr(C.NDA_DST, socket.inet_pton(socket.AF_INET, "192.0.2.1"))
               + codec.attr_mac(C.NDA_LLADDR, "02:00:00:00:00:01"))
    assert codec.decode_neighbour(payload) == {
        "index": 3, "family": "inet", "address": "192.0.2.1", "mac": "02:00:00:00:00:01", "proxy": False}
