// The review desk (issue 13): a form with data-confirm asks in a <dialog> before it is sent, and is then sent
// with confirm=yes. Without JavaScript the server asks instead (a second click after a notice on the page).
(function () {
  "use strict";

  function ask(form) {
    var dialog = document.createElement("dialog");
    dialog.className = "desk-confirm";
    var text = document.createElement("p");
    text.textContent = form.getAttribute("data-confirm");
    var yes = document.createElement("button");
    yes.type = "button";
    yes.className = "primary";
    yes.textContent = form.getAttribute("data-confirm-yes") || document.documentElement.getAttribute("data-confirm-yes") || "OK";
    var no = document.createElement("button");
    no.type = "button";
    no.textContent = form.getAttribute("data-confirm-no") || document.documentElement.getAttribute("data-confirm-no") || "Cancel";
    var buttons = document.createElement("p");
    buttons.appendChild(yes);
    buttons.appendChild(document.createTextNode(" "));
    buttons.appendChild(no);
    dialog.appendChild(text);
    dialog.appendChild(buttons);
    document.body.appendChild(dialog);
    no.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { dialog.remove(); });
    yes.addEventListener("click", function () {
      var confirm = form.querySelector("input[name=confirm]");
      if (!confirm) {
        confirm = document.createElement("input");
        confirm.type = "hidden";
        confirm.name = "confirm";
        form.appendChild(confirm);
      }
      confirm.value = "yes";
      dialog.close();
      form.submit();
    });
    dialog.showModal();
    yes.focus();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    var confirm = form.querySelector("input[name=confirm]");
    if (confirm && confirm.value === "yes") return;  // confirmed already (the server's step)
    event.preventDefault();
    ask(form);
  });
})();
