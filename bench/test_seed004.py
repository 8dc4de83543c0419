#!/usr/bin/env python3
"""Tests of bench/seed004.py's parsing and figures: `python3 bench/test_seed004.py`."""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed004 as s  # noqa: E402

T0 = 1_765_130_000_000_000  # µs


def us(seconds: float) -> int:
    return T0 + round(seconds * 1_000_000)


def epoch(t: int) -> str:
    return f"{t // 1_000_000}.{t % 1_000_000:06d}"


class Parsing(unittest.TestCase):
    def test_micros(self):
        self.assertEqual(s.micros("1765130000.123456"), 1_765_130_000_123_456)
        self.assertEqual(s.micros("1765130000.5"), 1_765_130_000_500_000)
        for bad in ("", "abc", "1765130000", "1765130000.1234567", "-1.5", "1.2.3"):
            with self.assertRaises(ValueError, msg=bad):
                s.micros(bad)

    def test_published_skips_a_last_line_cut_short(self):
        self.assertEqual(s.parse_published("1765130000.000100\n1765130000.002100\n17651300"),
                         [1_765_130_000_000_100, 1_765_130_000_002_100])

    def test_published_refuses_garbage_inside(self):
        with self.assertRaises(ValueError):
            s.parse_published("1765130000.000100\nhello\n1765130000.002100\n")

    def test_displayed(self):
        text = "12:00:00 1765130000.000100 1765130000.000400\n12:00:00 1765130000.002100 1765130000.002350\n"
        self.assertEqual(s.parse_displayed(text), [(1_765_130_000_000_100, 1_765_130_000_000_400),
                                                   (1_765_130_000_002_100, 1_765_130_000_002_350)])
        self.assertEqual(s.parse_displayed(text + "12:00:00 17651"), s.parse_displayed(text))
        with self.assertRaises(ValueError):
            s.parse_displayed("12:00 1765130000.1 1765130000.2\n" + text)


class Figures(unittest.TestCase):
    def test_first_at_or_after(self):
        self.assertEqual(s.first_at_or_after([1, 3, 5], 3), 3)
        self.assertEqual(s.first_at_or_after([1, 3, 5], 4), 5)
        self.assertIsNone(s.first_at_or_after([1, 3, 5], 6))
        self.assertIsNone(s.first_at_or_after([], 0))

    def test_outage_is_the_longest_pause_around_the_command(self):
        times = [0, 10, 20, 30, 100, 110, 300, 310]
        # The command at 25: the pause 30 → 100 is the longest ending after it, within 25..200.
        self.assertEqual(s.outage(times, 25, 200), (30, 100))
        # The display stopped before the command: the pause starts at the last time before it.
        self.assertEqual(s.outage(times, 150, 400), (110, 300))
        self.assertIsNone(s.outage([], 0, 10))

    def test_per_second(self):
        self.assertEqual(s.per_second([us(0.1), us(0.5), us(1.2), us(2.9), us(3.0)], T0, us(3)), [2, 1, 1])
        self.assertEqual(s.per_second([us(1)], T0, us(0.5)), [])

    def test_lost_between(self):
        published = [1, 2, 3, 4, 5]
        self.assertEqual(s.lost_between(published, {1, 2, 5}, 2, 5), 2)
        self.assertEqual(s.lost_between(published, set(), 6, 9), 0)

    def test_analyse_a_scenario(self):
        # 500 publishes/s from 1 s to 60 s with two outages: the display pauses 20.5 → 21.3 s (the
        # migration, the command at 20 s) and 35.2 → 35.6 s (the restart, at 35 s); the publisher
        # pauses 20.4 → 21.0 s. Delay 0.5 ms.
        published = [us(1 + i * 0.002) for i in range(int(59 / 0.002))]
        published = [t for t in published if not us(20.4) <= t < us(21.0)]
        displayed = [(t, t + 500) for t in published if not (us(20.5) <= t + 500 < us(21.3) or us(35.2) <= t + 500 < us(35.6))]
        ev = s.Events(T0, us(20), us(35), us(60))
        f = s.analyse(published, displayed, ev)
        self.assertAlmostEqual(f.start_publish_s, 1.0, places=3)
        self.assertAlmostEqual(f.start_display_s, 1.0005, places=3)
        self.assertAlmostEqual(f.migration_s, 1.3, places=2)
        # The display's pause starts with the publisher's, at 20.4 s.
        self.assertAlmostEqual(f.migration_outage_s, 0.9, places=2)
        self.assertAlmostEqual(f.restart_s, 0.6, places=2)
        self.assertAlmostEqual(f.restart_outage_s, 0.4, places=2)
        self.assertEqual(f.publishes_s, 500)
        self.assertEqual(f.updates_s, 500)
        self.assertAlmostEqual(f.delay_p50_ms, 0.5)
        self.assertAlmostEqual(f.delay_p99_ms, 0.5)
        # Published but not displayed: 21.0 → 21.3 s in the migration, 35.2 → 35.6 s in the restart.
        self.assertAlmostEqual(f.lost_migration, 150, delta=2)
        self.assertAlmostEqual(f.lost_restart, 200, delta=2)
        self.assertEqual(f.lost_total, f.lost_migration + f.lost_restart)
        self.assertEqual(f.duplicates, 0)
        self.assertEqual(f.notes, [])

    def test_analyse_counts_two_displays_at_once(self):
        published = [us(1 + i * 0.002) for i in range(1000)]
        displayed = [(t, t + 300) for t in published] + [(t, t + 400) for t in published[500:]]
        f = s.analyse(published, sorted(displayed, key=lambda d: d[1]), s.Events(T0, us(1.5), us(2.5), us(3.0)))
        self.assertEqual(f.duplicates, 500)

    def test_analyse_nothing_displayed(self):
        f = s.analyse([us(1)], [], s.Events(T0, us(20), us(35), us(60)))
        self.assertIsNone(f.migration_s)
        self.assertEqual(f.notes, ["nothing was displayed"])

    def test_start_times(self):
        self.assertEqual(s.start_times([us(2.0)], [(us(2.0), us(2.25))], T0), (2.0, 2.25))
        self.assertEqual(s.start_times([us(-1)], [], T0), (None, None))


class StackFile(unittest.TestCase):
    def test_variant_moves_the_clock_and_keeps_redis(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("PyYAML (python3-yaml) is not installed")
        text = s.STACK_FILE.read_text()
        doc = yaml.safe_load(s.stack_variant(text, "2"))
        self.assertEqual(doc["services"]["publisher"]["deploy"]["placement"]["constraints"], ["node.labels.device==2"])
        self.assertEqual(doc["services"]["subscriber"]["deploy"]["placement"]["constraints"], ["node.labels.device==2"])
        self.assertEqual(doc["services"]["redis"]["deploy"]["placement"]["constraints"], ["node.labels.role==gateway"])
        only = yaml.safe_load(s.stack_variant(text, "1", only=["redis"]))
        self.assertEqual(list(only["services"]), ["redis"])
        with self.assertRaises(ValueError):
            s.stack_variant(text, "1", only=["nosuch"])

    def test_variant_names_the_images_in_a_registry(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("PyYAML (python3-yaml) is not installed")
        text = s.STACK_FILE.read_text()
        plain = yaml.safe_load(s.stack_variant(text, "2"))
        self.assertEqual({k: v["image"] for k, v in plain["services"].items()},
                         {"redis": s.REDIS, "publisher": s.PUBLISHER, "subscriber": s.SUBSCRIBER})
        doc = yaml.safe_load(s.stack_variant(text, "2", registry="10.253.4.10:5000"))
        self.assertEqual({k: v["image"] for k, v in doc["services"].items()},
                         {"redis": f"10.253.4.10:5000/{s.REDIS}", "publisher": f"10.253.4.10:5000/{s.PUBLISHER}",
                          "subscriber": f"10.253.4.10:5000/{s.SUBSCRIBER}"})
        self.assertEqual(doc["services"]["publisher"]["deploy"]["placement"]["constraints"], ["node.labels.device==2"])
        only = yaml.safe_load(s.stack_variant(text, "1", only=["redis"], registry="10.253.4.10:5000"))
        self.assertEqual(only["services"]["redis"]["image"], f"10.253.4.10:5000/{s.REDIS}")


if __name__ == "__main__":
    unittest.main()
