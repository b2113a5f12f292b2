/* Network pages: forms marked [data-confirm] ask before they post; on the create form, the fields of
 * the other driver (bridge name / parent interface) hide when a driver is chosen. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var text = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) event.preventDefault();
  });

  function showDriverFields() {
    var driver = document.getElementById("id_driver");
    if (!driver) return;
    document.querySelectorAll("[data-driver-only]").forEach(function (el) {
      var mine = el.getAttribute("data-driver-only") === driver.value;
      var hasError = el.querySelector(".field-error");
      el.hidden = !mine && !hasError;
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.id === "id_driver") showDriverFields();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showDriverFields); else showDriverFields();
})();
