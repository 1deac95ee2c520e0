// The 信息项 (data items) editor: add, move and remove rows in the page instead of a round trip.
// Without JavaScript the same buttons submit the form and the server does the same.
(function () {
  "use strict";
  var table = document.querySelector("table.items-editor tbody");
  if (!table) { return; }

  function renumber() {
    Array.prototype.forEach.call(table.rows, function (row, index) {
      row.querySelector("td.num").textContent = String(index + 1);
      row.querySelectorAll("input, select, label").forEach(function (el) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) { el.setAttribute(attr, value.replace(/^items-\d+-/, "items-" + index + "-")); }
        });
      });
      row.querySelectorAll("button[data-move]").forEach(function (button) {
        button.value = button.getAttribute("data-move") + "-" + index;
        // "Move row 2 up" / "第 2 行上移": the row number is the first number of the label
        button.setAttribute("aria-label", button.getAttribute("aria-label").replace(/\d+/, String(index + 1)));
      });
      row.querySelectorAll("label.visually-hidden").forEach(function (label) {
        label.textContent = label.textContent.replace(/\d+\s*$/, String(index + 1));
      });
    });
  }

  function blankRow() {
    var row = table.rows[table.rows.length - 1].cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) { input.value = ""; input.removeAttribute("aria-invalid"); });
    row.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
    row.querySelectorAll(".field-error").forEach(function (p) { p.remove(); });
    return row;
  }

  table.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-move]");
    if (!button) { return; }
    event.preventDefault();
    var row = button.closest("tr");
    var kind = button.getAttribute("data-move");
    if (kind === "up" && row.previousElementSibling) {
      table.insertBefore(row, row.previousElementSibling);
    } else if (kind === "down" && row.nextElementSibling) {
      table.insertBefore(row.nextElementSibling, row);
    } else if (kind === "remove") {
      if (table.rows.length === 1) { table.appendChild(blankRow()); }
      row.remove();
    }
    renumber();
    button.focus();
  });

  var add = document.querySelector("button[data-add-row]");
  if (add) {
    add.addEventListener("click", function (event) {
      event.preventDefault();
      var row = blankRow();
      table.appendChild(row);
      renumber();
      row.querySelector("input").focus();
    });
  }
})();
