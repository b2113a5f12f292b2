/* The events page: recent history from the REST API, then the live feed from the events websocket.
 *
 * Order of work, so nothing falls between history and live: the socket opens first and its events are
 * held; the history (GET data-history?since=…&type=…&action=…&q=…) is drawn; the held events follow,
 * skipping any the history already had (same timeNano, actor and action). The filter form applies to
 * both: the server filters the history (console/events/history.py `matches`), this script applies the
 * same rules to live events (`matches` below). Changing a filter redraws from a fresh history.
 *
 * The list is bounded (data-max rows, newest first); "Pause" holds new events (counted) until resumed.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var historyUrl = script.getAttribute("data-history");
  var containersUrl = script.getAttribute("data-containers");
  var helperLabel = script.getAttribute("data-helper-label");
  var MAX = parseInt(script.getAttribute("data-max"), 10) || 500;
  var DETAIL_KEYS = ["image", "exitCode", "signal", "container", "type", "driver", "oldName", "execID", "destination"];

  var body = document.querySelector("[data-events]");
  var empty = document.querySelector("[data-empty]");
  var count = document.querySelector("[data-count]");
  var form = document.getElementById("events-filter");
  var pauseButton = document.querySelector("[data-pause]");
  var held = [];          /* live events that arrived while the history loads */
  var paused = [];        /* live events that arrived while paused */
  var loading = true, isPaused = false, generation = 0;
  var seen = {};

  function query() {
    var data = new FormData(form);
    return {
      q: (data.get("q") || "").trim().toLowerCase(), type: data.get("type") || "", action: (data.get("action") || "").trim(),
      since: data.get("since") || "1h", helpers: data.get("helpers") === "1",
    };
  }

  function matches(ev, q) {
    var actor = ev.Actor || {}, attrs = actor.Attributes || {};
    if (!q.helpers && Object.prototype.hasOwnProperty.call(attrs, helperLabel)) return false;
    if (q.type && ev.Type !== q.type) return false;
    var action = String(ev.Action || "");
    if (q.action && action !== q.action && action.split(":")[0] !== q.action) return false;
    if (q.q) {
      var hay = [String(actor.ID || "")].concat(Object.keys(attrs).map(function (k) { return String(attrs[k]); }));
      if (!hay.some(function (h) { return h.toLowerCase().indexOf(q.q) >= 0; })) return false;
    }
    return true;
  }

  function key(ev) { return [ev.timeNano || ev.time, (ev.Actor || {}).ID, ev.Action].join("|"); }

  function tone(ev) {
    var a = String(ev.Action || "");
    if (/unhealthy|^die|^kill|^oom|^destroy|^delete|^untag/.test(a)) return "badge-bad";
    if (/healthy|^start|^create|^pull|^connect|^tag/.test(a)) return "badge-ok";
    if (/^stop|^pause|^restart|^disconnect/.test(a)) return "badge-warn";
    return "badge-neutral";
  }

  function cell(tr, cls, content, label) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.setAttribute("data-label", label);
    if (typeof content === "string") td.textContent = content; else if (content) td.appendChild(content);
    tr.appendChild(td);
    return td;
  }

  function objectOf(ev) {
    var actor = ev.Actor || {}, attrs = actor.Attributes || {}, id = String(actor.ID || "");
    var name = attrs.name || "";
    var wrap = document.createElement("span");
    var main;
    if (ev.Type === "container" && id && ev.Action !== "destroy") {
      main = document.createElement("a");
      main.href = containersUrl + id.slice(0, 12) + "/";
    } else {
      main = document.createElement("span");
    }
    main.textContent = name || id.replace(/^sha256:/, "").slice(0, 12);
    wrap.appendChild(main);
    if (name && id) {
      var sub = document.createElement("span");
      sub.className = "cell-sub mono";
      sub.textContent = id.replace(/^sha256:/, "").slice(0, 12);
      wrap.appendChild(sub);
    }
    return wrap;
  }

  function row(ev, fresh) {
    var tr = document.createElement("tr");
    if (fresh) tr.className = "ev-new";
    var when = new Date((ev.timeNano ? ev.timeNano / 1e6 : ev.time * 1000));
    var time = document.createElement("time");
    time.dateTime = when.toISOString();
    time.title = when.toLocaleString();
    time.textContent = when.toLocaleTimeString();
    cell(tr, "ev-time", time, "Time");
    cell(tr, "", ev.Type || "", "Type");
    /* exec_create / exec_start carry the whole command line: the badge says what, the details say which */
    var action = String(ev.Action || ""), command = "";
    if (/^exec_/.test(action) && action.indexOf(": ") > 0) {
      command = action.slice(action.indexOf(": ") + 2);
      action = action.slice(0, action.indexOf(": "));
    }
    var badge = document.createElement("span");
    badge.className = "badge " + tone(ev);
    badge.textContent = action;
    badge.title = ev.Action || "";
    cell(tr, "", badge, "Action");
    cell(tr, "ev-object", objectOf(ev), "Object");
    var attrs = (ev.Actor || {}).Attributes || {};
    var details = DETAIL_KEYS.filter(function (k) { return attrs[k]; }).map(function (k) { return k + "=" + attrs[k]; });
    if (command) details.unshift(command.length > 160 ? command.slice(0, 160) + "…" : command);
    cell(tr, "ev-details", details.join("  "), "Details");
    return tr;
  }

  function add(events, fresh) {
    var q = query();
    var frag = document.createDocumentFragment();
    events.forEach(function (ev) {
      var k = key(ev);
      if (seen[k] || !matches(ev, q)) return;
      seen[k] = true;
      frag.insertBefore(row(ev, fresh), frag.firstChild);
    });
    body.insertBefore(frag, body.firstChild);
    while (body.rows.length > MAX) body.deleteRow(body.rows.length - 1);
    showCount();
  }

  function showCount(extra) {
    var n = body.rows.length;
    empty.hidden = n > 0 || loading;
    if (extra) { count.textContent = extra; return; }
    var text = n === 1 ? "1 event" : n + " events";
    if (n >= MAX) text += " (the newest " + MAX + ")";
    if (paused.length) text += " · " + paused.length + " new while paused";
    count.textContent = text;
  }

  function loadHistory() {
    var mine = ++generation;
    var q = query();
    loading = true;
    seen = {};
    body.innerHTML = "";
    showCount("Loading…");
    var params = new URLSearchParams({ since: q.since, type: q.type, action: q.action, q: q.q });
    if (q.helpers) params.set("helpers", "1");
    fetch(historyUrl + "?" + params.toString(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
      .then(function (res) {
        if (mine !== generation) return;
        if (!res.ok) throw new Error((res.data.error && res.data.error.message) || "the history did not load");
        loading = false;
        add(res.data.events || [], false);
      })
      .catch(function (err) {
        if (mine !== generation) return;
        loading = false;
        Berth.toast("Recent events did not load: " + err.message, "error");
        showCount();
      })
      .then(function () {
        if (mine !== generation) return;
        var waiting = held;
        held = [];
        add(waiting, true);
      });
  }

  function onMessage(msg) {
    if (!msg || !msg.events) return;
    if (loading) { held = held.concat(msg.events); return; }
    if (isPaused) { paused = paused.concat(msg.events).slice(-MAX); showCount(); return; }
    add(msg.events, true);
  }

  function syncUrl() {
    var params = new URLSearchParams(new FormData(form));
    ["q", "type", "action"].forEach(function (k) { if (!params.get(k)) params.delete(k); });
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params.toString() : ""));
  }

  var refilter = Berth.debounce(function () { syncUrl(); loadHistory(); }, 300);
  form.addEventListener("input", refilter);
  form.addEventListener("change", refilter);
  form.addEventListener("submit", function (event) { event.preventDefault(); refilter(); });

  pauseButton.addEventListener("click", function () {
    isPaused = !isPaused;
    pauseButton.setAttribute("aria-pressed", isPaused ? "true" : "false");
    pauseButton.textContent = isPaused ? "Resume" : "Pause";
    if (!isPaused) { var waiting = paused; paused = []; add(waiting, true); }
    showCount();
  });
  document.querySelector("[data-clear]").addEventListener("click", function () {
    body.innerHTML = "";
    showCount();
  });

  var live = document.querySelector("[data-live]");
  Berth.socket(script.getAttribute("data-socket"), onMessage, function (state) { Berth.liveState(live, state); });
  loadHistory();
})();
