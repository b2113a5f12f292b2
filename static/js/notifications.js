/* Notification pages. The rule form: only the fields of the chosen kind (restart loop: deaths and
 * window) and channel (webhook URL or e-mail addresses) show; a field with an error always shows.
 * The list: forms marked [data-confirm] ask before they post. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var text = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) event.preventDefault();
  });

  function toggle(selectId, attr) {
    var select = document.getElementById(selectId);
    if (!select) return;
    document.querySelectorAll("[" + attr + "]").forEach(function (el) {
      el.hidden = el.getAttribute(attr) !== select.value && !el.querySelector(".field-error");
    });
  }
  function update() { toggle("id_kind", "data-kind-only"); toggle("id_channel", "data-channel-only"); }

  document.addEventListener("change", function (event) {
    if (event.target.id === "id_kind" || event.target.id === "id_channel") update();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", update); else update();
})();
