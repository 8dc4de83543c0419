#!/usr/bin/env python3
"""Tests of bench/network.py's parsing: `python3 bench/test_network.py`."""

import socket
import struct
import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import network as n  # noqa: E402

PING = """PING 10.252.0.12 (10.252.0.12) 56(84) bytes of data.
64 bytes from 10.252.0.12: icmp_seq=1 ttl=64 time=0.061 ms
64 bytes from 10.252.0.12: icmp_seq=2 ttl=64 time=0.043 ms

--- 10.252.0.12 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 10ms
"""

PING_D = """[1765130000.100000] 64 bytes from 10.1.0.2: icmp_seq=1 ttl=64 time=0.05 ms
[1765130000.110000] no answer yet for icmp_seq=2
[1765130005.250000] 64 bytes from 10.1.0.2: icmp_seq=400 ttl=64 time=0.07 ms
"""

DNSPERF = """Statistics:

  Queries sent:         81649
  Queries completed:    81649 (100.00%)
  Queries lost:         0 (0.00%)

  Response codes:       NOERROR 81649 (100.00%)
  Average packet size:  request 24, response 40
  Run time (s):         2.000943
  Queries per second:   40805.260086

  Average Latency (s):  0.002421 (min 0.000104, max 0.009877)
  Latency StdDev (s):   0.000562
"""


class ParsingTests(unittest.TestCase):
    def test_paired_rounds_split_the_count_evenly(self):
        self.assertEqual(n.paired_rounds(200, 5), [40] * 5)
        self.assertEqual(n.paired_rounds(52, 5), [11, 11, 10, 10, 10])
        self.assertEqual(n.paired_rounds(3, 5), [1, 1, 1])
        self.assertEqual(sum(n.paired_rounds(3001, 5)), 3001)

    def test_ping_average_reads_the_summary_line(self):
        text = ("--- 10.0.0.2 ping statistics ---\n3000 packets transmitted, 3000 received, 0% packet loss, time 310ms\n"
                "rtt min/avg/max/mdev = 0.013/0.021/0.412/0.009 ms, ipg/ewma 0.103/0.020 ms\n")
        self.assertEqual(n.ping_average(text), 0.021)
        self.assertIsNone(n.ping_average("--- x ping statistics ---\n3 packets transmitted, 0 received, 100% packet loss\n"))

    def test_ping_rtts_reads_each_reply(self):
        self.assertEqual(n.ping_rtts(PING), [0.061, 0.043])

    def test_ping_replies_skip_lines_without_a_reply(self):
        self.assertEqual(n.ping_replies(PING_D), [1765130000.1, 1765130005.25])

    def test_first_after_measures_from_the_link_coming_back(self):
        self.assertAlmostEqual(n.first_after([1.0, 5.25, 6.0], 5.0), 0.25)
        self.assertIsNone(n.first_after([1.0], 5.0))

    def test_iperf3_reads_the_receivers_rate_and_refuses_errors(self):
        self.assertEqual(n.iperf3_bps({"end": {"sum_received": {"bits_per_second": 8.5e9}}}), 8.5e9)
        with self.assertRaises(ValueError):
            n.iperf3_bps({"error": "unable to connect to server: Connection refused"})
        with self.assertRaises(ValueError):
            n.iperf3_bps({"end": {}})

    def test_dnsperf_summary(self):
        f = n.dnsperf_figures(DNSPERF)
        self.assertAlmostEqual(f["qps"], 40805.260086)
        self.assertAlmostEqual(f["latency_ms"], 2.421)
        self.assertEqual((f["completed"], f["lost"], f["noerror"]), (81649, 0, 81649))
        with self.assertRaises(ValueError):
            n.dnsperf_figures("Error: could not open socket")

    def test_dns_query_and_answer_round_trip(self):
        q = n.dns_query("tasks.web", 0x1234)
        self.assertEqual(q[:4], b"\x12\x34\x01\x00")
        self.assertIn(b"\x05tasks\x03web\x00", q)
        # An answer: the question echoed, one A record with a compression pointer to it.
        answer = (struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + q[12:]
                  + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + socket.inet_aton("10.86.1.5"))
        self.assertEqual(n.dns_answer(answer), (0x1234, 0, ["10.86.1.5"]))
        nx = struct.pack("!HHHHHH", 7, 0x8183, 1, 0, 0, 0) + q[12:]
        self.assertEqual(n.dns_answer(nx), (7, 3, []))
        with self.assertRaises(ValueError):
            n.dns_answer(b"\x00\x01")

    def test_ratio_and_verdict(self):
        self.assertIsNone(n.ratio(None, 1.0))
        self.assertIsNone(n.ratio(1.0, 0))
        self.assertEqual(n.ratio(1.0, 2.0), 0.5)
        self.assertEqual(n.verdict(None), "not checked (no result)")
        self.assertEqual(n.verdict(False), "MISSED")


if __name__ == "__main__":
    unittest.main()
