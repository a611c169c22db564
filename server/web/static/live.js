// Live refresh (issue 13, contract §3): an element with data-live-url and data-live-seconds has its contents
// replaced by the HTML fragment at that URL every N seconds, while the tab is visible, and not while the user is
// working in it (focus inside, or a checkbox in it checked): a list must not change under someone's hands.
// A failed fetch keeps the old contents (offline, a restart); the next round tries again. When the session ended
// (the fragment answers with the sign-in page, or 401), refreshing stops, so the page the user has stays.
(function () {
  "use strict";
  var MIN_SECONDS = 2;

  function busy(element) {
    if (element.contains(document.activeElement) && document.activeElement !== document.body) return true;
    return element.querySelector("input[type=checkbox]:checked") !== null;
  }

  function watch(element) {
    var seconds = Math.max(parseInt(element.getAttribute("data-live-seconds"), 10) || 30, MIN_SECONDS);
    var url = element.getAttribute("data-live-url");
    var inFlight = false;
    var stopped = false;

    function refresh() {
      if (stopped || inFlight || document.hidden || busy(element)) return;
      inFlight = true;
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html", "X-Live-Refresh": "1" }, redirect: "manual" })
        .then(function (response) {
          if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
            stopped = true;
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          // Checked again: the user may have started working in the list while the fragment was on its way.
          if (html !== null && html !== undefined && !busy(element)) {
            element.innerHTML = html;
            element.setAttribute("data-live-updated", new Date().toISOString());
            element.dispatchEvent(new CustomEvent("live:updated", { bubbles: true }));
          }
        })
        .catch(function () {})
        .then(function () {
          inFlight = false;
        });
    }

    setInterval(refresh, seconds * 1000);
    // Back to a tab left in the background: bring it up to date at once rather than at the next tick.
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) refresh();
    });
  }

  function start() {
    var elements = document.querySelectorAll("[data-live-url]");
    for (var i = 0; i < elements.length; i++) watch(elements[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
