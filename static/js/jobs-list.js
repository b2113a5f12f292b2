/* The jobs list: follows /ws/jobs/?all=1 and patches rows in place (state, bar, status); a job the
 * table does not show yet (a new one) makes it re-fetch the table (data-rows, with the page's filters). */
(function () {
  "use strict";
  var script = document.currentScript;
  var rowsUrl = script.getAttribute("data-rows");

  var refresh = window.Berth.debounce(function () {
    var region = document.getElementById("jobs-region");
    if (!region || region.getAttribute("data-page") !== "1") return;
    window.htmx.ajax("GET", rowsUrl + location.search, { target: "#jobs-region", swap: "outerHTML" });
  }, 300);

  function patch(job) {
    var row = document.querySelector('tr[data-job-id="' + job.id + '"]');
    if (!row) { refresh(); return; }
    var was = row.getAttribute("data-state");
    if (was !== job.state && (BerthJobs.ACTIVE.indexOf(was) < 0 || BerthJobs.ACTIVE.indexOf(job.state) < 0)) {
      refresh();  // it started or ended: the row's cells change shape
      return;
    }
    row.setAttribute("data-state", job.state);
    BerthJobs.badge(row.querySelector("[data-job-state]"), job.state, job.state_label);
    var bar = row.querySelector("[data-job-progress]");
    if (bar) BerthJobs.bar(bar, job.progress);
    var status = row.querySelector("[data-job-status]");
    if (status) status.textContent = job.status || "";
  }

  window.Berth.socket("/ws/jobs/?all=1", function (msg) {
    if (msg && msg.job) patch(msg.job);
  }, function (state) { window.Berth.liveState(document.querySelector("[data-live]"), state); });
})();
