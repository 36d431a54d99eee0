/* Reports uncaught errors and unhandled promise rejections to the server, a few per page. */
(function () {
  "use strict";
  var ENDPOINT = "/api/v1/client-errors/";
  var MAX_REPORTS = 5;
  var sent = 0;

  function clip(value, max) {
    value = value == null ? "" : String(value);
    return value.length > max ? value.slice(0, max) : value;
  }

  function send(report) {
    if (sent >= MAX_REPORTS) return;
    sent += 1;
    report.page_url = clip(window.location.href, 2000);
    var body = JSON.stringify(report);
    try {
      fetch(ENDPOINT, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: body,
        keepalive: true,
        credentials: "same-origin"
      }).catch(function () { /* reporting must never raise errors of its own */ });
    } catch (e) { /* old browsers without fetch: nothing to do */ }
  }

  window.addEventListener("error", function (event) {
    if (!event.error && !event.message) return;
    send({
      kind: "error",
      message: clip(event.message || (event.error && event.error.message) || "Script error", 2000),
      source: clip(event.filename, 2000),
      line: event.lineno || null,
      column: event.colno || null,
      stack: clip(event.error && event.error.stack, 8000)
    });
  });

  window.addEventListener("unhandledrejection", function (event) {
    var reason = event.reason;
    send({
      kind: "unhandledrejection",
      message: clip((reason && reason.message) || reason || "Unhandled promise rejection", 2000),
      stack: clip(reason && reason.stack, 8000)
    });
  });
})();
