/* Stack page: the services table follows the endpoint's events socket (a container event of this
 * project swaps the table in again through htmx: state and health stay live), the combined logs follow
 * the stack's logs socket (lines prefixed with their container, coloured per service, as
 * `docker-compose logs -f`), and the remove dialog. When a container of the stack starts, the logs
 * socket is opened again from the last line seen, so recreated containers join the stream.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var project = script.dataset.project;
  var live = document.querySelector("[data-live]");
  var logsLive = document.querySelector("[data-logs-live]");
  var pre = document.querySelector("[data-logs]");
  var follow = document.querySelector("[data-logs-follow]");
  var MAX_LINES = 5000;
  var colours = {};
  var width = 8; /* the prefix column: the longest container name, as docker-compose aligns it */
  var lastTs = "";
  var logs = null;

  function colour(service) {
    if (!(service in colours)) colours[service] = Object.keys(colours).length % 6;
    return colours[service];
  }

  function append(lines) {
    var frag = document.createDocumentFragment();
    lines.forEach(function (l) {
      var who = l[0], service = l[1], stream = l[2], ts = l[3], text = l[4];
      if (ts && ts <= lastTs && reopened) return; /* already shown before the socket was opened again */
      if (ts > lastTs) lastTs = ts;
      var row = document.createElement("span");
      row.className = "log-line" + (stream === 2 ? " log-stderr" : "");
      var prefix = document.createElement("span");
      prefix.className = "log-who log-c" + colour(service);
      prefix.textContent = who.padEnd(width) + " | ";
      row.appendChild(prefix);
      row.appendChild(document.createTextNode(text + "\n"));
      frag.appendChild(row);
    });
    pre.appendChild(frag);
    while (pre.childNodes.length > MAX_LINES) pre.removeChild(pre.firstChild);
    if (follow.checked) pre.scrollTop = pre.scrollHeight;
  }

  function note(text) {
    var row = document.createElement("span");
    row.className = "log-note";
    row.textContent = text + "\n";
    pre.appendChild(row);
  }

  var reopened = false;
  function openLogs() {
    if (logs) logs.close();
    var query = lastTs ? "?tail=all&since=" + encodeURIComponent(lastTs) : "?tail=200";
    logs = Berth.socket(script.dataset.logsSocket + query, function (msg) {
      if (msg.lines) append(msg.lines);
      else if (msg.containers && !msg.containers.length) note("(no containers: deploy or start the stack)");
      else if (msg.containers) width = Math.max(width, Math.max.apply(null, msg.containers.map(function (c) { return c.length; })));
      else if (msg.ended) note("— " + msg.ended + " stopped —");
      else if (msg.error) note("(" + msg.error + ")");
      if (msg.dropped) note("(" + msg.dropped + " lines skipped: the page fell behind)");
    }, function (state) { Berth.liveState(logsLive, state); });
  }

  document.querySelector("[data-logs-clear]").addEventListener("click", function () { pre.textContent = ""; });

  var refresh = Berth.debounce(function () { document.body.dispatchEvent(new CustomEvent("stack-changed")); }, 200);
  var reopen = Berth.debounce(function () { reopened = true; openLogs(); }, 500);
  Berth.socket(script.dataset.eventsSocket, function (msg) {
    (msg.events || []).forEach(function (e) {
      var attrs = (e.Actor && e.Actor.Attributes) || {};
      if ((e.Type || "") !== "container") return;
      if (attrs["com.docker.compose.project"] !== undefined && attrs["com.docker.compose.project"] !== project) return;
      refresh();
      if ((e.Action || e.status) === "start" && attrs["com.docker.compose.project"] === project) reopen();
    });
  }, function (state) {
    Berth.liveState(live, state);
    if (state === "open") refresh(); /* catch up on what changed between the page's render and the socket */
  });

  openLogs();

  document.querySelectorAll("[data-open-dialog]").forEach(function (button) {
    var dialog = document.getElementById(button.dataset.openDialog);
    button.addEventListener("click", function () { dialog.showModal(); });
    dialog.querySelectorAll("[data-close-dialog]").forEach(function (b) {
      b.addEventListener("click", function () { dialog.close(); });
    });
  });
})();
