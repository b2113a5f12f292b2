/* The images list: re-fetches the table (images:rows with the page's query) when the endpoint's events
 * socket reports an image change (pull, tag, untag, delete, load, import) or a container change that
 * alters "Used by"; and asks before the remove buttons post ([data-confirm]). */
(function () {
  "use strict";
  var script = document.currentScript;
  var rowsUrl = script.getAttribute("data-rows");
  var RELEVANT = { image: /^(pull|push|tag|untag|delete|load|import|build|save)$/, container: /^(create|destroy)$/ };

  var refresh = window.Berth.debounce(function () {
    if (!document.getElementById("images-region")) return;
    window.htmx.ajax("GET", rowsUrl + location.search, { target: "#images-region", swap: "outerHTML" });
  }, 400);

  window.Berth.socket(script.getAttribute("data-events"), function (msg) {
    if (!msg || !msg.events) return;
    var hit = msg.events.some(function (e) { var re = RELEVANT[e.Type]; return re && re.test(e.Action || e.status || ""); });
    if (hit) refresh();
  }, function (state) {
    window.Berth.liveState(document.querySelector("[data-live]"), state);
    if (state === "open") refresh();
  });

  document.addEventListener("submit", function (event) {
    var text = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) event.preventDefault();
  }, true);
})();
