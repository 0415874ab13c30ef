// Scheduling helpers: a suggested slot fills the window form's start and end.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-fill-window]");
    if (!button) {
      return;
    }
    var form = button.closest("form");
    if (!form) {
      return;
    }
    form.querySelector("[name=starts_at]").value = button.dataset.starts;
    form.querySelector("[name=ends_at]").value = button.dataset.ends;
    form.querySelectorAll("[data-fill-window]").forEach(function (b) {
      b.classList.toggle("active", b === button);
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
  });
})();
