/* Volume pages: sizes fill in after the list shows (the engine measures every volume, which can take
 * a while); forms marked [data-confirm] ask before they post; [data-busy-form] shows its [data-busy]
 * note while it uploads; [data-upload] forms post with XMLHttpRequest to fill their
 * [data-upload-progress] bar as the file goes up, then follow the answer: the job's page, or the
 * form again with its errors. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var text = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) { event.preventDefault(); return; }
    if (event.target.hasAttribute("data-busy-form")) {  /* a long upload: say so, and do not post twice */
      var busy = event.target.querySelector("[data-busy]");
      if (busy) busy.hidden = false;
      if (event.target.hasAttribute("data-upload") && window.FormData) upload(event.target, event);
      event.target.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }
  });

  function upload(form, event) {
    var bar = form.querySelector("[data-upload-progress]");
    var text = form.querySelector("[data-busy-text]");
    if (!bar) return;
    var body = new FormData(form);
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    var target = new URL(form.getAttribute("action") || location.href, location.href);
    xhr.open("POST", target.href);
    bar.hidden = false;
    window.Berth.progress(bar, 0, "Uploading");
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      window.Berth.progress(bar, e.loaded / e.total, "Uploading");
      if (text) text.textContent = "Uploading… " + Math.round(100 * e.loaded / e.total) + "%";
    };
    xhr.upload.onload = function () {
      window.Berth.progress(bar, null, "Checking the archive");
      if (text) text.textContent = "Uploaded; checking the archive before anything is written…";
    };
    xhr.onload = function () {
      var landed = xhr.responseURL ? new URL(xhr.responseURL) : target;
      if (xhr.status < 300 && landed.pathname !== target.pathname) { location.assign(landed.href); return; }
      var fresh = new DOMParser().parseFromString(xhr.responseText, "text/html").querySelector("form[data-upload]");
      if (!fresh) { location.reload(); return; }
      form.replaceWith(fresh);
      var invalid = fresh.querySelector("[aria-invalid=true], .has-error input");
      if (invalid) invalid.focus();
    };
    xhr.onerror = function () {
      bar.hidden = true;
      form.querySelector("[data-busy]").hidden = true;
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
      window.Berth.toast("The upload broke off: check the connection and try again.", "error");
    };
    xhr.send(body);
  }

  function showSizes(table) {
    var state = document.querySelector("[data-sizes-state]");
    var cells = Array.prototype.slice.call(table.querySelectorAll("[data-size]"));
    fetch(table.getAttribute("data-sizes"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) throw new Error(res.body.error || "the engine did not say");
        cells.forEach(function (cell) {
          var size = res.body.sizes[cell.getAttribute("data-size")];
          cell.textContent = size ? size.text : "—";
        });
        if (state) state.textContent = "Sizes as the engine measures them.";
      })
      .catch(function (err) {
        cells.forEach(function (cell) { cell.textContent = "—"; });
        if (state) state.textContent = "Sizes are unknown: " + err.message + ".";
      });
  }

  function init() {
    var table = document.querySelector("[data-sizes]");
    if (table) showSizes(table);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
