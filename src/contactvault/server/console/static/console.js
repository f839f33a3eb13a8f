// contactvault console: the little that plain HTML and htmx do not do. No inline scripts anywhere (strict CSP).
(function () {
  "use strict";

  // "Select all on this page": tick or untick every row checkbox of the form it belongs to.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-select-page")) return;
    var form = box.form;
    if (!form) return;
    form.querySelectorAll('input[type="checkbox"][data-row]').forEach(function (row) {
      row.checked = box.checked;
    });
    form.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // After htmx swaps new content in, move focus to a heading marked for it and announce its message, so that
  // keyboard and screen-reader users learn what changed.
  document.addEventListener("htmx:after:swap", function () {
    var target = document.querySelector("[data-focus-after-swap]");
    if (target instanceof HTMLElement) {
      target.removeAttribute("data-focus-after-swap");
      target.focus();
    }
    var announce = document.querySelector("[data-announce]");
    var status = document.getElementById("status");
    if (announce && status) {
      status.textContent = announce.getAttribute("data-announce") || "";
      announce.removeAttribute("data-announce");
    }
  });
})();
