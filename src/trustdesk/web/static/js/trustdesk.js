/* TrustDesk: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // Move keyboard focus to a freshly shown message or error, so screen readers and keyboard users land on it.
  function focusFlagged(root) {
    var target = (root || document).querySelector("[data-focus]");
    if (target && typeof target.focus === "function") {
      target.focus({ preventScroll: false });
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) {
      var box = button.closest("[data-dismissible]");
      if (box) { box.remove(); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () { focusFlagged(document); });
  document.addEventListener("htmx:afterSettle", function (event) { focusFlagged(event.detail.target); });

  // An htmx error answer is swapped into #alerts; clear stale messages before each new request.
  document.addEventListener("htmx:beforeRequest", function () {
    var alerts = document.getElementById("alerts");
    if (alerts) {
      alerts.querySelectorAll(".alert-error").forEach(function (node) { node.remove(); });
    }
  });
})();
