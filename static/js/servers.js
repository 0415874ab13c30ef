// Server pages: select-all for bulk actions, copy buttons for the push one-liners.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.dataset || !box.dataset.selectAll) return;
    document.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]').forEach(function (el) {
      el.checked = box.checked;
    });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
      });
    }
  });
})();
