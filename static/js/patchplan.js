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
  // In-place pickers (<select data-options="ID">) come with their current value only;
  // their options are shipped once per page in <template id="ID"> and copied in when
  // the picker is first touched, or when the browser is idle.
  function fillPicker(select) {
    if (select.dataset.filled) { return; }
    var source = document.getElementById(select.dataset.options);
    if (!source) { return; }
    select.dataset.filled = "1";
    var current = select.value;
    var options = source.content.cloneNode(true);
    var match = options.querySelector("option[value=\"" + CSS.escape(current) + "\"]");
    if (match) {
      match.selected = true;
      select.replaceChildren(options);
    } else {
      select.append(options);  // keep a value the list no longer has (a person who left)
    }
    select.value = current;
  }
  function fillFrom(event) {
    var el = event.target;
    if (el && el.matches && el.matches("select[data-options]")) { fillPicker(el); }
  }
  document.addEventListener("pointerdown", fillFrom, true);
  document.addEventListener("focusin", fillFrom, true);
  function fillAllWhenIdle() {
    var later = window.requestIdleCallback || function (fn) { return setTimeout(fn, 50); };
    // Within a second even on a page that is never idle (a busy machine, a large plan
    // refreshing live): a picker chosen from without being touched first (a script, an
    // assistive tool) found its options missing for as long as 30 s.
    later(function () {
      document.querySelectorAll("select[data-options]:not([data-filled])").forEach(fillPicker);
    }, { timeout: 1000 });
  }
  document.addEventListener("DOMContentLoaded", fillAllWhenIdle);
  document.addEventListener("htmx:afterSettle", fillAllWhenIdle);

  // A plan page row's editor (plans.views.rows): Escape is its Cancel; when it closes
  // (saved or cancelled), focus goes back to the row's Edit control, where it was.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) { return; }
    var editor = event.target.closest("[data-row-editor]");
    var cancel = editor && editor.querySelector("[data-row-cancel]");
    if (cancel) { event.preventDefault(); cancel.click(); }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.matches && target.matches("[data-row-editor]")) {
      var id = target.id;
      document.addEventListener("htmx:afterSettle", function refocus() {
        document.removeEventListener("htmx:afterSettle", refocus);
        var row = document.getElementById(id);
        var edit = row && !row.matches("[data-row-editor]") && row.querySelector("[data-row-edit]");
        if (edit) { edit.focus(); }
      });
    }
  });
})();
