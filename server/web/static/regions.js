// Region picker (issue 13): fills six-digit GB/T 2260 codes into the inputs named by #region-picker's
// data-fields, by searching (name, pinyin, initials: 昆山 / kunshan / ks; a place's other readings too, 长治
// changzhi) or by province → city → county.
// The data is /static/regions.json, the table the server checks new input against, so the picker offers exactly
// the codes the server accepts. Without this script (or before the data arrives) the inputs take typed codes.
// A field listed in data-list-fields holds several codes (travel history): a pick adds to it.
(function () {
  "use strict";
  var MAX_RESULTS = 12;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function Table(rows) {
    var byCode = {};
    rows.forEach(function (r) {
      byCode[r[0]] = { code: r[0], name: r[1], pinyin: r[2].split(" "), initials: r[3].split(" "), placeholder: r[4] === 1 };
    });
    this.byCode = byCode;
    this.rows = rows.map(function (r) { return byCode[r[0]]; });
  }
  Table.prototype.parent = function (code) {
    if (/0000$/.test(code)) return null;
    if (/00$/.test(code)) return code.slice(0, 2) + "0000";
    var city = code.slice(0, 4) + "00";
    return this.byCode[city] ? city : code.slice(0, 2) + "0000";
  };
  // What a level lists under `code` (null: provinces); placeholder levels (市辖区 …) give way to their children.
  Table.prototype.children = function (code) {
    var self = this, out = [];
    this.rows.forEach(function (r) {
      if (self.parent(r.code) !== code) return;
      if (r.placeholder) out = out.concat(self.children(r.code));
      else out.push(r);
    });
    return out;
  };
  // The chain of selectable regions from the province down to `code`.
  Table.prototype.path = function (code) {
    var out = [];
    for (var c = code; c; c = this.parent(c)) {
      var r = this.byCode[c];
      if (r && !r.placeholder) out.unshift(r);
    }
    return out;
  };
  Table.prototype.label = function (code) {
    return this.path(code).map(function (r) { return r.name; }).join(" ");
  };
  // The same rule as server/regions/table.py search(): name contains, pinyin/initials/code start with.
  Table.prototype.search = function (query) {
    var q = query.replace(/\s+/g, "").toLowerCase();
    if (!q) return [];
    var level = function (c) { return /0000$/.test(c) ? 0 : /00$/.test(c) ? 1 : 2; };
    var starts = function (s) { return s.indexOf(q) === 0; };
    return this.rows.filter(function (r) {
      return !r.placeholder && (r.name.indexOf(q) >= 0 || r.pinyin.some(starts) ||
        r.initials.some(starts) || r.code.indexOf(q) === 0);
    }).sort(function (a, b) {
      return level(a.code) - level(b.code) || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
    }).slice(0, MAX_RESULTS);
  };

  function Picker(table, input, words, multi) {
    var id = input.id;
    var box = el("div", { "class": "region-picker", role: "group", "aria-label": words.group });
    var search = el("input", {
      type: "search", id: id + "-search", "class": "region-search", autocomplete: "off",
      role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": id + "-results",
      placeholder: words.search, "aria-label": words.search,
    });
    var list = el("ul", { id: id + "-results", role: "listbox", "class": "region-results", hidden: "" });
    var selects = [words.province, words.city, words.county].map(function (label, level) {
      var s = el("select", { id: id + "-level" + level, "aria-label": label, "class": "region-level" });
      s.appendChild(el("option", { value: "" }, label));
      return s;
    });
    var shown = el("output", { "class": "region-name", "for": id, "aria-live": "polite" });
    var row = el("div", { "class": "region-levels" });
    selects.forEach(function (s) { row.appendChild(s); });
    box.appendChild(search);
    box.appendChild(list);
    box.appendChild(row);
    box.appendChild(shown);
    var field = input.closest(".field") || input.parentNode;
    field.appendChild(box);

    var results = [], active = -1;

    function fill(select, regions, chosen) {
      while (select.options.length > 1) select.remove(1);
      regions.forEach(function (r) {
        var o = el("option", { value: r.code }, r.name);
        if (r.code === chosen) o.selected = true;
        select.appendChild(o);
      });
      select.disabled = regions.length === 0;
    }

    // Show `code` in the three selects (and nothing below the deepest level it names).
    function cascade(code) {
      var path = code ? table.path(code) : [];
      var parent = null;
      selects.forEach(function (s, level) {
        var chosen = path[level] ? path[level].code : "";
        fill(s, level === 0 || parent ? table.children(parent) : [], chosen);
        parent = chosen || null;
      });
    }

    function codes() {
      return input.value.split(/[,，、;；\s]+/).filter(function (c) { return c; });
    }

    function describe() {
      var current = multi ? codes() : [input.value.trim()];
      shown.textContent = current.filter(function (c) { return c; }).map(function (c) {
        if (!/^\d{6}$/.test(c)) return "";
        return table.byCode[c] ? c + " " + table.label(c) : c + " " + words.unknown;
      }).filter(function (t) { return t; }).join(words.separator);
    }

    function choose(code) {
      if (multi) {
        var list = codes();
        if (list.indexOf(code) < 0) list.push(code);
        input.value = list.join(", ");
      } else {
        input.value = code;
      }
      input.dispatchEvent(new Event("change", { bubbles: true }));
      describe();
    }

    function close() {
      list.hidden = true;
      search.setAttribute("aria-expanded", "false");
      search.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = list.children;
      if (!items.length) return;
      active = (index + items.length) % items.length;
      Array.prototype.forEach.call(items, function (li, i) { li.setAttribute("aria-selected", String(i === active)); });
      search.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }

    function pick(region) {
      choose(region.code);
      cascade(region.code);
      search.value = "";
      close();
    }

    search.addEventListener("input", function () {
      results = table.search(search.value);
      list.textContent = "";
      results.forEach(function (r, i) {
        var li = el("li", { id: id + "-option-" + i, role: "option", "aria-selected": "false" });
        li.appendChild(el("span", { "class": "region-option-name" }, r.name));
        li.appendChild(el("small", {}, " " + table.label(r.code) + " · " + r.code));
        // mousedown, not click: the search box must not lose focus (and close the list) first.
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(r); });
        list.appendChild(li);
      });
      if (!results.length && search.value.trim()) list.appendChild(el("li", { "class": "region-none" }, words.none));
      list.hidden = !search.value.trim();
      search.setAttribute("aria-expanded", String(!list.hidden));
      active = -1;
      if (results.length) highlight(0);
    });
    search.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        highlight(active + (e.key === "ArrowDown" ? 1 : -1));
      } else if (e.key === "Enter") {
        // Enter picks the highlighted region; it must never submit the form from here.
        e.preventDefault();
        if (results.length && !list.hidden) pick(results[Math.max(active, 0)]);
      } else if (e.key === "Escape") {
        close();
      }
    });
    search.addEventListener("blur", close);

    selects.forEach(function (s, level) {
      s.addEventListener("change", function () {
        var code = s.value || (level > 0 ? selects[level - 1].value : "");
        var parent = s.value || null;
        for (var below = level + 1; below < selects.length; below++) {
          fill(selects[below], parent ? table.children(parent) : [], "");
          parent = null;
        }
        if (code) choose(code);
      });
    });
    input.addEventListener("input", describe);
    input.addEventListener("change", describe);

    var initial = multi ? codes().slice(-1)[0] : input.value.trim();
    cascade(table.byCode[initial] ? initial : "");
    describe();
  }

  function start() {
    var config = document.getElementById("region-picker");
    if (!config) return;
    var words = config.dataset;
    var multi = (words.listFields || "").split(/\s+/);
    fetch(config.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        var table = new Table(data.regions);
        (words.fields || "").split(/\s+/).forEach(function (name) {
          var input = document.getElementById("f-" + name);
          if (input) new Picker(table, input, words, multi.indexOf(name) >= 0);
        });
        config.setAttribute("data-ready", "true");
      })
      .catch(function () { /* offline: the inputs still take typed codes */ });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
