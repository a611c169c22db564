// What the clerk types on the application form, kept in this tab's sessionStorage (templates/applications/
// _draft_keeper.html): when the session ends and the form is refused, signing in again leads back to the form,
// which is filled in again from here. On the page after a successful save (data-draft-clear) the user's kept
// forms are dropped. Files cannot be kept: the browser never lets a page set a file input.
(function () {
  "use strict";
  var PREFIX = "checkpass.draft.";
  var SKIP = { csrf_token: true, escort_rows: true, action: true };

  function store() {
    try { return window.sessionStorage; } catch (e) { return null; }  // storage disabled: nothing is kept
  }

  var clear = document.querySelector("[data-draft-clear]");
  var storage = store();
  if (clear && storage) {
    var mine = PREFIX + clear.dataset.draftClear + ":";
    for (var i = storage.length - 1; i >= 0; i--) {
      var key = storage.key(i);
      if (key && key.indexOf(mine) === 0) storage.removeItem(key);
    }
  }

  var keeper = document.getElementById("draft-keeper");
  if (!keeper || !storage) return;
  var form = document.querySelector('form[action="' + keeper.dataset.draftForm + '"]');
  if (!form) return;
  var storeKey = PREFIX + keeper.dataset.draftUser + ":" + keeper.dataset.draftForm;

  function fields() {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && !SKIP[el.name] && el.type !== "file" && el.type !== "submit" && el.type !== "button" &&
        el.type !== "hidden";
    });
  }

  function snapshot() {
    var seen = {};
    return fields().map(function (el) {
      var n = (seen[el.name] = (seen[el.name] || 0) + 1) - 1;  // the n-th input of that name (escort rows)
      return [el.name, n, el.type === "checkbox" || el.type === "radio" ? (el.checked ? "1" : "") : el.value];
    });
  }

  function save() {
    try { storage.setItem(storeKey, JSON.stringify(snapshot())); } catch (e) { /* full: keep what we had */ }
  }

  function restore(saved) {
    var byName = {};
    fields().forEach(function (el) { (byName[el.name] = byName[el.name] || []).push(el); });
    var changed = false;
    saved.forEach(function (entry) {
      var el = (byName[entry[0]] || [])[entry[1]];
      if (!el) return;
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked !== (entry[2] === "1")) { el.checked = entry[2] === "1"; changed = true; }
      } else if (el.value !== entry[2]) {
        el.value = entry[2];
        changed = true;
      }
    });
    return changed;
  }

  function announce() {
    var note = document.createElement("p");
    note.className = "notice";
    note.id = "draft-restored";
    note.setAttribute("role", "status");
    note.textContent = keeper.dataset.textRestored + " ";
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link";
    discard.textContent = keeper.dataset.textDiscard;
    discard.addEventListener("click", function () {
      storage.removeItem(storeKey);
      window.location.reload();
    });
    note.appendChild(discard);
    form.parentNode.insertBefore(note, form);
  }

  // A page the server rendered in answer to a post (with errors, or an imported manifest) shows what was just
  // posted or the server's change to it: that is newer than anything kept, so it replaces what was kept.
  var kept = storage.getItem(storeKey);
  if (keeper.dataset.draftFresh !== "yes") {
    save();
  } else if (kept) {
    try {
      if (restore(JSON.parse(kept))) announce();
    } catch (e) {
      storage.removeItem(storeKey);
    }
  }
  form.addEventListener("input", save);
  form.addEventListener("change", save);
  form.addEventListener("submit", save);
})();
