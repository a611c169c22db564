// The driver's phone page (templates/driver_links/phone.html): while online, ask for the pass's state every
// data-status-seconds and take the QR away as soon as the pass is no longer valid; offline, keep showing the QR
// the page holds and say when the state was last confirmed. No framework, no inline script (the CSP forbids it).
(function () {
  "use strict";
  var box = document.getElementById("driver-phone");
  if (!box) return;
  var stateEl = document.getElementById("driver-state");
  var checkedEl = document.getElementById("driver-checked");
  var seconds = parseInt(box.dataset.statusSeconds || "60", 10);
  var lastChecked = new Date();
  var SHOWS_QR = { valid: true, not_yet_valid: true };
  var CACHE = "checkpass-driver-v1";  // static/driver_sw.js keeps this page for offline use

  // Keep this page and what it needs for a reload without a network (only while it shows a QR: a page that says
  // the pass is no longer valid needs no copy). The worker answers from the copy when the phone is offline.
  if ("serviceWorker" in navigator && window.caches && SHOWS_QR[box.dataset.state]) {
    navigator.serviceWorker.register("/d/sw.js").then(function () {
      return caches.open(CACHE);
    }).then(function (cache) {
      return cache.addAll([window.location.href, "/static/portal.css", "/static/driver_phone.js"]);
    }).then(function () {
      box.dataset.kept = "yes";
    }).catch(function () { /* no worker (plain http, private mode): the loaded page still holds its QR */ });
  }

  function text(name) {
    return box.dataset["text" + name.split("_").map(function (w) {
      return w.charAt(0).toUpperCase() + w.slice(1);
    }).join("")] || name;
  }

  function time(d) {
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function show(state) {
    box.dataset.state = state;
    stateEl.textContent = text(state);
    stateEl.className = "status " + state;
    if (!SHOWS_QR[state]) {
      var qr = document.getElementById("driver-qr");
      if (qr) qr.remove();  // a pass no longer valid is never shown as if it were
      if (window.caches) caches.open(CACHE).then(function (c) { c.delete(window.location.href); });
    }
  }

  function check() {
    fetch(box.dataset.statusUrl, { headers: { accept: "application/json" }, cache: "no-store" })
      .then(function (r) {
        if (r.status === 404) return { status: "link_revoked" };
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (body) {
        lastChecked = new Date();
        show(body.status);
        checkedEl.textContent = text("checked") + " " + time(lastChecked);
      })
      .catch(function () {
        checkedEl.textContent = text("offline") + " " + time(lastChecked);
      });
  }

  window.addEventListener("online", check);
  window.addEventListener("offline", function () {
    checkedEl.textContent = text("offline") + " " + time(lastChecked);
  });
  setInterval(function () {
    if (document.visibilityState === "visible") check();
  }, seconds * 1000);
  check();
})();
