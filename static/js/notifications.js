// Notification pages: select a calendar feed address when it gets focus, so it is easy to copy.
(function () {
  "use strict";
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el.dataset && el.dataset.selectOnFocus !== undefined && el.select) {
      el.select();
    }
  });
})();
