/* treadle's notebook widgets: enhances the static HTML + SVG that Python wrote (docs/widgets.md).
   Inlined into every output (no network); defines window.treadleWidgets once per page. */
(function () {
  "use strict";
  var VERSION = 5;
  if (window.treadleWidgets && window.treadleWidgets.version >= VERSION) return;

  var SVGNS = "http://www.w3.org/2000/svg";

  function tooltip(root) {
    var tip = root.querySelector(":scope > .treadle-tooltip");
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "treadle-tooltip";
      tip.style.display = "none";
      root.appendChild(tip);
    }
    return {
      // Fixed to the window, so the output area's edges never cut it; flipped to the other
      // side of the pointer near the window's edges.
      show: function (text, ev) {
        if (tip.textContent !== text) tip.textContent = text;
        tip.style.display = "block";
        var w = tip.offsetWidth, h = tip.offsetHeight;
        var x = ev.clientX + 14, y = ev.clientY + 12;
        if (x + w > window.innerWidth - 4) x = Math.max(4, ev.clientX - w - 10);
        if (y + h > window.innerHeight - 4) y = Math.max(4, ev.clientY - h - 10);
        tip.style.left = x + "px";
        tip.style.top = y + "px";
        var r = tip.getBoundingClientRect();   // a transformed ancestor makes "fixed" relative to it
        if (Math.abs(r.left - x) > 1 || Math.abs(r.top - y) > 1) {
          tip.style.left = (2 * x - r.left) + "px";
          tip.style.top = (2 * y - r.top) + "px";
        }
      },
      hide: function () { tip.style.display = "none"; }
    };
  }

  // Listeners on the window go with their widget: a live widget's output is replaced at every
  // update, and a listener left behind would keep the old one (its data) alive. Each new one
  // drops those of widgets no longer in the page.
  var windowListeners = [];
  function onWindow(root, type, fn) {
    windowListeners = windowListeners.filter(function (l) {
      if (l.root.isConnected) return true;
      window.removeEventListener(l.type, l.fn);
      return false;
    });
    windowListeners.push({ root: root, type: type, fn: fn });
    window.addEventListener(type, fn);
  }

  function readData(root) {
    var el = root.querySelector(":scope > script.treadle-data");
    return el ? JSON.parse(el.textContent) : null;
  }

  function fmtTime(us) {
    if (us < 1000) return us.toFixed(0) + " µs";
    if (us < 1e6) return (us / 1000).toPrecision(3) + " ms";
    return (us / 1e6).toPrecision(3) + " s";
  }

  function fmtSize(n) {
    var units = ["B", "KiB", "MiB", "GiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n.toFixed(0)) + " " + units[i];
  }

  // -- zoom and pan of an SVG through its viewBox ------------------------------------------------
  function zoomable(svg, root) {
    var vb = svg.getAttribute("viewBox").split(/[ ,]+/).map(Number), home = vb.slice();
    function apply() { svg.setAttribute("viewBox", vb.join(" ")); }
    svg.addEventListener("wheel", function (ev) {
      // sideways (a trackpad, shift + wheel) scrolls a graph wider than the output
      if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) return;
      ev.preventDefault();
      var r = svg.getBoundingClientRect();
      var fx = (ev.clientX - r.left) / r.width, fy = (ev.clientY - r.top) / r.height;
      var f = ev.deltaY < 0 ? 1 / 1.2 : 1.2;
      var w = vb[2] * f, h = vb[3] * f;
      vb = [vb[0] + (vb[2] - w) * fx, vb[1] + (vb[3] - h) * fy, w, h];
      apply();
    }, { passive: false });
    var drag = null;
    svg.addEventListener("mousedown", function (ev) { drag = [ev.clientX, ev.clientY, vb[0], vb[1]]; });
    onWindow(root, "mouseup", function () { drag = null; });
    svg.addEventListener("mousemove", function (ev) {
      if (!drag) return;
      var r = svg.getBoundingClientRect(), k = vb[2] / r.width;
      vb[0] = drag[2] - (ev.clientX - drag[0]) * k;
      vb[1] = drag[3] - (ev.clientY - drag[1]) * k;
      apply();
    });
    svg.addEventListener("dblclick", function () { vb = home.slice(); apply(); });
  }

  // -- the task graph ----------------------------------------------------------------------------
  function nodeTip(node) {
    if (node.__tip === undefined) node.__tip = node.getAttribute("data-tip") || node.getAttribute("data-key");
    return node.__tip;
  }

  function hideStatic(root) {   // the pictures for readers without scripts
    Array.prototype.forEach.call(root.querySelectorAll(".treadle-static"), function (s) { s.style.display = "none"; });
  }

  // The interactive part comes as data (script.treadle-live): elements only where this script
  // runs, so a sanitized output shows its picture and no controls that do nothing.
  function inflate(root) {
    var live = root.querySelector(":scope > script.treadle-live");
    if (!live) return;
    live.insertAdjacentHTML("beforebegin", JSON.parse(live.textContent).html);
    live.parentNode.removeChild(live);
  }

  function hoverNodes(root, container, tip) {
    container.addEventListener("mouseover", function (ev) {
      var node = ev.target.closest && ev.target.closest(".treadle-node");
      if (node) tip.show(nodeTip(node), ev);
    });
    container.addEventListener("mousemove", function (ev) {
      var node = ev.target.closest && ev.target.closest(".treadle-node");
      if (node) tip.show(nodeTip(node), ev); else tip.hide();
    });
    container.addEventListener("mouseleave", function () { tip.hide(); });
  }

  var STYLE = {  // as treadle/widgets/states.py
    pending: [0.22, "#8a8a8a", 1, "3,2"], waiting: [0.22, "#8a8a8a", 1, "3,2"], ready: [0.35, "#666", 1, "3,2"],
    assigned: [0.5, "#444", 1.5, ""], running: [0.7, "#111", 2.5, ""], redirected: [0.7, "#111", 1.5, "4,2"],
    finished: [1, "#333", 0.8, ""], released: [0.9, "#666", 0.8, ""], cancelled: [0.08, "#9aa0a6", 1.5, "1,3"],
    failed: [1, "#d62728", 3, ""],
    unknown: [0.15, "#bbb", 1, "2,2"]
  };

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function expansionSvg(name, x) {
    var pad = 8, svg = el("svg", { "class": "treadle-graph-svg", viewBox: [-pad, -pad, x.w + 2 * pad, x.h + 2 * pad].join(" "),
      width: Math.min(x.w + 2 * pad, 960), "font-family": "sans-serif" });
    svg.style.maxWidth = "100%"; svg.style.height = "auto";
    var edges = el("g", { "class": "treadle-edges" }, svg), nodes = el("g", { "class": "treadle-nodes" }, svg);
    x.edges.forEach(function (e) {
      var g = el("g", { "class": "treadle-edge" }, edges);
      el("line", { x1: e[0], y1: e[1], x2: e[2], y2: e[3], stroke: "#999" }, g);
    });
    x.nodes.forEach(function (n) {
      var st = STYLE[n[3]] || STYLE.unknown;
      var g = el("g", { "class": "treadle-node", "data-key": n[2], "data-state": n[3] }, nodes);
      g.__tip = (n[4] || "(no label)") + " (" + n[3] + ")\ntask: " + n[2];
      var r = el("rect", { x: n[0] - x.nw / 2, y: n[1] - x.nh / 2, width: x.nw, height: x.nh, rx: 3, fill: x.color,
        "fill-opacity": st[0], stroke: st[1], "stroke-width": st[2] }, g);
      if (st[3]) r.setAttribute("stroke-dasharray", st[3]);
    });
    return svg;
  }

  function graph(root) {
    if (root.getAttribute("data-ready") === "1") return;
    inflate(root);
    var view = root.querySelector(".treadle-graph-view"), svg = view && view.querySelector("svg");
    var tip = tooltip(root);
    hideStatic(root);
    if (svg) { zoomable(svg, root); hoverNodes(root, svg, tip); }
    var data = readData(root), panel = root.querySelector(".treadle-graph-expanded");
    if (data && panel && svg) {
      hoverNodes(root, panel, tip);
      svg.addEventListener("click", function (ev) {
        var node = ev.target.closest && ev.target.closest(".treadle-group");
        if (!node) return;
        var name = node.getAttribute("data-key").slice(2), x = data.expansions[name];
        panel.textContent = "";
        var head = document.createElement("div");
        head.className = "treadle-expansion-head";
        head.textContent = x ? "group " + name + ": " + x.count + " tasks" +
          (x.sampled ? " (the first " + x.nodes.length + " shown)" : "")
          : "group " + name + ": too big to embed; treadle.show(graph, expand=\"" + name + "\") draws it";
        var close = document.createElement("button");
        close.className = "treadle-close"; close.type = "button"; close.textContent = "close";
        close.onclick = function () { panel.textContent = ""; };
        head.appendChild(close);
        panel.appendChild(head);
        if (x) panel.appendChild(expansionSvg(name, x));
      });
    }
    root.setAttribute("data-ready", "1");
  }

  // -- the trace -----------------------------------------------------------------------------------
  function cumsum(a) {
    var out = new Float64Array(a.length), t = 0;
    for (var i = 0; i < a.length; i++) { t += a[i]; out[i] = t; }
    return out;
  }

  function trace(root) {
    if (root.getAttribute("data-ready") === "1") return;
    var d = readData(root);
    if (!d) return;
    inflate(root);
    var canvas = root.querySelector("canvas.treadle-trace-canvas");
    var plot = root.querySelector(".treadle-trace-plot");
    var scrub = root.querySelector(".treadle-scrubber"), play = root.querySelector(".treadle-play");
    var clock = root.querySelector(".treadle-trace-time");
    var tip = tooltip(root);
    var ROW = d.row || 18, AXIS = d.axis || 22, lanes = d.lanes.length, CH = d.ch || 14;
    var MINW = d.minw || 1, FONT = d.font || 10;   // px: the narrowest bar, the axis's text
    var LY = d.ly || d.lanes.map(function (_, i) { return i * ROW; });   // each lane's top (px)
    var H = d.h !== undefined ? d.h : lanes * ROW;                        // lanes and cpu strips
    var S = cumsum(d.s), D = d.d, L = d.l, G = d.g, n = S.length;
    var XS = cumsum(d.x.s), XD = d.x.d, XA = d.x.a, XB = d.x.b, XN = d.x.n, nx = XS.length;
    var strips = (d.cpu || []).map(function (c) { return { c: c, t: cumsum(c.t) }; });
    var WM = d.wm || { kinds: [], t: [], k: [], a: [], b: [], tip: [] }, nwm = WM.t.length;   // workers' marks
    var byGroup = d.groups.map(function () { return []; });
    var byLane = []; for (var i = 0; i < lanes; i++) byLane.push([]);
    var C = new Float64Array(n);   // tasks in the bars up to each one (merged bars hold several)
    for (i = 0; i < n; i++) { byGroup[G[i]].push(i); byLane[L[i]].push(i); C[i] = (i ? C[i - 1] : 0) + (d.n ? d.n[i] : 1); }
    var v0 = 0, v1 = d.span, T = d.span, raf = 0, first = true;

    hideStatic(root);
    var ctx = canvas.getContext("2d");

    function size() {
      var w = plot.clientWidth || 900, h = H + AXIS, r = window.devicePixelRatio || 1;
      canvas.width = Math.round(w * r); canvas.height = Math.round(h * r);
      canvas.style.height = h + "px";
      ctx.setTransform(r, 0, 0, r, 0, 0);
      return w;
    }
    var W = size();

    function visibleCount() {  // task bars that started by T (starts are sorted)
      var lo = 0, hi = n;
      while (lo < hi) { var m = (lo + hi) >> 1; if (S[m] <= T) lo = m + 1; else hi = m; }
      return lo ? C[lo - 1] : 0;
    }

    // an arrow's looks: thicker and darker for more transfers (as gantt.py's static picture)
    function arrowWidth(count) { return count <= 1 ? 0.8 : Math.min(5, 0.8 + 0.6 * Math.log2(count)); }

    function drawStrip(st, k) {   // a worker's cpu %: steps, each sample covering the time since the last
      var c = st.c, y = c.y, base = y + CH - 1, prev = c.f;
      ctx.fillStyle = "#f8f8f8"; ctx.fillRect(0, y, W, CH);
      for (var j = 0; j < st.t.length; j++) {
        var t = st.t[j], a = prev; prev = t;
        if (a > T || t < v0 || a > v1) continue;
        var x0 = Math.max(0, (a - v0) * k), x1 = Math.min(W, (Math.min(t, T) - v0) * k);
        var h = Math.min(1, c.c[j] / 100) * (CH - 3);
        if (x1 > x0 && h > 0) {
          ctx.fillStyle = "rgba(70,110,170,0.45)"; ctx.fillRect(x0, base - h, x1 - x0, h);
          ctx.fillStyle = "#46a"; ctx.fillRect(x0, base - h, x1 - x0, 1);   // its top edge
        }
      }
      ctx.fillStyle = "#bbb"; ctx.fillRect(0, base, W, 1);
    }

    function draw() {
      raf = 0;
      var t0 = performance.now();
      var h = H, k = W / (v1 - v0);
      ctx.clearRect(0, 0, W, h + AXIS);
      ctx.fillStyle = "#f4f4f4";
      for (var l = 1; l < lanes; l += 2) ctx.fillRect(0, LY[l], W, ROW);
      for (var si = 0; si < strips.length; si++) drawStrip(strips[si], k);
      for (var g = 0; g < byGroup.length; g++) {
        ctx.fillStyle = d.groups[g][1];
        var idx = byGroup[g];
        for (var j = 0; j < idx.length; j++) {
          var b = idx[j], s = S[b];
          if (s > T) break;                       // sorted by start: later ones have not begun
          var e = Math.min(s + D[b], T);
          if (e < v0 || s > v1) continue;
          var x = (s - v0) * k, w = (e - s) * k;
          // a hairline between neighbours; a short task (after long ones) is still seen
          if (w > MINW + 1) w -= 1; else { w = MINW; x = Math.round(x); }   // (whole pixels: crisp)
          if (x + w > W) x = Math.max(0, W - w);   // (it starts in view: s <= v1)
          ctx.fillRect(x, LY[L[b]] + 2, w, ROW - 4);
        }
      }
      if (nx) {
        var lastWidth = -1;
        ctx.lineCap = "round";
        for (var q = 0; q < nx; q++) {
          var xs = XS[q];
          if (xs > T) break;
          var xe = xs + XD[q];
          if (xe < v0 || xs > v1) continue;
          var lw = arrowWidth(XN ? XN[q] : 1);
          if (lw !== lastWidth) {   // arrows of one width share a path
            if (lastWidth >= 0) ctx.stroke();
            lastWidth = lw;
            ctx.lineWidth = lw;
            ctx.strokeStyle = "rgba(60,60,60," + Math.min(0.7, 0.3 + 0.08 * lw).toFixed(2) + ")";
            ctx.beginPath();
          }
          var ax = (xs - v0) * k, bx = (Math.min(xe, T) - v0) * k;
          var ay = LY[XA[q]] + ROW / 2, by = LY[XB[q]] + ROW / 2;
          ctx.moveTo(ax, ay); ctx.lineTo(bx, by);
          if (xe <= T) { var dir = by >= ay ? -1 : 1; ctx.moveTo(bx, by); ctx.lineTo(bx - 3, by + 4 * dir);
            ctx.moveTo(bx, by); ctx.lineTo(bx + 3, by + 4 * dir); }
        }
        if (lastWidth >= 0) ctx.stroke();
        ctx.lineCap = "butt";
      }
      for (var m = 0; m < nwm; m++) drawWorkerMark(m, k);
      // the axis
      ctx.lineWidth = 1;
      ctx.fillStyle = "#444"; ctx.strokeStyle = "#888"; ctx.font = FONT + "px sans-serif"; ctx.textAlign = "center";
      ctx.beginPath(); ctx.moveTo(0, h + 0.5); ctx.lineTo(W, h + 0.5);
      var step = niceStep((v1 - v0) / 8);
      for (var t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
        var tx = (t - v0) * k;
        ctx.moveTo(tx, h); ctx.lineTo(tx, h + 4);
        ctx.fillText(t === 0 ? "0" : fmtTime(t), Math.min(Math.max(tx, 20), W - 24), h + FONT + 5);
      }
      ctx.stroke();
      if (T < d.span) {   // the scrubber's time
        var sx = (T - v0) * k;
        ctx.strokeStyle = "#d62728"; ctx.beginPath(); ctx.moveTo(sx, 0); ctx.lineTo(sx, h); ctx.stroke();
      }
      var visible = visibleCount();
      root.setAttribute("data-visible-bars", String(visible));
      if (clock) clock.textContent = fmtTime(T) + " / " + fmtTime(d.span);
      if (first) {
        first = false;
        root.setAttribute("data-draw-ms", (performance.now() - t0).toFixed(1));
        root.setAttribute("data-ready", "1");
      }
    }

    // A worker joining, retiring, retired or lost: a line across its lanes (whole pixels, so its
    // colour is exact), its shape at the top: ▶ joined, dashed retiring, ◀ retired, ✕ lost.
    function drawWorkerMark(m, k) {
      var t = WM.t[m];
      if (t > T || t < v0 || t > v1) return;
      var kind = WM.kinds[WM.k[m]], color = kind[1], shape = kind[2];
      var x = Math.round((t - v0) * k), y0 = LY[WM.a[m]], y1 = LY[WM.b[m]] + ROW, w = shape === "lost" ? 2 : 1;
      x = Math.min(Math.max(x, 0), W - w);
      ctx.fillStyle = color;
      if (shape === "retiring") { for (var y = y0; y < y1; y += 5) ctx.fillRect(x, y, w, Math.min(3, y1 - y)); }
      else ctx.fillRect(x, y0, w, y1 - y0);
      ctx.beginPath();
      if (shape === "lost") {
        ctx.strokeStyle = color; ctx.lineWidth = 2;
        ctx.moveTo(x - 3, y0 + 1); ctx.lineTo(x + 5, y0 + 9); ctx.moveTo(x + 5, y0 + 1); ctx.lineTo(x - 3, y0 + 9);
        ctx.stroke(); ctx.lineWidth = 1;
      } else if (shape === "joined") {
        ctx.moveTo(x, y0); ctx.lineTo(x + 6, y0 + 4); ctx.lineTo(x, y0 + 8); ctx.fill();
      } else if (shape === "retired") {
        ctx.moveTo(x + w, y0); ctx.lineTo(x + w - 6, y0 + 4); ctx.lineTo(x + w, y0 + 8); ctx.fill();
      }
    }

    function markAt(px, py, width) {   // the worker mark within a few px of the point, or -1
      var k = width / (v1 - v0), best = -1, bestD = 5;
      for (var m = 0; m < nwm; m++) {
        var t = WM.t[m];
        if (t > T || t < v0 || t > v1 || py < LY[WM.a[m]] || py > LY[WM.b[m]] + ROW) continue;
        var dist = Math.abs((t - v0) * k - px);
        if (dist <= bestD) { best = m; bestD = dist; }
      }
      return best;
    }

    function niceStep(raw) {
      raw = Math.max(raw, 1);
      var m = Math.pow(10, Math.floor(Math.log10(raw)));
      return raw <= m ? m : raw <= 2 * m ? 2 * m : raw <= 5 * m ? 5 * m : 10 * m;
    }

    function redraw() { if (!raf) raf = requestAnimationFrame(draw); }

    // zoom (wheel), pan (drag), reset (double click)
    canvas.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var r = canvas.getBoundingClientRect(), f = (ev.clientX - r.left) / r.width;
      var at = v0 + (v1 - v0) * f, z = ev.deltaY < 0 ? 1 / 1.25 : 1.25;
      var span = Math.min(d.span, Math.max(10, (v1 - v0) * z));
      v0 = Math.max(0, at - span * f); v1 = Math.min(d.span, v0 + span); v0 = Math.max(0, v1 - span);
      redraw();
    }, { passive: false });
    var drag = null;
    canvas.addEventListener("mousedown", function (ev) { drag = [ev.clientX, v0, v1]; tip.hide(); });
    onWindow(root, "mouseup", function () { drag = null; });
    canvas.addEventListener("dblclick", function () { v0 = 0; v1 = d.span; redraw(); });
    canvas.addEventListener("mouseleave", function () { tip.hide(); });
    canvas.addEventListener("mousemove", function (ev) {
      var r = canvas.getBoundingClientRect();
      if (drag) {
        var dt = (ev.clientX - drag[0]) * (drag[2] - drag[1]) / r.width, span = drag[2] - drag[1];
        v0 = Math.min(Math.max(0, drag[1] - dt), d.span - span); v1 = v0 + span;
        redraw();
        return;
      }
      var px = ev.clientX - r.left, py = ev.clientY - r.top;
      var t = v0 + (v1 - v0) * px / r.width, tol = 3 * (v1 - v0) / r.width;
      var wm = markAt(px, py, r.width);   // a thin line over the bars: found first
      if (wm >= 0) { tip.show(WM.tip[wm], ev); return; }
      var lane = laneAt(py), b = hit(lane, t, 0);
      if (b >= 0) { tip.show(describe(b), ev); return; }
      var a = arrowAt(px, py, r.width);
      if (a >= 0) { tip.show(describeArrow(a), ev); return; }
      b = hit(lane, t, tol);
      if (b >= 0) { tip.show(describe(b), ev); return; }
      var st = stripAt(py);
      if (st) { var text = describeSample(st, t); if (text) { tip.show(text, ev); return; } }
      tip.hide();
    });

    function laneAt(y) {   // the lane under y (px from the canvas's top), or -1
      var lo = 0, hi = lanes;
      while (lo < hi) { var m = (lo + hi) >> 1; if (LY[m] <= y) lo = m + 1; else hi = m; }
      var l = lo - 1;
      return l >= 0 && y < LY[l] + ROW ? l : -1;
    }

    function stripAt(y) {
      for (var i = 0; i < strips.length; i++) if (y >= strips[i].c.y && y < strips[i].c.y + CH) return strips[i];
      return null;
    }

    function hit(lane, t, tol) {
      if (lane < 0 || lane >= lanes) return -1;
      var idx = byLane[lane], lo = 0, hi = idx.length;
      while (lo < hi) { var m = (lo + hi) >> 1; if (S[idx[m]] <= t + tol) lo = m + 1; else hi = m; }
      for (var j = lo - 1, seen = 0; j >= 0 && seen < 256; j--, seen++) {
        var b = idx[j];
        if (S[b] <= T && S[b] + D[b] >= t - tol) return b;
      }
      return -1;
    }

    function arrowAt(px, py, width) {   // the arrow nearest the point, within a few px (at most a few hundred)
      var k = width / (v1 - v0), best = -1, bestD = 1e9;
      for (var q = 0; q < nx; q++) {
        var xs = XS[q];
        if (xs > T) break;
        var xe = Math.min(xs + XD[q], T);
        if (xe < v0 || xs > v1) continue;
        var ax = (xs - v0) * k, bx = (xe - v0) * k, ay = LY[XA[q]] + ROW / 2, by = LY[XB[q]] + ROW / 2;
        var dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
        var f = len2 ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2)) : 0;
        var ex = ax + f * dx - px, ey = ay + f * dy - py, dist = Math.sqrt(ex * ex + ey * ey);
        if (dist <= 3 + arrowWidth(XN ? XN[q] : 1) / 2 && dist < bestD) { best = q; bestD = dist; }
      }
      return best;
    }

    function describeArrow(q) {
      var count = XN ? XN[q] : 1, lines = [];
      var from = d.lanes[XA[q]].split(" · ")[0], to = d.lanes[XB[q]].split(" · ")[0];
      if (count > 1) {
        lines.push(count + " transfers " + from + " → " + to + ", " + fmtSize(d.x.z[q]) + " in all");
        var a = XS[q] - d.x.f[q];
        lines.push((d.x.w[q] >= 1 ? "started " + fmtTime(a) + " … " + fmtTime(a + d.x.w[q]) : "started at " + fmtTime(a)) +
                   ", took " + fmtTime(XD[q]) + " on average");
      } else {
        lines.push("transfer " + from + " → " + to + ", " + fmtSize(d.x.z[q]));
        lines.push("at " + fmtTime(XS[q]) + ", took " + fmtTime(XD[q]));
      }
      if (d.xcount > nx && count === 1) lines.push("(" + nx + " of " + d.xcount + " transfers drawn)");
      return lines.join("\n");
    }

    function describeSample(st, t) {   // the sample covering t
      var c = st.c, prev = c.f;
      for (var j = 0; j < st.t.length; j++) {
        if (t > prev && t <= st.t[j]) {
          if (prev > T) return null;          // not yet, at the scrubber's time
          return c.name + ": cpu " + c.c[j].toFixed(1) + "% of " + (c.cpus || "?") + " cpu" + (c.cpus === 1 ? "" : "s") +
            " (" + fmtTime(Math.max(0, prev)) + " … " + fmtTime(st.t[j]) + ")\nresident " + c.m[j].toFixed(1) +
            " MB, store " + c.st[j].toFixed(1) + " MB" + (c.sp[j] ? ", spilled " + c.sp[j].toFixed(1) + " MB" : "");
        }
        prev = st.t[j];
      }
      return null;
    }

    function why(text) {   // "data locality (1048576 of 2097152 input bytes there)": sizes in words
      return text.replace(/(\d+) of (\d+) input bytes/, function (_, a, b) {
        return fmtSize(Number(a)) + " of " + fmtSize(Number(b)) + " of input"; });
    }

    function describe(b) {
      var group = d.groups[G[b]][0], lines = [];
      if (d.merged) {
        lines.push(d.n[b] + " task" + (d.n[b] === 1 ? "" : "s") + " of " + group + " (merged)");
        lines.push("from " + fmtTime(S[b]) + " for " + fmtTime(D[b]) + ", busy " + fmtTime(d.busy[b]));
        if (d.q && d.q[b] >= 0) lines.push("mean queue wait " + fmtTime(d.q[b]) + " (of those that queued)");
      } else {
        lines.push((d.labels ? d.labels[d.k[b]] || "(no label)" : group) + "  [task " + d.t[b] + "]");
        lines.push("group: " + group);
        if (G[b] === d.cancelled && !D[b]) {   // a cancel's mark: a moment, on its worker (its lane unknown)
          lines.push("at " + fmtTime(S[b]));
          lines.push(d.lanes[L[b]].split(" · ")[0]);
          return lines.join("\n");
        }
        lines.push("at " + fmtTime(S[b]) + ", took " + fmtTime(D[b]) + ", result " + fmtSize(d.z[b]));
        var placed = d.y && d.y[b] >= 0 ? d.whys[d.y[b]] : null;
        if (d.q && d.q[b] >= 0) lines.push("queue wait " + fmtTime(d.q[b]) + " (ready → start)");
        else if (d.q && !placed) lines.push("no queue wait (chained behind its inputs)");
        if (placed) lines.push("placed: " + why(placed));
      }
      lines.push(d.lanes[L[b]]);
      return lines.join("\n");
    }

    // the scrubber and the replay
    function fromScrubber() { T = d.span * Number(scrub.value) / Number(scrub.max || 1000); redraw(); }
    scrub.addEventListener("input", function () { stop(); fromScrubber(); });
    var playing = 0, started = 0, from = 0;
    function stop() { if (playing) { cancelAnimationFrame(playing); playing = 0; play.innerHTML = "&#9654;"; } }
    function frame(now) {
      var f = Math.min(1, from + (now - started) / 6000);  // a replay takes six seconds
      scrub.value = String(Math.round(f * Number(scrub.max || 1000)));
      fromScrubber();
      if (f < 1) playing = requestAnimationFrame(frame); else stop();
    }
    play.addEventListener("click", function () {
      if (playing) { stop(); return; }
      from = Number(scrub.value) >= Number(scrub.max || 1000) ? 0 : Number(scrub.value) / Number(scrub.max || 1000);
      started = performance.now();
      play.innerHTML = "&#10074;&#10074;";
      playing = requestAnimationFrame(frame);
    });
    onWindow(root, "resize", function () { W = size(); redraw(); });
    draw();
  }

  window.treadleWidgets = { version: VERSION, graph: graph, trace: trace,
    windowListeners: function () { return windowListeners.length; } };   // (for the tests)
})();
