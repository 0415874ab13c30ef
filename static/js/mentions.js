// @mention autocomplete for a plan's comment box: typing "@al" lists the plan
// team's members (a JSON endpoint scoped by the access selectors) in an ARIA
// listbox. Arrow keys move, Enter or Tab picks, Escape closes, a click picks.
(function () {
  "use strict";
  var TOKEN = /(^|[^\w@.])@([\w.+-]*)$/;

  function setup(box) {
    var input = box.querySelector("textarea");
    var list = box.querySelector("[role=listbox]");
    if (!input || !list) { return; }
    var url = box.getAttribute("data-mention-url");
    var items = [];
    var active = -1;
    var timer = null;
    var asked = 0;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");

    function token() {
      var before = input.value.slice(0, input.selectionStart);
      var match = TOKEN.exec(before);
      return match ? { start: before.length - match[2].length - 1, query: match[2] } : null;
    }

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      items = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      active = index;
      items.forEach(function (item, i) {
        item.el.setAttribute("aria-selected", i === index ? "true" : "false");
        item.el.classList.toggle("active", i === index);
      });
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", items[index].el.id);
        items[index].el.scrollIntoView({ block: "nearest" });
      }
    }

    function pick(index) {
      var found = token();
      if (!found || index < 0 || index >= items.length) { close(); return; }
      var name = items[index].username;
      var value = input.value;
      var end = input.selectionStart;
      input.value = value.slice(0, found.start) + "@" + name + " " + value.slice(end);
      var caret = found.start + name.length + 2;
      input.setSelectionRange(caret, caret);
      close();
      input.focus();
    }

    function show(results) {
      list.innerHTML = "";
      items = results.map(function (person, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.className = "list-group-item list-group-item-action py-1";
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.username = person.username;
        var strong = document.createElement("strong");
        strong.textContent = "@" + person.username;
        li.appendChild(strong);
        if (person.name && person.name !== person.username) {
          li.appendChild(document.createTextNode(" " + person.name));
        }
        li.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the textarea
          pick(i);
        });
        list.appendChild(li);
        return { el: li, username: person.username };
      });
      if (!items.length) { close(); return; }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(0);
    }

    function lookup() {
      var found = token();
      if (!found) { close(); return; }
      var ticket = ++asked;
      fetch(url + "?q=" + encodeURIComponent(found.query), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (data) {
          if (ticket === asked) { show(data.results || []); } // only the latest answer
        })
        .catch(close);
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(lookup, 120);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden || !items.length) { return; }
      if (event.key === "ArrowDown") {
        event.preventDefault();
        highlight((active + 1) % items.length);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight((active - 1 + items.length) % items.length);
      } else if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        pick(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  function init(root) {
    root.querySelectorAll("[data-mention-box]").forEach(function (box) {
      if (!box.dataset.mentionReady) {
        box.dataset.mentionReady = "1";
        setup(box);
      }
    });
  }
  init(document);
  document.body.addEventListener("htmx:load", function (event) { init(event.target); });
})();
