// Header, alerts, camera picture and hints, escorts waiting (and their hand-over), recent decisions.
"use strict";

const Panels = (() => {
  const { t, el, api, token, duration } = Screen;
  const $ = (id) => document.getElementById(id);
  let escorts = [];
  let handedOver = [];     // the latest hand-overs, shown a while with who took the vehicle and the total wait
  let waitLimit = 60;
  let selected = null;     // the escort picked with ↑/↓ (its crossing id)
  let returnTo = null;     // where the focus was before E
  let handing = null;      // the escort in the hand-over dialog
  let saving = false;

  function chip(node, text, kind) {
    node.textContent = text;
    node.className = "chip" + (kind ? " " + kind : "");
    node.hidden = !text;
  }

  function header(o) {
    const b = o.bundle;
    const alerts = [];
    if (b.state === "ok" || b.state === "expired") {
      const age = t("bundle_age", { age: duration(b.age_s) });
      const kind = b.expired ? "bad" : b.stale ? "warn" : "";
      chip($("h-bundle"), `${t("bundle_version", { version: b.version })} · ${t("policy_version", { version: b.policy_version })} · ${age}`, kind);
      if (b.expired) alerts.push(["bad", t("bundle_expired")]);
      else if (b.stale) alerts.push(["warn", t("bundle_stale", { hours: b.stale_hours })]);
      if (b.clock_skew) alerts.push(["bad", t("clock_skew")]);
    } else {
      chip($("h-bundle"), t("bundle_none_short"), "bad");
      alerts.push(["bad", b.state === "BUNDLE_REFUSED" ? t("bundle_refused", { error: b.detail || "" }) : t("bundle_none")]);
    }
    $("bundle-help").hidden = b.state === "ok";
    $("bundle-help-title").textContent = b.state === "expired" ? t("bundle_expired") : t("bundle_none");
    chip($("h-pending"), o.pending === null ? "" : t("pending", { n: o.pending }), o.pending > 0 ? "warn" : "");
    const s = o.sync;
    if (!s.enrolled) chip($("h-sync"), t("not_enrolled"), "");
    else if (s.busy) chip($("h-sync"), t("syncing"), "");
    else if (s.error) chip($("h-sync"), s.code && t("sync_" + s.code) !== "sync_" + s.code ? t("sync_" + s.code) : t("sync_failed", { error: s.error }), "bad");
    else chip($("h-sync"), s.last_at ? t("last_sync", { time: s.last_at }) : t("never_synced"), "");
    $("sync-now").hidden = !s.enrolled;
    if (o.store_error) alerts.push(["bad", o.store_error]);
    if (!Panels.connected) alerts.push(["bad", t("offline_screen")]);
    $("alerts").replaceChildren(...alerts.map(([kind, text]) => el("div", { class: "alert " + kind, text })));
    if (!(o.desk_version < Screen.deskVersion)) queue(o.queued);  // counted before the last scan: stale
  }

  // `held` is the vehicle the desk has handed over while an outcome is still on screen: the desk no longer counts
  // it as queued, so every status refresh adds it back until the officer takes it.
  let held = 0;

  function queue(queued, heldNow) {
    if (heldNow !== undefined) held = heldNow;
    const n = queued + held;
    chip($("queue"), n ? t("queue", { n }) : "", "warn");
  }

  // ---- escorts: the longest wait first; E focuses the panel, ↑/↓ pick, Enter opens the hand-over --------------

  function waitedSeconds(e, now) {
    return (now - Date.parse(e.decided_at)) / 1000;
  }

  function panelFocused() {
    return $("escorts").contains(document.activeElement);
  }

  function escortRow(e, now) {
    const waited = waitedSeconds(e, now);
    const late = waited > waitLimit * 60;
    const answer = e.staff_name
      ? el("div", { class: "answer" }, `${t("staff")}: ${e.staff_name} ${e.staff_phone || ""}`, e.eta ? ` · ${t("eta")} ${e.eta}` : "")
      : null;
    const firm = e.enterprise;
    const contact = firm && (firm.contact || firm.phone)
      ? el("div", { class: "contact" }, `${t("contact")}: ${[firm.contact, firm.phone].filter(Boolean).join(" ")}`)
      : null;
    return el("li", {
      class: "escort" + (late ? " late" : "") + (e.crossing_id === selected ? " selected" : ""),
      tabindex: "-1",
      dataset: { crossing: e.crossing_id },
      onfocus: () => select(e.crossing_id),
    },
      el("div", { class: "line1" }, el("span", { class: "plate", text: e.plate }),
        el("span", { class: "waited", text: t("waited", { time: duration(waited) }) })),
      el("div", { text: t("escort_" + e.status) }),
      firm && firm.name ? el("div", { class: "enterprise", text: firm.name }) : null,
      contact,
      answer,
      late ? el("div", { class: "late-note", text: t("over_limit", { limit: waitLimit }) }) : null,
      el("button", { type: "button", class: "small handover", tabindex: "-1", text: t("handover"), onclick: () => openHandover(e) }));
  }

  function doneRow(e) {
    const h = e.handover || {};
    const who = h.staff_name ? t("handover_by", { name: h.staff_name, last4: h.staff_id_last4 }) : null;
    const state = h.error ? t("handover_refused", { code: h.error }) : h.synced ? null : t("handover_unsent");
    return el("li", { class: "escort done", dataset: { crossing: e.crossing_id, handedOver: "1" } },
      el("div", { class: "line1" }, el("span", { class: "plate", text: e.plate }),
        el("span", { class: "total", text: h.waited_s === null || h.waited_s === undefined ? "" : t("handover_total", { time: duration(h.waited_s) }) })),
      el("div", { text: `${t("escort_handed_over")} ${e.handed_over_at || ""}` }),
      who ? el("div", { class: "taker", text: who }) : null,
      h.officer ? el("div", { class: "officer", text: t("handover_officer", { officer: h.officer }) }) : null,
      state ? el("div", { class: h.error ? "late-note" : "meta", text: state }) : null);
  }

  function renderEscorts() {
    const list = $("escorts");
    const hadFocus = panelFocused();
    const now = Date.now();
    // The vehicle that has waited longest is the most urgent: first.
    const waiting = [...escorts].sort((a, b) => Date.parse(a.decided_at) - Date.parse(b.decided_at));
    if (selected && !waiting.some((e) => e.crossing_id === selected)) selected = waiting.length ? waiting[0].crossing_id : null;
    const rows = waiting.length
      ? waiting.map((e) => escortRow(e, now))
      : [el("li", { class: "empty", tabindex: "-1", text: t("escorts_none") })];
    if (handedOver.length) {
      rows.push(el("li", { class: "subhead", text: t("handed_over_title") }), ...handedOver.map(doneRow));
    }
    list.replaceChildren(...rows);
    if (hadFocus) focusSelected();  // the list is redrawn every second: the officer's place in it stays
  }

  function select(crossingId) {
    if (selected === crossingId) return;
    selected = crossingId;
    for (const row of $("escorts").querySelectorAll("li.escort")) row.classList.toggle("selected", row.dataset.crossing === crossingId);
  }

  function focusSelected() {
    const rows = [...$("escorts").querySelectorAll("li.escort:not(.done)")];
    const row = rows.find((r) => r.dataset.crossing === selected) || rows[0] || $("escorts").querySelector("li");
    if (!row) return;
    if (row.dataset.crossing) select(row.dataset.crossing);
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function focusPanel() {
    if (!panelFocused()) returnTo = document.activeElement;
    focusSelected();
  }

  function leavePanel() {
    const back = returnTo && document.contains(returnTo) ? returnTo : null;
    returnTo = null;
    if (back && back !== document.body) back.focus();
    else document.activeElement.blur();
  }

  function onPanelKey(event) {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    const rows = [...$("escorts").querySelectorAll("li.escort:not(.done)")];
    const index = rows.findIndex((r) => r.dataset.crossing === selected);
    let handled = true;
    if (event.key === "ArrowDown" && rows.length) select(rows[Math.min(index + 1, rows.length - 1)].dataset.crossing);
    else if (event.key === "ArrowUp" && rows.length) select(rows[Math.max(index - 1, 0)].dataset.crossing);
    else if (event.key === "Home" && rows.length) select(rows[0].dataset.crossing);
    else if (event.key === "End" && rows.length) select(rows[rows.length - 1].dataset.crossing);
    else if (event.key === "Enter") {
      const e = escorts.find((x) => x.crossing_id === selected);
      if (e) openHandover(e);
    } else if (event.key === "Escape") leavePanel();
    else handled = false;
    if (!handled) return;
    // Keys the panel used are not also the page's (Enter would leave an outcome, Esc drop a vehicle).
    event.preventDefault();
    event.stopPropagation();
    if (event.key.startsWith("Arrow") || event.key === "Home" || event.key === "End") focusSelected();
  }

  function shortcutAllowed(event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return false;
    if (Screen.typing(event.target) || handoverOpen()) return false;
    if (window.Scanner && typeof Scanner.busy === "function" && Scanner.busy()) return false;  // a scan, not a person
    return document.body.dataset.phase !== "signin";
  }

  function onGlobalKey(event) {
    if ((event.key === "e" || event.key === "E") && shortcutAllowed(event)) {
      event.preventDefault();
      focusPanel();
    }
  }

  // ---- the hand-over dialog: name, Enter, ID last four, Enter ---------------------------------------------

  function handoverOpen() {
    const box = $("handover-dialog");
    return !!(box && box.open);
  }

  function buildDialog() {
    const field = (id, label, max, name) => el("div", { class: "handover-field" },
      el("label", { for: id, text: label }),
      el("input", { id, name, maxlength: String(max), autocomplete: "off", spellcheck: "false" }),
      el("div", { class: "handover-error", dataset: { errorFor: name } }));
    const box = el("dialog", { id: "handover-dialog", class: "handover-dialog", "aria-labelledby": "handover-title" },
      el("form", { id: "handover-form", novalidate: true },
        el("h3", { id: "handover-title" }),
        el("div", { id: "handover-who", class: "who" }),
        field("handover-name", t("handover_staff_name"), 50, "staff_name"),
        field("handover-last4", t("handover_staff_id"), 4, "staff_id_last4"),
        el("div", { id: "handover-form-error", class: "handover-error", hidden: true }),
        el("p", { class: "hint", text: t("handover_keys") }),
        el("div", { class: "buttons" },
          el("button", { type: "submit", id: "handover-save", text: t("handover_record") }),
          el("button", { type: "button", id: "handover-cancel", class: "small", text: t("handover_cancel"), onclick: closeHandover }))),
      el("div", { id: "handover-confirmation", class: "confirmation", hidden: true, role: "status" },
        el("p", { id: "handover-done" }),
        el("button", { type: "button", id: "handover-close", text: t("handover_close"), onclick: closeHandover })));
    box.addEventListener("keydown", onDialogKey);
    box.addEventListener("cancel", (event) => { event.preventDefault(); closeHandover(); });
    box.querySelector("form").addEventListener("submit", (event) => { event.preventDefault(); saveHandover(); });
    document.body.append(box);
    return box;
  }

  function openHandover(e) {
    const box = $("handover-dialog") || buildDialog();
    if (box.open) return;
    if (!panelFocused() && !returnTo) returnTo = document.activeElement;
    handing = e;
    select(e.crossing_id);
    $("handover-title").textContent = t("handover_title", { plate: e.plate });
    const firm = e.enterprise;
    $("handover-who").textContent = [firm && firm.name, e.staff_name ? `${t("staff")}: ${e.staff_name} ${e.staff_phone || ""}` : null].filter(Boolean).join(" · ");
    $("handover-form").hidden = false;
    $("handover-confirmation").hidden = true;
    $("handover-name").value = "";
    $("handover-last4").value = "";
    showErrors(null);
    box.showModal();
    document.body.dataset.handover = "open";
    $("handover-name").focus();
  }

  function closeHandover() {
    const box = $("handover-dialog");
    if (!box || !box.open) return;
    box.close();
    delete document.body.dataset.handover;
    handing = null;
    if (escorts.length) focusSelected();
    else leavePanel();
  }

  function showErrors(result) {
    for (const node of $("handover-dialog").querySelectorAll(".handover-error")) node.textContent = "";
    $("handover-form-error").hidden = true;
    for (const input of [$("handover-name"), $("handover-last4")]) input.classList.remove("invalid");
    if (!result) return;
    const field = result.field && $("handover-dialog").querySelector(`[data-error-for="${result.field}"]`);
    if (field) {
      field.textContent = result.message || "";
      const input = result.field === "staff_name" ? $("handover-name") : $("handover-last4");
      input.classList.add("invalid");
      input.focus();
      input.select();
    } else {
      $("handover-form-error").textContent = result.message || t("error_generic", { error: result.code || "" });
      $("handover-form-error").hidden = false;
    }
  }

  function onDialogKey(event) {
    // Nothing typed here is a page shortcut (Esc would drop the vehicle, Enter leave the outcome).
    event.stopPropagation();
    if (event.key === "Escape") {
      event.preventDefault();
      return closeHandover();
    }
    if (event.key !== "Enter" || event.isComposing || event.keyCode === 229) return;  // an input method's Enter
    if (!$("handover-confirmation").hidden) {
      event.preventDefault();
      return closeHandover();
    }
    if (event.target === $("handover-name")) {
      event.preventDefault();
      if (!$("handover-name").value.trim()) return showErrors({ field: "staff_name", message: t("E_HANDOVER_STAFF_NAME_INVALID") });
      showErrors(null);
      $("handover-last4").focus();
    } else if (event.target === $("handover-last4")) {
      event.preventDefault();
      saveHandover();
    }
  }

  async function saveHandover() {
    if (!handing || saving) return;
    saving = true;
    const e = handing;
    $("handover-save").disabled = true;
    $("handover-save").textContent = t("handover_saving");
    const body = { staff_name: $("handover-name").value, staff_id_last4: $("handover-last4").value };
    const result = await api("POST", `/api/escorts/${encodeURIComponent(e.crossing_id)}/handover`, body);
    saving = false;
    $("handover-save").disabled = false;
    $("handover-save").textContent = t("handover_record");
    if (!result.ok) return showErrors(result.data);
    apply(result.data);
    const done = result.data.recorded || {};
    const h = done.handover || {};
    $("handover-done").textContent = t("handover_done", {
      plate: e.plate,
      name: h.staff_name || body.staff_name,
      last4: h.staff_id_last4 || body.staff_id_last4,
      time: h.waited_s === null || h.waited_s === undefined ? "" : duration(h.waited_s),
    });
    $("handover-form").hidden = true;
    $("handover-confirmation").hidden = false;
    $("handover-close").focus();
    document.body.dataset.handover = "done";
  }

  function renderRecent(rows) {
    const list = $("recent");
    if (!rows.length) {
      list.replaceChildren(el("li", { class: "empty", text: t("recent_none") }));
      return;
    }
    list.replaceChildren(...rows.map((r) => el("li", { class: "recent", dataset: { seq: r.seq } },
      el("div", { class: "line1" }, el("span", { class: "plate", text: r.plate }),
        el("span", { class: "badge " + r.outcome, text: t("outcome_" + r.outcome).split(/[:：]/)[0] })),
      el("div", { class: "meta", text: `${r.decided_at} · #${r.seq} · ${r.synced ? t("uploaded") : t("not_uploaded")}` }))));
  }

  function apply(o) {
    Screen.overview = o;
    Screen.policy = o.policy;
    waitLimit = o.policy.escort_wait_limit_minutes;
    escorts = o.escorts;
    handedOver = o.handed_over || [];
    header(o);
    renderEscorts();
    renderRecent(o.recent);
    const phone = o.policy.service_hotline || "";  // from the signed bundle: known offline too
    $("hotline").hidden = !phone;
    $("hotline").textContent = phone ? t("hotline", { phone }) : "";
  }

  async function refresh() {
    const result = await api("GET", "/api/overview");
    if (result.ok) apply(result.data);
    else if (result.status === 0) lost();
  }

  function lost() {  // the program behind the page has stopped: say so at once, keep what is on screen
    Panels.connected = false;
    $("alerts").replaceChildren(el("div", { class: "alert bad", text: t("offline_screen") }));
  }

  function cameraHint(hint) {
    const box = $("camera-hint");
    let text = "", kind = "";
    if (!hint.present) [text, kind] = [t("camera_none") + (hint.error ? ` (${hint.error})` : ""), "bad"];
    else if (hint.error) [text, kind] = [t("camera_unavailable", { error: hint.error }), "bad"];
    else if (hint.ended) [text, kind] = [t("camera_ended"), "ended"];
    else if (hint.too_dark) [text, kind] = [t("hint_dark"), "dark"];
    else if (hint.detected_unread) [text, kind] = [t("hint_steady"), "steady"];
    box.textContent = text;
    box.className = "hint-box " + kind;
    box.hidden = !text;
  }

  function startCamera() {
    // One picture at a time, the next asked for when this one has arrived: never more than the link can carry.
    const img = $("camera");
    let n = 0;
    const next = (delay) => setTimeout(() => { img.src = `/api/camera.jpg?token=${encodeURIComponent(token)}&n=${++n}`; }, delay);
    img.addEventListener("load", () => { img.hidden = false; next(80); });
    img.addEventListener("error", () => { img.hidden = true; next(1000); });
    next(0);
  }

  function start() {
    $("sync-now").addEventListener("click", async () => {
      const result = await api("POST", "/api/sync");
      if (result.ok) apply(result.data);
      setTimeout(refresh, 1500);
    });
    $("escorts").addEventListener("keydown", onPanelKey);
    document.addEventListener("keydown", onGlobalKey);
    const title = document.querySelector("#escorts-panel h2");
    if (title) title.append(el("span", { class: "keys", text: t("escorts_keys") }));
    startCamera();
    refresh();
    setInterval(refresh, 3000);
    setInterval(renderEscorts, 1000);  // the waiting time ticks
  }

  return { start, refresh, apply, queue, cameraHint, lost, focusPanel, openHandover, handoverOpen, connected: true };
})();
