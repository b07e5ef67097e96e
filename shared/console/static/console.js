// Berth console: small enhancements over pages that work without
// scripts (copy buttons, auto-submitting selects, select-all boxes).
// Loaded from the console's own origin; the CSP allows nothing else.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function toast(msg) {
    var t = document.getElementById("toast");
    if (!t) return;
    t.textContent = msg;
    t.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.classList.remove("show"); }, 2500);
  }

  function fallbackCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-copy]");
    if (!b) return;
    ev.preventDefault();
    var text = b.getAttribute("data-copy");
    var done = function () {
      b.setAttribute("data-copied", text);
      toast("Copied: " + text);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        if (fallbackCopy(text)) done(); else toast("Copy failed: select the text and copy it");
      });
    } else if (fallbackCopy(text)) {
      done();
    } else {
      toast("Copy failed: select the text and copy it");
    }
  });

  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.matches("select[data-autosubmit]") && el.form) {
      el.form.requestSubmit();
    }
    if (el.matches("input[data-select-all]")) {
      var scope = el.closest("form") || document;
      scope.querySelectorAll("input[type=checkbox][name='" + el.getAttribute("data-select-all") + "']").forEach(function (c) {
        c.checked = el.checked;
      });
    }
  });

  // After htmx swaps in a new page, put focus on its main region so a
  // keyboard or screen reader user starts at the top of it.
  document.addEventListener("htmx:afterSettle", function (ev) {
    if (ev.detail && ev.detail.boosted) {
      var m = document.getElementById("main");
      if (m) m.focus({ preventScroll: true });
    }
  });
})();
