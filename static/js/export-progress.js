/*
 * A calls export's progress page: asks its status (GET /api/v1/calls/exports/<id>) every two seconds
 * until the file is written or failed, and shows the rows written, the bar and the download link.
 */
(function () {
  "use strict";
  var INTERVAL_MS = 2000;
  var LABELS = { queued: "Queued", running: "Writing", done: "Ready", failed: "Failed" };

  function update(card, exp) {
    var state = card.querySelector("[data-export-state]");
    state.setAttribute("data-export-state", exp.status);
    state.textContent = LABELS[exp.status] || exp.status;
    card.querySelector("[data-export-rows]").textContent =
      exp.rows_written + " of about " + exp.rows_expected + " calls written";
    var bar = card.querySelector("[data-export-progress]");
    var percent = exp.status === "done" ? 100 :
      (exp.rows_expected ? Math.min(99, Math.round(100 * exp.rows_written / exp.rows_expected)) : 0);
    bar.value = percent;
    bar.textContent = percent + "%";
    var error = card.querySelector("[data-export-error]");
    error.textContent = exp.error || "";
    error.hidden = !exp.error;
    var download = card.querySelector("[data-export-download]");
    if (exp.download_url) {
      download.querySelector("a").setAttribute("href", exp.download_url);
      download.hidden = false;
    }
    return exp.status === "done" || exp.status === "failed";
  }

  function poll(card) {
    fetch(card.getAttribute("data-export-status-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.success && update(card, body.data)) { return; }
        window.setTimeout(function () { poll(card); }, INTERVAL_MS);
      })
      .catch(function () { window.setTimeout(function () { poll(card); }, INTERVAL_MS * 3); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var card = document.querySelector("[data-export-status-url]");
    if (card && card.querySelector("[data-export-progress]")) {
      var state = card.querySelector("[data-export-state]").getAttribute("data-export-state");
      if (state !== "done" && state !== "failed") { poll(card); }
    }
  });
})();
