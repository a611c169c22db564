// The vehicle in front of the officer: the pass, the checks, a temperature per person, the decision.
// Keyboard first. Common case (valid pass, two people, normal temperatures):
//   3 6 5 Enter  3 6 6 Enter  Enter (person, vehicle, licence match)  Enter (decide)  = 10 keys.
"use strict";

(() => {
  const { t, el, api, token, typing } = Screen;
  const $ = (id) => document.getElementById(id);
  let shown = null;        // the vehicle on the form: {id, kind, ...}
  let outcome = null;      // the last outcome shown, while no new vehicle replaced it
  let escPending = 0;
  let latest = null, holdTimer = null;
  const OUTCOME_HOLD_MS = 2500;

  function addPerson() {
    if (!shown || $("people").rows.length >= 20) return;
    const offPass = shown.kind === "pass" && shown.valid;
    $("people").append(Form.personRow({ role: "passenger", name: "", offPass }, $("people").rows.length));
    $(`name-${$("people").rows.length - 1}`).focus();
  }

  function showVehicle(v) {
    shown = v;
    latest = null;
    clearTimeout(holdTimer);
    if (outcome) showPrevious(outcome);
    outcome = null;
    $("outcome").hidden = true;
    $("idle").hidden = true;
    $("vehicle").hidden = false;
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
  }

  function showIdle() {
    shown = null;
    $("vehicle").hidden = true;
    $("idle").hidden = !!outcome;
    delete document.body.dataset.vehicle;
  }

  function showPrevious(o) {
    const box = $("previous");
    box.hidden = false;
    box.className = "previous outcome " + o.outcome;
    box.textContent = `${o.plate || ""}  ${t("outcome_" + o.outcome)}`;
  }

  function onVehicle(snapshot) {
    const current = snapshot.current;
    const held = outcome ? OUTCOME_HOLD_MS - (Date.now() - outcome.shownAt) : 0;
    if (current && held > 0) {  // the outcome stays readable a moment before the next vehicle replaces it
      latest = snapshot;
      clearTimeout(holdTimer);
      holdTimer = setTimeout(() => { const waiting = latest; latest = null; if (waiting) onVehicle(waiting); }, held);
      Panels.queue(snapshot.queued);
      return;
    }
    if (current && (!shown || shown.id !== current.id)) showVehicle(current);
    else if (!current && shown) showIdle();
    Panels.queue(snapshot.queued);
  }

  // ---- deciding ------------------------------------------------------------------------------------------

  async function submit(event) {
    event.preventDefault();
    if (!shown || $("decide").disabled) return;
    Form.clearErrors();
    $("decide").disabled = true;
    $("decide").textContent = t("deciding");
    const result = await api("POST", "/api/decide", Form.data(shown));
    $("decide").textContent = t("decide");
    if (result.ok) return showOutcome(result.data);
    $("decide").disabled = false;
    Form.showError(result.data);
  }

  function showOutcome(d) {
    outcome = { ...d, shownAt: Date.now() };
    shown = null;
    $("vehicle").hidden = true;
    $("idle").hidden = true;
    $("previous").hidden = true;
    const box = $("outcome");
    box.className = "outcome " + d.outcome;
    $("outcome-word").textContent = t("outcome_" + d.outcome);
    $("outcome-plate").textContent = d.plate || "";
    const lines = d.reasons.filter((code) => code !== "PASS_VALID").map((code) => el("li", { text: t("reason_" + code) }));
    if (d.fever.length) lines.push(el("li", { text: t("fever_people", { names: d.fever.join("、") }) }));
    if (d.hard_hit.length) lines.push(el("li", { text: t("hard_hit_area", { names: d.hard_hit.map((p) => `${p.name} (${p.code})`).join("、") }) }));
    $("outcome-reasons").replaceChildren(...lines);
    $("outcome-hint").textContent = d.outcome === "ESCORT_REQUIRED" ? t("hint_ESCORT_REQUIRED") : "";
    $("outcome-recorded").textContent = `${t("recorded", { seq: d.crossing.seq })} · ${d.decided_at}`;
    box.hidden = false;
    box.dataset.outcome = d.outcome;
    $("next").focus();
    Panels.refresh();
  }

  async function nextVehicle() {
    escPending = 0;
    if (!shown && latest && latest.current) {  // the next vehicle is already here, held behind the outcome
      clearTimeout(holdTimer);
      outcome = null;
      const snapshot = latest;
      latest = null;
      return onVehicle(snapshot);
    }
    const result = await api("POST", "/api/vehicle/next", { drop: shown ? shown.id : null });
    if (result.ok) {
      outcome = null;
      $("outcome").hidden = true;
      if (!result.data.current) showIdle();
      onVehicle(result.data);
    }
  }

  // ---- keyboard ------------------------------------------------------------------------------------------

  function stops() {
    return [...$("decide-form").querySelectorAll("input[data-stop]")].filter((input) => input.offsetParent !== null);
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
    if (event.key === "Escape") {
      event.preventDefault();
      // A vehicle on the form is dropped only by a second Esc: the next vehicle may have appeared just as the
      // officer pressed Esc to leave the last outcome.
      if (shown && shown.kind !== "not_pass" && Date.now() - escPending > 3000) {
        escPending = Date.now();
        $("form-error").textContent = t("drop_again");
        $("form-error").hidden = false;
        return;
      }
      return nextVehicle();
    }
    if (typing(event.target) || event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.key === "n" || event.key === "N") { event.preventDefault(); withoutPass(); }
    else if (event.key === "/") { event.preventDefault(); $("paste").focus(); }
    else if (event.key === "+" && shown) { event.preventDefault(); addPerson(); }
  }

  async function withoutPass() {
    const result = await api("POST", "/api/vehicle/nopass");
    if (result.ok) onVehicle(result.data);
  }

  async function paste(event) {
    event.preventDefault();
    const text = $("paste").value;
    if (!text.trim()) return;
    const result = await api("POST", "/api/vehicle/scan", { text });
    const error = document.querySelector('[data-error-for="paste"]');
    error.textContent = result.ok ? "" : result.data.message || "";
    if (result.ok) { $("paste").value = ""; onVehicle(result.data); }
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
    source.addEventListener("open", () => { Panels.connected = true; Panels.refresh(); });
    source.addEventListener("error", () => Panels.lost());
  }

  function start() {
    $("decide-form").addEventListener("submit", submit);
    $("decide-form").addEventListener("keydown", onFormKey);
    $("decide-form").addEventListener("input", regionHint);
    document.addEventListener("keydown", onGlobalKey);
    $("confirm-all").addEventListener("click", () => { Form.setChecks("yes"); $("decide").focus(); });
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
    $("paste-form").addEventListener("submit", paste);
    Panels.start();
    listen();
  }

  start();
})();
