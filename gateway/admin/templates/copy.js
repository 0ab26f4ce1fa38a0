(function () {
  // A copy button after each snippet; without script the snippet is plain text to select.
  function select(pre) {
    var range = document.createRange();
    range.selectNodeContents(pre);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  document.querySelectorAll("pre.snippet").forEach(function (pre) {
    var button = document.createElement("button");
    var status = document.createElement("span");
    button.type = "button";
    button.className = "copy";
    button.textContent = {{ t.plain("copy.button")|tojson }};
    status.setAttribute("role", "status");
    status.className = "muted";
    button.addEventListener("click", function () {
      select(pre);
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(pre.textContent).then(
          function () { status.textContent = " " + {{ t.plain("copy.done")|tojson }}; },
          function () { status.textContent = " " + {{ t.plain("copy.selected")|tojson }}; }
        );
      } else {
        status.textContent = " " + {{ t.plain("copy.selected")|tojson }};
      }
    });
    pre.after(button, status);
  });
})();
