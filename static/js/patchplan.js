// PatchPlan's own behaviour. Kept out of templates so the CSP can forbid inline scripts.
(function () {
  "use strict";
  // Ask before a destructive form is submitted: <form data-confirm="Remove X?">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  // Auto-submit selects marked data-autosubmit (role pickers, filters).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.dataset && el.dataset.autosubmit !== undefined && el.form && !el.form.hasAttribute("hx-post")) {
      el.form.requestSubmit();
    }
  });
})();
