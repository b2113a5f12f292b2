/* The build page's Dockerfile editor: a plain textarea with a line-number gutter kept in step with it
 * (lines and scroll), and Tab that indents. Esc, then Tab, leaves the editor (keyboard users are never
 * trapped). No library: the form posts the textarea as it is. */
(function () {
  "use strict";
  var box = document.querySelector("[data-code-editor]");
  if (!box) return;
  var area = box.querySelector("textarea");
  var gutter = box.querySelector("[data-line-numbers]");
  var tabLeaves = false;

  function numbers() {
    var count = area.value.split("\n").length;
    var out = [];
    for (var i = 1; i <= count; i++) out.push(i);
    gutter.textContent = out.join("\n");
    gutter.scrollTop = area.scrollTop;
  }

  area.addEventListener("input", numbers);
  area.addEventListener("scroll", function () { gutter.scrollTop = area.scrollTop; });
  area.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { tabLeaves = true; return; }
    if (event.key !== "Tab" || event.shiftKey || tabLeaves || event.ctrlKey || event.altKey || event.metaKey) { tabLeaves = false; return; }
    event.preventDefault();
    var start = area.selectionStart, end = area.selectionEnd;
    area.setRangeText("    ", start, end, "end");
    numbers();
  });
  area.addEventListener("blur", function () { tabLeaves = false; });
  numbers();
})();
