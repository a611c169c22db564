// Shifts: the sign-in overlay (officer number + PIN, keyboard only: type, Enter, type, Enter), who is on duty in
// the header, and the end of the shift (F8, Ctrl+L or the button) with its paper trail (PDF and CSV downloads).
// While the overlay is up, <body data-phase="signin">; the phase underneath comes back when it closes.
"use strict";

const Shift = (() => {
  const { t, el, api, token, lang } = Screen;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 5000;  // sync may bring the first officers, or end this one's shift (deactivated)
  let state = null;      // {required, officer, shift} from /api/shift
  let under = null;      // the page's phase while the overlay covers it

  function up() { return !$("signin").hidden; }

  function reportLink(kind, shiftId, short) {
    const query = new URLSearchParams({ token, lang });
    if (shiftId) query.set("shift", String(shiftId));
    const words = t(`shift_${kind}`);
    return el("a", { href: `/api/shift/report.${kind}?${query}`, class: `shift-${kind}`, download: "", title: words, text: short ? kind.toUpperCase() : words });
  }

  function showHeader() {
    const officer = state && state.officer;
    $("h-officer").hidden = !officer;
    $("shift-end").hidden = !officer;
    $("h-officer").textContent = officer ? t("shift_on_duty", { number: officer.number, name: officer.name }) : "";
    $("h-officer").title = t("shift_on_duty_title");
    const links = $("shift-links");
    links.replaceChildren(...(officer ? [reportLink("pdf", null, true), reportLink("csv", null, true)] : []));
    links.hidden = !officer;
  }

  async function showLastShift() {
    const box = $("signin-last");
    const result = await api("GET", "/api/shift/log");
    const last = result.ok ? result.data.shifts[0] : null;
    if (!last) { box.hidden = true; return; }
    box.replaceChildren(
      el("span", { text: t("signin_last_shift", { who: `${last.officer} ${last.name}`, from: last.started_local, until: last.ended_local || "…" }) }),
      " ", reportLink("pdf", last.id), " ", reportLink("csv", last.id),
    );
    box.hidden = false;
  }

  function open() {
    if (up()) return;
    under = document.body.dataset.phase || "waiting";
    $("signin").hidden = false;
    document.querySelector("main").inert = true;
    document.body.dataset.phase = "signin";
    $("signin-error").hidden = true;
    $("signin-number").value = "";
    $("signin-pin").value = "";
    $("signin-number").focus();
    showLastShift();
  }

  function close() {
    if (!up()) return;
    $("signin").hidden = true;
    document.querySelector("main").inert = false;
    document.body.dataset.phase = under || "waiting";
    under = null;
    // The officer goes on where the page stands: a vehicle already on the form gets its first field, an outcome its
    // Next button (the focus was on the overlay, which is gone).
    const visible = (node) => node && node.offsetParent !== null;
    const target = [...document.querySelectorAll("#decide-form input[data-stop]")].find(visible)
      || [$("next"), $("drop")].find(visible);
    if (target) target.focus();
  }

  function apply(data) {
    state = data;
    showHeader();
    if (state.required && !state.officer) open();
    else close();
  }

  async function refresh() {
    const result = await api("GET", "/api/shift");
    if (result.ok) apply(result.data);
  }

  function error(data, field) {
    const box = $("signin-error");
    box.textContent = data.message || t("error_generic", { error: data.code || "" });
    box.dataset.code = data.code || "";
    box.hidden = false;
    $("signin-pin").value = "";
    (field === "number" ? $("signin-number") : $("signin-pin")).focus();
  }

  async function signIn() {
    const number = $("signin-number").value.trim();
    const pin = $("signin-pin").value;
    if (!number) return $("signin-number").focus();
    if (!pin) return $("signin-pin").focus();
    $("signin-go").disabled = true;
    const result = await api("POST", "/api/shift/signin", { number, pin });
    $("signin-go").disabled = false;
    if (!result.ok) return error(result.data, result.data.field);
    apply(result.data);
  }

  async function signOut() {
    if (!state || !state.officer) return;
    const result = await api("POST", "/api/shift/signout");
    if (result.ok) apply(result.data);
  }

  function onOverlayKey(event) {
    // Keys typed in the overlay are the overlay's: the page's shortcuts (Esc, N, /, +) must not act behind it.
    event.stopPropagation();
    if (event.key !== "Enter") return;
    event.preventDefault();
    if (event.target === $("signin-number") && !$("signin-pin").value) $("signin-pin").focus();
    else signIn();
  }

  function onKey(event) {
    if (up()) {
      if (!$("signin").contains(event.target)) {  // nothing behind the overlay acts; the number field takes over
        event.stopPropagation();
        event.preventDefault();
        $("signin-number").focus();
      }
      return;
    }
    const end = event.key === "F8" || (event.ctrlKey && !event.altKey && !event.metaKey && (event.key === "l" || event.key === "L"));
    if (end && state && state.officer) {
      event.preventDefault();
      event.stopPropagation();
      signOut();
    }
  }

  function keepPhase() {
    // The vehicle script sets the phase as vehicles come and go; while the overlay is up it stays "signin".
    if (up() && document.body.dataset.phase !== "signin") {
      under = document.body.dataset.phase;
      document.body.dataset.phase = "signin";
    }
  }

  function start() {
    $("signin-form").addEventListener("submit", (event) => { event.preventDefault(); signIn(); });
    $("signin-form").addEventListener("keydown", onOverlayKey);
    $("shift-end").addEventListener("click", signOut);
    document.addEventListener("keydown", onKey, true);
    new MutationObserver(keepPhase).observe(document.body, { attributes: true, attributeFilter: ["data-phase"] });
    refresh();
    setInterval(refresh, POLL_MS);
  }

  start();
  return { refresh, signOut, state: () => state };
})();
