/* The Stats tab: window.BerthStats(config) → {start(), restart(), setRunning(bool)}.
 *
 * start() loads the last hour the console kept (GET stats history: a point every
 * 10 s), draws four uPlot charts (CPU, memory, network, block I/O), then opens
 * the stats websocket and appends its points ({points: [...]}, about one a
 * second), keeping one hour. Points are {t, cpu, mem, mem_limit, mem_pct,
 * net_rx, net_tx, blk_read, blk_write, pids} (console/metrics/stats.py).
 */
(function () {
  "use strict";

  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

  function bytes(n, digits) {
    if (n === null || n === undefined || isNaN(n)) return "—";
    var u = 0;
    while (Math.abs(n) >= 1024 && u < UNITS.length - 1) { n /= 1024; u++; }
    return (u === 0 ? Math.round(n) : n.toFixed(digits === undefined ? 1 : digits)) + " " + UNITS[u];
  }
  function rate(n) { return n === null || n === undefined ? "—" : bytes(n) + "/s"; }
  function pct(n) { return n === null || n === undefined ? "—" : (n < 10 ? n.toFixed(1) : Math.round(n)) + "%"; }

  /* "#rrggbb" + alpha → "rgba(…)" (canvas fills do not take color-mix()). */
  function alpha(color, a) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
    return m ? "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + a + ")" : undefined;
  }

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  function BerthStats(config) {
    var $ = function (id) { return document.getElementById(id); };
    var live = $("stats-live"), idle = $("stats-idle");
    var keep = config.historySeconds || 3600;
    var data = { t: [], cpu: [], mem: [], mem_limit: [], net_rx: [], net_tx: [], blk_read: [], blk_write: [] };
    var charts = [], socket = null, started = false, running = true, drawPending = 0;

    function setLive(state, text) { live.setAttribute("data-state", state); live.textContent = text; }

    function push(p) {
      var n = data.t.length;
      if (n && p.t <= data.t[n - 1]) return;
      data.t.push(p.t);
      ["cpu", "mem", "mem_limit", "net_rx", "net_tx", "blk_read", "blk_write"].forEach(function (k) {
        data[k].push(p[k] === undefined ? null : p[k]);
      });
      var cutoff = p.t - keep, drop = 0;
      while (drop < data.t.length && data.t[drop] < cutoff) drop++;
      if (drop) Object.keys(data).forEach(function (k) { data[k].splice(0, drop); });
    }

    function showNow(p) {
      var set = function (key, text) { var el = document.querySelector('[data-now="' + key + '"]'); if (el) el.textContent = text; };
      set("cpu", pct(p.cpu));
      set("mem", bytes(p.mem));
      set("mem-note", p.mem_limit ? (config.memLimit ? "of a " : "of ") + bytes(p.mem_limit, 0) + (config.memLimit ? " limit" : " (host)") +
        (p.mem_pct !== null && p.mem_pct !== undefined ? " · " + pct(p.mem_pct) : "") : " ");
      set("net", rate(p.net_rx) + " / " + rate(p.net_tx));
      set("blk", rate(p.blk_read) + " / " + rate(p.blk_write));
      set("pids", p.pids === undefined ? "—" : String(p.pids));
    }

    function axisColors() {
      return { stroke: cssVar("--muted", "#5c6877"), grid: { stroke: cssVar("--border", "#dfe3e8"), width: 1 },
               ticks: { stroke: cssVar("--border", "#dfe3e8"), width: 1 } };
    }

    /* At least the last minute, so a fresh chart reads in seconds, not milliseconds, and fills quickly. */
    function timeRange(u, min, max) {
      if (max === null || max === undefined || isNaN(max)) { max = Date.now() / 1000; min = max; }
      return [Math.min(min, max - 60), max];
    }

    function makeChart(el, series, format, minMax) {
      var colors = axisColors();
      var opts = {
        width: Math.max(el.clientWidth, 200), height: 180,
        scales: { x: { time: true, range: timeRange }, y: { range: function (u, min, max) { return [0, Math.max(max * 1.15, minMax)]; } } },
        series: [{}].concat(series.map(function (s) {
          return { label: s.label, stroke: s.color, width: 1.5, fill: s.fill || undefined, dash: s.dash || undefined,
                   spanGaps: false, points: { show: false }, value: function (u, v) { return v === null ? "—" : format(v); } };
        })),
        axes: [
          Object.assign({}, colors),
          Object.assign({}, colors, { size: 70, values: function (u, vals) { return vals.map(format); } }),
        ],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      };
      var chart = new window.uPlot(opts, [[]].concat(series.map(function () { return []; })), el);
      chart._keys = series.map(function (s) { return s.key; });
      if (window.ResizeObserver) {
        new ResizeObserver(function () {
          if (el.clientWidth) chart.setSize({ width: el.clientWidth, height: 180 });
        }).observe(el);
      }
      charts.push(chart);
    }

    function buildCharts() {
      var accent = cssVar("--accent", "#0c7170"), info = cssVar("--info-dot", "#2f7ae5"), warn = cssVar("--warn-dot", "#d99100"),
          bad = cssVar("--bad-dot", "#dc3b35");
      var soft = function (c) { return alpha(c, 0.14); };
      makeChart($("chart-cpu"), [{ key: "cpu", label: "CPU", color: accent, fill: soft(accent) }], pct, 5);
      var mem = [{ key: "mem", label: "Used", color: info, fill: soft(info) }];
      if (config.memLimit) mem.push({ key: "mem_limit", label: "Limit", color: bad, dash: [6, 4] });
      makeChart($("chart-mem"), mem, function (v) { return bytes(v, 0); }, 1024 * 1024);
      $("chart-mem-limit").textContent = config.memLimit ? "limit " + bytes(config.memLimit, 0) : "no limit set";
      makeChart($("chart-net"), [{ key: "net_rx", label: "Received", color: accent }, { key: "net_tx", label: "Sent", color: warn }],
        function (v) { return bytes(v, 0); }, 1024);
      makeChart($("chart-blk"), [{ key: "blk_read", label: "Read", color: info }, { key: "blk_write", label: "Written", color: bad }],
        function (v) { return bytes(v, 0); }, 1024);
    }

    function draw() {
      drawPending = 0;
      if (document.hidden) return;
      charts.forEach(function (chart) {
        chart.setData([data.t].concat(chart._keys.map(function (k) { return data[k]; })));
      });
    }
    function scheduleDraw() { if (!drawPending) drawPending = requestAnimationFrame(draw); }

    function loadHistory() {
      return fetch(config.streams.stats_history, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { points: [] }; })
        .then(function (body) {
          (body.points || []).forEach(push);
          if (body.points && body.points.length) showNow(body.points[body.points.length - 1]);
        })
        .catch(function () { /* no history: live points still come */ });
    }

    function openSocket() {
      if (socket) socket.close();
      if (!running) { setLive("closed", "Not running"); return; }
      socket = window.Berth.socket(config.streams.stats, function (msg) {
        if (msg.points) {
          msg.points.forEach(push);
          showNow(msg.points[msg.points.length - 1]);
          scheduleDraw();
        }
        if (msg.end) { socket.close(); socket = null; setLive("closed", running ? "Stream ended" : "Not running"); }
      }, function (state) {
        if (state === "open") setLive("open", "Live");
        else if (state === "connecting") setLive("connecting", "Connecting…");
      });
    }

    document.addEventListener("visibilitychange", function () { if (!document.hidden) scheduleDraw(); });
    window.addEventListener("pagehide", function () { if (socket) socket.close(); });

    return {
      start: function () {
        if (started) { scheduleDraw(); return; }
        started = true;
        if (!window.uPlot) { setLive("closed", "Charts unavailable"); return; }
        buildCharts();
        loadHistory().then(function () { scheduleDraw(); openSocket(); });
      },
      restart: function () { running = true; idle.hidden = true; if (started) openSocket(); },
      setRunning: function (on) {
        running = on;
        idle.hidden = on;
        if (!on && socket) { socket.close(); socket = null; setLive("closed", "Not running"); }
      },
    };
  }

  window.BerthStats = BerthStats;
})();
