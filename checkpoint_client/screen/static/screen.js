// The vehicle in front of the officer: the pass, the checks, a temperature per person, the decision.
// Keyboard first. Common case (valid pass, two people, normal temperatures):
//   3 6 5 Enter  3 6 6 Enter  Enter (person, vehicle, licence match)  Enter (decide)  = 10 keys.
"use strict";

(() => {
  const { t, el, api, token, typing } = Screen;
  const $ = (id) => document.getElementById(id);
  let shown = null;        // the vehicle on the form or the repeat card: {id, kind, ...}
  let outcome = null;      // the outcome shown: it stays until the officer takes the next vehicle
  let escPending = 0;
  let latest = null;       // the desk's newest snapshot while an outcome is shown: the next vehicle waits in it
  let deciding = false;    // a decision is being recorded

  // The page's state for tests and tools: <body data-phase="waiting|checking|decided|repeat" data-outcome>.
  function phase(name, code) {
    document.body.dataset.phase = name;
    if (code) document.body.dataset.outcome = code;
    else delete document.body.dataset.outcome;
  }

  function addPerson() {
    if (!shown || $("people").rows.length >= 20) return;
    const offPass = shown.kind === "pass" && shown.valid;
    $("people").append(Form.personRow({ role: "passenger", name: "", offPass }, $("people").rows.length));
    $(`name-${$("people").rows.length - 1}`).focus();
  }

  function showVehicle(v) {
    Drafts.leave();  // what was typed for the vehicle leaving the form is saved first
    shown = v;
    latest = null;
    if (outcome) showPrevious(outcome);
    outcome = null;
    $("outcome").hidden = true;
    $("idle").hidden = true;
    if (v.repeat && !v.remeasure) return showRepeat(v);
    $("repeat").hidden = true;
    $("vehicle").hidden = false;
    phase("checking");
    Form.clearErrors();
    $("decide-form").reset();
    Form.verdict(v);
    Form.details(v);
    const formless = v.kind === "not_pass" || (v.kind === "pass" && !v.checked);
    $("people-fields").hidden = formless;
    $("decide").hidden = formless;
    const valid = v.kind === "pass" && v.valid;
    $("checks").hidden = !valid;
    $("nopass-fields").hidden = valid || formless;  // a vehicle without a (valid) pass: plate, origin, receiver
    const last4 = Screen.policy.identity_check === "id_last4";
    $("id-last4-row").hidden = !(valid && last4);
    $("check-person-row").hidden = valid && last4;
    Form.setChecks(null);
    Form.people(v);
    Form.resetReferral();
    // A valid personnel-transport pass: the crew above, the manifest's roll call below (bus.js).
    if (valid && v.claims.bus) Bus.show(v);
    else Bus.hide();
    $("people-fields").querySelector("legend").textContent = t(Bus.active() ? "crew_title" : "occupants");
    $("decide").disabled = false;
    if (v.claims && !valid) {  // expired or revoked: decided as a vehicle without a pass, prefilled from it
      $("plate").value = v.claims.plate;
      $("vehicle-origin").value = v.claims.origin ? v.claims.origin.code : "";
      $("enterprise").value = v.claims.enterprise.uscc;
    }
    $("drop").textContent = v.kind === "not_pass" ? t("dismiss") : t("cancel_vehicle");
    if (formless) $("drop").focus();
    else if (valid) $("temp-0").focus();
    else (v.claims ? $("temp-0") : $("plate")).focus();
    document.body.dataset.vehicle = v.id;  // for tests and the latency benchmark: the verdict is on the page
    Drafts.show(v);  // what was typed for it before (a reload, a crash, a scan in between) comes back
  }

  // A field of a card being hidden keeps the focus until the browser next lays the page out, and a key pressed
  // before then (N right after Esc) would count as typing into it: let it go now.
  function leaveCard() {
    if ($("vehicle").contains(document.activeElement)) document.activeElement.blur();
  }

  function showIdle() {
    shown = null;
    Bus.hide();
    leaveCard();
    $("vehicle").hidden = true;
    $("repeat").hidden = true;
    $("idle").hidden = !!outcome;
    if (!outcome) phase("waiting");
    delete document.body.dataset.vehicle;
  }

  // A pass decided here within the repeat window: what was decided, never a fresh card; R re-measures.
  function showRepeat(v) {
    const r = v.repeat;
    leaveCard();
    $("vehicle").hidden = true;
    $("repeat").hidden = false;
    $("repeat-title").textContent = t("repeat_title", { time: r.decided_at, outcome: t("outcome_" + r.outcome) });
    $("repeat-plate").textContent = r.plate || "";
    const lines = r.reasons.filter((code) => code !== "PASS_VALID").map((code) => el("li", { text: t("reason_" + code) }));
    if (r.referral) lines.push(el("li", { text: t("fever_sent", { place: r.referral }) }));
    $("repeat-reasons").replaceChildren(...lines);
    $("repeat").dataset.outcome = r.outcome;
    phase("repeat");
    $("remeasure").focus();
    document.body.dataset.vehicle = v.id;
  }

  function remeasure() {
    if (!shown || !shown.repeat || document.body.dataset.phase !== "repeat") return;
    showVehicle({ ...shown, remeasure: true });
  }

  function showPrevious(o) {
    const box = $("previous");
    box.hidden = false;
    box.className = "previous outcome " + o.outcome;
    box.textContent = `${o.plate || ""}  ${t("outcome_" + o.outcome)}`;
  }

  function onVehicle(snapshot) {
    // An answer to a request can arrive after the event stream told of a newer state of the desk: it is stale.
    if (snapshot.version < Screen.deskVersion) return;
    Screen.deskVersion = snapshot.version;
    const current = snapshot.current;
    Bus.pageNote(snapshot.page);  // "第 3 页已扫", whatever is on the form
    if (deciding) { latest = snapshot; return; }
    if (outcome) {  // the outcome stays until the officer takes the next vehicle: a new one waits behind it
      latest = snapshot;
      const waiting = !!current || snapshot.queued > 0;
      $("outcome-waiting").hidden = !waiting;
      $("outcome-waiting").textContent = waiting ? t("next_waiting") : "";
      Panels.queue(snapshot.queued, current ? 1 : 0);
      return;
    }
    if (current && shown && shown.id === current.id && !deciding) Bus.update(current);  // more pages read
    if (current && (!shown || shown.id !== current.id)) showVehicle(current);
    else if (!current && shown) showIdle();
    Panels.queue(snapshot.queued, 0);
  }

  // ---- deciding ------------------------------------------------------------------------------------------

  async function submit(event) {
    event.preventDefault();
    if (!shown || $("decide").disabled) return;
    Form.clearErrors();
    $("decide").disabled = true;
    $("decide").textContent = t("deciding");
    deciding = true;  // the desk's change event may come before the answer: it must not clear the form first
    const bus = Bus.active();
    const result = await api("POST", bus ? "/api/bus/decide" : "/api/decide", bus ? Bus.data(shown) : Form.data(shown));
    deciding = false;
    $("decide").textContent = t("decide");
    if (result.ok) { Drafts.done(); Bus.decided(); return showOutcome(result.data); }
    $("decide").disabled = false;
    Form.showError(result.data);
    if (latest) { const snapshot = latest; latest = null; onVehicle(snapshot); }
  }

  function showOutcome(d) {
    const repeated = shown && shown.repeat;
    outcome = { ...d, shownAt: Date.now() };
    shown = null;
    $("vehicle").hidden = true;
    $("repeat").hidden = true;
    $("idle").hidden = true;
    $("previous").hidden = true;
    const box = $("outcome");
    box.className = "outcome " + d.outcome;
    $("outcome-word").textContent = t("outcome_" + d.outcome);
    $("outcome-plate").textContent = d.plate || "";
    const people = (list) => list.join("、");
    const lines = d.reasons.filter((code) => code !== "PASS_VALID").map((code) => el("li", { text: t("reason_" + code) }));
    if (d.fever_people.length) {
      const who = d.fever_people.map((p) => t("fever_person", { name: p.name, value: p.temperature_c }));
      lines.push(el("li", { class: "fever", text: t("fever_people", { names: people(who) }) }));
    }
    if (d.unlisted.length) lines.push(el("li", { class: "unlisted", text: t("unlisted_people", { names: people(d.unlisted) }) }));
    if (d.absent.length) lines.push(el("li", { class: "absent", text: t("absent_people", { names: people(d.absent) }) }));
    if (d.hard_hit.length) lines.push(el("li", { text: t("hard_hit_area", { names: d.hard_hit.map((p) => `${p.name} (${p.code})`).join("、") }) }));
    $("outcome-reasons").replaceChildren(...lines);
    Bus.outcome(d);  // a bus: each passenger's disposition
    const hint = [];
    if (d.outcome === "ESCORT_REQUIRED") hint.push(t("hint_ESCORT_REQUIRED"));
    if (d.outcome === "MEDICAL_HOLD") hint.push(t("fever_next"), d.referral ? t("fever_sent", { place: d.referral }) : "");
    $("outcome-hint").textContent = hint.filter(Boolean).join(" · ");
    const linked = d.repeat_of && repeated ? ` · ${t("remeasured", { time: repeated.decided_at })}` : "";
    $("outcome-recorded").textContent = `${t("recorded", { seq: d.crossing.seq })} · ${d.decided_at}${linked}`;
    const waiting = !!(latest && (latest.current || latest.queued > 0));  // came while it was being recorded
    $("outcome-waiting").hidden = !waiting;
    $("outcome-waiting").textContent = waiting ? t("next_waiting") : "";
    box.hidden = false;
    box.dataset.outcome = d.outcome;
    phase("decided", d.outcome);
    Sound.play(d.outcome);
    $("next").focus();
    if (latest) Panels.queue(latest.queued, latest.current ? 1 : 0);
    Panels.refresh();
  }

  async function nextVehicle() {
    escPending = 0;
    if (!shown && latest && latest.current) {  // the next vehicle is already here, held behind the outcome
      outcome = null;
      const snapshot = latest;
      latest = null;
      return onVehicle(snapshot);
    }
    if (shown) Drafts.done();  // dropped: what was typed for it goes
    const result = await api("POST", "/api/vehicle/next", { drop: shown ? shown.id : null });
    if (result.ok) {
      const snapshot = leaveOutcome(result.data);
      if (!snapshot.current) showIdle();
      onVehicle(snapshot);
    }
  }

  // The outcome leaves the screen. Returns the newer of the answer and what the event stream told meanwhile
  // (a scan that came after the answer was made waits in `latest`).
  function leaveOutcome(answer) {
    const newest = latest && latest.version > answer.version ? latest : answer;
    outcome = null;
    latest = null;
    $("outcome").hidden = true;
    return newest;
  }

  // ---- keyboard ------------------------------------------------------------------------------------------

  function stops() {
    return [...$("decide-form").querySelectorAll("[data-stop]")].filter((input) => input.offsetParent !== null);
  }

  function advance(from) {
    const list = stops();
    const next = from === null ? null : list[list.indexOf(from) + 1];
    if (next) return next.focus();
    const confirm = $("confirm-all");
    if (!$("checks").hidden && !confirm.classList.contains("done")) return confirm.focus();
    $("decide").focus();
  }

  function onFormKey(event) {
    const input = event.target;
    if (input instanceof HTMLSelectElement && event.key === "Enter") {
      event.preventDefault();
      return advance(input);
    }
    if (!(input instanceof HTMLInputElement) || input.type === "radio") return;
    if (event.key === "+" && (input.dataset.temp !== undefined || input.classList.contains("pname"))) {
      event.preventDefault();
      return addPerson();
    }
    if (event.key === "-" && input.dataset.temp !== undefined && !input.value) {
      const row = input.closest("tr");
      if (row.dataset.role === "driver") return;
      event.preventDefault();  // "-" in an empty temperature: this person on the pass is not aboard
      const index = [...$("people").rows].indexOf(row);
      row.remove();
      Form.renumber();
      const next = $(`temp-${index}`);
      return next ? next.focus() : advance(null);
    }
    if (event.key !== "Enter") return;
    event.preventDefault();  // Enter moves on; only the Decide button decides
    if (input.dataset.temp !== undefined) Form.normaliseTemperature(input);
    advance(input);
  }

  function onGlobalKey(event) {
    // A key another part of the page took (the scanner, a panel, a dialog) is not also a shortcut here.
    if (event.defaultPrevented || (event.target instanceof Element && event.target.closest("dialog"))) return;
    const now = document.body.dataset.phase;
    if (event.key === "Escape") {
      event.preventDefault();
      // A vehicle on the form is dropped only by a second Esc: the next vehicle may have appeared just as the
      // officer pressed Esc to leave the last outcome. A repeat card has nothing typed: one Esc dismisses it.
      if (shown && now === "checking" && shown.kind !== "not_pass" && Date.now() - escPending > 3000) {
        escPending = Date.now();
        $("form-error").textContent = t("drop_again");
        $("form-error").hidden = false;
        return;
      }
      return nextVehicle();
    }
    if (typing(event.target) || event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.key === "Enter" && now === "decided" && !(event.target instanceof HTMLButtonElement)) {
      event.preventDefault();
      return nextVehicle();
    }
    if ((event.key === "r" || event.key === "R") && now === "repeat") { event.preventDefault(); return remeasure(); }
    if (event.key === "n" || event.key === "N") { event.preventDefault(); withoutPass(); }
    else if (event.key === "/") { event.preventDefault(); $("paste").focus(); }
    else if (event.key === "+" && shown) { event.preventDefault(); addPerson(); }
  }

  async function withoutPass() {
    const result = await api("POST", "/api/vehicle/nopass");
    if (!result.ok) return;
    // The officer starts the next vehicle: the outcome has been seen.
    onVehicle(outcome ? leaveOutcome(result.data) : result.data);
  }

  async function paste(event) {
    event.preventDefault();
    const text = $("paste").value;
    if (!text.trim()) return;
    const result = await api("POST", "/api/vehicle/scan", { text });
    const error = document.querySelector('[data-error-for="paste"]');
    error.textContent = result.ok ? "" : result.data.message || "";
    if (!result.ok) return;
    // What was sent leaves the field; the next code, pasted while this one was on its way, stays there.
    if ($("paste").value === text) $("paste").value = "";
    onVehicle(result.data);
  }

  async function regionHint(event) {
    const input = event.target;
    if (input.dataset.region === undefined) return;
    const hint = input.parentElement.querySelector(".region-name");
    if (!hint) return;
    if (!/^\d{6}$/.test(input.value)) { hint.textContent = ""; return; }
    const result = await api("GET", `/api/region/${input.value}`);
    hint.textContent = result.ok && result.data.name ? result.data.name : "";
  }

  function listen() {
    const source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
    source.addEventListener("vehicle", (event) => onVehicle(JSON.parse(event.data)));
    source.addEventListener("camera", (event) => Panels.cameraHint(JSON.parse(event.data)));
    source.addEventListener("open", () => {
      Screen.deskVersion = -1;  // a restarted program counts its desk's states from 0 again
      Panels.connected = true;
      Panels.refresh();
    });
    source.addEventListener("error", () => Panels.lost());
  }

  function start() {
    $("decide-form").addEventListener("submit", submit);
    $("decide-form").addEventListener("keydown", onFormKey);
    $("decide-form").addEventListener("input", regionHint);
    document.addEventListener("keydown", onGlobalKey);
    $("confirm-all").addEventListener("click", () => { Form.setChecks("yes"); (Bus.active() ? Bus.focus() : $("decide").focus()); });
    for (const input of document.getElementsByName("check-plate")) {
      input.addEventListener("change", () => { $("plate-read").hidden = Form.checked("check-plate") !== false; });
    }
    $("decide-form").addEventListener("change", () => {
      const all = ["check-plate", "check-person", "check-licence"].every((name) => Form.checked(name) === true);
      $("confirm-all").classList.toggle("done", all);
    });
    $("add-person").addEventListener("click", addPerson);
    $("nopass").addEventListener("click", withoutPass);
    $("next").addEventListener("click", nextVehicle);
    $("drop").addEventListener("click", nextVehicle);
    $("remeasure").addEventListener("click", remeasure);
    $("repeat-dismiss").addEventListener("click", nextVehicle);
    $("decide-form").addEventListener("input", (event) => { if (event.target.dataset.temp !== undefined) Form.referral(); });
    Sound.start();
    $("paste-form").addEventListener("submit", paste);
    Panels.start();
    listen();
  }

  start();
})();
