/* A container's page: tabs, live refresh from the endpoint's events, and wiring of the
 * Logs / Stats / Terminal tabs (container-logs.js, container-stats.js, container-terminal.js).
 *
 * Live state: the events websocket (/ws/endpoints/<eid>/events/, {"events": [...]})
 * is filtered for this container; a change re-fetches the page's live parts
 * (title, actions, overview, health, inspect — [data-part] elements, swapped by
 * id) at most every REFRESH_MS. Without that socket the page polls every
 * POLL_MS. "destroy" shows the removed banner; "start" resumes logs and stats.
 */
(function () {
  "use strict";

  var REFRESH_MS = 400, POLL_MS = 15000, TOAST_MS = 6000;
  var config = JSON.parse(document.getElementById("container-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var loaded = {};

  function loadScript(src) {
    if (!loaded[src]) {
      loaded[src] = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = src; s.onload = resolve; s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return loaded[src];
  }
  function loadStyle(href) {
    if (document.querySelector('link[href="' + href + '"]')) return;
    var l = document.createElement("link");
    l.rel = "stylesheet"; l.href = href;
    document.head.appendChild(l);
  }

  var logs = window.BerthLogs({ path: config.streams.logs });
  var stats = window.BerthStats(config);
  var terminal = window.BerthTerminal(config, function () {
    loadStyle(config.vendor.xterm_css);
    return loadScript(config.vendor.xterm).then(function () { return loadScript(config.vendor.xterm_fit); });
  });

  /* ---- tabs (WAI-ARIA tabs: arrows move, Home/End jump) ---- */
  var tabs = Array.prototype.slice.call(document.querySelectorAll('#container-tabs [role="tab"]'));
  var hooks = {
    logs: function () { logs.start(); },
    stats: function () { loadStyle(config.vendor.uplot_css); loadScript(config.vendor.uplot).then(stats.start); },
    terminal: function () { terminal.show(); },
  };

  function activate(tab, focus) {
    tabs.forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).classList.toggle("is-active", on);
    });
    if (focus) tab.focus();
    var name = tab.id.replace("tab-", "");
    if (history.replaceState) history.replaceState(null, "", name === "overview" ? location.pathname : "#" + name);
    if (hooks[name]) hooks[name]();
  }

  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () { activate(tab, false); });
    tab.addEventListener("keydown", function (e) {
      var next = null;
      if (e.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
      else if (e.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
      else if (e.key === "Home") next = tabs[0];
      else if (e.key === "End") next = tabs[tabs.length - 1];
      if (next) { e.preventDefault(); activate(next, true); }
    });
  });
  function fromHash() {
    var tab = $("tab-" + (location.hash.slice(1) || "overview"));
    if (tab && tab.getAttribute("aria-selected") !== "true") activate(tab, false);
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();

  /* ---- live parts ---- */
  function applyState() {
    var title = $("c-title");
    var status = title ? title.getAttribute("data-status") : config.status;
    var up = status === "running" || status === "paused" || status === "restarting";
    logs.setRunning(up);
    stats.setRunning(up);
    terminal.setRunning(status === "running");
    if (title && title.getAttribute("data-name")) document.title = document.title.replace(/^[^·]*·/, title.getAttribute("data-name") + " ·");
  }

  function swapParts(html) {
    var doc = new DOMParser().parseFromString("<body>" + html + "</body>", "text/html");
    doc.querySelectorAll("[data-part][id]").forEach(function (fresh) {
      var old = $(fresh.id);
      if (!old) return;
      var node = document.importNode(fresh, true);
      old.replaceWith(node);
      if (window.htmx) window.htmx.process(node);
    });
    applyState();
  }

  var gone = false, refreshTimer = 0, lastRefresh = 0;
  function refresh() {
    if (gone) return;
    lastRefresh = Date.now();
    fetch(config.partsUrl, { credentials: "same-origin", headers: { "HX-Request": "true" } }).then(function (r) {
      if (r.status === 404) { markGone(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) { if (html) swapParts(html); }).catch(function () { /* next event or poll retries */ });
  }
  function refreshSoon() {
    if (refreshTimer) return;
    var wait = Math.max(0, REFRESH_MS - (Date.now() - lastRefresh));
    refreshTimer = setTimeout(function () { refreshTimer = 0; refresh(); }, wait);
  }
  function markGone() {
    gone = true;
    $("container-gone").hidden = false;
    var actions = $("c-actions");
    if (actions) actions.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    setLive("closed", "Removed");
  }

  var live = $("container-live");
  function setLive(state, text) { live.setAttribute("data-state", state); live.textContent = text; }

  function ours(ev) {
    var actor = ev.Actor || {};
    var id = actor.ID || ev.id || "";
    return (ev.Type === undefined || ev.Type === "container") && id && (id === config.id || config.id.indexOf(id) === 0);
  }

  var socketOpen = false;
  if (window.Berth) {
    window.Berth.socket(config.streams.events, function (msg) {
      (msg.events || []).forEach(function (ev) {
        if (!ours(ev)) return;
        var action = String(ev.Action || ev.status || "");
        if (action === "destroy") { markGone(); return; }
        if (action === "start" || action === "restart" || action === "unpause") { logs.resume(); stats.restart(); }
        refreshSoon();
      });
    }, function (state) {
      socketOpen = state === "open";
      if (gone) return;
      if (state === "open") { setLive("open", "Live"); refreshSoon(); }
      else if (state === "connecting") setLive("connecting", "Connecting…");
      else setLive("closed", "Reconnecting…");
    });
  }
  setInterval(function () { if (!socketOpen && !gone && !document.hidden) refresh(); }, POLL_MS);

  /* Toasts that arrive with htmx answers (out-of-band) fade like the page's own. */
  var toasts = $("toasts");
  if (toasts && window.MutationObserver) {
    new MutationObserver(function () {
      toasts.querySelectorAll(".toast:not([data-sticky]):not([data-armed])").forEach(function (t) {
        t.setAttribute("data-armed", "");
        setTimeout(function () { t.remove(); }, TOAST_MS);
      });
    }).observe(toasts, { childList: true });
  }
  document.body.addEventListener("htmx:oobAfterSwap", applyState);

  /* The rename form is a popover: a click elsewhere or Escape closes it. */
  document.addEventListener("click", function (e) {
    var rename = $("c-rename");
    if (rename && rename.open && !rename.contains(e.target)) rename.open = false;
  });
  document.addEventListener("keydown", function (e) {
    var rename = $("c-rename");
    if (e.key === "Escape" && rename && rename.open) { rename.open = false; rename.querySelector("summary").focus(); }
  });
  document.addEventListener("toggle", function (e) {
    if (e.target.id === "c-rename" && e.target.open) {
      var input = $("rename-name");
      if (input) { input.focus(); input.select(); }
    }
  }, true);

  applyState();
})();
