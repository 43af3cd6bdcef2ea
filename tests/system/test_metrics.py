"""GET /metrics: valid Prometheus text - every sample belongs to a family announced with
# HELP and # TYPE, histograms are cumulative and end in +Inf = _count - and the counters
move with the traffic."""
import re
import time
import unittest

import harness

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? '
                    r'(-?[0-9.eE+-]+|NaN|\+Inf)$')


def parse(text):
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line.startswith("#") or not line:
            continue
        else:
            m = SAMPLE.match(line)
            assert m, "not a Prometheus sample: %r" % line
            samples.append((m.group(1), m.group(2) or "", float(m.group(3))))
    return types, samples


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count", ""):
        if suffix and name.endswith(suffix) and name[:-len(suffix)] in types:
            return name[:-len(suffix)]
    return name if name in types else None


class MetricsTest(harness.TestCase):
    def test_prometheus_format_and_counters(self):
        s = self.serve()
        for _ in range(3):
            s.request("GET", "/healthz")
        s.request("GET", "/no/where")  # matches no route at all
        s.request("GET", "/nowhere")   # the pages route, which answers 404
        # a request is counted when it completes, just after its response went out: the
        # next request may arrive first, so read until the six are counted (bounded)
        deadline = time.time() + 10
        while True:
            status, headers, body = s.request("GET", "/metrics")
            if (b'route="-",status="404"} 1' in body and
                    b'route="/{slug}",status="404"} 1' in body) or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        types, samples = parse(body.decode())
        for name, labels, value in samples:
            self.assertIsNotNone(family_of(name, types), "no # TYPE for " + name)
        for fam, kind in types.items():
            if fam.endswith("_total"):
                self.assertEqual(kind, "counter", fam)
        values = {(n, l): v for n, l, v in samples}
        self.assertGreaterEqual(
            values[("onefile_http_requests_total",
                    '{method="GET",route="/healthz",status="200"}')], 3)
        self.assertEqual(
            values[("onefile_http_requests_total", '{method="GET",route="-",status="404"}')], 1)
        self.assertEqual(values[("onefile_http_requests_total",
                                 '{method="GET",route="/{slug}",status="404"}')], 1)
        for fam in ("onefile_write_queue_depth", "onefile_busy_retries_total",
                    "onefile_wal_bytes", "onefile_reader_waits_total",
                    "onefile_writes_committed_total", "onefile_checkpoint_pages_total"):
            self.assertIn(fam, types)
        self.assertEqual(types["onefile_write_latency_seconds"], "histogram")
        self.assertEqual(types["onefile_http_request_duration_seconds"], "histogram")
        # histograms: buckets never decrease, +Inf equals _count
        for fam, kind in types.items():
            if kind != "histogram":
                continue
            buckets = [v for n, l, v in samples if n == fam + "_bucket"]
            self.assertEqual(buckets, sorted(buckets), fam)
            count = [v for n, l, v in samples if n == fam + "_count"][0]
            self.assertEqual(buckets[-1], count, fam)
        duration_count = values[("onefile_http_request_duration_seconds_count", "")]
        self.assertGreaterEqual(duration_count, 6)
        self.stop_clean(s)


if __name__ == "__main__":
    unittest.main()
