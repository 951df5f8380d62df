"""Tests of bench/report.py on the fixtures in bench/testdata/ (python3 -m unittest report_test).

testdata/<mode>.jsonl are small results.jsonl files, one per mode of run.sh; testdata/<mode>.md
are what run.sh printed for them when it still rendered its tables in bash, so the rendering
tests hold report.py to that layout, byte for byte. testdata/tls-<mode>.* are runs of
run.sh --tls (real ones, kept with --out) and report.py's rendering of them. Only for an
intended layout change: bench/report.py testdata/<mode>.jsonl > testdata/<mode>.md
"""

import contextlib
import io
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # report.py beside this file, from any working directory

import report  # noqa: E402
from report import Figure, Round  # noqa: E402


def fixture(mode):
    return report.load(os.path.join(HERE, "testdata", f"{mode}.jsonl"))


class Rendering(unittest.TestCase):
    def check(self, mode, passed=True):
        with open(os.path.join(HERE, "testdata", f"{mode}.md"), encoding="utf-8") as f:
            expected = f.read()
        out, ok = report.render(fixture(mode))
        self.assertEqual(out, expected)
        self.assertEqual(ok, passed)

    def test_full_two_rounds_with_spread(self):
        self.check("full")

    def test_smoke_fails_on_a_path_that_did_not_start(self):
        self.check("smoke", passed=False)

    def test_metrics_cost(self):
        self.check("metrics")

    def test_callgrind(self):
        self.check("callgrind")

    def test_smoke_over_tls(self):
        self.check("tls-smoke")

    def test_quick_over_tls(self):
        self.check("tls-quick")

    def test_command_line_exit_status(self):
        with contextlib.redirect_stdout(io.StringIO()) as out:
            self.assertEqual(report.main([os.path.join(HERE, "testdata", "smoke.jsonl")]), 1)
            self.assertEqual(report.main([os.path.join(HERE, "testdata", "full.jsonl")]), 0)
        self.assertIn("| sluice | 1013 | 622 | 4/5 | 0.380 GB/s | 0 | ok |", out.getvalue())
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(report.main([os.path.join(HERE, "testdata", "missing.jsonl")]), 2)


class Statistics(unittest.TestCase):
    def setUp(self):
        self.full = fixture("full")
        self.r1 = Round(self.full, 1)

    def test_figures_keep_their_text(self):
        self.assertEqual(str(self.r1.get("nginx", "upload.gb_per_s")), "0.590")
        self.assertEqual(report.upload_cell(self.r1, "nginx"), "0.590")

    def test_proxy_cpu_busy_and_other_work_from_raw_counters(self):
        # sluice s100: 1.2164 s of CPU for 40000 lines in 5 s; CPU 0 busy 130 of 500 ticks.
        self.assertEqual(str(self.r1.get("sluice", "s100.proxy_cpu_us_per_line")), "30.41")
        self.assertEqual(str(self.r1.get("sluice", "s100.proxy_busy_pct")), "24.3")
        self.assertEqual(str(self.r1.get("sluice", "s100.other_on_proxy_cpu_pct")), "1.7")
        # direct has no proxy process, a run with no lines no CPU per line.
        self.assertIsNone(self.r1.get("direct", "s100.proxy_cpu_us_per_line"))
        self.assertIsNone(self.full.get(2, "sluice", "s1000.proxy_cpu_us_per_line"))

    def test_ratio_against_nginx_from_the_same_round(self):
        self.assertEqual(self.r1.ratio("sluice", "s100.proxy_cpu_us_per_line"), " (1.17x)")  # 30.41 / 26.00
        self.assertEqual(self.r1.ratio("nginx", "s100.proxy_cpu_us_per_line"), "")
        self.assertEqual(report.cpu_cell(self.r1, "sluice", "s1"), "76.10 (0.90x)")
        # Round 2: nginx did not start, so no ratio at all.
        self.assertEqual(report.cpu_cell(Round(self.full, 2), "sluice", "s100"), "32.50")

    def test_rss_per_stream(self):
        self.assertEqual(str(report.per_stream_kb(32624, 9216, 1000)), "23.4")
        self.assertIsNone(report.per_stream_kb(None, 9216, 1000))
        self.assertEqual(report.per_stream_cell(self.r1, "sluice"), "23.4 (1.29x)")  # nginx: (28360 - 10240) / 1000
        self.assertIsNone(self.r1.get("direct", "rss_per_stream_kb"))

    def test_added_latency_minus_direct(self):
        self.assertEqual(report.minus_direct(86.4, 24.0, "%.0f"), "+62")
        self.assertEqual(report.minus_direct(0.133, 0.036, "%.3f"), "+0.097")
        self.assertEqual(report.minus_direct(84.0, None, "%.0f"), "84")
        self.assertEqual(report.minus_direct(86.5, 24.0, "%.0f"), "+62")  # a tie rounds to even, as printf
        self.assertEqual(report.minus_direct_cell(self.r1, "sluice", "s1",
                                                  ("added_p50_us", "added_p99_us", "added_p999_us"), "%.0f"),
                         "+91 / +81 / -861")
        self.assertEqual(report.minus_direct_cell(self.r1, "direct", "s1",
                                                  ("added_p50_us", "added_p99_us", "added_p999_us"), "%.0f"),
                         "84 / 159 / 1135")

    def test_median(self):
        self.assertEqual(report.median([Figure("1.046"), Figure("1.050"), Figure("0.990")]), "1.046")
        self.assertEqual(report.median([Figure("20.27"), Figure("19.82")]), "20.045")
        self.assertEqual(report.median([Figure("1.10")]), "1.10")

    def test_spread_across_rounds(self):
        self.assertEqual(report.spread([Figure("76.10"), Figure("65.00")]), "65.00 / 76.10 (17 %)")
        self.assertEqual(report.spread([Figure("26.00")]), "26.00 / 26.00 (0 %)")
        self.assertIn("| s100 | 30.41 / 32.50 (7 %) | 26.00 / 26.00 (0 %) | – |", report.spread_table(self.full))

    def test_no_division_by_zero(self):
        self.assertIsNone(report.quotient(1.0, 0))
        self.assertEqual(report.text("%.0f", report.percent(5, 0)), "")

    def test_skipped_from_the_round_it_happened(self):
        self.assertIsNone(self.full.skip_reason("nginx", 1))
        self.assertEqual(self.full.skip_reason("nginx", 2), "did not start")
        self.assertEqual(self.full.skip_reason("haproxy", 1), "not installed")

    def test_errors_over_all_runs(self):
        self.assertEqual(report.errors_total(self.r1, "sluice"), 0)
        self.assertEqual(report.errors_total(Round(self.full, 2), "sluice"), 1)  # its failed s1000

    def test_disturbed_runs(self):
        # sluice's cancel run: CPU 0 busy 30.0 %, the proxy 2.5 % of it.
        self.assertEqual(report.disturbed_runs(self.full, self.r1), "sluice/cancel (28 %)")
        self.assertEqual(report.disturbed_runs(self.full, Round(self.full, 2)), "")

    def test_saturation_and_cancel_cells(self):
        self.assertEqual(report.saturation_cell(self.r1, "sluice"), "105052 at 89 % busy; ~118k")
        self.assertEqual(report.saturation_cell(self.r1, "direct"), "118107")
        self.assertEqual(report.cancel_cell(self.r1, "sluice"), "64 / 250, 3 of 200 not noticed (0.92x)")

    def test_metrics_pairs(self):
        metrics = fixture("metrics")
        self.assertEqual(str(metrics.get(1, "sluice", "metrics_on.proxy_cpu_us_per_line")), "20.27")
        self.assertIn("| median | | 20.045 | 19.130 | **1.048** | | |", report.metrics_table(metrics))

    def test_callgrind_per_line(self):
        callgrind = fixture("callgrind")
        self.assertEqual(str(callgrind.get(1, "sluice", "callgrind.per_line")), "24534")  # 47351550 / 1930

    def test_tls_only_where_the_run_was_tls(self):
        tls = fixture("tls-quick")
        self.assertTrue(tls.tls)
        out, _ = report.render(tls)
        self.assertIn("## sluice benchmark (quick, TLS), round 1 of 1", out)
        self.assertIn("- TLS: loadgen -> proxy over TLS (sluice TLSv1.3 TLS_AES_256_GCM_SHA384; "
                      "nginx TLSv1.3 TLS_AES_256_GCM_SHA384;", out)
        self.assertIn("| proxy CPU us/line, 1000 streams x 10 tok/s (40-token replies) |", out)
        for plain_run in ("full", "smoke", "metrics", "callgrind"):  # files from before --tls: no tls field
            results = fixture(plain_run)
            self.assertFalse(results.tls)
            self.assertNotIn("TLS", report.render(results)[0])

    def test_tls_cpu_split_at_the_last_handshake(self):
        # sluice s100: 1.2160 s of CPU in all, 0.0926 s of it before the run (100 handshakes),
        # 1.1234 s after it for 22629 lines; busy over the 3.08 s after it.
        r = Round(fixture("tls-quick"), 1)
        self.assertEqual(str(r.get("sluice", "s100.proxy_cpu_us_per_line")), "49.64")  # not 53.73
        self.assertEqual(str(r.get("sluice", "s100.proxy_cpu_us_per_handshake")), "926")
        self.assertEqual(str(r.get("sluice", "s100.proxy_busy_pct")), "36.5")
        self.assertEqual(report.handshake_cpu_cell(r, "sluice"), "926 / 1156 (1.87x)")
        self.assertIsNone(report.handshake_cpu_cell(r, "direct"))

    def test_no_samples_is_a_dash(self):
        r = Round(fixture("tls-quick"), 1)  # 4 s replies in a 4 s run: no request began in the steady window
        self.assertIsNone(r.get("direct", "s1000.ttft_p50_ms"))
        self.assertEqual(report.minus_direct_cell(r, "sluice", "s1000", ("ttft_p50_ms", "ttft_p99_ms"), "%.3f"), "")

    def test_progress_line_on_the_last_record(self):
        self.assertIsNone(report.progress(self.full))  # the last record ends a round
        callgrind = fixture("callgrind")
        callgrind.last = {"record": "path", "round": 1, "path": "nginx", "callgrind_instructions": 61289625}
        self.assertEqual(report.progress(callgrind), "  -> 61289625 instructions for 1935 lines: 31674 per line")
        self.full.last = {"record": "run", "round": 1, "path": "sluice", "run": "s100"}
        self.assertEqual(report.progress(self.full),
                         "  -> proxy CPU 30.41 us/line (proxy busy 24.3% of CPU 0; other work there 1.7%)")


if __name__ == "__main__":
    unittest.main()
