/* The containers list: live rows, selection and bulk actions.
 *
 * Live updates, without polling: the page subscribes to the endpoint's events
 * websocket (/ws/endpoints/<eid>/events/, {"events": [...]} batches). When a
 * batch holds a container change that shows in the table (create, start, die,
 * pause, health_status, destroy, rename, ...), it fetches the table for the
 * page's current query (containers:rows + location.search) and reconciles it row
 * by row, keyed by container ID: unchanged rows stay as they are (selection and
 * focus kept), changed rows are swapped and flash, gone rows go, new rows appear
 * where the sort puts them. It refreshes too whenever the socket (re)opens, so
 * nothing missed while disconnected stays stale.
 *
 * Filters and sorting swap the whole table with htmx (hx-get on the filter form
 * and the column headers). Bulk actions post with htmx; their per-container
 * failures land in #bulk-results, the success summary becomes a toast.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var eventsPath = script.getAttribute("data-events");
  var rowsUrl = script.getAttribute("data-rows");
  var IGNORED = /^(exec_|attach|detach|resize|top|archive-path|extract-to-dir|copy|export|commit)/;

  function region() { return document.getElementById("containers-region"); }
  function rowBoxes() { return Array.prototype.slice.call(document.querySelectorAll('#container-rows input[name="ids"]')); }

  /* ---------- selection ---------- */
  var lastClicked = null;

  function updateSelection() {
    var boxes = rowBoxes();
    var chosen = boxes.filter(function (b) { return b.checked; });
    boxes.forEach(function (b) { b.closest("tr").classList.toggle("is-selected", b.checked); });
    var all = document.querySelector("[data-select-all]");
    if (all) {
      all.checked = boxes.length > 0 && chosen.length === boxes.length;
      all.indeterminate = chosen.length > 0 && chosen.length < boxes.length;
    }
    var count = document.querySelector("[data-selection-count]");
    if (count) count.textContent = chosen.length ? chosen.length + " selected" : "Select containers to act on them";
    document.querySelectorAll("[data-needs-selection]").forEach(function (b) { b.disabled = chosen.length === 0; });
  }

  document.addEventListener("click", function (event) {
    var box = event.target.closest && event.target.closest('#container-rows input[name="ids"]');
    if (box && event.shiftKey && lastClicked && lastClicked !== box) {
      var boxes = rowBoxes();
      var a = boxes.indexOf(lastClicked), b = boxes.indexOf(box);
      if (a >= 0 && b >= 0) boxes.slice(Math.min(a, b), Math.max(a, b) + 1).forEach(function (x) { x.checked = box.checked; });
    }
    if (box) lastClicked = box;
    if (event.target.closest && event.target.closest("[data-dismiss-alert]")) event.target.closest(".alert").remove();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      rowBoxes().forEach(function (b) { b.checked = event.target.checked; });
    }
    if (event.target.matches("[data-select-all], #container-rows input[name='ids']")) updateSelection();
  });

  /* ---------- live refresh ---------- */
  var busy = false, again = false;

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(rowsUrl + location.search, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(reconcile)
      .then(function () { document.dispatchEvent(new CustomEvent("containers:refreshed")); })
      .catch(function () { /* the next event or reconnect tries again */ })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  function healthOf(tr) { var c = tr.querySelector(".col-health"); return c ? c.textContent.trim() : ""; }

  function focusKey(el) {
    var tr = el && el.closest && el.closest("tr[data-id]");
    if (!tr) return null;
    return { id: tr.getAttribute("data-id"), name: el.getAttribute("name"), index: Array.prototype.indexOf.call(tr.querySelectorAll("a, input, button"), el) };
  }

  function restoreFocus(key) {
    if (!key) return;
    var tr = document.querySelector('#container-rows tr[data-id="' + key.id + '"]');
    if (!tr || tr.contains(document.activeElement)) return;
    var target = tr.querySelectorAll("a, input, button")[key.index];
    if (target) target.focus();
  }

  function reconcile(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    var fresh = tpl.content.querySelector("#containers-region");
    var current = region();
    if (!fresh || !current) return;
    var oldBody = current.querySelector("#container-rows"), newBody = fresh.querySelector("#container-rows");
    if (!oldBody || !newBody || oldBody.querySelector("[data-empty]") || newBody.querySelector("[data-empty]")) {
      current.replaceWith(fresh);
      if (window.htmx) window.htmx.process(fresh);
      updateSelection();
      return;
    }
    var before = {};
    oldBody.querySelectorAll("tr[data-id]").forEach(function (tr) { before[tr.getAttribute("data-id")] = tr; });
    var next = [];
    newBody.querySelectorAll("tr[data-id]").forEach(function (tr) {
      var old = before[tr.getAttribute("data-id")];
      if (old && old.innerHTML === tr.innerHTML) { next.push(old); return; }
      if (old) {
        tr.querySelector('input[name="ids"]').checked = old.querySelector('input[name="ids"]').checked;
        if (old.getAttribute("data-state") !== tr.getAttribute("data-state") || healthOf(old) !== healthOf(tr)) tr.classList.add("row-changed");
      } else {
        tr.classList.add("row-changed");
      }
      next.push(tr);
    });
    var kids = oldBody.children;
    var same = next.length === kids.length && next.every(function (n, i) { return kids[i] === n; });
    if (!same) {
      var key = focusKey(document.activeElement);
      oldBody.replaceChildren.apply(oldBody, next);
      restoreFocus(key);
    }
    var oldCount = current.querySelector(".table-count"), newCount = fresh.querySelector(".table-count");
    if (oldCount && newCount) oldCount.textContent = newCount.textContent;
    current.setAttribute("data-total", fresh.getAttribute("data-total"));
    updateSelection();
  }

  function changesTheList(ev) {
    var action = ev.Action || ev.status || "";
    return ev.Type === "container" && !IGNORED.test(action);
  }

  /* The live indicator: the socket's state, or the engine's trouble until a refresh finds it again. */
  var live = document.querySelector("[data-live]");
  var socketState = "connecting";
  var engineDown = !!(region() && region().hasAttribute("data-error"));

  function showLive() {
    if (!live) return;
    if (engineDown) {
      live.setAttribute("data-state", "closed");
      live.textContent = "Engine unreachable — retrying";
    } else {
      Berth.liveState(live, socketState);
    }
  }

  document.addEventListener("containers:refreshed", function () {
    var r = region();
    if (engineDown && r && !r.hasAttribute("data-error")) { engineDown = false; live.title = ""; showLive(); }
  });

  Berth.socket(eventsPath, function (msg) {
    if (msg && msg.events && msg.events.some(changesTheList)) refresh();
    if (msg && msg.error) {
      engineDown = true;
      if (live) live.title = msg.error;
      showLive();
      refresh();
    }
  }, function (state, code) {
    socketState = state;
    if (state === "open") refresh();
    showLive();
    if (state === "closed" && (code === 4403 || code === 4404) && live) live.textContent = "Live updates refused";
  });

  /* ---------- bulk actions ---------- */
  var bulk = document.getElementById("bulk-form");
  var dialog = document.getElementById("confirm-remove");

  if (bulk) {
    bulk.addEventListener("htmx:confirm", function (event) {
      var trigger = event.detail.triggeringEvent;
      var submitter = trigger && trigger.submitter;
      if (!submitter || !submitter.hasAttribute("data-confirm-remove") || !dialog || !dialog.showModal) return;
      event.preventDefault();
      var n = rowBoxes().filter(function (b) { return b.checked; }).length;
      var force = document.getElementById("bulk-force").checked;
      dialog.querySelector("[data-confirm-text]").textContent =
        "Remove " + n + " container" + (n === 1 ? "" : "s") + (force ? ", stopping running ones first" : "") + "? This cannot be undone.";
      dialog.querySelector("[data-confirm-force]").hidden = force;
      dialog.returnValue = "";
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        if (dialog.returnValue === "remove") event.detail.issueRequest(true);
        else submitter.focus();
      });
      dialog.showModal();
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "bulk-results") {
      var summary = target.querySelector("[data-bulk-summary]");
      if (summary) Berth.toast(summary.textContent, "success");
      if (!target.querySelector(".bulk-failures")) {
        rowBoxes().forEach(function (b) { b.checked = false; });
      }
    }
    updateSelection();
  });
  document.body.addEventListener("containers-changed", refresh);

  /* "/" jumps to the search box, as on many list pages. */
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var t = event.target;
    if (t.closest("input, textarea, select, [contenteditable]")) return;
    var q = document.getElementById("filter-q");
    if (q) { event.preventDefault(); q.focus(); q.select(); }
  });

  updateSelection();
})();
