/*
 * Confirmation before a destructive form is sent: <form data-confirm="Question?">. Without
 * JavaScript the form is sent as it is; the server never depends on this.
 */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();
