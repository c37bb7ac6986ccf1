"""Packets as bytes (``_kernel.frames``) and the BPF program, on plain data."""
import struct

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import frames


def run_bpf(program, frame):
    """A tiny interpreter of the classic BPF subset the filter uses: the bytes it accepts."""
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == frames.BPF_LD_H_ABS:
            acc = struct.unpack("!H", frame[k:k + 2])[0]
        elif code == frames.BPF_LD_W_ABS:
            acc = struct.unpack("!I", frame[k:k + 4])[0]
        elif code == frames.BPF_JEQ_K:
            pc += jt if acc == k else jf
        elif code == frames.BPF_RET_K:
            return k
        pc += 1


def test_arp_frames_round_trip():
    frame = frames.arp_frame(1, "02:00:00:00:00:0a", "02:00:00:00:00:0a", "198.51.100.1", frames.ZERO_MAC,
                             "198.51.100.2")
    assert len(frame) == 60
    assert frames.parse_arp(frame) == {"op": 1, "sender_mac": "02:00:00:00:00:0a", "sender_ip": "198.51.100.1",
                                       "target_mac": "00:00:00:00:00:00", "target_ip": "198.51.100.2"}
    assert frames.parse_arp(b"\x00" * 10) is None
    assert frames.parse_arp(b"\x00" * 12 + b"\x08\x00" + b"\x00" * 46) is None
    assert frames.parse_arp(frames.announcement("198.51.100.3", "02:00:00:00:00:0c"))["target_ip"] == "198.51.100.3"
    assert frames.parse_arp(frames.conflict_probe("198.51.100.3", "02:00:00:00:00:0c"))["sender_ip"] == "0.0.0.0"


def test_the_filter_keeps_answers_and_announcements_only():
    keep = frames.ARP_SENDER_SET_FILTER
    mac = "02:00:00:00:00:0c"
    assert run_bpf(keep, frames.announcement("198.51.100.3", mac)) == frames.ACCEPT_ALL
    assert run_bpf(keep, frames.arp_frame(2, mac, mac, "198.51.100.3", mac, "198.51.100.4")) == frames.ACCEPT_ALL
    assert run_bpf(keep, frames.conflict_probe("198.51.100.3", mac)) == 0   # another interface's probe
    ipv4 = b"\xff" * 12 + b"\x08\x00" + b"\x45" + b"\x00" * 45
    assert run_bpf(keep, ipv4) == 0


def test_neighbour_advertisement_and_icmp_echo():
    na = frames.neighbour_advertisement("2001:db8::10", "02:00:00:00:00:0c")
    assert na[0] == 136 and na[8:24] == bytes.fromhex("20010db8000000000000000000000010") and na[-6:] == bytes.fromhex("02000000000c")
    request = frames.icmp_echo_request(False, 7, 9, b"x")
    reply = b"\x45" + b"\x00" * 19 + bytes([0]) + request[1:]
    assert frames.is_icmp_echo_reply(reply, False, 7, 9) and not frames.is_icmp_echo_reply(reply, False, 7, 10)
    assert frames.is_icmp_echo_reply(bytes([129]) + frames.icmp_echo_request(True, 7, 9, b"x")[1:], True, 7, 9)
