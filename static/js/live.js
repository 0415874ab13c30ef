// The open plan page (and run mode) keeps up with others: every 1.5 s while the tab is
// visible it asks the server whether anything changed since the counter it holds (an
// idle answer is a bodiless 204), re-fetches only the sections and pieces that changed,
// and shows who else has the plan open. A section with its editor open is never
// replaced: it says "changed by NAME" and its "show" button puts the saved text beside
// the form. The other pieces (data-live-panel="NAME": activity, readiness, milestones,
// windows, timeline, run) refresh through their own hx-get on a "refresh" event; one
// with a field being typed in (focused, or changed and not saved) waits until it is
// left, so nothing typed is ever replaced; nor is one with a row's editor open. Nor is
// a section or piece with a pointer held down in it or a request of its own on the way:
// see "pressed" and "inflight" below. A piece with a form marked data-live-filters (the
// tasks card's filters) refreshes with that form's values instead of its URL's query:
// the refresh shows what the person chose, and those fields hold it back only while
// focused.
(function () {
  "use strict";
  var box = document.getElementById("plan-live");
  if (!box || !window.fetch) { return; }
  var url = box.dataset.liveUrl;
  var me = box.dataset.me || "";
  var rev = box.dataset.rev || "0";
  // Each section's counter as this page shows it; a section whose counter moved is refetched.
  var known = JSON.parse(box.dataset.sections || "{}");
  var hereTag = "";
  var busy = false;
  var every = parseInt(box.dataset.every || "1500", 10);
  // The page's words, translated by the template: NAME and SECTION are filled in here.
  function say(key, name, section) {
    return (box.dataset[key] || "").replace("NAME", name || "").replace("SECTION", section || "");
  }

  function editingSection() {
    var open = document.querySelector("[data-section].is-editing");
    return open ? open.dataset.section : "";
  }

  function refresh(section) {
    // The section is the request's source too: htmx queues requests per source, and
    // with one shared source (the default, body) it would drop all but the last.
    return window.htmx.ajax("GET", section.dataset.sectionUrl, { source: section, target: section, swap: "outerHTML" });
  }

  function markChanged(section, by) {
    var note = section.querySelector("[data-section-changed]");
    if (!note) { return; }
    note.querySelector("[data-section-changed-text]").textContent = say("tChanged", by || "?");
    note.hidden = false;
  }

  // Pieces whose counter moved and that are not refreshed yet (one was being typed in).
  var stale = {};
  var refreshedAt = {};

  // The element a pointer is held down on. A click is a press and a release a tenth of
  // a second apart; a refresh that replaced the button in between swallowed the click
  // (the pressed element is gone when the mouse comes up, so no click is fired). The
  // section or piece under the pointer waits and refreshes after the release.
  var pressed = null;
  var heldSections = {};
  function underPointer(elt) {
    return pressed !== null && elt.contains(pressed);
  }
  // Requests people set off inside a section or piece (an Edit link opening its row's
  // editor, a picker saving) whose answer is on its way: a refresh that replaced the
  // piece meanwhile left the answer nowhere to go (an editor opened with Enter never
  // showed). The piece waits for them too.
  var inflight = [];
  function isRefresh(detail) {
    var elt = detail.elt;
    return !!(elt && elt.dataset && (elt.dataset.livePanel || elt.dataset.section) &&
      detail.requestConfig && detail.requestConfig.verb === "get");
  }
  function awaited(elt) {
    inflight = inflight.filter(function (e) { return e.isConnected; });
    return inflight.some(function (e) { return e !== elt && elt.contains(e); });
  }
  function held(elt) {
    // Also while an answer swapped into it settles: for those 20 ms htmx gives the new
    // elements the old ones' attributes (an editor just opened would not look open).
    return underPointer(elt) || awaited(elt) ||
      elt.classList.contains("htmx-settling") || !!elt.querySelector(".htmx-settling");
  }
  function flushHeld() {
    Object.keys(heldSections).forEach(function (name) {
      var section = document.querySelector("[data-section=\"" + CSS.escape(name) + "\"]");
      if (!section || held(section)) { return; }
      delete heldSections[name];
      if (!section.classList.contains("is-editing")) { refresh(section); }
    });
    refreshPanels();
  }
  function release() {
    if (pressed === null) { return; }
    // The click follows the release in the same task: let it go first.
    setTimeout(function () {
      pressed = null;
      flushHeld();
    }, 0);
  }
  document.addEventListener("pointerdown", function (event) { pressed = event.target; }, true);
  document.addEventListener("pointerup", release, true);
  document.addEventListener("pointercancel", release, true);
  window.addEventListener("blur", release);
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (!isRefresh(event.detail)) { inflight.push(event.detail.elt); }
  });
  // After the answer's swap (htmx fires it on errors, aborts and timeouts too), and after
  // its settle: until then htmx gives the swapped-in element the old one's attributes
  // (an open editor would not look open yet).
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var i = inflight.indexOf(event.detail.elt);
    if (i < 0) { return; }
    inflight.splice(i, 1);
    setTimeout(flushHeld, window.htmx.config.defaultSettleDelay + 1);
  });

  function typing(panel) {
    // A row with its editor open (or its merge view) is being worked on, typed in or not.
    if (panel.querySelector("[data-row-editor]")) { return true; }
    // Fields kept through a swap (hx-preserve) don't hold a piece back.
    var fields = panel.querySelectorAll("input:not([type=hidden]):not([hx-preserve]), textarea:not([hx-preserve]), select:not([hx-preserve])");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f === document.activeElement) { return true; }
      if (f.form && f.form.hasAttribute("data-live-filters")) {
        // Its value travels with the refresh (below): nothing of it is lost.
        continue;
      } else if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) { return true; }
      } else if (f.tagName === "SELECT" && f.dataset.options) {
        // A row's picker (its options filled in from the page's list) saves on change:
        // only focus holds it.
        continue;
      } else if (f.tagName === "SELECT") {
        var marked = false, moved = false;
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].defaultSelected) { marked = true; }
          if (f.options[j].selected !== f.options[j].defaultSelected) { moved = true; }
        }
        // With no option marked selected, a single select shows its first one.
        if (!marked && !f.multiple) { moved = f.selectedIndex > 0; }
        if (moved) { return true; }
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function panels(name) {
    return document.querySelectorAll("[data-live-panel~=\"" + CSS.escape(name) + "\"]");
  }

  function refreshPanels() {
    var now = Date.now();
    // Pieces that the clock alone changes (run mode: an overrunning window) also
    // refresh at least every data-live-max-age seconds.
    document.querySelectorAll("[data-live-max-age]").forEach(function (panel) {
      var name = panel.dataset.livePanel;
      var age = parseInt(panel.dataset.liveMaxAge, 10) * 1000;
      if (!refreshedAt[name]) { refreshedAt[name] = now; }
      if (now - refreshedAt[name] >= age) { stale[name] = true; }
    });
    Object.keys(stale).forEach(function (name) {
      var found = panels(name);
      var waiting = false;
      found.forEach(function (panel) {
        if (typing(panel) || held(panel)) { waiting = true; return; }
        window.htmx.trigger(panel, "refresh");
      });
      if (!waiting) {
        delete stale[name];
        refreshedAt[name] = now;
      }
    });
  }

  // What a piece's refresh asks with: its filter form's values (what the person chose
  // since the page loaded), each data-live-count="SELECTOR" field set to how many such
  // elements the piece shows now (rows loaded with "show more"), so the answer shows as
  // many. Null for a piece without such a form.
  function liveQuery(panel) {
    var form = panel.querySelector("form[data-live-filters]");
    if (!form) { return null; }
    form.querySelectorAll("input[data-live-count]").forEach(function (input) {
      input.value = String(panel.querySelectorAll(input.dataset.liveCount).length);
    });
    return new FormData(form);
  }

  document.body.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    var elt = detail.elt;
    if (!elt || !elt.dataset || !elt.dataset.livePanel || detail.verb !== "get") { return; }
    var values = liveQuery(elt);
    if (!values) { return; }
    // The page's own query (in the piece's URL) is for its first load only.
    detail.path = detail.path.split("?")[0];
    new Set(values.keys()).forEach(function (name) { detail.parameters[name] = values.getAll(name); });
    elt.dataset.liveAsked = new URLSearchParams(values).toString();
  });

  // A filter chosen or rows loaded while the piece's refresh was on its way: the answer
  // would take them back.
  function movedSinceAsked(panel) {
    var asked = panel.dataset.liveAsked;
    var values = asked !== undefined && liveQuery(panel);
    return !!values && new URLSearchParams(values).toString() !== asked;
  }

  // A refresh answered after someone started typing in its piece (or opened a row's
  // editor there, pressed a button in it, or changed what its refresh asks for) while
  // it was on its way is dropped; the piece stays stale and is fetched again once it is
  // left. Refreshes are the requests of the section or piece itself; what people click
  // inside it comes from inner elements and is never held.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    // The element that asked (detail.elt is where the answer goes: a section's Edit
    // link swaps its section too, and must not be held by its own request).
    var config = event.detail.requestConfig;
    var elt = config && config.elt;
    if (!elt || !elt.dataset || !isRefresh({ elt: elt, requestConfig: config })) { return; }
    if (elt.dataset.section && held(elt)) {
      event.detail.shouldSwap = false;
      heldSections[elt.dataset.section] = true;
      return;
    }
    if (!elt.dataset.livePanel) { return; }
    if (held(elt) || (elt.dataset.livePanel !== "run" && (typing(elt) || movedSinceAsked(elt)))) {
      event.detail.shouldSwap = false;
      stale[elt.dataset.livePanel] = true;
    }
  });

  function applyChanges(sections, lost) {
    Object.keys(sections).forEach(function (name) {
      var entry = sections[name];
      if (!lost && known[name] === entry.rev) { return; }
      known[name] = entry.rev;
      var section = document.querySelector("[data-section=\"" + CSS.escape(name) + "\"]");
      if (!section) {
        if (panels(name).length) { stale[name] = true; }
        return;
      }
      if (section.classList.contains("is-editing")) {
        if (entry.by !== me) { markChanged(section, entry.by); }
      } else if (held(section)) {
        heldSections[name] = true;
      } else {
        refresh(section);
      }
    });
  }

  function showPresence(people) {
    var list = box.querySelector("[data-presence-list]");
    var none = box.querySelector("[data-presence-none]");
    list.replaceChildren();
    document.querySelectorAll("[data-section-editors]").forEach(function (el) { el.textContent = ""; });
    none.hidden = people.length > 0;
    people.forEach(function (p) {
      var badge = document.createElement("span");
      badge.className = "badge rounded-pill text-bg-light border me-1";
      badge.dataset.testid = "present";
      badge.textContent = p.editing ? say("tEditing", p.name, p.editing_label.toLowerCase()) : say("tHere", p.name);
      list.appendChild(badge);
      var where = p.editing && document.querySelector("[data-section=\"" + CSS.escape(p.editing) + "\"] [data-section-editors]");
      if (where) { where.textContent = say("tEditingShort", p.name); }
    });
  }

  function poll() {
    if (busy || document.visibilityState !== "visible") { return; }
    busy = true;
    var query = "?rev=" + encodeURIComponent(rev) + "&here=" + encodeURIComponent(hereTag) +
      "&editing=" + encodeURIComponent(editingSection());
    fetch(url + query, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status !== 200) { return null; }
        return response.json();
      })
      .then(function (data) {
        if (!data) { return; }
        rev = String(data.rev);
        hereTag = data.here_tag;
        showPresence(data.here);
        if (data.sections) { applyChanges(data.sections, data.lost); }
      })
      .then(refreshPanels)
      .catch(function () { /* the next poll tries again (a restart, a dropped line) */ })
      .finally(function () { busy = false; });
  }

  // "show": the saved version beside the open editor, the typed text left alone.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-section-show]");
    if (!button) { return; }
    var section = button.closest("[data-section]");
    fetch(section.dataset.sectionUrl, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var saved = new DOMParser().parseFromString(html, "text/html").querySelector("[data-section]");
        var shown = section.querySelector("[data-section-saved]") || document.createElement("div");
        shown.dataset.sectionSaved = "";
        shown.className = "border rounded p-2 mb-2 bg-body-tertiary small";
        shown.replaceChildren();
        var title = document.createElement("div");
        title.className = "fw-semibold";
        title.textContent = say("tSaved");
        shown.appendChild(title);
        // The rendered section without its heading row and its "changed" note.
        Array.prototype.slice.call(saved.children, 2).forEach(function (el) {
          shown.appendChild(el.cloneNode(true));
        });
        button.closest("[data-section-changed]").after(shown);
      });
  });

  // Opening or closing an editor is said at once, not at the next tick: others see
  // "X is editing ..." without waiting a full interval more.
  var lastEditing = editingSection();
  document.body.addEventListener("htmx:afterSettle", function () {
    var now = editingSection();
    if (now !== lastEditing) {
      lastEditing = now;
      if (busy) { setTimeout(poll, 200); } else { poll(); }
    }
  });

  setInterval(poll, every);
  document.addEventListener("visibilitychange", poll);
  poll();
})();
