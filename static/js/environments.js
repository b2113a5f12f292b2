/* Live endpoint rows (endpoints list) and cards (overview), and the overview's totals.
 *
 * A loaded row or card carries data-refresh="<its fragment URL>" (templates/endpoints/_row.html,
 * templates/environments/_card.html). Every REFRESH seconds each one is fetched again with htmx and
 * swapped in place — one request per endpoint, so a silent engine only delays its own card. Nothing is
 * fetched while the tab is hidden, nor for an element the user is working in (its move menu is open or focused),
 * nor for one whose previous refresh has not come back yet.
 * The totals line (#env-totals) sums the cards' data-health / data-running / data-stopped / data-unhealthy.
 */
(function () {
  "use strict";
  var marker = document.querySelector("[data-refresh-every]");
  var REFRESH = (marker && parseInt(marker.dataset.refreshEvery, 10)) || 15;
  var pending = new Set();

  function refresh() {
    if (document.hidden || !window.htmx) return;
    document.querySelectorAll("[data-refresh]").forEach(function (el) {
      var url = el.dataset.refresh;
      if (pending.has(url) || el.contains(document.activeElement) || el.querySelector("details[open]")) return;
      pending.add(url);
      window.htmx.ajax("GET", url, { target: el, swap: "outerHTML" })
        .catch(function () { /* the next round tries again */ })
        .then(function () { pending.delete(url); });
    });
  }

  var totals = document.getElementById("env-totals");
  function sum() {
    if (!totals) return;
    var t = { reachable: 0, unreachable: 0, "tls-error": 0, running: 0, stopped: 0, unhealthy: 0 };
    var loaded = 0;
    document.querySelectorAll(".env-card").forEach(function (card) {
      var health = card.dataset.health;
      if (!(health in t)) return;
      loaded += 1;
      t[health] += 1;
      ["running", "stopped", "unhealthy"].forEach(function (k) { t[k] += parseInt(card.dataset[k] || "0", 10) || 0; });
    });
    Object.keys(t).forEach(function (k) {
      totals.querySelectorAll('[data-total="' + k + '"]').forEach(function (el) { el.textContent = String(t[k]); });
      totals.querySelectorAll('[data-if-total="' + k + '"]').forEach(function (el) { el.hidden = t[k] === 0; });
    });
    totals.hidden = loaded === 0;
  }

  document.body.addEventListener("htmx:afterSettle", sum);
  sum();
  window.setInterval(refresh, REFRESH * 1000);
})();
