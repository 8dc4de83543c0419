#!/usr/bin/env python3
"""Tests of bench/seed000.py's parsing and statistics: `python3 bench/test_seed000.py`."""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed000 as s  # noqa: E402

OUTPUT = """zmq-sub: subscribed to tcp://10.251.30.2:5556
RESULT-LAT 100000 120000 90000
RESULT-LAT 300000
RESULT {"burst_first_send_ns": 1000000000, "burst_last_recv_ns": 1500000000, "burst_received": 1000, "burst_sent": 1000, "latency_received": 4, "latency_sent": 5, "size": 64}
"""


def result(latencies, throughput_span_ns=None, received=0, sent=None):
    return s.Result(latencies, len(latencies), sent if sent is not None else received, received,
                    0 if throughput_span_ns else None, throughput_span_ns, 64)


class ParseTests(unittest.TestCase):
    def test_reads_every_latency_line_and_the_summary(self):
        r = s.parse_result(OUTPUT)
        self.assertEqual(r.latencies_ns, [100000, 120000, 90000, 300000])
        self.assertEqual((r.latency_sent, r.burst_sent, r.burst_received, r.size), (5, 1000, 1000, 64))
        self.assertEqual(r.lost, 1)
        self.assertAlmostEqual(r.throughput, 2000.0)

    def test_a_subscriber_that_did_not_finish_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "no RESULT line"):
            s.parse_result("RESULT-LAT 1 2 3\n")

    def test_lost_latency_lines_are_noticed(self):
        with self.assertRaisesRegex(ValueError, "lines were lost"):
            s.parse_result(OUTPUT.replace("RESULT-LAT 300000\n", ""))

    def test_garbage_and_negative_latencies_are_refused(self):
        with self.assertRaisesRegex(ValueError, "integers"):
            s.parse_result(OUTPUT.replace("RESULT-LAT 300000", "RESULT-LAT 3x"))
        with self.assertRaisesRegex(ValueError, "negative"):
            s.parse_result(OUTPUT.replace("RESULT-LAT 300000", "RESULT-LAT -3"))

    def test_two_runs_in_one_output_are_refused(self):
        with self.assertRaisesRegex(ValueError, "two RESULT lines"):
            s.parse_result(OUTPUT + OUTPUT.splitlines()[-1])

    def test_a_summary_missing_a_field_is_refused(self):
        with self.assertRaisesRegex(ValueError, "lacks a field"):
            s.parse_result('RESULT {"latency_received": 0}\n')
        with self.assertRaisesRegex(ValueError, "not JSON"):
            s.parse_result("RESULT {oops\n")

    def test_more_received_than_sent_is_refused(self):
        with self.assertRaisesRegex(ValueError, "more messages received than sent"):
            s.parse_result(OUTPUT.replace('"burst_sent": 1000', '"burst_sent": 10'))


class StatisticsTests(unittest.TestCase):
    def test_throughput_needs_a_burst_and_a_positive_span(self):
        self.assertIsNone(result([1]).throughput)
        with self.assertRaises(ValueError):
            result([1], throughput_span_ns=-5, received=3).throughput

    def test_percentiles_pool_the_rounds_and_throughput_is_the_median_round(self):
        rounds = [result([1000 * i for i in range(1, 51)], 1_000_000_000, received=100),
                  result([1000 * i for i in range(51, 101)], 500_000_000, received=100),
                  result([5000], 250_000_000, received=100)]
        summary = s.summarize(rounds)
        self.assertEqual(summary.messages, 101)
        self.assertEqual(summary.p50_us, 50)
        self.assertEqual(summary.p99_us, 99)
        self.assertEqual(summary.throughput, 200)
        self.assertEqual(summary.lost, 0)

    def test_a_round_without_samples_is_an_error(self):
        with self.assertRaises(ValueError):
            s.summarize([result([1]), result([])])

    def test_each_rounds_own_figures_are_kept_for_pairing(self):
        summary = s.summarize([result([1000, 3000, 5000], 1_000_000_000, received=10), result([7000])])
        self.assertEqual(summary.round_p50s, [3, 7])
        self.assertEqual(summary.throughputs, [10, None])

    def test_ratio_and_missing_values(self):
        self.assertEqual(s.ratio(1.5), "1.50×")
        self.assertEqual(s.ratio(None), "—")

    def test_paired_ratios_are_the_median_of_each_rounds_ratio(self):
        def summary(p50s, rates):
            return s.Summary(len(p50s), 10, 0, 0, 0, None, rates, p50s, p50s)
        host = summary([100, 200, 100], [1000, None, 500])
        pier = summary([110, 260, 100], [900, 800, 600])
        # 1.1, 1.3, 1.0 → 1.1; throughput: rounds without a figure on either side are left out
        self.assertAlmostEqual(s.paired(pier, host, "p50"), 1.1)
        self.assertAlmostEqual(s.paired(pier, host, "throughput"), (0.9 + 1.2) / 2)
        self.assertIsNone(s.paired(summary([1], [None]), summary([1], [5]), "throughput"))

    def test_rows_compare_with_the_host_and_pier_with_docker(self):
        def summary(p50, p99, rate, lost=0):
            return s.Summary(1, 10, lost, p50, p99, rate, [rate], [p50], [p99])
        summaries = {"host": summary(100, 200, 1000), "Pier bridge": summary(150, 300, 800, lost=2),
                     "Docker bridge": summary(300, 600, 400)}
        rows = {r[0]: r for r in s.report_rows(summaries)}
        self.assertEqual(rows["host"][4:7], ["", "", ""])
        self.assertEqual(rows["Pier bridge"][1:8], ["150", "300", "800", "1.50×", "1.50×", "0.80×", "2 lost"])
        self.assertEqual(rows["Pier host"][-1], "not run")
        self.assertEqual(s.versus_rows(summaries), [["bridge", "0.50×", "0.50×", "2.00×"]])


if __name__ == "__main__":
    unittest.main()
