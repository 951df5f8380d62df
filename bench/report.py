#!/usr/bin/env python3
"""bench/report.py: the Markdown tables of a bench/run.sh run, from its results.jsonl.

run.sh measures and appends one JSON object per line to results.jsonl; at the end it calls this
to print the tables. With --out DIR the file is kept, and the same tables come out again with

    bench/report.py DIR/results.jsonl

The records, by their "record" field:
  meta   once: date, command, mode, repeat, paths, commit, sluice binary, machine, placement,
         idle CPU before start, and the load shape (rate, tokens, s1000_streams, ...); tls (true
         with run.sh --tls: loadgen -> proxy over TLS), tls_certificate, openssl. Files from
         before --tls have no tls field: plain HTTP.
  run    one load-generator run: round, path, run (s1, s100, s1000, sat, cancel, upload; chat
         and sse in --smoke; callgrind; metrics_on/off), the load generator's own JSON under
         "loadgen", and raw counters: proxy_cpu_ns, proxy_stat_ticks, wall_ns, cpu0_busy_ticks,
         cpu0_total_ticks, rss_active_kb (the proxy's only; direct has no proxy process).
         Over TLS the loadgen opens and handshakes every connection before its run starts:
         proxy_cpu_ns is then split at that moment into proxy_handshake_cpu_ns and
         proxy_relay_cpu_ns (with relay_wall_ns), and the loadgen's JSON adds tls_version,
         tls_cipher, handshakes, handshake_p50_ms / handshake_p99_ms (connected -> handshake
         done; not in TTFT) and opening_s.
  path   facts about a path in a round: idle_rss_kb, peak_rss_kb, upload_peak_rss_kb, skipped
         (why), failed, metrics_counted, callgrind_instructions
  round  the end of a round, with its date
A figure that was not measured is absent or null, and shows as a dash.

Exit status: 1 when a --smoke run has a failed path (run.sh's own status), 2 on bad input.
"""

import argparse
import functools
import json
import statistics
import sys
from datetime import datetime

DASH = "–"
STREAMING_RUNS = ("s1", "s100", "s1000", "sat")
# Runs whose proxy CPU the disturbed-runs warning checks, and runs whose errors are counted.
WATCHED_RUNS = STREAMING_RUNS + ("cancel", "upload")
ERROR_RUNS = WATCHED_RUNS + ("chat", "sse")


class Figure(float):
    """A number that prints as it was written: "0.590" stays "0.590". Derived figures are made
    from the text the table shows, so ratios, spreads and medians use the figures as printed."""

    def __new__(cls, text):
        figure = super().__new__(cls, text)
        figure.text = text
        return figure

    def __str__(self):
        return self.text

    __repr__ = __str__


def fixed(fmt, value):
    """value as the table prints it with fmt, or None for no value."""
    return None if value is None else Figure(fmt % value)


def quotient(a, b):
    """a / b, or None when either is missing or b is 0: a dash in the table, not inf or nan."""
    return None if a is None or b is None or b == 0 else a / b


def percent(part, whole):
    return None if part is None else quotient(100 * part, whole)


def text(fmt, value):
    return "" if value is None else fmt % value


def plain(value):
    return "" if value is None else str(value)


def dash(cell):
    return DASH if cell is None or cell == "" else str(cell)


def median(values):
    """The middle value as it was written, or the mean of the two middle ones to 3 decimals."""
    middle = statistics.median(values)
    return str(middle) if len(values) % 2 else "%.3f" % middle


def spread(values):
    """"min / max (spread %)" of CPU us/line over rounds; the spread is relative to the min."""
    low, high = fixed("%.2f", min(values)), fixed("%.2f", max(values))
    return f"{low} / {high} ({text('%.0f', percent(high - low, low))} %)"


def run_figures(record):
    """One run's figures: the load generator's own, and the proxy's derived from raw counters.
    Over TLS the proxy's CPU per line and busy are the relay's, after every handshake."""
    figures = dict(record["loadgen"])
    # Percentiles of no samples print as 0 in the loadgen's JSON: a dash, not a figure (e.g. TTFT
    # in a short run whose replies outlast its steady window).
    for samples, keys in (("ttft_samples", ("ttft_p50_ms", "ttft_p99_ms")),
                          ("latency_samples", ("added_p50_us", "added_p99_us", "added_p999_us"))):
        if figures.get(samples) == 0:
            figures.update((key, None) for key in keys)
    cpu_ns = record.get("proxy_cpu_ns")
    if cpu_ns is not None:
        relay_ns = record.get("proxy_relay_cpu_ns")
        if figures.get("lines"):
            figures["proxy_cpu_us_per_line"] = fixed("%.2f", (cpu_ns if relay_ns is None else relay_ns)
                                                     / 1000 / figures["lines"])
        busy = fixed("%.1f", percent(cpu_ns, record.get("wall_ns")))
        figures["proxy_busy_pct"] = busy if relay_ns is None else fixed(
            "%.1f", percent(relay_ns, record.get("relay_wall_ns")))
        # Time CPU 0 spent on anything but the proxy: other work on a shared machine.
        core = fixed("%.1f", percent(record.get("cpu0_busy_ticks"), record.get("cpu0_total_ticks")))
        if busy is not None and core is not None:
            figures["other_on_proxy_cpu_pct"] = fixed("%.1f", core - busy)
        handshake_ns = record.get("proxy_handshake_cpu_ns")
        if handshake_ns is not None and figures.get("handshakes"):
            figures["proxy_cpu_us_per_handshake"] = fixed("%.0f", handshake_ns / 1000 / figures["handshakes"])
    if record.get("rss_active_kb") is not None:
        figures["rss_active_kb"] = record["rss_active_kb"]
    return figures


def per_stream_kb(active_kb, idle_kb, streams):
    """RSS per active stream: (RSS with every stream open - RSS idle) / streams."""
    if active_kb is None or idle_kb is None:
        return None
    return fixed("%.1f", quotient(active_kb - idle_kb, streams))


def minus_direct(value, direct, fmt):
    """Direct's own figure (or any when direct has none) as is; a proxy's minus direct's."""
    if direct is None:
        return text(fmt, value)
    return "" if value is None else ("%+" + fmt[1:]) % (value - direct)


def utc(iso, fmt="%Y-%m-%d %H:%M UTC"):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").strftime(fmt)


class Results:
    """results.jsonl, indexed: figures[(round, path)] holds "<run>.<key>" for each run's figures
    (e.g. "s100.lines_per_s") and the path's facts by their own key (e.g. "peak_rss_kb")."""

    def __init__(self, records):
        self.figures = {}
        self.skipped = {}  # path -> (round, why), the first time it was skipped
        self.ended = {}  # round -> when it ended
        self.last = records[-1] if records else None
        meta = [r for r in records if r.get("record") == "meta"]
        if not meta:
            raise ValueError("no meta record (not a results.jsonl of bench/run.sh?)")
        self.meta = meta[0]
        self.paths = self.meta["paths"]
        self.repeat = self.meta["repeat"]
        self.tls = bool(self.meta.get("tls"))
        self.negotiated = {}  # path -> "TLSv1.3 TLS_AES_256_GCM_SHA384", from its first TLS run
        for record in records:
            kind = record.get("record")
            if kind == "round":
                self.ended[record["round"]] = record["date"]
            elif kind == "run":
                figures = self.at(record["round"], record["path"])
                loadgen = record["loadgen"]
                if loadgen.get("tls_version"):
                    self.negotiated.setdefault(record["path"], f"{loadgen['tls_version']} {loadgen.get('tls_cipher', '')}")
                for key, value in run_figures(record).items():
                    figures[f"{record['run']}.{key}"] = value
            elif kind == "path":
                figures = self.at(record["round"], record["path"])
                figures.update((k, v) for k, v in record.items() if k not in ("record", "round", "path"))
                if record.get("skipped"):
                    self.skipped.setdefault(record["path"], (record["round"], record["skipped"]))
        for (_, path), figures in self.figures.items():
            if path != "direct":
                figures["rss_per_stream_kb"] = per_stream_kb(
                    figures.get("s1000.rss_active_kb"), figures.get("idle_rss_kb"), self.meta["s1000_streams"])
            figures["callgrind.per_line"] = fixed(
                "%.0f", quotient(figures.get("callgrind_instructions"), figures.get("callgrind.lines")))

    def at(self, round_number, path):
        return self.figures.setdefault((round_number, path), {})

    def get(self, round_number, path, key):
        return self.figures.get((round_number, path), {}).get(key)

    def skip_reason(self, path, until=None):
        """Why path was skipped, if it was by the end of round `until` (None: at any time)."""
        round_number, why = self.skipped.get(path, (None, None))
        return why if why and (until is None or round_number <= until) else None

    def date(self, round_number=None):
        """When a round (None: the last one) ended; the start of the run if it did not."""
        if round_number is None:
            round_number = max(self.ended, default=None)
        return utc(self.ended.get(round_number) or self.meta["date"])

    def sluice_note(self, until=None):
        """Which sluice binary was measured: it may be rebuilt between runs."""
        m = self.meta
        if "sluice" not in self.paths or "sluice" not in m or self.skip_reason("sluice", until):
            return ""
        built = utc(m["sluice_built"], "%H:%M UTC")
        return f"; sluice: {m['sluice']} (sha256 {m['sluice_sha256'][:12]}, built {built})"

    def date_line(self, round_number=None):
        m = self.meta
        return f"- date: {self.date(round_number)}; commit: {m['commit']}; command: `{m['command']}`"

    def quiet_note(self):
        m = self.meta
        return f"CPU 0 {plain(m['cpu0_idle_pct'])} % idle, CPU 1 {plain(m['cpu1_idle_pct'])} % idle"

    def mode_title(self, mode=None):
        """The mode for a title: "quick", or "quick, TLS" for a run.sh --tls file."""
        mode = self.meta["mode"] if mode is None else mode
        return f"{mode}, TLS" if self.tls else mode

    def tls_line(self):
        """--tls: what was encrypted, with what, and what the direct column is; "" for plain runs."""
        if not self.tls:
            return ""
        negotiated = "; ".join(f"{path} {how}" for path, how in self.negotiated.items()) or "none negotiated"
        return (f"- TLS: loadgen -> proxy over TLS ({negotiated}; certificate "
                f"{self.meta.get('tls_certificate', 'not recorded')}; {self.meta.get('openssl', 'OpenSSL')}); "
                "proxy -> fast_upstream plain HTTP. direct is plain HTTP, so a proxy's added latency and TTFT "
                "include TLS at both ends; TLS handshakes are not in TTFT")


class Round:
    """One round's figures, as the table's cells read them."""

    def __init__(self, results, number):
        self.results = results
        self.number = number

    def get(self, path, key):
        return self.results.get(self.number, path, key)

    def ratio(self, path, key):
        """" (0.93x)": path's figure over nginx's from the same round; "" for nginx itself."""
        if path == "nginx":
            return ""
        return text(" (%.2fx)", quotient(self.get(path, key), self.get("nginx", key)))


# ---------------------------------------------------------------------------------------------
# The cells of the comparison table: cell(round, path) -> text, or None/"" for a dash.

def cpu_cell(r, path, run):
    key = f"{run}.proxy_cpu_us_per_line"
    value = r.get(path, key)
    return None if value is None else f"{value}{r.ratio(path, key)}"


def saturation_cell(r, path):
    """Lines/s achieved, how busy the proxy was, and what one core would relay at that cost."""
    lines = text("%.0f", r.get(path, "sat.lines_per_s"))
    busy = r.get(path, "sat.proxy_busy_pct")
    if not lines or busy is None:
        return lines
    per_core = text("%.0f", quotient(1000, r.get(path, "sat.proxy_cpu_us_per_line")))
    return f"{lines} at {'%.0f' % busy} % busy; ~{per_core}k"


def lines_cell(r, path):
    return " / ".join(text("%.0f", r.get(path, f"{run}.lines_per_s")) for run in ("s1", "s100", "s1000"))


def minus_direct_cell(r, path, run, keys, fmt):
    """Percentiles: direct's absolute, the proxies' minus direct's from the same round."""
    out = ""
    for key in keys:
        direct = None if path == "direct" else r.get("direct", f"{run}.{key}")
        out += (" / " if out else "") + minus_direct(r.get(path, f"{run}.{key}"), direct, fmt)
    return out


def mib_cell(r, path, key):
    kb = r.get(path, key)
    if kb is None or path == "direct":
        return None
    return f"{'%.1f' % (kb / 1024)}{r.ratio(path, key)}"


def per_stream_cell(r, path):
    value = r.get(path, "rss_per_stream_kb")
    return None if value is None else f"{value}{r.ratio(path, 'rss_per_stream_kb')}"


def cancel_cell(r, path):
    p50 = r.get(path, "cancel.cancel_p50_us")
    if p50 is None:
        return None
    out = f"{'%.0f' % p50} / {text('%.0f', r.get(path, 'cancel.cancel_p99_us'))}"
    undetected = r.get(path, "cancel.undetected")
    if undetected is not None and undetected != 0:
        out += f", {undetected} of {plain(r.get(path, 'cancel.cancels'))} not noticed"
    return out + r.ratio(path, "cancel.cancel_p50_us")


def upload_cell(r, path):
    value = r.get(path, "upload.gb_per_s")
    return None if value is None else f"{value}{r.ratio(path, 'upload.gb_per_s')}"


def errors_total(r, path):
    return sum(e for e in (r.get(path, f"{run}.errors") for run in ERROR_RUNS) if e is not None)


def handshake_cell(r, path):
    """--tls: the 100-stream run's handshakes (connected -> done), as the loadgen saw them."""
    p50 = r.get(path, "s100.handshake_p50_ms")
    if p50 is None:
        return None
    return f"{p50} / {plain(r.get(path, 's100.handshake_p99_ms'))}"


def handshake_cpu_cell(r, path):
    """--tls: the proxy's CPU per handshake, while the loadgen opened the 100 and 1000 connections."""
    cells = [r.get(path, f"{run}.proxy_cpu_us_per_handshake") for run in ("s100", "s1000")]
    if cells == [None, None]:
        return None
    return f"{dash(cells[0])} / {dash(cells[1])}{r.ratio(path, 's1000.proxy_cpu_us_per_handshake')}"


def driver_cell(r, path):
    upstream = r.get(path, "s100.upstream_cpu_us_per_line")
    if upstream is None:
        return None
    return f"{'%.1f' % upstream} / {text('%.1f', r.get(path, 's100.loadgen_cpu_us_per_line'))}"


def table_rows(m):
    """(label, cell) per row of the comparison table, for the load shape in meta record m."""
    n = m["s1000_streams"]
    # --tls runs the 1000 streams with shorter replies (files from before have no s1000_tokens).
    s1000 = f"{n} streams x {m['s1000_rate']} tok/s"
    if m.get("s1000_tokens", m["tokens"]) != m["tokens"]:
        s1000 += f" ({m['s1000_tokens']}-token replies)"
    latency = functools.partial(minus_direct_cell, keys=("added_p50_us", "added_p99_us", "added_p999_us"), fmt="%.0f")
    ttft = functools.partial(minus_direct_cell, keys=("ttft_p50_ms", "ttft_p99_ms"), fmt="%.3f")
    tls = [("TLS handshake ms p50 / p99, 100 streams (loadgen: connected -> done, 8 at a time)", handshake_cell),
           (f"proxy CPU us per TLS handshake, 100 / {n} connections opened", handshake_cpu_cell)] if m.get("tls") else []
    return [
        (f"proxy CPU us/line, 1 stream x {m['rate']} tok/s", functools.partial(cpu_cell, run="s1")),
        (f"proxy CPU us/line, 100 streams x {m['rate']} tok/s", functools.partial(cpu_cell, run="s100")),
        (f"proxy CPU us/line, {s1000}", functools.partial(cpu_cell, run="s1000")),
        (f"proxy CPU us/line, saturation ({m['sat_streams']} x {m['sat_rate']} tok/s offered)",
         functools.partial(cpu_cell, run="sat")),
        ("saturation: lines/s relayed at proxy CPU busy; one core at that cost", saturation_cell),
        (f"lines/s received, 1 / 100 / {n} streams", lines_cell),
        ("added latency us p50 / p99 / p99.9, 1 stream", functools.partial(latency, run="s1")),
        ("added latency us p50 / p99 / p99.9, 100 streams", functools.partial(latency, run="s100")),
        (f"added latency us p50 / p99 / p99.9, {n} streams", functools.partial(latency, run="s1000")),
        ("TTFT ms p50 / p99, 100 streams", functools.partial(ttft, run="s100")),
        (f"TTFT ms p50 / p99, {n} streams", functools.partial(ttft, run="s1000")),
        *tls,
        ("peak RSS MiB (VmHWM, streaming runs)", functools.partial(mib_cell, key="peak_rss_kb")),
        (f"RSS KiB per active stream ({n} streams)", per_stream_cell),
        ("cancel: client close -> upstream notices, us p50 / p99", cancel_cell),
        (f"blob upload {'%.1f' % (m['upload_bytes'] / 1073741824)} GiB: GB/s", upload_cell),
        ("blob upload: proxy peak RSS MiB", functools.partial(mib_cell, key="upload_peak_rss_kb")),
        ("errors (all runs)", errors_total),
        ("driver check: fast_upstream / loadgen CPU us/line (100 streams)", driver_cell),
    ]


LEGEND = """
- Latency and TTFT: the direct column is absolute (the floor: upstream -> loadgen with no proxy);
  proxy columns are what the proxy adds, i.e. minus direct's figure from the same run.
- (0.93x): the figure divided by nginx's from the same run (lower is better, except lines/s and GB/s).
- CPU us/line: the proxy's utime+stime (sum_exec_runtime of all its threads; master + worker for
  nginx) over the run, divided by lines the loadgen received. Busy: proxy CPU time / wall time.
- Saturation: {sat_streams} x {sat_rate} tok/s offered. Near 100 % busy the proxy is the limit (lines then
  coalesce, several per read, so CPU/line drops); well below, the driver (CPU 1) was, and one core
  would relay about 1e6 / (CPU us/line) lines/s at that cost ("~Nk").
- Peak RSS: VmHWM after the streaming runs; per stream: (RSS during the {s1000_streams}-stream run - idle RSS) / streams.
- Cancel: loadgen reads the first line, closes; fast_upstream records when it sees the close."""


TLS_LEGEND = """- Over TLS the loadgen opens and handshakes every connection before its run starts: CPU us/line
  and busy are the proxy's from then on (the relay, TLS records included); its CPU before, divided
  by the handshakes, is the handshake row (the load generator's side of them is not in it)."""


def disturbed_runs(results, r):
    """Runs during which other processes used more than 10 % of the proxy's CPU."""
    found = []
    for path in results.paths:
        for run in WATCHED_RUNS:
            other = r.get(path, f"{run}.other_on_proxy_cpu_pct")
            if other is not None and other > 10:
                found.append(f"{path}/{run} ({'%.0f' % other} %)")
    return ", ".join(found)


def row(cells):
    return "|" + "".join(f" {cell} |" for cell in cells)


def comparison(results, number):
    """One round: header, the table with a column per path, the legend."""
    m, r = results.meta, Round(results, number)
    lines = [
        f"## sluice benchmark ({results.mode_title()}), round {number} of {results.repeat}",
        "",
        results.date_line(number),
        f"- machine: {m['cpus']} CPUs ({m['cpu_model']}), {'%.0f' % (m['mem_total_kb'] / 1048576)} GiB, "
        f"kernel {m['kernel']}",
        f"- placement: {m['placement']}{results.sluice_note(number)}",
        f"- load: fast_upstream, {m['tokens']} token lines per response, chunked NDJSON (/api/chat); "
        f"before start: {results.quiet_note()}",
        *([f"- backends: {m['backends']} fast_upstreams behind each proxy (sluice upstreams:, nginx least_conn, "
           f"HAProxy balance leastconn), the rates combined"] if m.get("backends", 1) > 1 else []),
        *([results.tls_line()] if results.tls else []),
        "",
        row(["figure"] + results.paths),
        "|---|" + "---|" * len(results.paths),
    ]
    for label, cell in table_rows(m):
        lines.append(row([label] + ["skipped" if results.skip_reason(p, number) else dash(cell(r, p))
                                    for p in results.paths]))
    lines.append(LEGEND.format(**m))
    if results.tls:
        lines.append(TLS_LEGEND)
    disturbed = disturbed_runs(results, r)
    if disturbed:
        lines.append(f"- WARNING: other processes shared the proxy's CPU during: {disturbed}. Those figures are")
        lines.append("  not clean; rerun when the machine is quiet (or with --wait-quiet 60).")
    return "\n".join(lines)


def spread_table(results):
    """Proxy CPU us/line across rounds: min / max and the spread relative to the min."""
    proxies = [p for p in results.paths if p != "direct"]
    lines = ["", f"### Spread over {results.repeat} rounds: proxy CPU us/line, min / max (spread)", "",
             row(["run"] + proxies), "|---|" + "---|" * len(proxies)]
    for run in STREAMING_RUNS:
        cells = []
        for path in proxies:
            values = [v for v in (results.get(n, path, f"{run}.proxy_cpu_us_per_line")
                                  for n in range(1, results.repeat + 1)) if v is not None]
            cells.append(spread(values) if values else DASH)
        lines.append(row([run] + cells))
    return "\n".join(lines) + "\n"


def callgrind_table(results, number):
    m, r = results.meta, Round(results, number)
    lines = [
        f"## sluice benchmark ({results.mode_title('callgrind')}): user-space instructions per relayed line",
        "",
        f"- {m['callgrind_streams']} streams x {m['callgrind_rate']} tok/s for {m['callgrind_duration']} s "
        "through each proxy under valgrind --tool=callgrind;",
        "  counted from after one warm-up request to the end of the load; nginx with master_process off"
        f"{results.sluice_note(number)}.",
        results.date_line(number),
        *([results.tls_line(), "- over TLS the handshakes are not counted (callgrind --toggle-collect=SSL_do_handshake); "
           "every line's TLS record is"] if results.tls else []),
        "",
        "| path | lines | instructions | instructions/line | vs nginx |",
        "|---|---|---|---|---|",
    ]
    for path in results.paths:
        if path == "direct":
            continue
        why = results.skip_reason(path, number)
        if why:
            lines.append(f"| {path} | {DASH} | {DASH} | {DASH} | skipped: {why} |")
            continue
        per_line = r.get(path, "callgrind.per_line")
        vs_nginx = text("%.2fx", quotient(per_line, r.get("nginx", "callgrind.per_line")))
        lines.append(row([path, plain(r.get(path, "callgrind.lines")), plain(r.get(path, "callgrind_instructions")),
                          dash(per_line), dash(vs_nginx)]))
    return "\n".join(lines)


def metrics_table(results):
    """--metrics-cost: sluice's CPU per line with metrics on and off, per pair, and the medians."""
    m = results.meta
    lines = [
        f"## sluice metrics cost{' over TLS' if results.tls else ''}: proxy CPU us/line, metrics on vs off",
        "",
        results.date_line(),
        f"- machine: {m['cpus']} CPUs ({m['cpu_model']}), kernel {m['kernel']}; "
        f"load average before start: {m['load_average']}",
        f"- placement: {m['placement']}{results.sluice_note()}",
        f"- load: 100 streams x {m['rate']} tok/s, {m['tokens']} token lines per response (/api/chat), "
        f"{m['metrics_duration']} s per half; on: `metrics: {{path: /metrics}}`, off: `metrics: {{path: \"\"}}`; "
        f"before start: {results.quiet_note()}",
        "",
        "| pair | order | on: CPU us/line | off: CPU us/line | on / off | requests counted (on) "
        "| other work on CPU 0, on / off |",
        "|---|---|---|---|---|---|---|",
    ]
    ons, offs, ratios = [], [], []
    for n in range(1, results.repeat + 1):
        on = results.get(n, "sluice", "metrics_on.proxy_cpu_us_per_line")
        off = results.get(n, "sluice", "metrics_off.proxy_cpu_us_per_line")
        ratio = fixed("%.3f", quotient(on, off))
        order = "on, off" if n % 2 == 1 else "off, on"  # run.sh alternates, so drift favours neither
        other = (f"{dash(results.get(n, 'sluice', 'metrics_on.other_on_proxy_cpu_pct'))} % / "
                 f"{dash(results.get(n, 'sluice', 'metrics_off.other_on_proxy_cpu_pct'))} %")
        lines.append(row([n, order, dash(on), dash(off), dash(ratio),
                          dash(results.get(n, "sluice", "metrics_counted")), other]))
        if ratio is not None:
            ons.append(on)
            offs.append(off)
            ratios.append(ratio)
    if ratios:
        lines.append(f"| median | | {median(ons)} | {median(offs)} | **{median(ratios)}** | | |")
    lines.append("")
    lines.append("- on / off: CPU per relayed line with metrics on divided by off, same pair; the target is <= 1.05.")
    return "\n".join(lines)


def smoke_table(results):
    """--smoke: lines, cancels, upload and errors per path; a path fails on errors or no lines."""
    r = Round(results, 1)
    lines = [f"## sluice benchmark (smoke, TLS)\n\n{results.tls_line()}\n"] if results.tls else []
    lines += ["| path | chat lines | SSE lines | cancels noticed | upload | errors | verdict |",
              "|---|---|---|---|---|---|---|"]
    passed = True
    for path in results.paths:
        failed = r.get(path, "failed")
        why = results.skip_reason(path)
        if why and not failed:
            lines.append(f"| {path} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} | skipped: {why} |")
            continue
        errors = errors_total(r, path)
        chat = r.get(path, "chat.lines") or 0
        sse = r.get(path, "sse.lines") or 0
        verdict = "FAIL" if failed or errors or not chat or not sse else "ok"
        passed = passed and verdict == "ok"
        cancels = f"{plain(r.get(path, 'cancel.detected'))}/{plain(r.get(path, 'cancel.cancels'))}"
        lines.append(row([path, chat, sse, cancels, f"{plain(r.get(path, 'upload.gb_per_s'))} GB/s", errors, verdict]))
    return "\n".join(lines) + "\n", passed


def render(results):
    """What run.sh prints at the end of the run, and whether it passed (only --smoke can fail)."""
    mode = results.meta["mode"]
    if mode == "smoke":
        return smoke_table(results)
    if mode == "metrics":
        return metrics_table(results) + "\n", True
    per_round = callgrind_table if mode == "callgrind" else comparison
    out = "".join(per_round(results, n) + "\n\n" for n in range(1, results.repeat + 1))
    if results.repeat > 1:
        out += spread_table(results)
    return out, True


def progress(results):
    """One line on the record run.sh wrote last, for its log while it runs."""
    record = results.last
    if record.get("record") not in ("run", "path"):
        return None
    figures = results.figures[(record["round"], record["path"])]
    if record["record"] == "run":
        run = record["run"]
        cpu = figures.get(f"{run}.proxy_cpu_us_per_line")
        if cpu is None:
            return None
        return (f"  -> proxy CPU {cpu} us/line (proxy busy {plain(figures.get(f'{run}.proxy_busy_pct'))}% of CPU 0; "
                f"other work there {plain(figures.get(f'{run}.other_on_proxy_cpu_pct'))}%)")
    if "callgrind_instructions" in record:
        return (f"  -> {plain(figures.get('callgrind_instructions'))} instructions for "
                f"{plain(figures.get('callgrind.lines'))} lines: {plain(figures.get('callgrind.per_line'))} per line")
    return None


def load(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(json.loads(line, parse_float=Figure))
                except ValueError as e:
                    raise ValueError(f"{path}:{number}: {e}") from None
    return Results(records)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Renders bench/run.sh's tables from its results.jsonl.")
    parser.add_argument("results", help="results.jsonl of a run (kept with run.sh --out DIR)")
    parser.add_argument("--progress", action="store_true", help="only a line on the last record (run.sh's log)")
    args = parser.parse_args(argv)
    try:
        results = load(args.results)
    except (OSError, ValueError, KeyError) as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 2
    if args.progress:
        line = progress(results)
        if line:
            print(line)
        return 0
    out, passed = render(results)
    sys.stdout.write(out)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
