// One sound per outcome, made with WebAudio (no files: works offline), so the officer knows the verdict without
// looking. A mute setting on the screen is remembered by this browser. Each tone asked for is noted on <body
// data-sound> and in Sound.played (tests read them; a muted screen notes "muted").
"use strict";

const Sound = (() => {
  const KEY = "screen-muted";
  // [frequency Hz, duration s, wave] per note: rising for release, steady beeps for escort, a low buzz for
  // refuse, a falling two-tone for a medical hold. Distinct in pitch and rhythm, not only in loudness.
  const TONES = {
    RELEASE: [[660, 0.12, "sine"], [880, 0.18, "sine"]],
    ESCORT_REQUIRED: [[587, 0.14, "triangle"], [587, 0.14, "triangle"], [587, 0.14, "triangle"]],
    REFUSE: [[196, 0.45, "square"]],
    MEDICAL_HOLD: [[740, 0.2, "sawtooth"], [494, 0.2, "sawtooth"], [740, 0.2, "sawtooth"], [494, 0.2, "sawtooth"]],
  };
  const played = [];
  let context = null;

  function muted() {
    try { return localStorage.getItem(KEY) === "1"; } catch (err) { return false; }
  }

  function setMuted(value) {
    try { localStorage.setItem(KEY, value ? "1" : "0"); } catch (err) { /* private mode: this page only */ }
    render();
  }

  function render() {
    const button = document.getElementById("sound");
    if (!button) return;
    const off = muted();
    button.textContent = off ? Screen.t("sound_off") : Screen.t("sound_on");
    button.setAttribute("aria-pressed", off ? "true" : "false");
    button.classList.toggle("off", off);
  }

  function play(outcome) {
    const notes = TONES[outcome];
    if (!notes) return;
    if (muted()) {
      document.body.dataset.sound = "muted";
      return;
    }
    document.body.dataset.sound = outcome;
    played.push(outcome);
    try {
      context = context || new (window.AudioContext || window.webkitAudioContext)();
      if (context.state === "suspended") context.resume();
      let at = context.currentTime + 0.02;
      for (const [frequency, duration, wave] of notes) {
        const osc = context.createOscillator();
        const gain = context.createGain();
        osc.type = wave;
        osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.35, at + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + duration);
        osc.connect(gain).connect(context.destination);
        osc.start(at);
        osc.stop(at + duration + 0.02);
        at += duration + 0.06;
      }
    } catch (err) { /* no audio device: the colour and the words still say it */ }
  }

  function start() {
    const button = document.getElementById("sound");
    if (button) button.addEventListener("click", () => setMuted(!muted()));
    render();
  }

  return { play, start, muted, setMuted, played };
})();
