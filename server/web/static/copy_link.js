// Copy the new driver link (templates/driver_links/created.html) to the clipboard; select it where the clipboard
// API is not available (plain http on a LAN address).
(function () {
  "use strict";
  var button = document.getElementById("driver-link-copy");
  var input = document.getElementById("driver-link-url");
  if (!button || !input) return;
  button.addEventListener("click", function () {
    var done = function () { button.textContent = button.dataset.copied; };
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
