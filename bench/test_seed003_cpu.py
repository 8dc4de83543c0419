#!/usr/bin/env python3
"""Tests of bench/seed003_cpu.py's parsing and statistics: `python3 bench/test_seed003_cpu.py`."""

import sys
import tempfile
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed003_cpu as c  # noqa: E402

# A process whose name holds a space and a parenthesis, as /proc/PID/stat shows it.
PROC_STAT = ("4242 (pier (agent) x) S 1 4242 4242 0 -1 4194560 12000 300 0 0 "
             "150 75 9 4 20 0 12 0 5512 1904640000 11000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0")

CPU_STAT_V2 = """usage_usec 1234567
user_usec 1000000
system_usec 234567
nr_periods 0
nr_throttled 0
throttled_usec 0
"""

PROC_SELF_CGROUP_V1 = """12:pids:/user.slice/user-0.slice/session-3.scope
5:cpuacct:/pb-cpu-77-device
4:cpu:/
1:name=systemd:/user.slice/user-0.slice/session-3.scope
0::/user.slice/user-0.slice/session-3.scope
"""

PROC_SELF_CGROUP_COMBINED = """3:cpu,cpuacct:/docker/abc
0::/
"""


def sample(t, ns, dt=1.0, part="total"):
    return {"t": t, "dt": dt, part: ns}


class ParsingTests(unittest.TestCase):
    def test_proc_stat_fields_after_the_last_parenthesis(self):
        self.assertEqual(c.parse_proc_stat(PROC_STAT), (150, 75, 9, 4))

    def test_proc_stat_truncated_is_an_error(self):
        with self.assertRaises(IndexError):
            c.parse_proc_stat("4242 (pier) S 1 2 3")

    def test_cgroup_v1_usage_is_nanoseconds(self):
        self.assertEqual(c.parse_cgroup_usage("987654321\n", v2=False), 987654321)

    def test_cgroup_v2_usage_from_usage_usec(self):
        self.assertEqual(c.parse_cgroup_usage(CPU_STAT_V2, v2=True), 1234567000)

    def test_cgroup_v2_without_usage_is_an_error(self):
        with self.assertRaises(ValueError):
            c.parse_cgroup_usage("user_usec 5\n", v2=True)

    def test_own_cgroup_v1_controller_line(self):
        self.assertEqual(c.own_cgroup(PROC_SELF_CGROUP_V1, "cpuacct"), "/pb-cpu-77-device")
        self.assertEqual(c.own_cgroup(PROC_SELF_CGROUP_COMBINED, "cpuacct"), "/docker/abc")

    def test_own_cgroup_unified(self):
        self.assertEqual(c.own_cgroup(PROC_SELF_CGROUP_V1, None), "/user.slice/user-0.slice/session-3.scope")

    def test_own_cgroup_missing_controller(self):
        with self.assertRaises(ValueError):
            c.own_cgroup(PROC_SELF_CGROUP_COMBINED, "memory")


class AccountingTests(unittest.TestCase):
    def test_container_delta_counts_growth_new_containers_from_zero_and_ignores_gone_ones(self):
        before = {"a": 100, "gone": 500}
        after = {"a": 160, "new": 40}
        self.assertEqual(c.container_delta(before, after), 60 + 40)

    def test_container_delta_counter_reset_counts_from_zero(self):
        self.assertEqual(c.container_delta({"a": 1000}, {"a": 30}), 30)

    def test_energy_delta_wraps(self):
        self.assertEqual(c.energy_delta_uj(100, 250, 1000), 150)
        self.assertEqual(c.energy_delta_uj(900, 50, 1000), 150)

    def test_rapl_zones_are_packages_only(self):
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            for name in ("intel-rapl:0", "intel-rapl:0:0", "intel-rapl:1", "intel-rapl-mmio:0"):
                (root / name).mkdir()
                (root / name / "energy_uj").write_text("1\n")
            (root / "intel-rapl").mkdir()  # the control type, no energy_uj
            self.assertEqual([p.name for p in c.rapl_zones(root)], ["intel-rapl:0", "intel-rapl:1"])
            self.assertEqual(c.rapl_zones(root / "absent"), [])


class CoAPTests(unittest.TestCase):
    def test_put_message_layout(self):
        m = c.coap_put_message(0x1234, b"ab", "average", b"[1,2,3]")
        # CON, TKL 2, PUT, message id, token, Uri-Path (11) of 7 bytes, payload marker, payload
        self.assertEqual(m, bytes([0x42, 0x03, 0x12, 0x34]) + b"ab" + bytes([0xB7]) + b"average" + b"\xff[1,2,3]")

    def test_put_message_refuses_what_one_option_byte_cannot_say(self):
        with self.assertRaises(ValueError):
            c.coap_put_message(1, b"", "a-path-too-long", b"")
        with self.assertRaises(ValueError):
            c.coap_put_message(1, b"123456789", "average", b"")

    def test_response_piggybacked_ack(self):
        ack = bytes([0x62, 0x44, 0x12, 0x34]) + b"ab" + b"\xff2"  # ACK, 2.04
        self.assertEqual(c.coap_response(ack, 0x1234, b"ab"), ("2.04", b"2"))

    def test_response_for_another_request_or_not_an_ack(self):
        ack = bytes([0x62, 0x44, 0x12, 0x34]) + b"ab" + b"\xff2"
        self.assertIsNone(c.coap_response(ack, 0x1235, b"ab"))
        self.assertIsNone(c.coap_response(ack, 0x1234, b"xy"))
        con = bytes([0x42, 0x44, 0x12, 0x34]) + b"ab"
        self.assertIsNone(c.coap_response(con, 0x1234, b"ab"))
        self.assertIsNone(c.coap_response(b"\x60", 0x1234, b""))

    def test_response_without_payload(self):
        self.assertEqual(c.coap_response(bytes([0x60, 0x84, 0, 7]), 7, b""), ("4.04", b""))


class PhaseTests(unittest.TestCase):
    def test_timeline_of_the_paper_cycle(self):
        plan = c.timeline(60)
        self.assertEqual((plan["activate"], plan["task"], plan["remove"], plan["window"], plan["end"]),
                         (5, 25, 45, 5, 60))

    def test_spans_run_from_the_request_to_a_window_after_completion(self):
        plan = c.timeline(60)
        events = {"activate": {"start": 5.0, "end": 5.2}, "task": {"start": 25.0, "end": 25.5},
                  "remove": {"start": 45.0, "end": 58.0}}
        self.assertEqual(c.phase_spans(plan, events),
                         {"activation": (5.0, 10.2), "task": (25.0, 30.5), "removal": (45.0, 63.0)})

    def test_spans_of_steps_not_done_follow_the_plan(self):
        self.assertEqual(c.phase_spans(c.timeline(60), {})["removal"], (45, 50))

    def test_phase_of_interval_midpoints(self):
        spans = c.phase_spans(c.timeline(60), {"activate": {"start": 5.0, "end": 5.5}})
        self.assertEqual(c.phase_of(4.5, spans), "idle")
        self.assertEqual(c.phase_of(5.5, spans), "activation")
        self.assertEqual(c.phase_of(10.4, spans), "activation")
        self.assertEqual(c.phase_of(10.5, spans), "idle")
        self.assertEqual(c.phase_of(25.0, spans), "task")
        self.assertEqual(c.phase_of(49.9, spans), "removal")
        self.assertEqual(c.phase_of(50.0, spans), "idle")

    def test_summarize_means_peaks_and_cpu_seconds(self):
        spans = c.phase_spans(c.timeline(12), {})  # steps at 1, 5, 9 s, windows of 1 s
        samples = [sample(1, 10_000_000), sample(2, 500_000_000), sample(3, 20_000_000),
                   sample(6, 250_000_000, dt=1.0), sample(10, 0), sample(11.5, 30_000_000, dt=1.5)]
        s = c.summarize(samples, spans)
        self.assertAlmostEqual(s["activation"]["mean"], 50.0)
        self.assertAlmostEqual(s["activation"]["peak"], 50.0)
        self.assertAlmostEqual(s["task"]["cpu_s"], 0.25)
        self.assertAlmostEqual(s["removal"]["mean"], 0.0)
        # idle: 10 + 20 + 30 ms over 1 + 1 + 1.5 s; peak the 2 % of the second sample
        self.assertAlmostEqual(s["idle"]["mean"], 0.06 / 3.5 * 100)
        self.assertAlmostEqual(s["idle"]["peak"], 2.0)
        self.assertAlmostEqual(s["cycle"]["cpu_s"], 0.81)
        self.assertAlmostEqual(s["cycle"]["seconds"], 6.5)

    def test_summarize_empty_phase(self):
        s = c.summarize([sample(1, 5)], c.phase_spans(c.timeline(12), {}))
        self.assertIsNone(s["task"]["mean"])
        self.assertEqual(s["task"]["cpu_s"], 0.0)

    def test_summarize_of_one_part(self):
        samples = [{"t": 1, "dt": 1, "daemon": 10_000_000, "total": 90_000_000}]
        spans = c.phase_spans(c.timeline(12), {})
        self.assertAlmostEqual(c.summarize(samples, spans, "daemon")["cycle"]["mean"], 1.0)

    def test_percent_series_clips_tick_noise(self):
        self.assertEqual(c.percent_series([sample(1, -3_000_000), sample(2, 20_000_000, dt=2.0)]),
                         [(1, 0.0), (2, 1.0)])


if __name__ == "__main__":
    unittest.main()
