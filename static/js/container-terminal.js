/* The Terminal tab: window.BerthTerminal(config, loadXterm) → {show(), setRunning(bool)}.
 *
 * Connect opens the exec websocket and sends {type: "start", command, user, rows,
 * cols}; output arrives as binary frames and is written to xterm.js, each write
 * acknowledged ({type: "ack", bytes}) once drawn, so the server never runs more
 * than its window ahead of the screen. Keystrokes go out as binary frames;
 * xterm's size (fit addon, following the frame's size) goes out as
 * {type: "resize"}. The server answers {type: "started" | "error" | "exit"}.
 * xterm.js itself is loaded on first use (`loadXterm()` → Promise).
 */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  function BerthTerminal(config, loadXterm) {
    var $ = function (id) { return document.getElementById(id); };
    var form = $("term-form"), command = $("term-command"), user = $("term-user"), connectBtn = $("term-connect"),
        disconnectBtn = $("term-disconnect"), frame = $("term-frame"), holder = $("term"), placeholder = $("term-placeholder"),
        errorEl = $("term-error"), live = $("term-live"), notRunning = $("term-not-running");
    var term = null, fit = null, ws = null, encoder = new TextEncoder(), running = true, pendingAck = 0, ackTimer = 0;

    function setLive(state, text) { live.hidden = false; live.setAttribute("data-state", state); live.textContent = text; }

    function fieldError(name, text) {
      var el = $("term-" + name + "-error"), input = $("term-" + name);
      el.hidden = !text; el.textContent = text || "";
      if (text) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    }

    function showError(text) { errorEl.hidden = !text; errorEl.textContent = text || ""; }

    function setConnected(on) {
      connectBtn.hidden = on;
      disconnectBtn.hidden = !on;
      command.disabled = on;
      user.disabled = on;
    }

    function ensureTerminal() {
      if (term) return;
      term = new window.Terminal({
        cursorBlink: true, fontSize: 13, scrollback: 5000, convertEol: false,
        fontFamily: cssVar("--mono", "monospace"),
        theme: { background: "#0d1117", foreground: "#e6edf3", cursor: "#e6edf3", selectionBackground: "#264f78" },
      });
      fit = new window.FitAddon.FitAddon();
      term.loadAddon(fit);
      holder.hidden = false;
      placeholder.hidden = true;
      term.open(holder);
      fit.fit();
      term.onData(function (d) { if (ws && ws.readyState === 1) ws.send(encoder.encode(d)); });
      term.onBinary(function (d) {
        if (!ws || ws.readyState !== 1) return;
        var bytes = new Uint8Array(d.length);
        for (var i = 0; i < d.length; i++) bytes[i] = d.charCodeAt(i) & 255;
        ws.send(bytes);
      });
      term.onResize(function (size) {
        if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "resize", rows: size.rows, cols: size.cols }));
      });
      if (window.ResizeObserver) {
        var later = window.Berth.debounce(function () { if (frame.clientWidth && fit) fit.fit(); }, 100);
        new ResizeObserver(later).observe(frame);
      }
    }

    function ack(n) {
      pendingAck += n;
      if (!ackTimer) ackTimer = setTimeout(function () {
        ackTimer = 0;
        if (ws && ws.readyState === 1 && pendingAck) ws.send(JSON.stringify({ type: "ack", bytes: pendingAck }));
        pendingAck = 0;
      }, 20);
    }

    function onText(msg) {
      if (msg.type === "started") {
        setLive("open", "Connected");
        term.focus();
      } else if (msg.type === "error") {
        var fields = msg.fields || {};
        fieldError("command", fields.command);
        fieldError("user", fields.user);
        showError(msg.message || msg.error || "The engine refused.");
        term.write("\r\n\x1b[31m" + (msg.message || msg.error || "refused") + "\x1b[0m\r\n");
      } else if (msg.type === "exit") {
        term.write("\r\n\x1b[2m[process exited" + (msg.code === null || msg.code === undefined ? "" : " with code " + msg.code) + "]\x1b[0m\r\n");
      } else if (msg.error) {
        showError(msg.error);
      }
    }

    function connect() {
      fieldError("command", ""); fieldError("user", ""); showError("");
      loadXterm().then(function () {
        ensureTerminal();
        fit.fit();
        term.reset();
        var proto = location.protocol === "https:" ? "wss://" : "ws://";
        ws = new WebSocket(proto + location.host + config.streams.exec);
        ws.binaryType = "arraybuffer";
        setLive("connecting", "Connecting…");
        setConnected(true);
        ws.onopen = function () {
          ws.send(JSON.stringify({ type: "start", command: command.value, user: user.value, rows: term.rows, cols: term.cols }));
        };
        ws.onmessage = function (event) {
          if (typeof event.data === "string") { onText(JSON.parse(event.data)); return; }
          var bytes = new Uint8Array(event.data);
          term.write(bytes, function () { ack(bytes.length); });
        };
        ws.onclose = function (event) {
          ws = null;
          setConnected(false);
          setLive("closed", event.code === 4403 ? "Refused" : "Disconnected");
        };
      }, function () { showError("The terminal could not be loaded. Reload the page and try again."); });
    }

    form.addEventListener("submit", function (e) { e.preventDefault(); if (running && !ws) connect(); });
    disconnectBtn.addEventListener("click", function () { if (ws) ws.close(); });
    window.addEventListener("pagehide", function () { if (ws) ws.close(); });

    return {
      show: function () { if (fit && frame.clientWidth) fit.fit(); if (!ws && running) command.focus(); },
      setRunning: function (on) {
        running = on;
        notRunning.hidden = on;
        connectBtn.disabled = !on;
      },
    };
  }

  window.BerthTerminal = BerthTerminal;
})();
