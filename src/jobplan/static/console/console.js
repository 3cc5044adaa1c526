// jobplan console: local times, theme, keyboard shortcuts, live output. No framework.
(function () {
  "use strict";
  var root = document.documentElement;

  function localTimes(scope) {
    (scope || document).querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) { el.textContent = when.toLocaleString(); }
    });
  }

  var stored = localStorage.getItem("jobplan-theme");
  if (stored === "light" || stored === "dark") { root.setAttribute("data-theme", stored); }
  function toggleTheme() {
    var dark = root.getAttribute("data-theme") === "dark" ||
      (root.getAttribute("data-theme") !== "light" && matchMedia("(prefers-color-scheme: dark)").matches);
    var next = dark ? "light" : "dark";
    root.setAttribute("data-theme", next);
    localStorage.setItem("jobplan-theme", next);
  }

  function follow(pre) {
    var url = pre.getAttribute("data-follow");
    if (!url || !window.EventSource) { return; }
    var state = document.getElementById("follow-state");
    var source = new EventSource(url);
    source.addEventListener("output", function (event) {
      var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(JSON.parse(event.data)));
      if (atBottom) { pre.scrollTop = pre.scrollHeight; }
    });
    function finish(text) { source.close(); if (state) { state.textContent = text; } }
    source.addEventListener("done", function () { finish("finished"); });
    source.addEventListener("gone", function (event) { finish(event.data); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    var output = document.getElementById("output");
    if (output) { follow(output); }
    var theme = document.getElementById("theme-toggle");
    if (theme) { theme.addEventListener("click", toggleTheme); }
    var help = document.getElementById("help");
    var helpButton = document.getElementById("help-toggle");
    if (helpButton && help) { helpButton.addEventListener("click", function () { help.showModal(); }); }
  });
  // Plain forms that destroy something ask first (no inline script: the CSP forbids it).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });

  // A refusal (4xx) carries the service's message, retargeted at #messages: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400 && status < 500 && event.detail.xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) { localTimes(event.target); });

  var pendingG = false;
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var help = document.getElementById("help");
    if (event.key === "?") { if (help) { help.showModal(); } event.preventDefault(); return; }
    if (event.key === "t") { toggleTheme(); return; }
    if (event.key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { search.focus(); event.preventDefault(); } else { location.href = "/plans"; }
      return;
    }
    if (pendingG) {
      pendingG = false;
      var link = document.querySelector('nav a[data-key="' + event.key + '"]');
      if (link) { location.href = link.getAttribute("href"); }
      return;
    }
    if (event.key === "g") { pendingG = true; setTimeout(function () { pendingG = false; }, 1200); }
  });
})();
