/* Berth console: small shared behaviour, no framework (htmx does the swapping).
 *
 * - [data-autosubmit] selects submit their form on change (the endpoint switcher).
 * - Berth.socket(path, onMessage) opens a same-origin websocket that reconnects
 *   with back-off; the session cookie authenticates it (no tokens in URLs).
 */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) {
      el.form.submit();
    }
  });

  function socket(path, onMessage, onState) {
    var delay = 500;
    var ws = null;
    var closed = false;
    function open() {
      var proto = location.protocol === "https:" ? "wss://" : "ws://";
      ws = new WebSocket(proto + location.host + path);
      ws.onopen = function () { delay = 500; if (onState) onState("open"); };
      ws.onmessage = function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { data = event.data; }
        onMessage(data);
      };
      ws.onclose = function (event) {
        if (onState) onState("closed", event.code);
        if (closed || event.code === 4403 || event.code === 4404) return;
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    open();
    return {
      send: function (obj) { if (ws && ws.readyState === 1) ws.send(typeof obj === "string" ? obj : JSON.stringify(obj)); },
      close: function () { closed = true; if (ws) ws.close(); },
    };
  }

  window.Berth = { socket: socket };
})();
