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

  // An htmx form post answered with a redirect (HX-Redirect: e.g. "Confirm and unlock" leading to the task page)
  // loads a whole new page, where the focus would start at the top of the document. Remember that the post was
  // made, and on the page it leads to, move the focus to the main heading, as after a swap; a post answered with
  // a swap forgets it (the swap places the focus itself).
  var FOCUS_HEADING = "contactvault.focus-heading";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("hx-post")) {
      sessionStorage.setItem(FOCUS_HEADING, "1");
    }
  });
  if (sessionStorage.getItem(FOCUS_HEADING)) {
    sessionStorage.removeItem(FOCUS_HEADING);
    var heading = document.querySelector("main h1");
    if (heading instanceof HTMLElement) {
      if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  // After htmx swaps new content in, move focus to a heading marked for it and announce its message, so that
  // keyboard and screen-reader users learn what changed.
  document.addEventListener("htmx:after:swap", function () {
    sessionStorage.removeItem(FOCUS_HEADING);
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
    markScrollingTables();
  });

  // A table wider than the screen (at phone width) scrolls sideways inside its .table-wrap. Keyboard users can
  // scroll such a box only if it takes the focus, so a box that overflows becomes a tab stop, named by its table's
  // caption; one that fits stays out of the tab order.
  function markScrollingTables() {
    document.querySelectorAll(".table-wrap").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth) {
        var caption = box.querySelector("caption");
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table");
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  markScrollingTables(); // deferred: the page is parsed and styled by now
  window.addEventListener("resize", markScrollingTables);
})();
