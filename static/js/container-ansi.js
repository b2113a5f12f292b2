/* ANSI colours in log lines, rendered safely: window.BerthAnsi.
 *
 * BerthAnsi.toHtml(text, highlight) → an HTML string for one log line.
 *   Every piece of the line's text is HTML-escaped before it is placed in the
 *   result; the only markup added is <span class="…" style="color:rgb(n,n,n)">
 *   for SGR colour codes (classes and integers computed here, never text from
 *   the line) and <mark> around matches of `highlight` (a RegExp with the g
 *   flag, or null). Other escape sequences (cursor moves, titles) are dropped;
 *   a carriage return keeps what follows it, as a terminal would show.
 * BerthAnsi.escape(text) → text with & < > " ' escaped.
 * BerthAnsi.strip(text) → the text without escape sequences (for searching).
 */
(function () {
  "use strict";

  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  var NEEDS_ESCAPE = /[&<>"']/;
  var ESCAPE_ALL = /[&<>"']/g;
  // CSI (ESC [ params final), OSC (ESC ] … BEL or ESC \), and two-character escapes.
  var SEQUENCE = /\x1b\[([0-9;:?]*)([ -\/]*[@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g;
  var CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

  function escape(text) {
    return NEEDS_ESCAPE.test(text) ? text.replace(ESCAPE_ALL, function (c) { return ESCAPES[c]; }) : text;
  }

  function afterReturn(text) {
    var cr = text.lastIndexOf("\r");
    return cr < 0 ? text : text.slice(cr + 1);
  }

  function strip(text) {
    return afterReturn(text.replace(SEQUENCE, "")).replace(CONTROL, "");
  }

  function marked(text, highlight) {
    if (!highlight) return escape(text);
    highlight.lastIndex = 0;
    var out = "", last = 0, m;
    while ((m = highlight.exec(text)) !== null) {
      if (m[0] === "") { highlight.lastIndex++; continue; }
      out += escape(text.slice(last, m.index)) + "<mark>" + escape(m[0]) + "</mark>";
      last = m.index + m[0].length;
    }
    return out + escape(text.slice(last));
  }

  /* xterm's 256-colour palette: 16 named colours (classes), a 6×6×6 cube, 24 greys. */
  function rgb256(n) {
    if (n >= 232) { var g = 8 + (n - 232) * 10; return [g, g, g]; }
    n -= 16;
    var steps = [0, 95, 135, 175, 215, 255];
    return [steps[Math.floor(n / 36) % 6], steps[Math.floor(n / 6) % 6], steps[n % 6]];
  }

  function clampByte(v) { v = parseInt(v, 10); return isNaN(v) ? 0 : Math.max(0, Math.min(255, v)); }

  /* Extended colour "38;5;n" / "38;2;r;g;b" starting at params[i]; returns [colour, next index]. */
  function extended(params, i) {
    if (params[i + 1] === "5") {
      var n = clampByte(params[i + 2]);
      return [n < 16 ? { cls: n } : { rgb: rgb256(n) }, i + 3];
    }
    if (params[i + 1] === "2") {
      return [{ rgb: [clampByte(params[i + 2]), clampByte(params[i + 3]), clampByte(params[i + 4])] }, i + 5];
    }
    return [null, i + 1];
  }

  function applySgr(state, paramText) {
    var params = paramText === "" ? ["0"] : paramText.split(/[;:]/);
    var i = 0;
    while (i < params.length) {
      var p = parseInt(params[i] || "0", 10);
      if (p === 0) { state = {}; }
      else if (p === 1) state.bold = true;
      else if (p === 2) state.dim = true;
      else if (p === 3) state.italic = true;
      else if (p === 4) state.underline = true;
      else if (p === 7) state.inverse = true;
      else if (p === 9) state.strike = true;
      else if (p === 22) { state.bold = false; state.dim = false; }
      else if (p === 23) state.italic = false;
      else if (p === 24) state.underline = false;
      else if (p === 27) state.inverse = false;
      else if (p === 29) state.strike = false;
      else if (p >= 30 && p <= 37) state.fg = { cls: p - 30 };
      else if (p >= 90 && p <= 97) state.fg = { cls: p - 90 + 8 };
      else if (p === 39) state.fg = null;
      else if (p >= 40 && p <= 47) state.bg = { cls: p - 40 };
      else if (p >= 100 && p <= 107) state.bg = { cls: p - 100 + 8 };
      else if (p === 49) state.bg = null;
      else if (p === 38 || p === 48) {
        var r = extended(params, i);
        if (p === 38) state.fg = r[0]; else state.bg = r[0];
        i = r[1];
        continue;
      }
      i++;
    }
    return state;
  }

  function openTag(state) {
    var classes = [], styles = [];
    var fg = state.fg, bg = state.bg;
    if (state.inverse) { var t = fg; fg = bg || { cls: "bg" }; bg = t || { cls: "fg" }; }
    if (fg) { if (fg.rgb) styles.push("color:rgb(" + fg.rgb.join(",") + ")"); else classes.push("ansi-fg-" + fg.cls); }
    if (bg) { if (bg.rgb) styles.push("background-color:rgb(" + bg.rgb.join(",") + ")"); else classes.push("ansi-bg-" + bg.cls); }
    if (state.bold) classes.push("ansi-bold");
    if (state.dim) classes.push("ansi-dim");
    if (state.italic) classes.push("ansi-italic");
    if (state.underline) classes.push("ansi-underline");
    if (state.strike) classes.push("ansi-strike");
    if (!classes.length && !styles.length) return "";
    return '<span' + (classes.length ? ' class="' + classes.join(" ") + '"' : "") +
      (styles.length ? ' style="' + styles.join(";") + '"' : "") + ">";
  }

  function toHtml(text, highlight) {
    if (text.indexOf("\x1b") < 0) {
      if (text.indexOf("\r") >= 0) text = afterReturn(text);
      return marked(text.replace(CONTROL, ""), highlight);
    }
    text = afterReturn(text);
    var out = "", state = {}, last = 0, m;
    SEQUENCE.lastIndex = 0;
    while ((m = SEQUENCE.exec(text)) !== null) {
      var piece = text.slice(last, m.index).replace(CONTROL, "");
      if (piece) {
        var open = openTag(state);
        out += open + marked(piece, highlight) + (open ? "</span>" : "");
      }
      if (m[2] === "m") state = applySgr(state, m[1] || "");
      last = m.index + m[0].length;
    }
    var rest = text.slice(last).replace(CONTROL, "");
    if (rest) {
      var tag = openTag(state);
      out += tag + marked(rest, highlight) + (tag ? "</span>" : "");
    }
    return out;
  }

  window.BerthAnsi = { toHtml: toHtml, escape: escape, strip: strip };
})();
