// summary.html: sort the filings table by a header click (numbers as numbers, empty cells last,
// ties in their original order; a second click reverses) and filter its rows by a text box and
// three selects. Everything it needs is in the page (data-* attributes); it fetches nothing.
"use strict";
(function () {
  var table = document.getElementById("filings");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  rows.forEach(function (row, i) { row.dataset.index = String(i); });
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);

  function key(row, col, numeric) {
    var cell = row.cells[col];
    var raw = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
    if (raw === "") { return null; }
    return numeric ? parseFloat(raw) : raw;
  }

  function sortBy(col, descending) {
    var numeric = headers[col].dataset.kind === "num";
    var sign = descending ? -1 : 1;
    var sorted = rows.slice().sort(function (a, b) {
      var x = key(a, col, numeric), y = key(b, col, numeric);
      if (x === null || y === null) {
        if (x === y) { return a.dataset.index - b.dataset.index; }
        return x === null ? 1 : -1;  // empty last, either direction
      }
      var c = numeric ? x - y : (x < y ? -1 : (x > y ? 1 : 0));
      return c !== 0 ? sign * c : a.dataset.index - b.dataset.index;
    });
    sorted.forEach(function (row) { body.appendChild(row); });
    headers.forEach(function (h, i) {
      if (i === col) { h.setAttribute("aria-sort", descending ? "descending" : "ascending"); }
      else if (h.hasAttribute("aria-sort")) { h.removeAttribute("aria-sort"); }
    });
  }

  headers.forEach(function (h, col) {
    if (!h.classList.contains("sortable")) { return; }
    h.tabIndex = 0;
    function toggle() { sortBy(col, h.getAttribute("aria-sort") === "ascending"); }
    h.addEventListener("click", toggle);
    h.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
    });
  });

  var text = document.getElementById("filter-text");
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var shown = document.getElementById("filter-shown");

  function apply() {
    var q = text.value.trim().toLowerCase();
    var n = 0;
    rows.forEach(function (row) {
      var ok = q === "" || row.textContent.toLowerCase().indexOf(q) !== -1;
      selects.forEach(function (s) {
        if (s.value !== "" && row.dataset[s.dataset.filter] !== s.value) { ok = false; }
      });
      row.classList.toggle("hidden", !ok);
      if (ok) { n += 1; }
    });
    shown.textContent = shown.dataset.template.replace("{shown}", String(n)).replace("{total}", String(rows.length));
  }

  text.addEventListener("input", apply);
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  apply();
})();
