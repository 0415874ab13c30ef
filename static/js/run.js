// Run mode and sign-off panels: behaviour kept out of templates (the CSP forbids inline scripts).
(function () {
  "use strict";
  // The board refreshes itself. The fields where people type free text (notes,
  // reasons, a chosen file) carry hx-preserve and a stable id: every swap, a poll's
  // or a click's answer, keeps them as they are, with focus and caret (htmx moves
  // the old element into the new board). A field that shows a recorded value (the
  // downtime) can't be kept that way: while it is focused or edited, a poll is
  // skipped instead.
  // A refusal shown on the board (a row's reason, "say why") stays long enough to be
  // read: the next polls wait ERROR_HOLD_MS after it appeared, or until the next click.
  var ERROR_HOLD_MS = 15000;
  function busy(board) {
    var shownAt = parseInt(board.dataset.errorShownAt || "0", 10);
    if (shownAt && Date.now() - shownAt < ERROR_HOLD_MS && board.querySelector("[role=alert]")) {
      return true;
    }
    var fields = board.querySelectorAll("input:not([hx-preserve]):not([type=hidden]), textarea:not([hx-preserve])");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f === document.activeElement || f.value !== f.defaultValue) {
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
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var board = document.getElementById("run-board");
    if (board && !isPoll(event.detail) && board.querySelector("[role=alert]")) {
      board.dataset.errorShownAt = String(Date.now());
    }
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
