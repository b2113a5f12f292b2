/* One image's page: ask before the remove and untag buttons post ([data-confirm]). */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var text = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) event.preventDefault();
  }, true);
})();
