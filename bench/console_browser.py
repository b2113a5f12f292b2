"""The console's benchmarks that run in the browser: log latency and clicks during a log flood.

Both open a container's page on the Logs tab (following, as a person would) in
Debian's Chromium driven by Playwright, and measure inside the page:

- `log_latency`: a script installed before the page's own wraps WebSocket and,
  for every message of the logs socket, notes its arrival time against each
  line's timestamp — the one conmon gave the line when it read it from the
  container's pipe (what `docker logs -t` shows), and, for the "probe" lines the
  generator writes ten times a second, the time the container itself wrote
  into the line.
- `flood_clicks`: a capturing click listener notes, for each click, the time
  from the input event's creation (`event.timeStamp`, so the wait for a busy
  main thread counts) to the first task after the next animation frame, i.e.
  until the page has handled the click and drawn the result.

Lines shown and dropped are counted from the socket's frames outside the page
(Playwright's `framereceived`), so counting adds no work to the page under test.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

LOG_HOOK = """
(() => {
  const Native = window.WebSocket;
  const bench = window.__bench = { recording: false, conmon: [], written: [] };
  function stampMs(ts) {  // RFC3339Nano in UTC -> ms since the epoch, keeping the fraction
    const m = /^(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d)(?:\\.(\\d+))?Z$/.exec(ts);
    return m ? Date.parse(m[1] + "Z") + Number("0." + (m[2] || "0")) * 1000 : NaN;
  }
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("/logs/")) return;
      this.addEventListener("message", (event) => {
        if (!bench.recording) return;
        const now = performance.timeOrigin + performance.now();
        for (const [, ts, text] of JSON.parse(event.data).lines || []) {
          bench.conmon.push(now - stampMs(ts));
          const probe = /^probe (\\d+) (\\d+)/.exec(text);
          if (probe) bench.written.push(now - (Number(probe[1]) * 1000 + Number(probe[2]) / 1000));
        }
      });
    }
  };
})();
"""

CLICK_HOOK = """
(() => {
  const m = window.__clicks = { clicks: [], longtasks: [], frames: 0 };
  new PerformanceObserver((list) => list.getEntries().forEach((e) => m.longtasks.push(e.duration)))
    .observe({ type: "longtask" });
  (function tick() { m.frames++; requestAnimationFrame(tick); })();
  document.addEventListener("click", (e) => {
    const t0 = e.timeStamp, handled = performance.now();
    requestAnimationFrame(() => setTimeout(() => m.clicks.push({
      target: e.target.id || e.target.tagName, input: handled - t0, frame: performance.now() - t0 }), 0));
  }, true);
})();
"""

# Controls of the container page a person uses while the log runs; each does visible work
# (re-wrapping or redrawing the kept lines, switching tabs, opening the rename popover).
CLICK_TARGETS = ("#log-wrap", "#log-timestamps", "#tab-overview", "#tab-logs", "#c-rename > summary",
                 "#c-rename > summary")


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class FrameCounter:
    """Counts what the logs socket brings (lines shown, lines the server dropped) from outside the page."""

    counting: bool = False
    lines: int = 0
    dropped: int = 0
    messages: int = 0
    bytes: int = 0

    def attach(self, page: Any) -> None:
        page.on("websocket", lambda ws: ws.on("framereceived", self.frame) if "/logs/" in ws.url else None)

    def frame(self, payload: str | bytes) -> None:
        if not self.counting or not isinstance(payload, str):
            return
        message = json.loads(payload)
        self.messages += 1
        self.bytes += len(payload)
        self.lines += len(message.get("lines") or [])
        self.dropped += int(message.get("dropped") or 0)

    def start(self) -> None:
        self.counting, self.lines, self.dropped, self.messages, self.bytes = True, 0, 0, 0, 0


@dataclass
class LatencyResult:
    seconds: float
    lines_per_s: float
    dropped: int
    conmon_ms: list[float] = field(default_factory=list)  # arrival - conmon's timestamp, every line
    written_ms: list[float] = field(default_factory=list)  # arrival - the time written into probe lines


@dataclass
class FloodResult:
    seconds: float
    lines_per_s: float  # shown in the page
    dropped_per_s: float  # read by the console, dropped for the page (it could not keep up)
    fps: float
    clicks: list[dict[str, Any]]
    longtask_max_ms: float
    playwright_click_ms: list[float]


def open_logs(page: Any, url: str) -> None:
    """Open a container's page on the Logs tab and wait until the socket follows."""
    page.goto(url)
    page.click("#tab-logs")
    page.wait_for_selector("#log-live[data-state=open]")


def log_latency(context: Any, url: str, seconds: float, settle: float = 3.0) -> LatencyResult:
    """Follow the log at `url` for `seconds` after `settle` seconds, timing each line's arrival."""
    page = context.new_page()
    counter = FrameCounter()
    counter.attach(page)
    page.add_init_script(LOG_HOOK)
    try:
        open_logs(page, url)
        page.wait_for_timeout(settle * 1000)
        page.evaluate("window.__bench.recording = true")
        counter.start()
        started = time.monotonic()
        page.wait_for_timeout(seconds * 1000)
        data = page.evaluate("(() => { window.__bench.recording = false; return window.__bench; })()")
        elapsed = time.monotonic() - started
    finally:
        page.close()
    return LatencyResult(elapsed, counter.lines / elapsed, counter.dropped, data["conmon"], data["written"])


def flood_clicks(context: Any, url: str, seconds: float, settle: float = 5.0, gap: float = 0.4) -> FloodResult:
    """Follow a flooding log at `url` and click the page's controls every `gap` seconds for `seconds`."""
    page = context.new_page()
    counter = FrameCounter()
    counter.attach(page)
    try:
        open_logs(page, url)
        page.evaluate(CLICK_HOOK)
        page.wait_for_timeout(settle * 1000)
        page.evaluate("window.__clicks.clicks = []; window.__clicks.longtasks = []; window.__clicks.frames = 0")
        counter.start()
        started = time.monotonic()
        round_trips: list[float] = []
        n = 0
        while time.monotonic() - started < seconds:
            t = time.monotonic()
            page.click(CLICK_TARGETS[n % len(CLICK_TARGETS)])
            round_trips.append((time.monotonic() - t) * 1000)
            n += 1
            page.wait_for_timeout(gap * 1000)
        page.wait_for_timeout(300)  # the last click's frame
        m = page.evaluate("window.__clicks")
        elapsed = time.monotonic() - started
    finally:
        page.close()
    return FloodResult(elapsed, counter.lines / elapsed, counter.dropped / elapsed, m["frames"] / elapsed,
                       m["clicks"], max(m["longtasks"], default=0.0), round_trips)


def summary_ms(values: list[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum of `values` (ms), rounded for a report."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(statistics.median(values), 1), "p95": round(percentile(values, 0.95), 1),
            "max": round(max(values), 1)}
