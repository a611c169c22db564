// Nothing typed is lost: the vehicle's form (temperatures, names, checks, plate, origins) is saved in the laptop's
// store while the officer types, and comes back when the vehicle does — after a reload, a browser or program crash
// (the camera reads the pass again), or a scan that sent the vehicle back to the queue (checkpoint_client/drafts.py).
// screen.js calls leave() before the form changes vehicle, show(v) once a vehicle is on it, done() when it was
// decided or dropped.
"use strict";

const Drafts = (() => {
  const { t, el, token, lang } = Screen;
  const $ = (id) => document.getElementById(id);
  const SAVE_MS = 300;      // typing pauses this long: save (a crash loses at most this much)
  let current = null;       // {key, id} of the vehicle on the form
  let timer = null;
  let touched = false;      // typed into since show(): a draft arriving late must not overwrite it
  let restoring = false;
  let chain = Promise.resolve();  // requests in order: a late save must never bring back a deleted draft
  const rows = new MutationObserver(changed);  // "+" and "-" add and remove people
  let run = null;  // this run of the program (GET /api/input): vehicle numbers start again at each run
  Scanner.config.then((data) => { if (data) run = data.run; });

  function keyOf(v) {
    if (v.kind === "nopass") return "nopass";  // the last vehicle without a pass, back with N
    if (v.kind !== "pass" || !v.checked) return null;  // a stray code has no form
    if (v.claims && v.claims.pass_id) return `pass:${v.claims.pass_id}`;
    const claimed = v.claimed && (v.claimed.pass_id || v.claimed.serial);  // a pass that did not verify
    if (typeof claimed === "string" && /^[0-9A-Za-z._-]{1,64}$/.test(claimed)) return `claimed:${claimed}`;
    return run ? `vehicle:${run}-${v.id}` : null;
  }

  function send(method, key, form) {
    const options = { method, keepalive: true, headers: { "X-Screen-Token": token, "X-Screen-Lang": lang } };
    let path = "/api/drafts";
    if (form === undefined) path += `?key=${encodeURIComponent(key)}`;
    else {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify({ key, form });
    }
    chain = chain.then(() => fetch(path, options).catch(() => null));
    return chain;
  }

  const value = (id) => ($(id) ? $(id).value : "");

  function collect() {
    return {
      people: [...$("people").rows].map((row, i) => ({
        role: row.dataset.role,
        fixed: !!row.dataset.fixed,
        name: (row.dataset.fixed ? row.cells[1].textContent : value(`name-${i}`)).slice(0, 50),
        temperature: value(`temp-${i}`),
        origin: value(`origin-${i}`),
      })),
      checks: { plate: Form.checked("check-plate"), person: Form.checked("check-person"), licence: Form.checked("check-licence") },
      plate_read: value("plate-read"),
      id_last4: value("id-last4"),
      plate: value("plate"),
      vehicle_origin: value("vehicle-origin"),
      enterprise: value("enterprise"),
      referral: referral(),
      ...Bus.draft(),  // a bus's roll call (issue 14)
    };
  }

  function referral() {
    if (!$("referral-row") || $("referral-row").hidden) return "";
    return ($("referral-choice").hidden ? $("referral-text").value : $("referral-choice").value).slice(0, 100);
  }

  function note(text) {  // a neutral line: what came back is information, not an error
    let chip = $("draft-note");
    if (!chip) {
      // Under the QR text field, in the left column: a line here moves nothing on the vehicle's form.
      chip = el("div", { id: "draft-note", class: "hint", role: "status" });
      document.getElementById("paste-form")?.after(chip);
    }
    chip.textContent = text;
    chip.hidden = !text;
  }

  function save() {
    clearTimeout(timer);
    timer = null;
    if (current) send("PUT", current.key, collect());
  }

  function changed() {
    if (!current || restoring) return;
    touched = true;
    clearTimeout(timer);
    timer = setTimeout(save, SAVE_MS);
  }

  function setChecks(checks) {
    for (const [name, picked] of Object.entries(checks || {})) {
      for (const input of document.getElementsByName(`check-${name}`)) {
        input.checked = picked !== null && input.value === (picked ? "yes" : "no");
      }
    }
    $("plate-read").hidden = Form.checked("check-plate") !== false;
    const all = ["check-plate", "check-person", "check-licence"].every((name) => Form.checked(name) === true);
    $("confirm-all").classList.toggle("done", all);
  }

  function restore(v, form) {
    restoring = true;
    try {
      const offPass = v.kind === "pass" && v.valid;
      const rendered = [...$("people").rows];
      const list = form.people.map((p, i) => {
        if (p.fixed) {  // a person on the pass: the row the pass gave, unless the officer removed it ("-")
          const found = rendered.findIndex((row) => row && row.dataset.role === p.role && row.cells[1].textContent === p.name);
          if (found >= 0) return rendered.splice(found, 1, null)[0];
          return null;
        }
        return Form.personRow({ role: p.role, name: p.name, offPass: offPass && p.role === "passenger" }, i);
      });
      if (list.some(Boolean)) {
        $("people").replaceChildren(...list.filter(Boolean));
        Form.renumber();
      }
      const people = form.people.filter((p, i) => list[i]);
      people.forEach((p, i) => {
        if ($(`name-${i}`) && !p.fixed) $(`name-${i}`).value = p.name;
        if ($(`temp-${i}`)) $(`temp-${i}`).value = p.temperature;
        if ($(`origin-${i}`)) $(`origin-${i}`).value = p.origin;
      });
      if (offPass) setChecks(form.checks);
      for (const id of ["plate-read", "id-last4", "plate", "vehicle-origin", "enterprise"]) {
        const saved = form[id.replace("-", "_")];
        if ($(id) && saved) $(id).value = saved;
      }
      // What listens to typing (the fever's referral row, region names) sees the restored values too.
      for (const input of $("decide-form").querySelectorAll("input:not([type=radio])")) {
        if (input.value) input.dispatchEvent(new Event("input", { bubbles: true }));
      }
      Bus.restore(form);  // a bus's roll call comes back too
      if (form.referral && !$("referral-row").hidden) {
        $("referral-text").value = form.referral;
        if ([...$("referral-choice").options].some((option) => option.value === form.referral)) $("referral-choice").value = form.referral;
      }
      // The officer goes on where the typing stopped: the first empty temperature.
      const empty = [...document.querySelectorAll("#people input[data-temp]")].find((input) => !input.value);
      if (empty) empty.focus();
      document.body.dataset.draft = "restored";
      rows.takeRecords();
    } finally {
      restoring = false;
    }
  }

  async function show(v) {
    touched = false;
    delete document.body.dataset.draft;
    const key = keyOf(v);
    current = key ? { key, id: v.id } : null;
    rows.takeRecords();  // the rows the vehicle was just shown with are not typing
    if (!key) return;
    await chain;  // the save of a vehicle that just left goes first
    const response = await fetch(`/api/drafts?key=${encodeURIComponent(key)}`, {
      headers: { "X-Screen-Token": token, "X-Screen-Lang": lang },
    }).catch(() => null);
    const data = response && response.ok ? await response.json() : null;
    if (!data || !data.form || !current || current.id !== v.id || touched) return;
    restore(v, data.form);
    note(t("draft_restored", { time: new Date(data.saved_at).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB") }));
  }

  function leave() {  // the form is about to show another vehicle: what was typed for this one is saved now
    if (timer) save();
    current = null;
    note("");
  }

  function done() {  // decided or dropped: the draft goes
    clearTimeout(timer);
    timer = null;
    if (current) send("DELETE", current.key);
    current = null;
    delete document.body.dataset.draft;
    note("");
  }

  const form = $("decide-form");
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  $("confirm-all").addEventListener("click", changed);  // sets the checks without a change event
  rows.observe($("people"), { childList: true });
  window.addEventListener("pagehide", () => { if (timer) save(); });

  return { show, leave, done, keyOf };
})();
