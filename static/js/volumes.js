/* Volume pages: sizes fill in after the list shows (the engine measures every volume, which can take
 * a while); forms marked [data-confirm] ask before they post; [data-busy-form] shows its [data-busy]
 * note while it uploads. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var text = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) { event.preventDefault(); return; }
    if (event.target.hasAttribute("data-busy-form")) {  /* a long upload: say so, and do not post twice */
      var busy = event.target.querySelector("[data-busy]");
      if (busy) busy.hidden = false;
      event.target.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }
  });

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
