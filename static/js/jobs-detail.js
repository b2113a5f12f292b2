/* One job's page: follows /ws/jobs/<id>/ (console/jobs/consumers.py) and updates the state, the bars,
 * the items table and the log in place. Log texts carry their offset from the job's first character;
 * only the part beyond what the page shows is appended, so the snapshot and the stream join cleanly. */
(function () {
  "use strict";
  var script = document.currentScript;
  var $ = function (sel) { return document.querySelector(sel); };
  var logEl = $("[data-job-log]");
  var shownEnd = Number(logEl.getAttribute("data-offset") || 0) + logEl.textContent.length;
  var follow = $("[data-job-follow]");

  function scrollLog() { if (follow && follow.checked) logEl.scrollTop = logEl.scrollHeight; }

  function appendLog(chunk, snapshot) {
    if (!chunk) return;
    var start = Number(chunk.offset || 0), text = chunk.text || "";
    if (snapshot) {
      logEl.textContent = text;
      shownEnd = start + text.length;
    } else if (start + text.length > shownEnd) {
      logEl.appendChild(document.createTextNode(text.slice(Math.max(0, shownEnd - start))));
      shownEnd = start + text.length;
    }
    $("[data-job-log-empty]").hidden = shownEnd > 0 || logEl.textContent.length > 0;
    scrollLog();
  }

  function itemRow(item) {
    var body = $("[data-job-items]");
    var row = body.querySelector('tr[data-item-id="' + CSS.escape(String(item.id)) + '"]');
    if (row) return row;
    row = document.createElement("tr");
    row.setAttribute("data-item-id", item.id);
    row.innerHTML = '<th scope="row" class="mono"></th><td data-item-status></td>' +
      '<td><div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" data-item-progress><div class="progress-bar"></div></div></td>' +
      '<td class="num nowrap" data-item-bytes></td>';
    row.querySelector("th").textContent = item.label || item.id;
    row.querySelector("[data-item-progress]").setAttribute("aria-label", item.label || item.id);
    body.appendChild(row);
    return row;
  }

  function showItems(items) {
    $("[data-job-items-card]").hidden = !items.length;
    items.forEach(function (item) {
      var row = itemRow(item);
      row.querySelector("th").textContent = item.label || item.id;
      row.querySelector("[data-item-status]").textContent = item.status || "";
      var fraction = item.fraction != null ? item.fraction : (item.total ? Math.min(1, (item.current || 0) / item.total) : null);
      var el = row.querySelector("[data-item-progress]");
      if (fraction === null) { el.classList.add("progress-unknown"); window.Berth.progress(el, 0); }
      else { el.classList.remove("progress-unknown"); window.Berth.progress(el, fraction); }
      row.querySelector("[data-item-bytes]").textContent = item.total ? BerthJobs.bytes(item.current || 0) + " / " + BerthJobs.bytes(item.total) : "";
    });
  }

  function when(iso) { return iso ? iso.replace("T", " ").slice(0, 19) + " UTC" : "—"; }

  function showLinks(links) {
    var box = $("[data-job-links]");
    if (!links || !links.length || box.childElementCount) return;
    links.forEach(function (link) {
      var a = document.createElement("a");
      a.className = "button";
      a.href = link.url;
      a.textContent = link.label;
      box.appendChild(a);
      box.appendChild(document.createTextNode(" "));
    });
  }

  function show(job, detail) {
    var active = BerthJobs.ACTIVE.indexOf(job.state) >= 0;
    BerthJobs.badge($("[data-job-state]"), job.state, job.state_label);
    var bar = $("[data-job-progress]");
    bar.classList.toggle("progress-bad", job.state === "failed");
    if (job.progress === null && active) BerthJobs.bar(bar, null);
    else BerthJobs.bar(bar, job.progress === null ? (job.state === "succeeded" ? 1 : 0) : job.progress);
    $("[data-job-percent]").textContent = job.progress === null ? "" : Math.round(job.progress * 100) + "%";
    $("[data-job-status]").textContent = job.status || "";
    $("[data-job-started]").textContent = when(job.started_at);
    $("[data-job-finished]").textContent = when(job.finished_at);
    $("[data-job-runs]").textContent = String(job.runs);
    $("[data-job-cancel-form]").hidden = !active;
    if (detail) {
      $("[data-job-error]").hidden = !detail.error;
      $("[data-job-error-text]").textContent = detail.error || "";
      var cancel = $("[data-job-cancel]");
      if (detail.cancel_requested && active) { cancel.disabled = true; cancel.lastChild.textContent = "Cancelling…"; }
      showItems(detail.items || []);
      showLinks(detail.links);
    }
    document.title = job.title + " (" + job.state_label + ") · Berth";
  }

  window.Berth.socket(script.getAttribute("data-socket"), function (msg) {
    if (!msg || !msg.job) return;
    show(msg.job, msg.detail);
    appendLog(msg.log, msg.snapshot);
  }, function (state) { window.Berth.liveState($("[data-live]"), state); });

  scrollLog();
})();
