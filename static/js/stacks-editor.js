/* Stacks: the compose editor (a textarea over a highlighted <pre>), live validation through
 * POST /api/endpoints/<eid>/stacks/validate/ (line-numbered problems, the lines marked in the editor),
 * and the variables' key/value rows (add / remove). No library: the highlighter is a line tokenizer
 * for the YAML a compose file uses (comments, keys, strings, ${VARIABLES}, numbers, booleans, list dashes).
 */
(function () {
  "use strict";

  var form = document.querySelector("form.stack-form");
  if (!form) return;
  var textarea = form.querySelector("[data-stack-editor]");
  var code = form.querySelector("[data-highlight]");
  var problemsList = form.querySelector("[data-problems]");
  var stateEl = form.querySelector("[data-validate-state]");
  var badLines = {};

  function esc(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function values(text) {
    /* strings, variables, numbers, booleans in a value */
    return esc(text)
      .replace(/(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)/g, '<span class="tok-var">$1</span>')
      .replace(/^(\s*)(true|false|yes|no|null|~)(\s*)$/i, '$1<span class="tok-bool">$2</span>$3')
      .replace(/^(\s*)(-?\d+(?:\.\d+)?)(\s*)$/, '$1<span class="tok-num">$2</span>$3');
  }

  function line(text) {
    var comment = "";
    var hash = text.search(/(^|\s)#/);
    if (hash >= 0) {
      comment = '<span class="tok-comment">' + esc(text.slice(hash)) + "</span>";
      text = text.slice(0, hash);
    }
    var m = /^(\s*)(- )?([^\s'"#:][^:#]*?|"[^"]*"|'[^']*'):(\s|$)(.*)$/.exec(text);
    var out;
    if (m) {
      out = esc(m[1]) + (m[2] ? '<span class="tok-dash">- </span>' : "") + '<span class="tok-key">' + esc(m[3]) +
        "</span>:" + m[4] + strings(m[5]);
    } else {
      var d = /^(\s*)(- )(.*)$/.exec(text);
      out = d ? esc(d[1]) + '<span class="tok-dash">- </span>' + strings(d[3]) : strings(text);
    }
    return out + comment;
  }

  function strings(text) {
    var parts = text.split(/("(?:[^"\\]|\\.)*"|'[^']*')/);
    return parts.map(function (p, i) {
      return i % 2 ? '<span class="tok-str">' + values(p) + "</span>" : values(p);
    }).join("");
  }

  function highlight() {
    var lines = textarea.value.split("\n");
    code.innerHTML = lines.map(function (l, i) {
      var cls = badLines[i + 1] ? ' class="line line-bad"' : ' class="line"';
      return "<span" + cls + ">" + line(l) + "</span>";
    }).join("\n") + "\n";
    sync();
  }

  function sync() {
    code.parentNode.scrollTop = textarea.scrollTop;
    code.parentNode.scrollLeft = textarea.scrollLeft;
  }

  function rows() {
    var vars = {};
    var names = form.querySelectorAll('[name="var_name"]');
    var vals = form.querySelectorAll('[name="var_value"]');
    for (var i = 0; i < names.length; i++) {
      if (names[i].value.trim()) vars[names[i].value.trim()] = vals[i] ? vals[i].value : "";
    }
    return vars;
  }

  function showProblems(list, warnings) {
    badLines = {};
    problemsList.innerHTML = "";
    list.concat(warnings || []).forEach(function (p, i) {
      var li = document.createElement("li");
      li.textContent = p.text;
      if (i >= list.length) li.className = "problem-warning";
      if (p.line) {
        if (i < list.length) badLines[p.line] = true;
        li.dataset.line = p.line;
        li.tabIndex = 0;
        li.title = "Go to line " + p.line;
      }
      problemsList.appendChild(li);
    });
    highlight();
  }

  function goToLine(n) {
    var lines = textarea.value.split("\n");
    var pos = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    textarea.focus();
    textarea.setSelectionRange(pos, pos + (lines[n - 1] || "").length);
    var lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    textarea.scrollTop = Math.max(0, (n - 3) * lineHeight);
    sync();
  }

  problemsList.addEventListener("click", function (e) {
    var li = e.target.closest("li[data-line]");
    if (li && li.dataset.line) goToLine(parseInt(li.dataset.line, 10));
  });
  problemsList.addEventListener("keydown", function (e) {
    var li = e.target.closest("li[data-line]");
    if (li && e.key === "Enter") { e.preventDefault(); goToLine(parseInt(li.dataset.line, 10)); }
  });

  var seq = 0;
  function validate() {
    var url = form.dataset.validateUrl;
    if (!url || !textarea.value.trim()) { if (stateEl) stateEl.textContent = ""; return; }
    var mine = ++seq;
    var nameInput = form.querySelector('[name="name"]');
    var envInput = form.querySelector('[name="env_file"]');
    if (stateEl) { stateEl.textContent = "Checking…"; stateEl.dataset.state = "checking"; }
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json",
                 "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content },
      body: JSON.stringify({ name: nameInput ? nameInput.value : "", compose: textarea.value, variables: rows(),
                             env_file: envInput ? envInput.value : "" }),
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (mine !== seq) return;
      if (data.error) { stateEl.textContent = data.error.message; stateEl.dataset.state = "bad"; return; }
      showProblems(data.problems || [], data.warnings || []);
      if (data.valid) {
        stateEl.textContent = "✓ Valid: " + data.services.length + " service" + (data.services.length === 1 ? "" : "s") +
          " (" + data.services.join(", ") + ")";
        stateEl.dataset.state = "ok";
      } else {
        stateEl.textContent = data.problems.length + " problem" + (data.problems.length === 1 ? "" : "s");
        stateEl.dataset.state = "bad";
      }
    }).catch(function () {
      if (mine === seq && stateEl) { stateEl.textContent = "Could not check the file (is the console reachable?)"; stateEl.dataset.state = "bad"; }
    });
  }
  var validateSoon = window.Berth ? Berth.debounce(validate, 400) : validate;

  textarea.addEventListener("input", function () { highlight(); validateSoon(); });
  textarea.addEventListener("scroll", sync);
  textarea.addEventListener("keydown", function (e) {
    if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
      /* two spaces, as YAML wants; Escape then Tab leaves the editor */
      if (textarea.dataset.tabEscaped) { delete textarea.dataset.tabEscaped; return; }
      e.preventDefault();
      var s = textarea.selectionStart;
      textarea.setRangeText("  ", s, textarea.selectionEnd, "end");
      highlight(); validateSoon();
    } else if (e.key === "Escape") {
      textarea.dataset.tabEscaped = "1";
    }
  });
  form.addEventListener("input", function (e) {
    if (e.target !== textarea && e.target.closest("[data-var-rows], [name=env_file], [name=name]")) validateSoon();
  });

  var upload = form.querySelector('input[type="file"][name="upload"]');
  if (upload) upload.addEventListener("change", function () {
    var f = upload.files[0];
    if (!f) return;
    f.text().then(function (t) { textarea.value = t; highlight(); validate(); });
  });

  var rowsBox = form.querySelector("[data-var-rows]");
  var tpl = form.querySelector("[data-var-template]");
  var counter = 1000;
  var add = form.querySelector("[data-var-add]");
  if (add && tpl) add.addEventListener("click", function () {
    var row = tpl.content.firstElementChild.cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) {
      counter += 1;
      input.id = "var-" + input.name + "-" + counter;
      input.previousElementSibling.setAttribute("for", input.id);
    });
    rowsBox.appendChild(row);
    row.querySelector("input").focus();
  });
  form.addEventListener("click", function (e) {
    var rm = e.target.closest("[data-var-remove]");
    if (rm) { rm.closest(".var-row").remove(); validateSoon(); }
  });

  form.querySelectorAll("[data-problems] li[data-line]").forEach(function (li) { badLines[li.dataset.line] = true; li.tabIndex = 0; });
  highlight();
  if (textarea.value.trim() && !problemsList.children.length) validate();
})();
