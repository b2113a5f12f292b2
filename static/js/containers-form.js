/* The create form's rows and small conveniences. The form works without it (one empty row per section).
 *
 * - [data-add-row="<prefix>"] clones <template data-row-template="<prefix>">, numbering it with the
 *   formset's TOTAL_FORMS, and focuses its first input.
 * - [data-remove-row] empties its row and hides it: the server ignores empty rows, so numbering stays intact.
 * - The restart policy shows "Max retries" only for on-failure; the volume type adapts the source input.
 * - A .env file can be loaded from disk into the paste box; the first field with an error gets focus.
 */
(function () {
  "use strict";

  var form = document.querySelector("[data-create-form]");
  if (!form) return;

  function addRow(prefix) {
    var template = form.querySelector('template[data-row-template="' + prefix + '"]');
    var total = form.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var body = form.querySelector('table[data-rows="' + prefix + '"] tbody');
    if (!template || !total || !body) return null;
    var index = parseInt(total.value, 10) || 0;
    var holder = document.createElement("tbody");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
    var row = holder.firstElementChild;
    body.appendChild(row);
    total.value = String(index + 1);
    setupVolumeRow(row);
    return row;
  }

  function clearRow(row) {
    row.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (el.type === "checkbox") el.checked = false;
      else if (el.tagName === "SELECT") el.selectedIndex = 0;
      else el.value = "";
    });
    row.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
  }

  form.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var row = addRow(add.getAttribute("data-add-row"));
      var first = row && row.querySelector("input:not([type=checkbox]), select");
      if (first) first.focus();
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var tr = remove.closest("tr");
      var table = tr.closest("table");
      clearRow(tr);
      tr.hidden = true;
      var visible = table.querySelectorAll("tbody tr:not([hidden])");
      if (!visible.length) addRow(table.getAttribute("data-rows"));
      var next = table.querySelector("tbody tr:not([hidden]) input, tbody tr:not([hidden]) select");
      (next || table.nextElementSibling).focus();
    }
  });

  /* Restart policy: "Max retries" belongs to on-failure only. */
  var policy = form.querySelector('select[name="restart_policy"]');
  function showRetries() {
    form.querySelectorAll("[data-show-when-restart]").forEach(function (el) {
      var show = policy && policy.value === el.getAttribute("data-show-when-restart");
      var hasError = el.querySelector(".field-error");
      el.hidden = !show && !hasError;
    });
  }
  if (policy) { policy.addEventListener("change", showRetries); showRetries(); }

  /* Volume rows: the source input says what it wants for the chosen type. */
  var SOURCE_HINTS = { volume: "volume name (empty: anonymous)", bind: "/absolute/host/path", tmpfs: "no source for tmpfs" };
  function setupVolumeRow(row) {
    var type = row.querySelector('select[name$="-type"]');
    var source = row.querySelector('input[name$="-source"]');
    if (!type || !source) return;
    var apply = function () {
      source.placeholder = SOURCE_HINTS[type.value] || "";
      source.disabled = type.value === "tmpfs" && !source.value;
    };
    type.addEventListener("change", apply);
    apply();
  }
  form.querySelectorAll('table[data-rows="volumes"] tbody tr').forEach(setupVolumeRow);

  /* Load a .env file from disk into the paste box. */
  var upload = form.querySelector("[data-env-upload]");
  if (upload) {
    upload.addEventListener("change", function () {
      var file = upload.files && upload.files[0];
      if (!file) return;
      file.text().then(function (text) {
        var box = form.querySelector('textarea[name="env_file"]');
        box.value = text;
        box.focus();
      });
    });
  }

  /* Submitting: say that we are working (creating may pull an image). */
  form.addEventListener("submit", function () {
    var note = form.querySelector("[data-submitting]");
    if (note) note.style.display = "inline-flex";
    var button = form.querySelector('button[type="submit"]');
    if (button) setTimeout(function () { button.disabled = true; }, 0);
  });

  /* After a refused submit, take the person to the first problem. */
  var firstError = form.querySelector('.has-error input, .has-error select, .has-error textarea, [aria-invalid="true"]');
  if (firstError) {
    var details = firstError.closest("details");
    if (details) details.open = true;
    firstError.focus();
  } else {
    var summary = form.querySelector(".form-errors");
    if (summary) { summary.setAttribute("tabindex", "-1"); summary.focus(); }
  }
})();
