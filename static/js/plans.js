// Plan pages: small behaviours kept out of the templates (the CSP forbids inline scripts).
(function () {
  "use strict";
  // A comment posted with htmx: clear the box once the server accepted it.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form && form.matches && form.matches("form[data-reset-on-success]") && event.detail.successful) {
      form.reset();
    }
  });
  // "Tick all" on the scope finder.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-check-all]");
    if (!button) { return; }
    var form = button.closest("form");
    form.querySelectorAll("input[type=checkbox]:not(:disabled)").forEach(function (box) { box.checked = true; });
  });
  // A document text's editor: Write and Preview tabs (the Preview tab's htmx request
  // renders the typed text; the textarea only hides, so nothing typed is lost).
  function chooseTab(tab) {
    var editor = tab.closest("[data-md-editor]");
    editor.querySelectorAll("[data-md-tab]").forEach(function (other) {
      var on = other === tab;
      other.classList.toggle("active", on);
      other.setAttribute("aria-selected", on ? "true" : "false");
      other.tabIndex = on ? 0 : -1;
    });
    editor.querySelectorAll("[data-md-panel]").forEach(function (panel) {
      panel.hidden = panel.dataset.mdPanel !== tab.dataset.mdTab;
    });
  }
  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest("[data-md-tab]");
    if (tab) { chooseTab(tab); }
  });
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest("[data-md-tab]");
    if (!tab || (event.key !== "ArrowLeft" && event.key !== "ArrowRight")) { return; }
    var tabs = Array.prototype.slice.call(tab.parentNode.querySelectorAll("[data-md-tab]"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    next.focus();
    next.click();
    event.preventDefault();
  });
})();
