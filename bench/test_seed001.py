#!/usr/bin/env python3
"""Tests of bench/seed001.py's pure parts: `python3 bench/test_seed001.py`."""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed001 as s  # noqa: E402


class SetsTests(unittest.TestCase):
    def test_every_form_with_and_without_the_hierarchy_and_one_squash_set(self):
        self.assertEqual(s.sets_for(["self", "multi", "squash"]), ["self-h", "self-n", "multi-h", "multi-n", "squash"])

    def test_the_order_is_fixed_whatever_the_order_asked(self):
        self.assertEqual(s.sets_for(["squash", "multi"]), ["multi-h", "multi-n", "squash"])

    def test_image_names_match_seed001_sh(self):
        self.assertEqual(s.image_name("multi-h", "core", 3), "seed001/multi-h/core:v3")

    def test_steps_are_consecutive_versions(self):
        self.assertEqual(s.steps(4), [(1, 2), (2, 3), (3, 4)])
        self.assertEqual(s.steps(1), [])


class ParseTests(unittest.TestCase):
    def test_a_whole_pull(self):
        self.assertEqual(s.parse_pull("10.0.0.1:5000/seed001/self-h/core:v1 sha256:ab (4 blobs, 123456 bytes fetched)\n"),
                         (4, 123456, 0))

    def test_a_delta_pull(self):
        self.assertEqual(s.parse_pull("x sha256:ab (2 blobs, 5120 bytes fetched, 1 as delta)"), (2, 5120, 1))

    def test_one_blob_and_the_last_line_wins(self):
        self.assertEqual(s.parse_pull("a (1 blob, 10 bytes fetched)\nb (3 blobs, 30 bytes fetched)"), (3, 30, 0))

    def test_no_summary_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "bytes fetched"):
            s.parse_pull("error: unauthorized")

    def test_buildah_sizes(self):
        self.assertEqual(s.parse_size("362 MB"), 362_000_000)
        self.assertEqual(s.parse_size("4.1 kB"), 4100)
        self.assertEqual(s.parse_size("1.2 GB"), 1_200_000_000)
        self.assertEqual(s.parse_size("512 B"), 512)
        with self.assertRaises(ValueError):
            s.parse_size("lots")

    def test_the_papers_sizes(self):
        self.assertEqual(s.paper_bytes("801MB"), 801_000_000)


class SummaryTests(unittest.TestCase):
    PULLS = [
        {"set": "multi-h", "component": c, "version": 2, "kind": "incremental", "bytes": b, "seconds": t}
        for c, b, t in (("core", 1000, 0.5), ("ble", 2000, 0.25), ("nodered", 500, 0.25))
    ] + [{"set": "multi-h", "component": "core", "version": 2, "kind": "absolute", "bytes": 9, "seconds": 1.0}]

    def test_the_stack_is_the_sum_of_its_pulls(self):
        self.assertEqual(s.summarize(self.PULLS, "multi-h", "incremental", 2), (3500, 1.0))

    def test_one_component(self):
        self.assertEqual(s.summarize(self.PULLS, "multi-h", "absolute", 2, ("core",)), (9, 1.0))

    def test_a_missing_pull_gives_none(self):
        self.assertIsNone(s.summarize(self.PULLS, "multi-h", "absolute", 2))
        self.assertIsNone(s.summarize(self.PULLS, "self-h", "incremental", 2))

    def test_mb(self):
        self.assertEqual(s.mb(272_400_000), "272.4 MB")
        self.assertEqual(s.mb(5_200), "5.2 kB")


if __name__ == "__main__":
    unittest.main()
