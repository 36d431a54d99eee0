/*
 * Click-to-call forms (<form data-click-to-call>): one click places one call. The button is disabled
 * and says so while the request is on its way, so a double click does not ring the customer twice.
 */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-click-to-call]");
    if (!form) {
      return;
    }
    if (form.getAttribute("data-submitted") === "true") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-submitted", "true");
    var button = form.querySelector("button[type=submit]");
    if (button) {
      button.setAttribute("aria-disabled", "true");
      button.textContent = "Calling…";
    }
  });
})();
