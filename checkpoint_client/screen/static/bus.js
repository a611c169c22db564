// Bus mode (issue 14): a valid personnel-transport pass turns the vehicle's form into a roll call. The manifest's
// pages arrive from the camera or the scanner (the desk keeps them by pass; each snapshot carries the manifest so
// far); the officer measures everyone with the thermometer gun and types only what is not normal, in one field:
//   12 Enter 381 Enter   passenger 12 measured 38.1        7 A   passenger 7 is not aboard (or "7 缺" Enter)
//   12 Enter Enter       passenger 12 back to untyped      +     someone aboard not on the manifest (crew row)
//   Enter (empty)        the rest normal: every passenger not typed is aboard and measured normal; then Decide.
// The crew (driver, manager, people not on the manifest) get a typed temperature as on any vehicle. A bus of 45
// all normal, pass and pages read by the camera: driver 3 keys + Enter, manager 3 + Enter, Enter (checks),
// Enter (the rest normal), Enter (decide) = 11 keys (docs/performance.md, "Bus roll call").
"use strict";

const Bus = (() => {
  const { t, el } = Screen;
  const $ = (id) => document.getElementById(id);
  let vehicle = null;     // the bus on the form: {id, claims, manifest}
  let roll = {};          // number -> {temperature} | {absent: true}: what the officer typed
  let restNormal = false; // the rest-normal key was pressed
  let selected = null;    // the passenger number waiting for a temperature
  let lastPage = 0;       // the page event already noted

  const active = () => vehicle !== null;
  const manifest = () => (vehicle && vehicle.manifest) || { passengers: [], scanned: [], missing: [], pages: 0 };
  const passenger = (n) => manifest().passengers.find((p) => p.n === n);
  const count = () => (vehicle ? vehicle.claims.bus.passengers : 0);

  function temperature(raw) {
    const text = raw.trim().replace(",", ".");
    return /^\d{3}$/.test(text) ? `${text.slice(0, 2)}.${text.slice(2)}` : text;  // 381 -> 38.1
  }

  function fever(value) {
    const threshold = Number(Screen.policy.fever_threshold_c || "37.3");
    const number = Number(value);
    return value !== "" && Number.isFinite(number) && number >= threshold;
  }

  function hasFever() {
    return active() && Object.values(roll).some((entry) => entry.temperature && fever(entry.temperature));
  }

  // ---- showing ---------------------------------------------------------------------------------------------

  function show(v) {
    vehicle = v;
    roll = {};
    restNormal = false;
    selected = null;
    $("bus-fields").hidden = false;
    document.body.dataset.bus = "1";
    $("roll-input").value = "";
    head();
    render();
  }

  function hide() {
    vehicle = null;
    roll = {};
    restNormal = false;
    selected = null;
    $("bus-fields").hidden = true;
    delete document.body.dataset.bus;
    delete document.body.dataset.manifest;
  }

  function head() {
    const bus = vehicle.claims.bus;
    const limit = Math.floor((bus.seats * Number(Screen.policy.bus_occupancy_percent || 50)) / 100);
    $("bus-head").replaceChildren(
      // The stations are printed on the card, not carried by the QR: shown only when the pass view has them.
      bus.departure || bus.arrival ? el("div", { class: "bus-route", text: t("bus_route", { departure: bus.departure, arrival: bus.arrival }) }) : "",
      el("div", { class: "bus-seats", text: t("bus_seats", { seats: bus.seats, passengers: bus.passengers, limit }) }),
      el("div", { class: "bus-manager" }, `${t("bus_manager")}：${bus.manager.name} `, el("span", { class: "id", text: bus.manager.id_number })));
  }

  function update(current) {  // a new snapshot of the same bus: the pages read so far
    if (!vehicle || current.id !== vehicle.id) return;
    vehicle = { ...vehicle, manifest: current.manifest };
    render();
  }

  function pages() {
    const m = manifest();
    const line = [el("strong", { text: t("bus_pages", { scanned: m.scanned.length, pages: m.pages }) })];
    if (m.missing.length) line.push(el("span", { class: "missing", text: t("bus_missing", { pages: m.missing.join("、") }) }));
    else line.push(el("span", { class: "complete", text: t("bus_complete") }));
    if (m.arrived_local) line.push(el("span", { class: "arrived", text: t("bus_arrived", { time: m.arrived_local }) }));
    $("bus-pages").replaceChildren(...line);
    const warn = [];
    if (m.foreign) warn.push(t("bus_foreign", { n: m.foreign }));
    if (m.invalid) warn.push(t("bus_invalid_pages", { n: m.invalid }));
    if (m.missing.length && m.scanned.length) warn.push(t("bus_incomplete_decide"));
    $("bus-warn").hidden = !warn.length;
    $("bus-warn").replaceChildren(...warn.map((text) => el("div", { text })));
    document.body.dataset.manifest = m.missing.length ? `${m.scanned.length}/${m.pages}` : "complete";
  }

  function status(p) {
    const entry = roll[p.n];
    if (entry && entry.absent) return ["absent", t("roll_absent")];
    if (entry && entry.temperature) return [fever(entry.temperature) ? "fever" : "typed", `${entry.temperature} ℃`];
    if (restNormal) return ["normal", t("roll_normal")];
    return ["open", t("roll_unmeasured")];
  }

  function render() {
    if (!vehicle) return;
    pages();
    const rows = manifest().passengers.map((p) => {
      const [kind, text] = status(p);
      const history = p.history.filter((h) => h.code !== p.origin.code).map((h) => h.name || h.code);
      return el("tr", { class: `roll-row ${kind}${selected === p.n ? " selected" : ""}`, dataset: { n: p.n, state: kind }, onclick: () => pick(p.n) },
        el("td", { class: "n", text: String(p.n) }),
        el("td", { class: "pname", text: p.name }),
        el("td", { class: "id", text: p.id_number }),
        el("td", { class: "origin", text: [p.origin.name || p.origin.code, ...history].join(" · ") }),
        el("td", { class: "hit" }, p.hard_hit.length ? el("span", { class: "hard-hit", text: t("hard_hit_mark") }) : ""),
        el("td", { class: "state", text }));
    });
    $("roll-list").replaceChildren(...rows);
    const values = Object.values(roll);
    const absent = values.filter((e) => e.absent).length;
    const typedFever = values.filter((e) => e.temperature && fever(e.temperature)).length;
    $("roll-legend").textContent = t("roll_title", { aboard: count() - absent, absent, fever: typedFever });
    const rest = count() - Object.keys(roll).length;
    $("roll-summary").textContent = restNormal ? t("roll_rest_done", { n: rest }) : "";
    $("roll-rest").textContent = t("roll_rest_normal", { n: rest });
    $("roll-rest").classList.toggle("done", restNormal);
    prompt();
    Form.referral();  // a fever typed here asks where the person is sent, as for a crew member
  }

  function prompt() {
    const p = selected !== null ? passenger(selected) : null;
    $("roll-prompt").textContent = p ? t("roll_prompt", { n: p.n, name: p.name }) : "";
  }

  function note(text) {
    const box = $("roll-error");
    box.textContent = text || "";
  }

  function pageNote(page) {  // the last page's fate, once, under the QR text field
    if (!page || page.seq <= lastPage) return;
    lastPage = page.seq;
    const values = { n: page.number ?? "", pages: page.pages ?? "", code: page.code ? t("reason_" + page.code) : "" };
    const text = t("page_" + page.result, values);
    let chip = $("page-note");
    if (!chip) {
      chip = el("div", { id: "page-note", class: "hint page-note", role: "status" });
      $("paste-form").after(chip);
    }
    chip.textContent = text;
    chip.className = `hint page-note ${page.result}`;
    document.body.dataset.page = `${page.seq}:${page.result}`;  // for tests: the last page's fate
    if (vehicle && (page.result === "other_pass" || page.result === "invalid")) note(text);
  }

  // ---- the roll call ---------------------------------------------------------------------------------------

  function changed() {
    render();
    $("decide-form").dispatchEvent(new Event("change", { bubbles: true }));  // the draft is saved (drafts.js)
  }

  function pick(n) {
    if (!passenger(n)) {
      note(n > 0 && n <= count() ? t("roll_not_read", { n }) : t("roll_unknown", { n }));
      return false;
    }
    selected = n;
    note("");
    render();
    $("roll-input").focus();
    return true;
  }

  function setAbsent(n) {
    if (!passenger(n)) return pick(n);
    roll[n] = { absent: true };
    selected = null;
    note("");
    changed();
    return true;
  }

  function setTemperature(n, raw) {
    const value = temperature(raw);
    if (!/^\d{2}(\.\d)?$/.test(value)) { note(t("E_ROLL_TEMPERATURE_INVALID", { n })); return; }
    roll[n] = { temperature: value };
    selected = null;
    note("");
    changed();
  }

  function finish() {  // empty Enter with nobody selected: the rest normal, then the decision
    restNormal = true;
    selected = null;
    note("");
    changed();
    $("decide").focus();
  }

  const ABSENT = /^(a|A|缺|缺席)$/;

  function enter(input) {
    const raw = input.value.trim();
    input.value = "";
    if (selected !== null) {
      const n = selected;
      if (!raw) { delete roll[n]; selected = null; return changed(); }  // back to untyped
      if (ABSENT.test(raw)) return setAbsent(n);
      return setTemperature(n, raw);
    }
    if (!raw) return finish();
    let match = raw.match(/^(\d{1,3})$/);
    if (match) return pick(Number(match[1]));
    match = raw.match(/^(\d{1,3})\s*(a|A|缺|缺席)$/);
    if (match) return setAbsent(Number(match[1]));
    match = raw.match(/^(\d{1,3})\s+(\S+)$/);
    if (match && pick(Number(match[1]))) return setTemperature(Number(match[1]), match[2]);
    note(t("roll_hint"));
  }

  function onKey(event) {
    if (event.isComposing || event.keyCode === 229) return;  // an input method is composing
    const input = event.target;
    if (event.key === "Enter") {
      event.preventDefault();
      event.stopPropagation();  // not the form's Enter (which moves to the next field)
      return enter(input);
    }
    if ((event.key === "a" || event.key === "A") && !event.ctrlKey && !event.altKey && !event.metaKey) {
      const digits = input.value.trim();
      const n = /^\d{1,3}$/.test(digits) ? Number(digits) : selected !== null && !digits ? selected : null;
      if (n !== null) {
        event.preventDefault();
        event.stopPropagation();
        input.value = "";
        return setAbsent(n);
      }
    }
    if (event.key === "+") {
      event.preventDefault();
      event.stopPropagation();
      $("add-person").click();  // a row for someone aboard who is not on the manifest
    }
    if (event.key === "Escape" && selected !== null) {
      event.preventDefault();
      event.stopPropagation();
      selected = null;
      input.value = "";
      render();
    }
  }

  function focus() {
    $("roll-input").focus();
  }

  // ---- the decision and the draft --------------------------------------------------------------------------

  function data(shown) {
    const form = Form.data(shown);
    return {
      vehicle_id: form.vehicle_id,
      plate: form.plate,
      plate_confirmed: form.plate_confirmed,
      identity_confirmed: form.identity_confirmed,
      licence_confirmed: form.licence_confirmed,
      id_last4: form.id_last4,
      referral: form.referral,
      crew: form.occupants,
      roll: Object.entries(roll).map(([n, entry]) => ({ n: Number(n), temperature: entry.temperature || "", absent: !!entry.absent })),
      rest_normal: restNormal,
    };
  }

  function draft() {
    if (!active()) return {};
    return {
      roll: Object.entries(roll).map(([n, entry]) => ({ n: Number(n), temperature: entry.temperature || "", absent: !!entry.absent })),
      rest_normal: restNormal,
    };
  }

  function restore(form) {
    if (!active() || !Array.isArray(form.roll)) return;
    roll = {};
    for (const entry of form.roll) roll[entry.n] = entry.absent ? { absent: true } : { temperature: entry.temperature };
    restNormal = !!form.rest_normal;
    render();
  }

  // ---- the outcome -----------------------------------------------------------------------------------------

  function outcome(d) {
    const box = $("outcome-bus");
    if (!d.bus) { box.hidden = true; box.replaceChildren(); return; }
    const b = d.bus;
    const counts = { RELEASE: 0, QUARANTINE: 0, MEDICAL_HOLD: 0, ABSENT: 0, REFUSE: 0, ...b.counts };
    const names = (kind) => b.passengers.filter((p) => p.disposition === kind).map((p) => `${p.n} ${p.name}`).join("、");
    const lines = [el("div", { class: "bus-counts", text: t("bus_counts", counts) })];
    // The passengers with a fever (held); under HOLD_BUS everyone aboard is held with them, which the counts say.
    const fevered = b.passengers.filter((p) => p.disposition === "MEDICAL_HOLD" && p.temperature_c !== null && p.temperature_c !== undefined);
    if (fevered.length) lines.push(el("div", { class: "disp MEDICAL_HOLD", text: t("bus_held", { names: fevered.map((p) => `${p.n} ${p.name} ${p.temperature_c}℃`).join("、") }) }));
    if (counts.QUARANTINE) lines.push(el("div", { class: "disp QUARANTINE", text: t("bus_quarantine_receiver", { name: vehicleManager(), names: names("QUARANTINE") }) }));
    if (counts.ABSENT) lines.push(el("div", { class: "disp ABSENT", text: t("bus_absent", { names: names("ABSENT") }) }));
    if (b.arrived_local) lines.push(el("div", { class: "meta", text: t("bus_waited", { time: b.arrived_local, wait: Screen.duration(b.waited_s || 0) }) }));
    const grid = el("div", { class: "disp-grid" }, ...b.passengers.map((p) => el("span", {
      class: "disp-cell " + p.disposition, title: `${p.name} · ${t("disp_" + p.disposition)}`, dataset: { n: p.n, disposition: p.disposition }, text: String(p.n),
    })));
    box.replaceChildren(...lines, grid);
    box.hidden = false;
  }

  let manager = "";
  function vehicleManager() { return manager; }

  function decided() {  // the bus left the form for its outcome
    manager = vehicle ? vehicle.claims.bus.manager.name : "";
    hide();
  }

  function start() {
    $("roll-input").addEventListener("keydown", onKey);
    $("roll-rest").addEventListener("click", finish);
  }

  start();
  return { show, hide, update, active, focus, data, draft, restore, outcome, decided, pageNote, hasFever };
})();
