/* lensbot web: small enhancements on top of pages that work without JavaScript.
   After htmx swaps in the next question, move the keyboard focus to its heading and tell
   screen readers the progress ("Snelle scan · 3/11") through the live region. */
(function () {
  "use strict";
  function announce(root) {
    var heading = document.getElementById("question");
    if (heading) {
      heading.focus();
    }
    var live = document.getElementById("live");
    var progress = (root || document).querySelector("[data-progress]");
    if (live) {
      live.textContent = progress ? progress.textContent : "";
    }
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    announce(event.detail && event.detail.elt);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var heading = document.getElementById("question");
    if (heading && document.activeElement === document.body) {
      heading.focus();
    }
  });
})();
