/*
 * Parts of a page that load after it: <div data-async-src="/url" data-async-label="what">.
 * Shows a loading state, then the HTML fragment from the URL; when that fails, an inline error
 * with a Retry button. Only that part is affected — the rest of the page keeps working.
 */
(function () {
  "use strict";
  var TIMEOUT_MS = 15000;

  function show(container, state, node) {
    container.setAttribute("data-async-state", state);
    container.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    container.replaceChildren(node);
  }

  function loading(label) {
    var p = document.createElement("p");
    p.className = "async-loading";
    p.textContent = "Loading " + label + "…";
    return p;
  }

  function failure(container, label, detail) {
    var box = document.createElement("div");
    box.className = "async-error";
    box.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = "Couldn't load " + label + (detail ? " (" + detail + ")" : "") + ".";
    var retry = document.createElement("button");
    retry.type = "button";
    retry.className = "button button-small";
    retry.textContent = "Retry";
    retry.addEventListener("click", function () { load(container); });
    box.append(text, retry);
    return box;
  }

  function load(container) {
    var url = container.getAttribute("data-async-src");
    var label = container.getAttribute("data-async-label") || "this part";
    show(container, "loading", loading(label));
    var controller = "AbortController" in window ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    return fetch(url, {
      headers: { "Accept": "text/html", "X-Requested-With": "fetch" },
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (!response.ok) {
        var requestId = response.headers.get("X-Request-ID");
        throw new Error("error " + response.status + (requestId ? ", request id " + requestId : ""));
      }
      return response.text();
    }).then(function (html) {
      var template = document.createElement("template");
      template.innerHTML = html;
      show(container, "loaded", template.content);
    }).catch(function (error) {
      var detail = error && error.name === "AbortError" ? "timed out" : (error && error.message) || "";
      if (detail === "Failed to fetch" || detail === "NetworkError when attempting to fetch resource.") {
        detail = "network error";
      }
      show(container, "error", failure(container, label, detail));
    }).finally(function () {
      if (timer) clearTimeout(timer);
    });
  }

  function init(root) {
    (root || document).querySelectorAll("[data-async-src]").forEach(load);
  }

  window.CalyAsync = { load: load, init: init };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(); });
  } else {
    init();
  }
})();
