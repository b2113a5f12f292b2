/* On every page: the sidebar's count of the person's queued and running jobs, from /ws/jobs/
 * (console/jobs/consumers.py), and a toast when one of them ends while the page is open (not on that
 * job's own page, which shows it). Markup: [data-jobs-count] (hidden while zero). */
(function () {
  "use strict";
  var badge = document.querySelector("[data-jobs-count]");
  if (!badge || !window.Berth) return;
  var active = {};
  var ownPage = (location.pathname.match(/^\/jobs\/(\d+)\/$/) || [])[1];

  function render() {
    var n = Object.keys(active).length;
    badge.textContent = String(n);
    badge.hidden = n === 0;
    badge.setAttribute("title", n === 1 ? "1 job queued or running" : n + " jobs queued or running");
  }

  function ended(job) {
    if (String(job.id) === ownPage) return;
    var words = { succeeded: ["finished", "success"], failed: ["failed", "error"], cancelled: ["was cancelled", "warning"] }[job.state];
    if (words) window.Berth.toast(job.title + " " + words[0] + (job.state === "failed" && job.error ? ": " + job.error : "."), words[1]);
  }

  window.Berth.socket("/ws/jobs/", function (msg) {
    if (!msg) return;
    if (msg.active) {
      active = {};
      msg.active.forEach(function (job) { active[job.id] = job; });
    } else if (msg.job) {
      var job = msg.job;
      if (job.state === "queued" || job.state === "running") active[job.id] = job;
      else if (active[job.id]) { delete active[job.id]; ended(job); }
    }
    render();
  });
})();
