// Run mode and sign-off panels: behaviour kept out of templates (the CSP forbids inline scripts).
(function () {
  "use strict";
  // Someone is typing in the board (a downtime, a note, a chosen file): a poll must
  // not wipe it, neither when it starts nor when its answer arrives.
  function busy(board) {
    var active = document.activeElement;
    if (active && board.contains(active) && active.matches("input, textarea, select")) {
      return true;
    }
    var fields = board.querySelectorAll("input, textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "file" ? f.files && f.files.length : f.type !== "hidden" && f.value !== f.defaultValue) {
        return true;
      }
      // A reason or note kept from a refused click (its default value) is still the
      // person's text: a refresh would drop it.
      if (f.type === "text" && f.value !== "") {
        return true;
      }
    }
    return false;
  }
  function isPoll(detail) {
    var elt = detail.elt;
    return elt && elt.matches && elt.matches("[data-run-board]") &&
      detail.requestConfig && detail.requestConfig.verb === "get";
  }
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (isPoll(event.detail) && busy(event.detail.elt)) { event.preventDefault(); }
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (isPoll(detail) && busy(detail.elt)) {
      detail.shouldSwap = false;
      return;
    }
    // A refused change (400) comes back as the same piece with the reason in it: show it.
    var target = detail.target;
    if (detail.xhr.status === 400 && target && target.closest && target.closest("[data-swap-errors]")) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });
})();
