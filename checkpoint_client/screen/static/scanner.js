// Handheld QR scanners in USB keyboard mode (docs/scanners.md): the scanner types the code as keystrokes, a few
// milliseconds apart, ending in Enter (or Tab). Wherever the focus is, such a burst is a scan: it never lands in a
// field and never triggers a shortcut (a "+" in the code used to add a person, an "N" to start a vehicle without a
// pass). A person types the same keys, only slower.
//
// The first keystrokes cannot be told apart until the burst shows itself, so printable keys are held for a moment
// (at most the scanner's gap, 50 ms by default: a person does not notice it). A burst stays a scanner's while its
// keys come at most gap_ms apart on average (one stall of a busy laptop, up to 3 gaps, does not end it). When the
// next key comes later, the held keys were typed by a person: they are replayed as they came, to the field and the
// shortcuts, as a synthetic keydown and, unless a handler took it, the character (a click, a focus change or any
// other key replays them first). When a burst reaches min_chars keystrokes (12 by default: a plate is at most 9),
// it is a scan: held until it ends (the end key, or a pause), then sent to the desk as the next vehicle; anything
// an input method put into a field meanwhile is undone.
//
// Keys an input method composes (key "Process"), auto-repeat (a key held down) and keys with Ctrl, Alt or Meta
// are never held. Text an input method inserts without a keydown (a full-width mode) counts as keystrokes.
"use strict";

const Scanner = (() => {
  const { t, el, api } = Screen;
  const settings = { end: "enter_or_tab", prefix: "", suffix: "", gap_ms: 50, min_chars: 12, pass_prefix: "CP1:" };
  const QUIET_MS = 300;  // a scanner's code without an end key: the pause that ends it
  // A scanner that ends its codes with a key: a scan in progress waits this long for its next key, so a busy
  // laptop's stall in the middle of a code does not cut it in two (a malformed pass and a queued half).
  const STALL_MS = 2000;
  const END_KEYS = { enter: ["Enter"], tab: ["Tab"], enter_or_tab: ["Enter", "Tab"], none: [] };
  const TEXT_TYPES = new Set(["text", "search", "tel", "url", "password", "email", ""]);

  let held = [];          // {key, code, shiftKey} of a held keydown, or {data} of text inserted without one
  let first = 0;          // when the burst's first and last keystrokes came (event.timeStamp)
  let last = 0;
  let timer = null;
  let scanning = false;   // the burst is long and fast enough to be a scanner
  let snapshot = null;    // the field focused when the burst began: restored when it turns out to be a scan
  let replaying = false;
  let ended = -Infinity;  // when the last scan ended: a second end key right after it (CR LF) is the scanner's
  let waiting = null;     // a scan taken while the sign-in overlay is up
  const edited = new WeakSet();  // fields a replay typed into: they owe a "change" when left, as typing would

  const config = api("GET", "/api/input").then((result) => {
    if (result.ok) Object.assign(settings, result.data.scanner);
    return result.ok ? result.data : null;
  });

  function editable(node) {
    return (node instanceof HTMLInputElement && TEXT_TYPES.has(node.type)) || node instanceof HTMLTextAreaElement;
  }

  function claim(event) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }

  function begin(target) {
    snapshot = editable(target)
      ? { node: target, value: target.value, start: target.selectionStart, end: target.selectionEnd }
      : null;
  }

  function reset() {
    clearTimeout(timer);
    timer = null;
    held = [];
    scanning = false;
    snapshot = null;
  }

  // A burst is a scanner's while its keystrokes come gap_ms apart on average (one stall of a busy laptop does
  // not end it); a person's keys, 120 ms or more apart, fall behind at once and are replayed.
  function deadline() {
    if (scanning) return last + (settings.end === "none" ? QUIET_MS : STALL_MS);
    // One stall of a busy laptop (up to 3 gaps, at least 150 ms) does not end a burst; it also bounds how long
    // a fast person's keys can wait.
    return Math.min(first + held.length * settings.gap_ms, last + Math.max(150, 3 * settings.gap_ms));
  }

  function arm() {
    clearTimeout(timer);
    const due = deadline();
    timer = setTimeout(() => {
      // A timer that fires late means the page was busy: keys typed meanwhile may still be queued. Give them
      // one more gap before judging the burst (only a stalled page pays this).
      if (!scanning && performance.now() - due > settings.gap_ms && held.length === 1 && !held.graced) {
        held.graced = true;
        timer = setTimeout(() => (scanning ? finish() : flush()), settings.gap_ms);
        return;
      }
      scanning ? finish() : flush();
    }, Math.max(0, due - performance.now()) + 1);
  }

  function pause(now) {
    return held.length > 0 && now > deadline();
  }

  function hold(item, now) {
    if (!held.length) first = now;
    held.push(item);
    last = now;
    if (held.length >= settings.min_chars) scanning = true;
    arm();
  }

  // ---- a person typed it: replay -------------------------------------------------------------------------

  function insert(node, text) {
    if (editable(node)) {
      if (node.readOnly || node.disabled) return;
      const start = node.selectionStart ?? node.value.length;
      const end = node.selectionEnd ?? start;
      const room = node.maxLength >= 0 ? node.maxLength - (node.value.length - (end - start)) : text.length;
      if (room <= 0) return;
      node.setRangeText(text.slice(0, room), start, end, "end");
      edited.add(node);
      node.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText", data: text }));
    } else if (text === " " && (node instanceof HTMLButtonElement
      || (node instanceof HTMLInputElement && ["radio", "checkbox", "button", "submit"].includes(node.type)))) {
      node.click();  // Space presses a button or picks a radio, as it would have
    }
  }

  function flush(into) {
    const items = held;
    reset();
    replaying = true;
    try {
      for (const item of items) {
        // Each key goes where the focus is now: an earlier one ("/") may have moved it, as it would have.
        const target = into || document.activeElement || document.body;
        if (item.data !== undefined) { insert(target, item.data); continue; }
        const event = new KeyboardEvent("keydown", {
          key: item.key, code: item.code, shiftKey: item.shiftKey, bubbles: true, cancelable: true, composed: true,
        });
        if (target.dispatchEvent(event)) insert(target, item.key);
      }
    } finally {
      replaying = false;
    }
  }

  // ---- a scanner typed it: send it -----------------------------------------------------------------------

  function normalise(raw) {
    // Full-width input methods type "ＣＰ１：": NFKC folds them (and an ideographic space) to ASCII.
    let text = raw.normalize("NFKC");
    const prefix = settings.prefix.normalize("NFKC");
    const suffix = settings.suffix.normalize("NFKC");
    // Compared without case: with Caps Lock on, the scanner's prefix comes in the other case too.
    if (prefix && text.slice(0, prefix.length).toUpperCase() === prefix.toUpperCase()) text = text.slice(prefix.length);
    if (suffix && text.slice(-suffix.length).toUpperCase() === suffix.toUpperCase()) text = text.slice(0, -suffix.length);
    text = text.trim();
    // Caps Lock on, or a layout that lower-cases: a pass's text (Base45) has no lower case at all.
    const mark = settings.pass_prefix;
    if (!text.startsWith(mark) && text.slice(0, mark.length).toUpperCase() === mark) text = text.toUpperCase();
    return text;
  }

  function finish() {
    const text = held.map((item) => item.data ?? item.key).join("");
    ended = performance.now();
    const field = snapshot;
    reset();
    if (field && field.node.value !== field.value) {  // an input method's text got through: undo it
      field.node.value = field.value;
      field.node.setSelectionRange(field.start, field.end);
      field.node.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertReplacementText" }));
    }
    const code = normalise(text);
    if (code) submit(code);
  }

  let noteTimer = null;

  function note(text, keep = false) {  // a short line; a read is only news for a moment
    let chip = document.getElementById("scanner-note");
    if (!chip) {
      // Under the QR text field, in the left column: a line here moves nothing on the vehicle's form.
      chip = el("div", { id: "scanner-note", class: "hint", role: "status" });
      document.getElementById("paste-form")?.after(chip);
    }
    chip.textContent = text;
    chip.hidden = false;
    clearTimeout(noteTimer);
    if (!keep) noteTimer = setTimeout(() => { chip.hidden = true; }, 4000);
  }

  async function submit(code) {
    const count = Number(document.body.dataset.scans || 0) + 1;
    document.body.dataset.scans = String(count);  // for tests: the scanner's codes so far
    if (document.body.dataset.phase === "signin") {  // nobody signed in: keep it for after the sign-in
      waiting = code;
      note(t("scanner_held"), true);
      return;
    }
    note(t("scanner_read", { excerpt: code.length > 12 ? code.slice(0, 12) + "…" : code }));
    const result = await api("POST", "/api/vehicle/scan", { text: code });
    if (!result.ok) note(t("scanner_failed", { error: result.data.message || result.status }), true);
    document.body.dataset.scanned = String(count);  // answered (the vehicle arrives on the event stream)
  }

  new MutationObserver(() => {
    if (waiting !== null && document.body.dataset.phase !== "signin") {
      const code = waiting;
      waiting = null;
      submit(code);
    }
  }).observe(document.body, { attributes: true, attributeFilter: ["data-phase"] });

  // ---- listening (capture, on the window: before any handler of the page) --------------------------------

  function onKeyDown(event) {
    if (replaying || !event.isTrusted) return;
    const now = event.timeStamp;
    if (event.isComposing || event.key === "Process" || event.key === "Dead") return;
    const printable = event.key.length === 1 && !event.ctrlKey && !event.altKey && !event.metaKey;
    if (printable && !event.repeat) {
      if (pause(now)) scanning ? finish() : flush();
      if (!held.length) begin(event.target);
      claim(event);
      return hold({ key: event.key, code: event.code, shiftKey: event.shiftKey }, now);
    }
    if (!held.length && ["Enter", "Tab"].includes(event.key) && now - ended <= settings.gap_ms * 2) {
      return claim(event);  // a scanner that ends a code with CR LF (two Enters), or Enter and Tab
    }
    if (!held.length || event.key === "Shift" || event.key === "CapsLock") return;  // Shift: shifted symbols
    if (scanning) {  // the end key (or any other key a scanner sends after a code) ends the scan
      if ((END_KEYS[settings.end] || []).includes(event.key) || now - last <= QUIET_MS) claim(event);
      return finish();
    }
    flush();  // a person: what was held goes first, then this key (Enter after "365") acts as it would have
  }

  function onBeforeInput(event) {
    // Text without a keydown of its own: a full-width input method, or a test's insertText. A held keydown
    // was prevented, so it never comes here.
    if (replaying || !event.isTrusted || event.inputType !== "insertText" || !event.data) return;
    if ([...event.data].length > 1) {  // a word an input method commits, or a filled-in value: never a scanner's
      if (held.length && !scanning) flush();
      return;
    }
    const now = event.timeStamp;
    if (pause(now)) scanning ? finish() : flush();
    if (!held.length) begin(event.target);
    event.preventDefault();
    hold({ data: event.data }, now);
  }

  function onPointer() {  // a click acts on what was typed before it (the Decide button reads the fields)
    if (held.length && !scanning) flush();
  }

  function onFocusOut(event) {  // the focus moves on: what was typed goes to the field it was typed in
    if (held.length && !scanning && !replaying) flush(event.target);
    if (edited.has(event.target)) {
      edited.delete(event.target);
      event.target.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  window.addEventListener("keydown", onKeyDown, true);
  window.addEventListener("beforeinput", onBeforeInput, true);
  window.addEventListener("pointerdown", onPointer, true);
  window.addEventListener("mousedown", onPointer, true);
  window.addEventListener("focusout", onFocusOut, true);

  return {
    busy: () => held.length > 0,  // a burst is being held: shortcuts wait for it
    config,
    normalise,
  };
})();
