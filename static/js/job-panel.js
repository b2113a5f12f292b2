/* A job followed where it was started (templates/components/job_panel.html): [data-job-panel="<id>"]
 * follows /ws/jobs/<id>/ (console/jobs/consumers.py) — state badge, progress bar, status line — and,
 * when the job ends, shows its outcome in place: the error or the items that failed (an item whose
 * status starts with "Failed"), and the result's links to other pages (the sidebar's jobs indicator
 * already toasts the end of every job of the person). Then it fires [data-job-event] on <body>
 * (e.g. "containers-changed", so a list refreshes) or, with [data-job-reload], reloads the page.
 * Panels swapped in by htmx are picked up too. */
(function () {
  "use strict";
  var BADGES = { queued: "badge-neutral", running: "badge-info", succeeded: "badge-success", failed: "badge-failure", cancelled: "badge-warn" };
  var FINAL = { succeeded: true, failed: true, cancelled: true };

  function setBadge(el, state, label) {
    Object.keys(BADGES).forEach(function (k) { el.classList.remove(BADGES[k]); });
    el.classList.add(BADGES[state] || "badge-neutral");
    el.innerHTML = '<span class="dot" aria-hidden="true"></span>';
    el.appendChild(document.createTextNode(label || state));
  }

  function showFailures(panel, items) {
    var list = panel.querySelector("[data-job-failures]");
    var failed = (items || []).filter(function (i) { return /^failed/i.test(i.status || ""); });
    list.innerHTML = "";
    failed.forEach(function (i) {
      var li = document.createElement("li");
      var name = document.createElement("strong");
      name.textContent = i.label || i.id;
      li.appendChild(name);
      li.appendChild(document.createTextNode(": " + (i.status || "").replace(/^failed:?\s*/i, "")));
      list.appendChild(li);
    });
    list.hidden = failed.length === 0;
    if (failed.length) panel.classList.add("job-panel-failed");
  }

  function showLinks(panel, links) {
    var head = panel.querySelector(".cluster");
    (links || []).forEach(function (link) {
      if (!/^\/(?!\/)/.test(link.url || "") || link.url === location.pathname) return;
      var a = document.createElement("a");
      a.className = "button button-small";
      a.href = link.url;
      a.textContent = link.label;
      head.appendChild(a);
    });
  }

  function ended(panel, job, detail) {
    var status = panel.querySelector("[data-job-status]");
    var text = job.state === "failed" ? (job.error || "The job failed.") : (job.status || job.state_label);
    status.textContent = text;
    status.classList.toggle("field-error", job.state === "failed");
    showFailures(panel, detail.items);
    showLinks(panel, detail.links);
    var name = panel.getAttribute("data-job-event");
    if (name) document.body.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: { job: job } }));
    if (panel.hasAttribute("data-job-reload")) setTimeout(function () { location.reload(); }, 1500);
  }

  function follow(panel) {
    if (panel.hasAttribute("data-job-following") || !window.Berth) return;
    panel.setAttribute("data-job-following", "");
    var id = panel.getAttribute("data-job-panel");
    var badge = panel.querySelector("[data-job-state]");
    var bar = panel.querySelector("[data-job-progress]");
    var status = panel.querySelector("[data-job-status]");
    var done = false;
    var sock = window.Berth.socket("/ws/jobs/" + id + "/", function (msg) {
      if (!msg || !msg.job || done) return;
      var job = msg.job;
      setBadge(badge, job.state, job.state_label);
      var final = !!FINAL[job.state];
      window.Berth.progress(bar, final ? 1 : job.progress);
      bar.classList.toggle("progress-bad", job.state === "failed");
      if (job.status) status.textContent = job.status;
      if (final) {
        done = true;
        sock.close();
        ended(panel, job, msg.detail || {});
      }
    });
  }

  function scan(root) {
    (root || document).querySelectorAll("[data-job-panel]").forEach(follow);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { scan(); }); else scan();
  document.addEventListener("htmx:afterSwap", function (event) { scan(event.detail.target); });
})();
