#!/usr/bin/env python3
"""Tests of bench/cluster.py's parsing and statistics: `python3 bench/test_cluster.py`."""

import json
import sys
import unittest
import urllib.parse
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import cluster as c  # noqa: E402


def pier_task(tid, state, desired="running", node="n1", container=None):
    status = {"state": state, "timestamp": "2026-01-01T00:00:00Z", "message": ""}
    if container:
        status["containerID"] = container
    return {"id": tid, "serviceID": "s", "serviceName": "web", "slot": 1, "nodeID": node, "serviceVersion": 1,
            "image": "bench/busybox@sha256:00", "desiredState": desired, "status": status, "history": [status],
            "createdAt": "2026-01-01T00:00:00Z"}


def swarm_task(tid, state, desired="running", node="w1"):
    return {"ID": tid, "NodeID": node, "DesiredState": desired, "Status": {"State": state, "Message": state}}


class TaskParsingTests(unittest.TestCase):
    def test_pier_running_needs_state_and_desired_state_running(self):
        tasks = [pier_task("a", "running"), pier_task("b", "running", desired="shutdown"),
                 pier_task("c", "starting"), pier_task("d", "failed", desired="shutdown"),
                 pier_task("e", "running", node="n2")]
        self.assertEqual(c.pier_running(tasks), [("a", "n1"), ("e", "n2")])

    def test_pier_running_of_a_task_not_yet_scheduled(self):
        t = pier_task("a", "pending")
        del t["nodeID"]
        self.assertEqual(c.pier_running([t]), [])

    def test_swarm_running_reads_the_docker_task_shape(self):
        tasks = [swarm_task("x", "running"), swarm_task("y", "running", desired="shutdown"),
                 swarm_task("z", "preparing")]
        self.assertEqual(c.swarm_running(tasks), [("x", "w1")])

    def test_container_ids_of_running_pier_tasks_only(self):
        tasks = [pier_task("a", "running", container="c1"), pier_task("b", "failed", desired="shutdown", container="c0"),
                 pier_task("c", "running")]
        self.assertEqual(c.pier_container_ids(tasks), ["c1"])

    def test_count_on_filters_node_and_replaced_tasks(self):
        running = [("a", "n1"), ("b", "n2"), ("c", "n2")]
        self.assertEqual(c.count_on(running), 3)
        self.assertEqual(c.count_on(running, "n2"), 2)
        self.assertEqual(c.count_on(running, "n2", exclude={"b"}), 1)
        self.assertEqual(c.count_on(running, exclude={"a", "b", "c"}), 0)


class ContainerListingTests(unittest.TestCase):
    def test_pier_summaries_by_service_label_and_state(self):
        summaries = [{"id": "1", "state": "running", "labels": {c.PIER_TASK_LABEL: "web"}},
                     {"id": "2", "state": "exited", "labels": {c.PIER_TASK_LABEL: "web"}},
                     {"id": "3", "state": "running", "labels": {c.PIER_TASK_LABEL: "db"}},
                     {"id": "4", "state": "running", "labels": {}}]
        self.assertEqual(c.running_containers(summaries, c.PIER_TASK_LABEL, "web", docker=False), ["1"])

    def test_docker_summaries_use_docker_keys(self):
        summaries = [{"Id": "d1", "State": "running", "Labels": {c.SWARM_SERVICE_LABEL: "web"}},
                     {"Id": "d2", "State": "created", "Labels": {c.SWARM_SERVICE_LABEL: "web"}},
                     {"Id": "d3", "State": "running", "Labels": None}]
        self.assertEqual(c.running_containers(summaries, c.SWARM_SERVICE_LABEL, "web", docker=True), ["d1"])

    def test_docker_filters_encode_the_map_form(self):
        value = c.docker_filters(label="com.docker.swarm.service.name=web")
        self.assertEqual(json.loads(urllib.parse.unquote(value)), {"label": {"com.docker.swarm.service.name=web": True}})
        self.assertNotIn(" ", value)
        self.assertNotIn("{", value)


class StatisticsTests(unittest.TestCase):
    def test_summarize_in_milliseconds(self):
        s = c.summarize([0.1, 0.2, 0.3, 0.4, 1.0])
        self.assertEqual(s["n"], 5)
        self.assertAlmostEqual(s["median_ms"], 300)
        self.assertAlmostEqual(s["p90_ms"], 1000)
        self.assertAlmostEqual(s["min_ms"], 100)
        self.assertAlmostEqual(s["max_ms"], 1000)

    def test_summarize_nothing(self):
        self.assertEqual(c.summarize([]), {"n": 0})

    def test_verdict_and_formatting(self):
        self.assertEqual(c.verdict(0.19, 0.2), "met")
        self.assertEqual(c.verdict(0.2, 0.2), "met")
        self.assertEqual(c.verdict(0.21, 0.2), "MISSED")
        self.assertTrue(c.verdict(None, 0.2).startswith("not checked"))
        self.assertEqual(c.fmt_ratio(100, 500), "0.20x")
        self.assertEqual(c.fmt_ratio(100, None), "-")
        self.assertEqual(c.fmt_ms(None), "-")
        self.assertEqual(c.fmt_ms(123.4), "123")

    def test_case_row_reports_both_clocks(self):
        case = c.Case("create", "t", "pier")
        case.add(0.2, 0.15)
        case.add(0.4, None)
        row = case.row()
        self.assertEqual(row["samples_ms"], [200.0, 400.0])
        self.assertEqual(row["container_samples_ms"], [150.0])
        self.assertAlmostEqual(row["median_ms"], 300)
        self.assertAlmostEqual(row["container_median_ms"], 150)


class TraceTests(unittest.TestCase):
    LOG = """2026-11-23T19:41:48+0000 info pier.agent: [PierAgent] pier agent ready
trace 100.000 create: image resolved
trace 100.050 launch: recorded
trace 101.000 shim exited
trace 101.200 create: image resolved
trace 101.300 launch: recorded
trace 101.4 exit: recorded
"""

    def test_trace_lines_only(self):
        events = c.trace_events(self.LOG)
        self.assertEqual(len(events), 6)
        self.assertEqual(events[0], (100.0, "create: image resolved"))
        self.assertEqual(events[-1], (101.4, "exit: recorded"))

    def test_first_offsets_within_the_window(self):
        events = c.trace_events(self.LOG)
        got = c.first_offsets(events, 100.9, 101.35)
        self.assertEqual(list(got), ["shim exited", "create: image resolved", "launch: recorded"])
        self.assertAlmostEqual(got["shim exited"], 100, places=3)
        self.assertAlmostEqual(got["create: image resolved"], 300, places=3)
        self.assertAlmostEqual(got["launch: recorded"], 400, places=3)

    def test_median_offsets_orders_by_median_and_counts_runs(self):
        got = c.median_offsets([{"a": 10, "b": 50}, {"a": 30, "b": 40}, {"b": 60}])
        self.assertEqual(got, [("a", 20, 2), ("b", 50, 3)])

    def test_case_analyses_the_log_of_its_windows(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            log = Path(d) / "agent.log"
            log.write_text(self.LOG)
            case = c.Case("kill", "t", "pier")
            case.add(0.45, None, 100.9, log)
            case.analyse_trace()
        self.assertEqual([s for s, _, _ in case.breakdown], ["shim exited", "create: image resolved", "launch: recorded"])
        self.assertEqual(case.row()["trace_median_ms"][0]["step"], "shim exited")


class WatchTests(unittest.TestCase):
    def test_watch_records_the_first_poll_of_each_condition(self):
        polls = {"task": 0, "container": 0}

        def task_ok():
            polls["task"] += 1
            return polls["task"] >= 3

        def container_ok():
            polls["container"] += 1
            return polls["container"] >= 2

        start = c.time.perf_counter()
        task_s, container_s = c.Watch(task_ok, container_ok, 0.001).run(start, 5)
        self.assertEqual(polls, {"task": 3, "container": 2})  # no poll after a condition held
        self.assertGreater(task_s, container_s)

    def test_watch_times_out_with_what_was_missing(self):
        with self.assertRaises(c.Timeout) as ctx:
            c.Watch(lambda: True, lambda: False, 0.001).run(c.time.perf_counter(), 0.05)
        self.assertIn("container running: False", str(ctx.exception))

    def test_wait_for_keeps_polling_through_connection_errors(self):
        calls = []

        def flaky():
            calls.append(1)
            if len(calls) < 3:
                raise ConnectionRefusedError("not yet")
            return True
        c.wait_for("flaky", flaky, timeout=5, interval=0.001)
        self.assertEqual(len(calls), 3)


if __name__ == "__main__":
    unittest.main()
