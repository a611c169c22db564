// The driver's phone page's service worker, served as /d/sw.js so that its scope is /d/ (server/driver_links/
// router.py). Network first: online, the phone always gets the pass's page as it is now (and the copy kept is
// replaced, or dropped when the link is gone); offline, it gets the copy the page put in the cache when it was
// last loaded, QR included, so a reload or a reopened tab still shows the pass. The live state (/status) is never
// answered from the cache.
"use strict";
var CACHE = "checkpass-driver-v1";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  var page = url.pathname.indexOf("/d/") === 0 && !/\/status$/.test(url.pathname) && url.pathname !== "/d/sw.js";
  var asset = url.pathname.indexOf("/static/") === 0;
  if (!page && !asset) return;
  event.respondWith(
    fetch(request).then(function (response) {
      if (page) {
        caches.open(CACHE).then(function (cache) {
          return response.ok ? cache.put(request, response.clone()) : cache.delete(request);
        });
      }
      return response;
    }).catch(function () {
      return caches.match(request).then(function (kept) { return kept || Response.error(); });
    })
  );
});
