/* Berth console: small shared behaviour, no framework (htmx does the swapping).
 *
 * Markup hooks (nothing to call):
 * - [data-autosubmit] selects/inputs submit their form on change (the endpoint switcher, filters).
 * - [data-nav-toggle] opens/closes the sidebar on narrow screens; Escape or the scrim closes it.
 * - [data-theme-toggle] cycles the theme: system → light → dark (kept in localStorage).
 * - .toast[data-toast] (Django messages) fade after 6 s unless [data-sticky]; [data-toast-close] dismisses.
 * - [data-copy="#selector"] buttons copy that element's value/text to the clipboard.
 * - Failed htmx requests show a toast with the server's message.
 *
 * API (window.Berth):
 * - Berth.socket(path, onMessage, onState) → {send(obj), close()}: a same-origin websocket that
 *   reconnects with back-off; the session cookie authenticates it (no tokens in URLs). onState gets
 *   ("connecting" | "open" | "closed", closeCode). Codes 4403/4404 (refused) do not reconnect.
 * - Berth.toast(text, kind = "info", {sticky}) shows a toast (kind: success | error | warning | info).
 * - Berth.progress(el, fraction | null, label?) sets a .progress bar (null → indeterminate).
 * - Berth.debounce(fn, ms) → a function that runs fn once, ms after the last call.
 * - Berth.liveState(el, state) sets a .live indicator's data-state and text.
 */
(function () {
  "use strict";

  var THEMES = ["system", "light", "dark"];

  function socket(path, onMessage, onState) {
    var delay = 500;
    var ws = null;
    var closed = false;
    function open() {
      var proto = location.protocol === "https:" ? "wss://" : "ws://";
      if (onState) onState("connecting");
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

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  function dismiss(toastEl) {
    if (!toastEl || !toastEl.parentNode) return;
    toastEl.parentNode.removeChild(toastEl);
  }

  function armToast(toastEl) {
    if (!toastEl.hasAttribute("data-sticky")) setTimeout(function () { dismiss(toastEl); }, 6000);
  }

  function toast(text, kind, options) {
    var box = document.getElementById("toasts");
    if (!box) return null;
    var el = document.createElement("div");
    el.className = "toast toast-" + (kind || "info");
    el.setAttribute("data-toast", "");
    if ((options && options.sticky) || kind === "error") el.setAttribute("data-sticky", "");
    var p = document.createElement("p");
    p.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "button button-quiet button-icon";
    close.setAttribute("data-toast-close", "");
    close.setAttribute("aria-label", "Dismiss");
    close.innerHTML = '<svg aria-hidden="true"><use href="#i-x"/></svg>';
    el.appendChild(p);
    el.appendChild(close);
    box.appendChild(el);
    armToast(el);
    return el;
  }

  function progress(el, fraction, label) {
    var bar = el.querySelector(".progress-bar");
    if (fraction === null || fraction === undefined) {
      el.classList.add("progress-indeterminate");
      el.removeAttribute("aria-valuenow");
    } else {
      var pct = Math.max(0, Math.min(1, fraction)) * 100;
      el.classList.remove("progress-indeterminate");
      el.setAttribute("aria-valuenow", String(Math.round(pct)));
      if (bar) bar.style.setProperty("--value", pct + "%");
    }
    if (label !== undefined) el.setAttribute("aria-valuetext", label);
  }

  function liveState(el, state) {
    if (!el) return;
    el.setAttribute("data-state", state);
    var words = { open: "Live", connecting: "Connecting…", closed: "Reconnecting…" };
    el.textContent = words[state] || state;
  }

  /* Theme: "system" removes the attribute so prefers-color-scheme decides. */
  function currentTheme() {
    var t = document.documentElement.dataset.theme;
    return t === "light" || t === "dark" ? t : "system";
  }
  function showTheme() {
    var label = document.querySelector("[data-theme-label]");
    if (label) label.textContent = "Theme: " + currentTheme();
  }
  function cycleTheme() {
    var next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
    if (next === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = next;
    try { localStorage.setItem("berth-theme", next); } catch (e) { /* private mode: not kept */ }
    showTheme();
  }

  /* Narrow screens: the sidebar is a drawer. */
  function setNav(open) {
    var shell = document.querySelector("[data-shell]");
    var toggle = document.querySelector("[data-nav-toggle]");
    if (!shell || !toggle) return;
    if (open) shell.setAttribute("data-nav-open", ""); else shell.removeAttribute("data-nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.setAttribute("aria-label", open ? "Close navigation" : "Open navigation");
    if (open) {
      var first = document.querySelector("#sidebar a, #sidebar select");
      if (first) first.focus();
    } else if (document.activeElement && document.activeElement.closest("#sidebar")) {
      toggle.focus();
    }
  }

  function copyFrom(selector, button) {
    var src = document.querySelector(selector);
    if (!src) return;
    var text = "value" in src ? src.value : src.textContent;
    var done = function () { toast("Copied to the clipboard.", "success"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { toast("Copy failed: select the text and copy it.", "warning"); });
    } else if (src.select) {
      src.select();
      try { document.execCommand("copy"); done(); } catch (e) { toast("Select the text and copy it.", "warning"); }
    }
    if (button) button.blur();
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) {
      if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
    }
  });

  document.addEventListener("click", function (event) {
    var t = event.target.closest ? event.target : null;
    if (!t) return;
    if (t.closest("[data-nav-toggle]")) {
      setNav(!document.querySelector("[data-shell]").hasAttribute("data-nav-open"));
    } else if (t.closest("[data-nav-close]")) {
      setNav(false);
    } else if (t.closest("[data-theme-toggle]")) {
      cycleTheme();
    } else if (t.closest("[data-toast-close]")) {
      dismiss(t.closest(".toast"));
    } else if (t.closest("[data-copy]")) {
      var b = t.closest("[data-copy]");
      copyFrom(b.getAttribute("data-copy"), b);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var shell = document.querySelector("[data-shell]");
      if (shell && shell.hasAttribute("data-nav-open")) setNav(false);
    }
  });

  /* htmx: a failed request gets a toast rather than silence. */
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = "";
    try { text = JSON.parse(xhr.responseText).error.message; } catch (e) { /* not JSON */ }
    if (!text && xhr.status === 403) text = "You are not allowed to do that.";
    toast(text || ("The console answered " + xhr.status + " " + xhr.statusText + "."), "error");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The console does not answer. Check your connection and try again.", "error");
  });

  function init() {
    showTheme();
    document.querySelectorAll("[data-toast]").forEach(armToast);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();

  window.Berth = {
    socket: socket,
    toast: toast,
    progress: progress,
    debounce: debounce,
    liveState: liveState,
  };
})();
