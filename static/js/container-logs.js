/* The Logs tab: window.BerthLogs(config) → {start(), resume(), setRunning(bool)}.
 *
 * One websocket (…/logs/?tail&since&stdout&stderr&follow) brings batches
 * {seq, lines: [[stream, time, text]…], dropped}; each batch is acknowledged at
 * once ({ack: seq}), which is how the server knows this page keeps up (it drops
 * lines, and says how many, when it does not). Lines go into `model` (the
 * newest MAX_LINES) and are drawn in requestAnimationFrame batches: each frame
 * appends ONE chunk element with the lines that arrived since the last frame,
 * and removes whole chunks from the top beyond MAX_LINES — so the DOM stays
 * bounded and a flood costs one append per frame, whatever its rate.
 *
 * Scrolling up pauses drawing (the view stays put; "jump to latest" redraws);
 * changing search or display options redraws from `model`; changing what to
 * fetch (tail, since, streams, follow) reconnects. After an unexpected close it
 * reconnects from the last line's time and skips lines it already has.
 */
(function () {
  "use strict";

  var MAX_LINES = 5000;     // lines kept (model and DOM)
  var CHUNK = 200;          // lines per DOM chunk: the unit of appending, trimming and skipped layout
  var LINE_PX = 18.2;       // a line's height, for the size of chunks not laid out yet
  var MAX_DRAW_GAP = 250;   // ms: the longest a busy view waits between draws
  var STREAM_CLASS = { 0: "", 1: "", 2: " ll-err", "-1": " ll-note" };

  function fmtTime(ts) {
    // RFC3339Nano → local "MM-DD HH:MM:SS.mmm"; the full value stays in the title.
    var d = new Date(ts);
    if (isNaN(d.getTime())) return ts;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    var ms = String(d.getMilliseconds()).padStart(3, "0");
    return two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + two(d.getHours()) + ":" + two(d.getMinutes()) +
      ":" + two(d.getSeconds()) + "." + ms;
  }

  /* A sortable key for an RFC3339Nano UTC time: fraction padded to 9 digits. */
  function timeKey(ts) {
    var m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
    return m ? m[1] + "." + ((m[2] || "") + "000000000").slice(0, 9) : ts;
  }

  function secondsOf(ts) {
    var m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
    if (!m) return null;
    return Math.floor(Date.parse(m[1] + "Z") / 1000) + "." + ((m[2] || "") + "000000").slice(0, 6);
  }

  function searchPattern(text) {
    if (!text) return null;
    return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
  }

  function BerthLogs(config) {
    var $ = function (id) { return document.getElementById(id); };
    var view = $("log-view"), jump = $("log-jump"), live = $("log-live"), count = $("log-count"), matchesEl = $("log-matches");
    var controls = {
      tail: $("log-tail"), since: $("log-since"), follow: $("log-follow"), stdout: $("log-stdout"), stderr: $("log-stderr"),
      timestamps: $("log-timestamps"), wrap: $("log-wrap"), search: $("log-search"), only: $("log-only-matching"),
      download: $("log-download"), clear: $("log-clear"),
    };
    var model = [];          // [stream, time, text] newest last; at most MAX_LINES (+ slack before trimming)
    var unrendered = 0;      // newest model lines not yet in the DOM
    var domLines = 0;        // lines currently in the DOM (over all chunks)
    var paused = false, resumeWanted = false, frame = 0, drawTimer = 0, lastDraw = 0, drawCost = 0, userScrolled = -1e9, ws = null, wanted = false, ended = false, running = true;
    var retry = 500, retryTimer = 0, lastTime = "", lastText = "", resumeFrom = "";
    var highlight = null, onlyMatching = false, received = 0, skipped = 0;

    function setLive(state, text) {
      live.setAttribute("data-state", state);
      live.textContent = text;
    }

    function params(fromTime) {
      var q = new URLSearchParams();
      q.set("tail", fromTime ? "5000" : controls.tail.value);
      if (fromTime) q.set("since", fromTime);
      else if (controls.since.value) q.set("since", controls.since.value);
      q.set("stdout", controls.stdout.checked ? "1" : "0");
      q.set("stderr", controls.stderr.checked ? "1" : "0");
      q.set("follow", controls.follow.checked ? "1" : "0");
      return q;
    }

    function updateDownload() {
      var q = params("");
      q.delete("tail"); q.delete("follow");
      q.set("timestamps", controls.timestamps.checked ? "1" : "0");
      q.set("download", "1");
      controls.download.href = controls.download.getAttribute("data-base") + "?" + q.toString();
    }

    function connect(fromTime) {
      clearTimeout(retryTimer);
      if (ws) { ws.onclose = null; ws.close(); }
      ended = false;
      wanted = true;
      resumeFrom = fromTime ? timeKey(lastTime) : "";
      setLive("connecting", fromTime ? "Reconnecting…" : "Connecting…");
      var proto = location.protocol === "https:" ? "wss://" : "ws://";
      ws = new WebSocket(proto + location.host + config.path + "?" + params(fromTime).toString());
      ws.onopen = function () {
        retry = 500;
        setLive("open", controls.follow.checked ? "Following" : "Loading…");
        // With follow the server says nothing until there is a line: tell an empty log from a slow one.
        setTimeout(function () { if (!model.length && !ended) showEmpty(); }, 1200);
      };
      ws.onmessage = function (event) { onMessage(JSON.parse(event.data)); };
      ws.onclose = function (event) {
        ws = null;
        if (!wanted || ended) return;
        if (event.code === 4403 || event.code === 4404 || event.code === 4400) {
          setLive("closed", event.code === 4404 ? "Container gone" : "Refused");
          return;
        }
        setLive("closed", "Disconnected · retrying");
        retryTimer = setTimeout(function () { connect(lastTime ? secondsOf(lastTime) : ""); }, retry);
        retry = Math.min(retry * 2, 10000);
      };
    }

    function reset() {
      model = []; unrendered = 0; domLines = 0; received = 0; skipped = 0; lastTime = ""; lastText = "";
      view.textContent = "";
      setPaused(false);
      updateCount();
    }

    function restart() { reset(); updateDownload(); connect(""); }

    function onMessage(msg) {
      if (msg.seq && ws) ws.send(JSON.stringify({ ack: msg.seq }));
      if (msg.error && !msg.end) { note("The engine refused: " + msg.error); return; }
      if (msg.dropped) {
        skipped += msg.dropped;
        add([-1, "", "… " + msg.dropped.toLocaleString() + " lines skipped: they came faster than this page could show them. Download the log for every line."]);
      }
      if (msg.lines) {
        var lines = msg.lines;
        for (var i = 0; i < lines.length; i++) {
          var line = lines[i];
          if (resumeFrom) {  // after a reconnect: skip what we already have
            var key = timeKey(line[1]);
            if (key < resumeFrom || (key === resumeFrom && line[2] === lastText)) continue;
            resumeFrom = "";
          }
          add(line);
          if (line[1]) { lastTime = line[1]; lastText = line[2]; }
        }
        received += lines.length;
      }
      if (msg.end) {
        ended = true;
        if (msg.error) note("The log stream ended: " + msg.error);
        setLive("closed", !controls.follow.checked ? "Not following" : running ? "Stream ended" : "Container stopped");
        if (!model.length) showEmpty();
        if (resumeWanted) reconnectFromLast();  // it started again while this stream was ending
      }
      schedule();
    }

    function note(text) { add([-1, "", text]); schedule(); }

    function reconnectFromLast() {
      resumeWanted = false;
      if (lastTime) connect(secondsOf(lastTime)); else restart();
    }

    function add(line) {
      model.push(line);
      unrendered = Math.min(unrendered + 1, MAX_LINES);
      if (model.length > MAX_LINES + 1000) model.splice(0, model.length - MAX_LINES);
    }

    function showEmpty() {
      if (view.querySelector(".log-empty")) return;
      var p = document.createElement("p");
      p.className = "log-empty";
      p.textContent = running ? "No log lines yet. New lines appear here as the container writes them."
        : "No log lines. The container writes none, or they are older than the chosen time.";
      view.appendChild(p);
    }

    /* Draw on the next animation frame, but leave the page at least 3/4 of its time: after a draw
     * that took d ms, the next waits 3·d ms (at most MAX_DRAW_GAP). */
    function schedule() {
      if (frame || drawTimer) return;
      var wait = lastDraw + Math.min(drawCost * 3, MAX_DRAW_GAP) - performance.now();
      if (wait > 4) drawTimer = setTimeout(function () { drawTimer = 0; frame = requestAnimationFrame(draw); }, wait);
      else frame = requestAnimationFrame(draw);
    }

    function matches(line) {
      if (!highlight || line[0] === -1) return true;
      highlight.lastIndex = 0;
      return highlight.test(window.BerthAnsi.strip(line[2]));
    }

    function lineHtml(line) {
      var ts = controls.timestamps.checked && line[1]
        ? '<span class="ll-time" title="' + line[1] + '">' + fmtTime(line[1]) + "</span>" : "";
      var body = line[0] === -1 ? window.BerthAnsi.escape(line[2]) : window.BerthAnsi.toHtml(line[2], highlight);
      return '<div class="ll' + (STREAM_CLASS[line[0]] || "") + '">' + ts + (body || " ") + "</div>";
    }

    /* HTML for lines (every text escaped by BerthAnsi), skipping non-matching ones in "only matching" mode. */
    function htmlOf(lines) {
      var html = "", n = 0;
      for (var i = 0; i < lines.length; i++) {
        if (onlyMatching && !matches(lines[i])) continue;
        html += lineHtml(lines[i]);
        n++;
      }
      return { html: html, n: n };
    }

    function newChunk() {
      var chunk = document.createElement("div");
      chunk.className = "lc";
      chunk._lines = 0;
      view.appendChild(chunk);
      return chunk;
    }

    /* Append lines to the view in chunks of at most CHUNK lines; off-screen chunks cost no layout
     * (content-visibility: auto, with the chunk's estimated height). */
    function appendLines(lines) {
      var i = 0;
      while (i < lines.length) {
        var last = view.lastElementChild;
        if (!last || last.className !== "lc" || last._lines >= CHUNK) last = newChunk();
        var part = lines.slice(i, i + CHUNK - last._lines);
        i += part.length;
        var out = htmlOf(part);
        if (!out.n) continue;
        last.insertAdjacentHTML("beforeend", out.html);
        last._lines += out.n;
        domLines += out.n;
        last.style.containIntrinsicSize = "auto " + Math.round(last._lines * LINE_PX) + "px";
      }
    }

    /* Whole chunks leave from the top once the rest holds MAX_LINES. */
    function trimDom() {
      var first = view.firstElementChild;
      while (first && first.className === "lc" && domLines - first._lines >= MAX_LINES) {
        domLines -= first._lines;
        view.removeChild(first);
        first = view.firstElementChild;
      }
    }

    function stickToBottom() { view.scrollTop = view.scrollHeight; }

    function draw() {
      frame = 0;
      if (paused || !unrendered) { updateCount(); return; }
      var began = performance.now();
      var empty = view.querySelector(".log-empty");
      if (empty) empty.remove();
      appendLines(model.slice(model.length - unrendered));
      unrendered = 0;
      trimDom();
      stickToBottom();
      updateCount();
      lastDraw = performance.now();
      drawCost = lastDraw - began;
    }

    function redraw() {
      view.textContent = "";
      domLines = 0;
      unrendered = 0;
      appendLines(model.slice(Math.max(0, model.length - MAX_LINES)));
      if (!domLines && model.length) {
        var p = document.createElement("p");
        p.className = "log-empty";
        p.textContent = "No line matches.";
        view.appendChild(p);
      } else if (!model.length && ended) showEmpty();
      stickToBottom();
      updateCount();
    }

    var countTimer = 0;
    function updateCount() {  // at most 4 times a second: counting matches reads every line
      if (!countTimer) countTimer = setTimeout(function () { countTimer = 0; countNow(); }, 250);
    }

    function countNow() {
      var shown = Math.min(model.length, MAX_LINES);
      count.textContent = shown.toLocaleString() + " line" + (shown === 1 ? "" : "s") +
        (skipped ? " · " + skipped.toLocaleString() + " skipped" : "");
      if (highlight) {
        var hits = 0;
        for (var i = Math.max(0, model.length - MAX_LINES); i < model.length; i++) if (model[i][0] !== -1 && matches(model[i])) hits++;
        matchesEl.textContent = hits.toLocaleString() + " matching";
      } else {
        matchesEl.textContent = "";
      }
      if (paused && unrendered) jump.textContent = "Paused · " + unrendered.toLocaleString() + " new · jump to latest";
    }

    function setPaused(on) {
      paused = on;
      jump.hidden = !on;
      if (on) jump.textContent = "Paused · jump to latest";
    }

    /* Only the person pauses the view: a scroll counts when it follows their wheel, touch, key or
     * pointer (chunks changing size as they are laid out scroll the view too). */
    ["wheel", "touchstart", "keydown", "pointerdown"].forEach(function (type) {
      view.addEventListener(type, function () { userScrolled = performance.now(); }, { passive: true });
    });
    view.addEventListener("scroll", function () {
      var atBottom = view.scrollHeight - view.scrollTop - view.clientHeight < 24;
      if (atBottom && paused) { setPaused(false); if (unrendered) redraw(); }
      else if (!atBottom && !paused) {
        if (performance.now() - userScrolled < 1500) setPaused(true);
        else stickToBottom();
      }
    }, { passive: true });

    jump.addEventListener("click", function () { setPaused(false); redraw(); view.focus(); });

    function findNext() {
      var marks = view.querySelectorAll("mark");
      if (!marks.length) return;
      var top = view.scrollTop + 8, pick = marks[0];
      for (var i = 0; i < marks.length; i++) { if (marks[i].offsetTop > top + 4) { pick = marks[i]; break; } }
      var current = view.querySelector("mark.current");
      if (current) current.classList.remove("current");
      pick.classList.add("current");
      setPaused(true);
      view.scrollTop = pick.offsetTop - view.clientHeight / 3;
    }

    var searchLater = window.Berth ? window.Berth.debounce(function () {
      highlight = searchPattern(controls.search.value);
      redraw();
    }, 150) : function () {};
    controls.search.addEventListener("input", searchLater);
    controls.search.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); highlight = searchPattern(controls.search.value); redraw(); findNext(); }
      if (e.key === "Escape") { controls.search.value = ""; highlight = null; redraw(); }
    });
    controls.only.addEventListener("change", function () { onlyMatching = controls.only.checked; redraw(); });
    controls.timestamps.addEventListener("change", function () { updateDownload(); redraw(); });
    controls.wrap.addEventListener("change", function () { view.classList.toggle("wrap-lines", controls.wrap.checked); });
    controls.clear.addEventListener("click", function () {
      model = []; unrendered = 0; domLines = 0; skipped = 0; view.textContent = ""; setPaused(false); updateCount();
    });
    [controls.tail, controls.since, controls.stdout, controls.stderr, controls.follow].forEach(function (el) {
      el.addEventListener("change", function () {
        if (!controls.stdout.checked && !controls.stderr.checked) { (el === controls.stdout ? controls.stderr : controls.stdout).checked = true; }
        restart();
      });
    });
    window.addEventListener("pagehide", function () { wanted = false; if (ws) ws.close(); });

    var started = false;
    return {
      start: function () { if (!started) { started = true; restart(); } },
      /* The container started again: pick up from the last line we have. */
      resume: function () {
        running = true;
        if (!started || !controls.follow.checked) return;
        if (!ended) { resumeWanted = true; return; }  // the old stream has not ended yet: go on when it does
        reconnectFromLast();
      },
      setRunning: function (on) { running = on; },
    };
  }

  window.BerthLogs = BerthLogs;
})();
