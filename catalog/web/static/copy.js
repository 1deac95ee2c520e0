// Copy buttons: shown only when the Clipboard API is there; the code stays selectable without it.
(function () {
  "use strict";
  if (!navigator.clipboard) { return; }
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
        button.textContent = "✓ " + label;
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });
})();
