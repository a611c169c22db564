// Header, alerts, camera picture and hints, escorts waiting, recent decisions.
"use strict";

const Panels = (() => {
  const { t, el, api, token, duration } = Screen;
  const $ = (id) => document.getElementById(id);
  let escorts = [];
  let waitLimit = 60;

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
    queue(o.queued);
  }

  function queue(n) {
    chip($("queue"), n ? t("queue", { n }) : "", "warn");
  }

  function renderEscorts() {
    const list = $("escorts");
    if (!escorts.length) {
      list.replaceChildren(el("li", { class: "empty", text: t("escorts_none") }));
      return;
    }
    const now = Date.now();
    list.replaceChildren(...escorts.map((e) => {
      const waited = (now - Date.parse(e.decided_at)) / 1000;
      const late = waited > waitLimit * 60;
      const answer = e.staff_name
        ? el("div", { class: "answer" }, `${t("staff")}: ${e.staff_name} ${e.staff_phone || ""}`, e.eta ? ` · ${t("eta")} ${e.eta}` : "")
        : null;
      return el("li", { class: "escort" + (late ? " late" : ""), dataset: { crossing: e.crossing_id } },
        el("div", { class: "line1" }, el("span", { class: "plate", text: e.plate }),
          el("span", { class: "waited", text: t("waited", { time: duration(waited) }) })),
        el("div", { text: t("escort_" + e.status) }),
        e.enterprise && e.enterprise.name
          ? el("div", { class: "enterprise", text: [e.enterprise.name, e.enterprise.contact, e.enterprise.phone].filter(Boolean).join(" ") })
          : null,
        answer,
        late ? el("div", { class: "late-note", text: t("over_limit", { limit: waitLimit }) }) : null,
        el("button", { type: "button", class: "small handover", text: t("handover"), onclick: () => handover(e) }));
    }));
  }

  async function handover(e) {
    if (!window.confirm(t("handover_confirm", { plate: e.plate }))) return;
    const result = await api("POST", `/api/escorts/${encodeURIComponent(e.crossing_id)}/handover`);
    if (result.ok) apply(result.data);
    else window.alert(result.data.message || result.status);
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
    header(o);
    renderEscorts();
    renderRecent(o.recent);
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
    startCamera();
    refresh();
    setInterval(refresh, 3000);
    setInterval(renderEscorts, 1000);  // the waiting time ticks
  }

  return { start, refresh, apply, queue, cameraHint, lost, connected: true };
})();
