// The chat's "Copy answer" button. Each answer carries, beside the button, the plain text to copy
// (Answer.with_sources, written by the server); this copies that text, never the HTML.
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    var button = ev.target && ev.target.closest ? ev.target.closest(".pq-copy") : null;
    if (!button) return;
    var answer = button.closest(".pq-answer");
    var text = answer ? answer.querySelector(".pq-copy-text") : null;
    if (!text) return;
    ev.preventDefault();
    navigator.clipboard.writeText(text.textContent).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy answer"; }, 1500);
    });
  });
})();
