/*
 * Copy buttons: <button data-copy="input-id">. Copies the input's value to the clipboard and says
 * so on the button for two seconds; where the clipboard API is refused, selects the text instead.
 */
(function () {
  "use strict";

  function done(button, text) {
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.firstChild.textContent = text;
    window.setTimeout(function () { button.firstChild.textContent = original.replace(/\s+$/, ""); }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    var label = button.firstChild.textContent;
    button.setAttribute("data-label", label);
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(
        function () { done(button, "Copied"); },
        function () { input.select(); done(button, "Press Ctrl+C"); }
      );
    } else {
      input.select();
      done(button, "Press Ctrl+C");
    }
  });
})();
