/* The dashboard, live: listens to the endpoint's events websocket ({"events": [<docker event>, ...]}),
 * lists new events at the top, and when containers, images, volumes or networks change asks htmx
 * to refresh the counts (the "engine-changed" trigger on #dashboard-stats is debounced by its
 * delay). No polling: nothing is fetched unless the engine reports something, or the socket
 * comes back after a break (events may have been missed then).
 */
(function () {
  "use strict";

  var MAX_EVENTS = 12;

  function describe(event) {
    var actor = event.Actor || {};
    var attrs = actor.Attributes || {};
    var id = actor.ID || "";
    var type = event.Type || "";
    return {
      type: type,
      action: event.Action || event.status || "",
      name: attrs.name || (type === "volume" ? id : id.slice(0, 12)),
      time: new Date(event.timeNano ? event.timeNano / 1e6 : (event.time || 0) * 1000),
    };
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function clock(date) {  // local time of day, 24-hour
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  function eventItem(e) {
    var li = document.createElement("li");
    li.className = "event-new";
    var time = document.createElement("time");
    time.dateTime = e.time.toISOString();
    time.title = e.time.toISOString().replace("T", " ").slice(0, 19) + " UTC";
    time.textContent = clock(e.time);
    var type = document.createElement("span");
    type.className = "event-type";
    type.textContent = e.type;
    var what = document.createElement("span");
    what.className = "truncate";
    var action = document.createElement("strong");
    action.textContent = e.action;
    what.appendChild(action);
    what.appendChild(document.createTextNode(" " + e.name));
    li.appendChild(time);
    li.appendChild(type);
    li.appendChild(what);
    return li;
  }

  function start(root) {
    var list = document.getElementById("events");
    var empty = document.getElementById("events-empty");
    var stats = document.getElementById("dashboard-stats");
    var live = document.getElementById("live");
    var counted = (root.getAttribute("data-counted-types") || "").split(",");
    // The server wrote times in UTC; show them in the browser's time zone like the live ones.
    list.querySelectorAll("time[datetime]").forEach(function (t) { t.textContent = clock(new Date(t.dateTime)); });
    var everOpen = false;
    var missed = false;      // the socket was down: counts may be stale
    var settleTimer = null;  // after a reconnect: refresh once the engine stream holds for a moment

    function refresh() { if (window.htmx) window.htmx.trigger(stats, "engine-changed"); }

    function onMessage(data) {
      if (data && data.error) {
        clearTimeout(settleTimer);
        live.setAttribute("data-state", "closed");
        live.textContent = "Engine unreachable";
        live.title = data.error;
        if (!stats.querySelector("[data-unreachable]")) refresh();
        return;
      }
      if (!data || !data.events) return;
      var changed = false;
      data.events.forEach(function (raw) {
        var e = describe(raw);
        if (!e.type) return;
        if (counted.indexOf(e.type) >= 0) changed = true;
        list.insertBefore(eventItem(e), list.firstChild);
      });
      while (list.children.length > MAX_EVENTS) list.removeChild(list.lastChild);
      if (empty) empty.hidden = list.children.length > 0;
      if (changed) refresh();
    }

    function unreachable() { return live.textContent === "Engine unreachable"; }

    function settled() {
      Berth.liveState(live, "open");
      live.title = "Counts and events update as the engine reports changes";
      refresh();
    }

    function onState(state, code) {
      if (state === "closed") {
        missed = true;
        clearTimeout(settleTimer);
        if (code === 4403) { Berth.liveState(live, state); live.textContent = "Not allowed"; }
        else if (!unreachable()) Berth.liveState(live, state);
        return;
      }
      if (state === "connecting") {
        if (!unreachable()) Berth.liveState(live, state);
        return;
      }
      // open: after a break (or while the engine was unreachable) wait a moment for an error
      // before saying "Live" and refreshing the counts.
      if (everOpen && (missed || unreachable())) {
        settleTimer = setTimeout(settled, 1000);
      } else {
        Berth.liveState(live, "open");
      }
      everOpen = true;
      missed = false;
    }

    Berth.socket(root.getAttribute("data-events-socket"), onMessage, onState);
  }

  function init() {
    var root = document.getElementById("dashboard");
    if (root && window.Berth) start(root);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
