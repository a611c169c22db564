// Plates typed fast, without a Chinese input method: while a plate field is focused, a row of province keys
// (the checkpoint's own province first, then its neighbours, then the rest: /api/input). At the start of a plate,
// keys 1–9 type the first nine (a plate never starts with a digit, so nothing else is lost); every key can be
// clicked. When the field is left, the plate is shown as the server will keep it (/api/plate: passcore's rule,
// never re-implemented here).
"use strict";

const Plates = (() => {
  const { t, el, api } = Screen;
  const FIELDS = ["plate", "plate-read"];
  let provinces = [];
  let row = null;

  Scanner.config.then((data) => { if (data) provinces = data.provinces; });

  function isProvince(ch) {
    return provinces.includes(ch);
  }

  function put(input, province) {
    // The province is the plate's first character: typed at the start, it replaces one already there.
    const rest = isProvince(input.value[0]) ? input.value.slice(1) : input.value;
    input.value = (province + rest).slice(0, input.maxLength > 0 ? input.maxLength : undefined);
    input.setSelectionRange(1, 1);
    input.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText", data: province }));
  }

  function keys(input) {
    const buttons = provinces.map((province, i) => el("button", {
      type: "button",
      class: "small province",
      tabindex: -1,
      title: i < 9 ? String(i + 1) : null,
      dataset: { province },
      onmousedown: (event) => event.preventDefault(),  // the plate field keeps the focus
      onclick: () => put(input, province),
    }, i < 9 ? el("sup", { text: String(i + 1) }) : "", province));
    const box = el("div", { class: "provinces", id: "provinces", role: "group", "aria-label": t("provinces_label") },
      ...buttons, el("span", { class: "hint", text: t("provinces_hint") }));
    box.style.display = "flex";
    box.style.flexWrap = "wrap";
    box.style.gap = "2px";
    box.style.margin = "4px 0";
    return box;
  }

  function onFocus(event) {
    const input = event.target;
    if (!FIELDS.includes(input.id) || !provinces.length) return;
    if (row) row.remove();
    row = keys(input);
    input.after(row);
  }

  function onBlur(event) {
    if (!FIELDS.includes(event.target.id)) return;
    if (row) row.remove();
    row = null;
    normalise(event.target);
  }

  function onKey(event) {
    const input = event.target;
    if (!FIELDS.includes(input.id) || event.ctrlKey || event.altKey || event.metaKey) return;
    if (!/^[1-9]$/.test(event.key) || input.selectionStart !== 0) return;
    const province = provinces[Number(event.key) - 1];
    if (!province) return;
    event.preventDefault();
    put(input, province);
  }

  // On leaving the field (not "change": typed keys the scanner held and replayed do not raise it).
  async function normalise(input) {
    if (!input.value.trim()) return;
    const typed = input.value;
    const result = await api("GET", `/api/plate?text=${encodeURIComponent(typed)}`);
    if (result.ok && input.value === typed && result.data.plate !== typed) {
      input.value = result.data.plate;
      input.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertReplacementText" }));
    }
  }

  document.addEventListener("focusin", onFocus);
  document.addEventListener("focusout", onBlur);
  document.addEventListener("keydown", onKey);

  return { put };
})();
