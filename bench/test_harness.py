#!/usr/bin/env python3
"""Tests of the benchmark harness itself: `python3 bench/test_harness.py` (skopeo checks need skopeo)."""

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


class StatsTests(unittest.TestCase):
    def test_median_odd_and_even(self):
        self.assertEqual(h.median([3, 1, 2]), 2)
        self.assertEqual(h.median([4, 1, 2, 3]), 2.5)

    def test_percentile_is_nearest_rank(self):
        samples = list(range(1, 21))  # 1..20
        self.assertEqual(h.percentile(samples, 90), 18)
        self.assertEqual(h.percentile(samples, 100), 20)
        self.assertEqual(h.percentile([7.0], 90), 7.0)

    def test_empty_samples_are_refused(self):
        with self.assertRaises(ValueError):
            h.median([])

    def test_table_aligns_columns(self):
        out = h.table(["case", "ms"], [["runc", "35.0"], ["docker", "230.5"]]).splitlines()
        self.assertEqual(out[0], "case       ms")
        self.assertEqual(out[2], "runc     35.0")
        self.assertEqual(out[3], "docker  230.5")


class ImageTests(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="pb-test-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.rootfs = h.make_busybox_rootfs(self.dir / "rootfs")

    def test_rootfs_has_applets_and_files(self):
        self.assertTrue((self.rootfs / "bin" / "busybox").is_file())
        self.assertEqual(str((self.rootfs / "bin" / "sh").readlink()), "/bin/busybox")
        self.assertIn("root:x:0:0", (self.rootfs / "etc" / "passwd").read_text())

    def test_layer_tar_is_deterministic_and_owned_by_root(self):
        a = h.write_layer_tar(self.rootfs, self.dir / "a.tar").read_bytes()
        b = h.write_layer_tar(self.rootfs, self.dir / "b.tar").read_bytes()
        self.assertEqual(a, b)
        with tarfile.open(self.dir / "a.tar") as tar:
            members = tar.getmembers()
        self.assertTrue(all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members))
        self.assertIn("bin/busybox", [m.name for m in members])

    def test_oci_archive_digests_match_its_blobs(self):
        layer = h.write_layer_tar(self.rootfs, self.dir / "layer.tar")
        digests = h.write_oci_archive(layer, self.dir / "img.tar", "bench/busybox:1", ["sh"])
        with tarfile.open(self.dir / "img.tar") as tar:
            names = tar.getnames()
            index = json.load(tar.extractfile("index.json"))
            blobs = {n.rsplit("/", 1)[1]: tar.extractfile(n).read() for n in names if n.startswith("blobs/sha256/")
                     and tar.getmember(n).isfile()}
        for hexdigest, data in blobs.items():
            self.assertEqual(hashlib.sha256(data).hexdigest(), hexdigest)
        self.assertEqual(index["manifests"][0]["digest"], digests["manifest"])
        self.assertEqual(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "bench/busybox:1")
        config = json.loads(blobs[digests["config"].split(":")[1]])
        self.assertEqual(config["rootfs"]["diff_ids"], [digests["diff_id"]])
        self.assertEqual(digests["diff_id"], "sha256:" + hashlib.sha256(layer.read_bytes()).hexdigest())

    @unittest.skipUnless(shutil.which("skopeo"), "skopeo not installed")
    def test_skopeo_reads_the_oci_archive(self):
        layer = h.write_layer_tar(self.rootfs, self.dir / "layer.tar")
        digests = h.write_oci_archive(layer, self.dir / "img.tar", "bench/busybox:1", ["sh"])
        out = subprocess.run(["skopeo", "inspect", f"oci-archive:{self.dir / 'img.tar'}"], check=True,
                             capture_output=True).stdout
        info = json.loads(out)
        self.assertEqual(info["Digest"], digests["manifest"])
        self.assertEqual(info["Layers"], [digests["layer"]])


if __name__ == "__main__":
    unittest.main()
