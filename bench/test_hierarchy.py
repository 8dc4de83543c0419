#!/usr/bin/env python3
"""Tests of bench/hierarchy.py's parsing and expectations: `python3 bench/test_hierarchy.py`."""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import hierarchy as hi  # noqa: E402


class HierarchyTests(unittest.TestCase):
    def test_reads_the_bytes_from_the_pulls_last_line(self):
        out = ("8f87df1de04b: done (30.1 MB)\n127.0.0.1:7443/pier-examples/debian:bookworm "
               "sha256:d548a144 (2 blobs, 30079619 bytes fetched)\n")
        self.assertEqual(hi.parse_fetched(out), (2, 30079619))
        self.assertEqual(hi.parse_fetched("x (1 blob, 0 bytes fetched)"), (1, 0))

    def test_a_pull_without_its_summary_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "bytes fetched"):
            hi.parse_fetched("Error: manifest unknown\n")

    def test_each_pull_fetches_only_the_blobs_no_earlier_image_had(self):
        base = {"sha256:base": 100, "sha256:cfg-base": 1}
        python = {"sha256:base": 100, "sha256:py": 50, "sha256:cfg-py": 2}
        app = {"sha256:base": 100, "sha256:py": 50, "sha256:app": 5, "sha256:cfg-app": 3}
        other = {"sha256:base": 100, "sha256:jre": 70, "sha256:cfg-jre": 4}
        self.assertEqual(hi.expected_fetches([("base", base), ("python", python), ("app", app), ("jre", other)]),
                         {"base": 101, "python": 52, "app": 8, "jre": 74})

    def test_an_image_pulled_twice_fetches_nothing_the_second_time(self):
        img = {"sha256:a": 10, "sha256:c": 1}
        self.assertEqual(hi.expected_fetches([("a", img), ("b", img)]), {"a": 11, "b": 0})

    def test_sizes_read_as_megabytes_or_kilobytes(self):
        self.assertEqual(hi.mb(30079619), "30.1 MB")
        self.assertEqual(hi.mb(4763), "4.8 kB")


if __name__ == "__main__":
    unittest.main()
