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
})();
