/* Jobs pages: shared helpers (window.BerthJobs). Loaded before jobs-list.js / jobs-detail.js.
 *
 * BerthJobs.badge(el, state, label)   set a state badge (same classes as console/jobs/templatetags/job_tags.py)
 * BerthJobs.bar(el, fraction)         set a .progress (null → indeterminate while active)
 * BerthJobs.bytes(n)                  "12.3 MB" (1024 units, as Django's filesizeformat)
 * BerthJobs.ACTIVE                    states that are not final
 */
(function () {
  "use strict";
  var BADGES = { queued: "badge-neutral", running: "badge-info", succeeded: "badge-success", failed: "badge-failure", cancelled: "badge-warn" };
  var ALL = Object.keys(BADGES).map(function (k) { return BADGES[k]; });

  function badge(el, state, label) {
    if (!el) return;
    ALL.forEach(function (c) { el.classList.remove(c); });
    el.classList.add(BADGES[state] || "badge-neutral");
    el.innerHTML = '<span class="dot" aria-hidden="true"></span>';
    el.appendChild(document.createTextNode(label || state));
  }

  function bar(el, fraction, label) {
    if (!el) return;
    window.Berth.progress(el, fraction === null || fraction === undefined ? null : fraction, label);
  }

  function bytes(n) {
    n = Number(n) || 0;
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + " bytes" : n.toFixed(1) + " " + units[i];
  }

  window.BerthJobs = { badge: badge, bar: bar, bytes: bytes, ACTIVE: ["queued", "running"] };
})();
