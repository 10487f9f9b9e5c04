/* nbtrail site: sortable and filterable tables, the parameters-vs-metric scatter, the code
   toggle. Plain JavaScript, no library, nothing fetched: text goes in with textContent. */
(function () {
  "use strict";

  function cellValue(row, i) {
    var cell = row.cells[i];
    if (!cell) return "";
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim() : v;
  }

  function sortBy(table, i, th) {
    var body = table.tBodies[0];
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, i), y = cellValue(b, i);
      var nx = parseFloat(x), ny = parseFloat(y);
      var cmp;
      if (x === "" || y === "") cmp = (x === "") - (y === "");
      else if (!isNaN(nx) && !isNaN(ny) && isFinite(x) && isFinite(y)) cmp = nx - ny;
      else cmp = x < y ? -1 : x > y ? 1 : 0;
      return asc ? cmp : -cmp;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) {
      c.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }

  function sortable(table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.title = "sort by this column";
      th.addEventListener("click", function () { sortBy(table, i, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, i, th); }
      });
    });
  }

  function filterable(table) {
    var controls = document.querySelectorAll('[data-filter-for="' + table.id + '"]');
    function apply() {
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var ok = true;
        Array.prototype.forEach.call(controls, function (c) {
          var want = c.value.trim().toLowerCase();
          if (!want) return;
          var attr = c.getAttribute("data-filter-attr");
          var have = attr ? (row.getAttribute(attr) || "").toLowerCase() : row.textContent.toLowerCase();
          if (attr ? have !== want : have.indexOf(want) < 0) ok = false;
        });
        row.hidden = !ok;
        if (ok) shown++;
      });
      var count = document.getElementById(table.id + "-count");
      if (count) count.textContent = shown + " of " + table.tBodies[0].rows.length + " runs shown";
    }
    Array.prototype.forEach.call(controls, function (c) {
      c.addEventListener("input", apply);
      c.addEventListener("change", apply);
    });
    apply();
  }

  var SVG = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, anchor) {
    var t = el("text", { x: x, y: y, "font-size": 11, "text-anchor": anchor || "start" }, parent);
    t.textContent = s;
    return t;
  }
  function fmt(v) { return Math.abs(v) >= 1000 || v === Math.round(v) ? String(Math.round(v * 1000) / 1000) : v.toPrecision(4); }

  function scatter(box) {
    var data = JSON.parse(document.getElementById("runs-data").textContent);
    var xs = document.getElementById("scatter-x"), ys = document.getElementById("scatter-y");
    var out = document.getElementById("scatter-plot");
    function draw() {
      while (out.firstChild) out.removeChild(out.firstChild);
      var px = xs.value, py = ys.value;
      var pts = data.filter(function (r) {
        return typeof r.params[px] === "number" && typeof r.metrics[py] === "number";
      });
      var W = 640, H = 360, L = 64, B = 40, T = 14, R = 16;
      var svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "class": "scatter" }, out);
      el("title", {}, svg).textContent = px + " against " + py;
      if (!pts.length) {
        text(svg, W / 2, H / 2, "no run has both " + px + " and " + py, "middle");
        return;
      }
      var xv = pts.map(function (p) { return p.params[px]; }), yv = pts.map(function (p) { return p.metrics[py]; });
      var x0 = Math.min.apply(null, xv), x1 = Math.max.apply(null, xv);
      var y0 = Math.min.apply(null, yv), y1 = Math.max.apply(null, yv);
      if (x0 === x1) { x0 -= 1; x1 += 1; }
      if (y0 === y1) { y0 -= Math.abs(y0) * 0.01 || 1; y1 += Math.abs(y1) * 0.01 || 1; }
      function sx(v) { return L + (v - x0) / (x1 - x0) * (W - L - R); }
      function sy(v) { return H - B - (v - y0) / (y1 - y0) * (H - B - T); }
      el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#888" }, svg);
      el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#888" }, svg);
      text(svg, L, H - B + 16, fmt(x0), "middle");
      text(svg, W - R, H - B + 16, fmt(x1), "middle");
      text(svg, (L + W - R) / 2, H - 6, px, "middle");
      text(svg, L - 6, H - B, fmt(y0), "end");
      text(svg, L - 6, T + 10, fmt(y1), "end");
      text(svg, 4, T + 2, py);
      pts.forEach(function (p) {
        var a = el("a", { href: p.href }, svg);
        var c = el("circle", { cx: sx(p.params[px]), cy: sy(p.metrics[py]), r: 6, fill: p.colour, stroke: "#333" }, a);
        el("title", {}, c).textContent = p.run_id + ": " + px + "=" + p.params[px] + ", " + py + "=" + fmt(p.metrics[py]);
      });
    }
    xs.addEventListener("change", draw);
    ys.addEventListener("change", draw);
    draw();
  }

  function codeToggle(button) {
    var nb = document.querySelector(".notebook");
    button.addEventListener("click", function () {
      var hidden = nb.classList.toggle("hide-code");
      button.textContent = hidden ? "show code" : "hide code";
      button.setAttribute("aria-pressed", hidden ? "false" : "true");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortable);
    Array.prototype.forEach.call(document.querySelectorAll("table.filterable"), filterable);
    if (document.getElementById("runs-data") && document.getElementById("scatter-plot")) scatter();
    var toggle = document.getElementById("toggle-code");
    if (toggle) codeToggle(toggle);
  });
})();
