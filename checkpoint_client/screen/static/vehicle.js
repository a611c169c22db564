// The vehicle's part of the page: verdict, pass contents, people and checks, field errors, the form's data.
// Every text from a pass goes through textContent (never innerHTML): names may contain markup.
"use strict";

const Form = (() => {
  const { t, el } = Screen;
  const $ = (id) => document.getElementById(id);

  // Before the decision the card is neutral: a valid pass is a check mark and words, never the release green
  // (the colour belongs to the outcome). A pass that is forged, tampered or misused keeps its warning colour.
  function verdict(v) {
    const box = $("verdict");
    let kind = "none", text = "", sub = [];
    if (v.kind === "nopass") text = t("vehicle_without_pass");
    else if (v.kind === "not_pass") [kind, text] = ["warn", t("not_a_pass")];
    else if (!v.checked) [kind, text] = ["bad", t("bundle_none")];
    else if (v.valid) [kind, text, sub] = ["checked", "✔ " + t("reason_PASS_VALID"), [t("pass_checked_sub")]];
    else {
      kind = v.misuse ? "bad" : "warn";
      text = "✘ " + t("reason_" + v.code);
      if (!v.claims && !v.claimed) sub.push(t("pass_contents_untrusted"));
      // What the policy does with a misused pass (refuse, or judge the vehicle as one without a pass).
      if (v.misuse) sub.push(`${t("misuse_hint")} · ${t("misuse_policy_" + (Screen.policy.pass_misuse || "refuse"))}`);
    }
    if (v.repeat) sub.push(t("remeasure_of", { time: v.repeat.decided_at, outcome: t("outcome_" + v.repeat.outcome) }));
    box.className = "verdict " + kind;
    box.dataset.kind = kind;
    box.replaceChildren(text, ...sub.map((line) => el("small", { text: line })));
  }

  function claimed(v) {
    const c = v.claimed;
    $("claimed").hidden = !c;
    if (!c) return;
    const row = (label, value) => (value ? [el("dt", { text: label }), el("dd", { text: value })] : []);
    $("claimed-list").replaceChildren(
      ...row(t("f_serial"), c.serial), ...row(t("f_plate"), c.plate),
      ...row(t("f_people"), (c.names || []).join("、")), ...row(t("f_kid"), c.kid), ...row(t("f_pass_id"), c.pass_id));
  }

  function details(v) {
    const list = $("details");
    const c = v.claims;
    list.replaceChildren();
    list.hidden = !c;
    $("plate-line").hidden = !c;
    claimed(v);
    $("vehicle-body").classList.toggle("no-details", !c && !v.claimed);
    list.className = "details" + (c && !v.valid ? " stale" : "");
    if (!c) return;
    const row = (label, ...value) => [el("dt", { text: label }), el("dd", {}, ...value)];
    const place = (p) => (p ? `${p.name} (${p.code})` : "");
    $("plate-line").replaceChildren(
      el("span", { class: "plate", text: c.plate }),
      el("span", { class: "colour " + c.plate_colour, text: t("colour_" + c.plate_colour) }),
      el("span", { class: "serial", text: `${t("f_serial")} ${c.serial}` }));
    list.append(
      ...row(t("f_driver"), c.driver.name, el("span", { class: "id person", text: `${t("f_id")} ${c.driver.id_number}` }),
        c.driver.licence_number !== c.driver.id_number ? el("span", { class: "id", text: `${t("f_licence")} ${c.driver.licence_number}` }) : ""),
      ...(c.escorts.length ? row(t("f_escorts"), ...c.escorts.map((p) => el("span", { class: "person" }, p.name, el("span", { class: "id", text: p.id_number })))) : []),
      ...row(t("f_enterprise"), c.enterprise.name || c.enterprise.uscc, c.enterprise.name ? "" : el("span", { class: "id", text: t("enterprise_unknown") })),
      ...row(t("f_route"), `${place(c.origin)} → ${place(c.destination)}`),
      ...(c.travel_history.length ? row(t("f_history"), c.travel_history.map(place).join("，")) : []),
      ...row(t("f_validity"), el("span", { class: "person", text: `${c.valid_from} —` }), el("span", { class: "person", text: c.valid_until })),
    );
  }

  function personRow(person, index) {
    const fixed = person.fixed;
    const nameCell = fixed
      ? el("td", { class: "pname", text: person.name })
      : el("td", {}, el("input", { class: "pname", id: `name-${index}`, maxlength: 50, value: person.name || "", "data-stop": true, "aria-label": t("name") }));
    const row = el("tr", { dataset: { role: person.role, fixed: fixed ? "1" : "" } },
      el("td", { class: "role" }, t("role_" + person.role), person.offPass ? el("span", { class: "not-on-pass", text: t("not_on_pass") }) : ""),
      nameCell,
      el("td", { dataset: { field: `temp-${index}` } },
        el("input", { class: "temp", id: `temp-${index}`, inputmode: "decimal", maxlength: 5, "data-stop": true, "data-temp": true, "aria-label": t("temperature") }),
        el("div", { class: "field-error", dataset: { errorFor: `temp-${index}` } }),
        el("div", { class: "field-error", dataset: { errorFor: `name-${index}` } })),
      el("td", { dataset: { field: `origin-${index}` } },
        el("input", { class: "origin", id: `origin-${index}`, inputmode: "numeric", maxlength: 6, value: person.origin || "", "data-region": true, "aria-label": t("origin") }),
        el("div", { class: "region-name" }),
        el("div", { class: "field-error", dataset: { errorFor: `origin-${index}` } })),
      el("td", {}, person.role === "driver" ? "" : el("button", { type: "button", class: "small", tabindex: -1, text: t("remove_person"), onclick: () => { row.remove(); renumber(); } })));
    return row;
  }

  function renumber() {
    [...$("people").rows].forEach((row, i) => {
      row.querySelectorAll("[id]").forEach((node) => { node.id = node.id.replace(/-\d+$/, `-${i}`); });
      row.querySelectorAll("[data-field]").forEach((node) => { node.dataset.field = node.dataset.field.replace(/-\d+$/, `-${i}`); });
      row.querySelectorAll("[data-error-for]").forEach((node) => { node.dataset.errorFor = node.dataset.errorFor.replace(/-\d+$/, `-${i}`); });
    });
  }

  function people(v) {
    const c = v.claims;
    let list = [{ role: "driver", name: "" }];
    if (c) list = [{ role: "driver", name: c.driver.name }, ...c.escorts.map((p) => ({ role: "escort", name: p.name }))];
    if (c && c.bus) list.push({ role: "manager", name: c.bus.manager.name });  // a bus's on-board manager
    const fixed = v.kind === "pass" && v.valid;
    $("people").replaceChildren(...list.map((p, i) => personRow({ ...p, fixed }, i)));
  }

  function setChecks(value) {
    for (const name of ["check-plate", "check-person", "check-licence"]) {
      for (const input of document.getElementsByName(name)) input.checked = value !== null && input.value === value;
    }
    $("plate-read").hidden = true;
    $("confirm-all").classList.toggle("done", value === "yes");
  }

  // ---- errors --------------------------------------------------------------------------------------------

  function clearErrors() {
    document.querySelectorAll(".field-error").forEach((node) => { node.textContent = ""; });
    document.querySelectorAll(".invalid").forEach((node) => node.classList.remove("invalid"));
    $("form-error").hidden = true;
  }

  function showError(data) {
    const target = data.field && document.querySelector(`[data-error-for="${CSS.escape(data.field)}"]`);
    if (target) {
      target.textContent = data.message;
      const holder = target.closest("[data-field]") || target.parentElement;
      holder.classList.add("invalid");
      const input = [...holder.querySelectorAll("input:not([type=radio]), select")].find((node) => !node.hidden)
        || holder.querySelector("input");
      if (input && !input.hidden) input.focus();
      if (data.field.startsWith("check-")) $("confirm-all").focus();
    } else {
      $("form-error").textContent = data.message;
      $("form-error").hidden = false;
    }
  }

  function normaliseTemperature(input) {
    const raw = input.value.trim().replace(",", ".");
    if (/^\d{3}$/.test(raw)) input.value = `${raw.slice(0, 2)}.${raw.slice(2)}`;  // 365 -> 36.5
    else input.value = raw;
  }

  // A typed temperature at or above the policy's threshold: ask where the person is sent (the policy's places,
  // required, or free text when it lists none). Shown as soon as the number is typed, before the decision.
  function temperatureValue(raw) {
    const text = raw.trim().replace(",", ".");
    const number = /^\d{3}$/.test(text) ? Number(`${text.slice(0, 2)}.${text.slice(2)}`) : Number(text);
    return text && Number.isFinite(number) ? number : null;
  }

  function referral() {
    const threshold = Number(Screen.policy.fever_threshold_c || "37.3");
    const rows = [...$("people").rows];
    rows.forEach((row) => {
      const value = temperatureValue(row.querySelector("input[data-temp]").value);
      row.classList.toggle("fever", value !== null && value >= threshold);
    });
    // A passenger's fever typed in a bus's roll call counts as much as a crew member's (bus.js).
    const fever = rows.some((row) => row.classList.contains("fever")) || (typeof Bus === "object" && Bus.hasFever());
    const places = Screen.policy.fever_referrals || [];
    const box = $("referral-row");
    if (box.hidden === !fever && box.dataset.places === places.join("\n")) return;
    box.hidden = !fever;
    box.dataset.places = places.join("\n");
    const choice = $("referral-choice");
    const text = $("referral-text");
    // The policy's places can arrive after the form was filled (a reload restores the draft before the
    // overview comes): what was chosen or typed moves to the field now shown.
    const picked = choice.hidden ? text.value : choice.value;
    if (choice.options.length !== places.length + 1) {
      choice.replaceChildren(el("option", { value: "", text: t("referral_choose") }),
        ...places.map((place) => el("option", { value: place, text: place })));
    }
    choice.value = places.includes(picked) ? picked : "";
    if (picked) text.value = picked;
    choice.hidden = !places.length;
    text.hidden = !!places.length;
  }

  function resetReferral() {
    $("referral-row").hidden = true;
    $("referral-choice").value = "";
    $("referral-text").value = "";
  }

  function checked(name) {
    const picked = [...document.getElementsByName(name)].find((input) => input.checked);
    return picked ? picked.value === "yes" : null;
  }

  function data(shown) {
    document.querySelectorAll("input[data-temp]").forEach(normaliseTemperature);
    const valid = shown.kind === "pass" && shown.valid;
    const rows = [...$("people").rows];
    return {
      vehicle_id: shown.id,
      plate: valid ? $("plate-read").value : $("plate").value,
      plate_confirmed: valid ? checked("check-plate") : null,
      identity_confirmed: valid ? checked("check-person") : null,
      licence_confirmed: valid ? checked("check-licence") : null,
      id_last4: $("id-last4-row").hidden ? "" : $("id-last4").value,
      occupants: rows.map((row, i) => ({
        role: row.dataset.role,
        name: row.dataset.fixed ? row.cells[1].textContent : $(`name-${i}`).value,
        temperature: $(`temp-${i}`).value,
        origin: $(`origin-${i}`).value,
      })),
      vehicle_origin: valid ? "" : $("vehicle-origin").value,
      enterprise: valid ? "" : $("enterprise").value,
      referral: $("referral-row").hidden ? "" : ($("referral-choice").hidden ? $("referral-text").value : $("referral-choice").value),
    };
  }

  return { verdict, details, personRow, renumber, people, setChecks, clearErrors, showError, normaliseTemperature, checked, data, referral, resetReferral };
})();
