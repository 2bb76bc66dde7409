/* The game-day view: renders a journal (see JOURNAL.md) into the page.
 *
 * One implementation for both pages: the static report embeds the final journal in
 * <script id="faultline-data">, the live dashboard receives growing snapshots over server-sent
 * events and calls the same render(). Everything user-supplied reaches the DOM through
 * textContent or setAttribute, never as markup. Charts are hand-built SVG on one time axis.
 */
(function () {
  "use strict";

  var SVGNS = "http://www.w3.org/2000/svg";
  var W = 1000; // viewBox width of every chart, lane and timeline: they share the x axis
  var LEFT = 170; // room for y labels and lane names
  var RIGHT = 20;
  var PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7"];
  var STATE_ORDER = ["closed", "half-open", "open"];

  // ---- small DOM helpers -------------------------------------------------------------------

  function append(node, children) {
    for (var i = 0; i < children.length; i++) {
      var c = children[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(node, c);
      else if (typeof c === "object" && c.nodeType) node.appendChild(c);
      else node.appendChild(document.createTextNode(String(c)));
    }
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return node;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = String(v);
      else node.setAttribute(k, String(v));
    });
    return node;
  }

  function h(tag, attrs) {
    var node = setAttrs(document.createElement(tag), attrs);
    return append(node, Array.prototype.slice.call(arguments, 2));
  }

  function s(tag, attrs) {
    var node = setAttrs(document.createElementNS(SVGNS, tag), attrs);
    return append(node, Array.prototype.slice.call(arguments, 2));
  }

  function r1(v) {
    return Math.round(v * 10) / 10;
  }

  // ---- formatting ----------------------------------------------------------------------------

  function isNum(v) {
    return typeof v === "number" && isFinite(v);
  }

  function fmtNum(v) {
    if (!isNum(v)) return v === null || v === undefined ? "—" : String(v);
    var a = Math.abs(v);
    if (a >= 100) return String(Math.round(v));
    if (a >= 10) return String(r1(v));
    if (a >= 1 || a === 0) return String(Math.round(v * 100) / 100);
    return String(Number(v.toPrecision(2)));
  }

  function fmtSecs(v) {
    return isNum(v) ? r1(v).toFixed(1) + " s" : "—";
  }

  function fmtMs(v) {
    if (!isNum(v)) return "—";
    return v >= 1000 ? r1(v / 1000) + " s" : Math.round(v) + " ms";
  }

  function fmtPct(v) {
    if (!isNum(v)) return "—";
    var p = v * 100;
    return (p >= 10 || p === 0 ? String(Math.round(p)) : String(Number(p.toPrecision(2)))) + " %";
  }

  function fmtClock(t) {
    t = Math.round(t);
    if (t < 60) return t + " s";
    var m = Math.floor(t / 60);
    var sec = t % 60;
    return m + ":" + (sec < 10 ? "0" : "") + sec;
  }

  // A measured value, in the unit its expression implies.
  function fmtValue(kind, v, expression) {
    if (kind === "breaker_opens" || kind === "recovers_within") return fmtSecs(v);
    if (isNum(v) && /duration|p\(\d+\)|_ms\b/.test(expression || "")) return Math.round(v) + " ms";
    if (isNum(v)) return fmtNum(v);
    if (v === null || v === undefined) return "—";
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  function verdict(ok) {
    if (ok === true) return h("span", { class: "verdict pass", title: "met", text: "✓" });
    if (ok === false) return h("span", { class: "verdict fail", title: "not met", text: "✗" });
    return h("span", { class: "verdict pending", title: "not evaluated", text: "…" });
  }

  // ---- the run's time axis ------------------------------------------------------------------

  function timeAxis(j, live) {
    var rows = (j.metrics && j.metrics.seconds) || [];
    var running = live && j.status === "running";
    var last = rows.length ? rows[rows.length - 1].t + 1 : 0;
    var end = last;
    (j.phases || []).forEach(function (p) {
      if (isNum(p.end_s)) end = Math.max(end, p.end_s);
    });
    (j.faults || []).forEach(function (f) {
      if (isNum(f.at_s) && isNum(f.for_s)) end = Math.max(end, f.at_s + f.for_s);
      if (isNum(f.healed_s)) end = Math.max(end, f.healed_s);
    });
    if (!running && isNum(j.duration)) end = Math.max(end, j.duration);
    end = Math.max(end, 1);
    var now = running ? last : null;
    return {
      end: end,
      now: now,
      x: function (t) {
        return LEFT + (Math.max(0, Math.min(t, end)) / end) * (W - LEFT - RIGHT);
      },
      t: function (x) {
        return ((x - LEFT) / (W - LEFT - RIGHT)) * end;
      },
    };
  }

  function tickStep(span, wanted) {
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];
    for (var i = 0; i < steps.length; i++) if (span / steps[i] <= wanted) return steps[i];
    return steps[steps.length - 1];
  }

  function phaseRange(j, name, axis) {
    var phases = j.phases || [];
    for (var i = 0; i < phases.length; i++) {
      if (phases[i].name === name) return [phases[i].start_s, phases[i].end_s];
    }
    return [0, axis.end];
  }

  // A fault's window: as applied and healed when known, else as planned (drawn dashed).
  function faultWindows(j, axis) {
    return (j.faults || []).map(function (f) {
      var applied = isNum(f.applied_s);
      var from = applied ? f.applied_s : f.at_s;
      var to;
      if (isNum(f.healed_s)) to = f.healed_s;
      else if (applied && axis.now !== null) to = axis.now;
      else if (isNum(f.at_s) && isNum(f.for_s)) to = f.at_s + f.for_s;
      else to = axis.end;
      var state = !applied ? "planned" : isNum(f.healed_s) ? "healed" : "active";
      return { fault: f, from: from, to: to, state: state };
    }).filter(function (w) {
      return isNum(w.from);
    });
  }

  function drawWindows(g, j, axis, top, height, labelled) {
    faultWindows(j, axis).forEach(function (w) {
      var x0 = axis.x(w.from);
      var x1 = Math.max(axis.x(w.to), x0 + 1);
      var win = s("g", { class: "fault-window " + w.state, "data-fault": w.fault.name });
      win.appendChild(
        s("rect", { x: x0, y: top, width: x1 - x0, height: height }, s("title", { text: w.fault.name + " (" + w.state + ")" }))
      );
      if (labelled) {
        win.appendChild(s("text", { class: "fault-label", x: x0 + 4, y: top + 12, text: w.fault.name }));
      }
      g.appendChild(win);
      // While a fault is in force, the rest of its planned window is drawn ahead of "now".
      var plannedEnd = isNum(w.fault.at_s) && isNum(w.fault.for_s) ? w.fault.at_s + w.fault.for_s : null;
      if (w.state === "active" && plannedEnd !== null && plannedEnd > w.to) {
        g.appendChild(s("g", { class: "fault-window planned rest", "data-fault": w.fault.name },
          s("rect", { x: x1, y: top, width: axis.x(plannedEnd) - x1, height: height })));
      }
    });
  }

  function drawNowAndAbort(g, j, axis, top, height, labelled) {
    if (axis.now !== null) {
      var xn = axis.x(axis.now);
      g.appendChild(s("line", { class: "now-marker", x1: xn, x2: xn, y1: top, y2: top + height }));
      if (labelled) g.appendChild(s("text", { class: "now-label", x: xn + 3, y: top + height - 3, text: "now" }));
    }
    if (j.abort && isNum(j.abort.at_s)) {
      var xa = axis.x(j.abort.at_s);
      g.appendChild(s("line", { class: "abort-marker", x1: xa, x2: xa, y1: top, y2: top + height }));
      if (labelled) g.appendChild(s("text", { class: "abort-label", x: xa + 3, y: top + 24, text: "aborted" }));
    }
  }

  function drawXAxis(g, axis, y) {
    var step = tickStep(axis.end, 12);
    for (var t = 0; t <= axis.end + 1e-9; t += step) {
      var x = axis.x(t);
      g.appendChild(s("line", { class: "tick", x1: x, x2: x, y1: y, y2: y + 4 }));
      g.appendChild(s("text", { class: "tick-label", x: x, y: y + 15, "text-anchor": "middle", text: fmtClock(t) }));
    }
  }

  // ---- hover: one crosshair across every chart and lane ---------------------------------------

  var hoverTargets = [];

  function registerHover(svgNode, axis, top, height, onMove) {
    var line = s("line", { class: "crosshair", x1: 0, x2: 0, y1: top, y2: top + height, visibility: "hidden" });
    svgNode.appendChild(line);
    var target = { line: line, onMove: onMove };
    hoverTargets.push(target);
    var overlay = s("rect", { class: "hover-area", x: LEFT, y: top, width: W - LEFT - RIGHT, height: height });
    svgNode.appendChild(overlay);
    overlay.addEventListener("mousemove", function (ev) {
      var pt = svgNode.createSVGPoint();
      pt.x = ev.clientX;
      pt.y = ev.clientY;
      var p = pt.matrixTransform(svgNode.getScreenCTM().inverse());
      var t = Math.max(0, Math.floor(axis.t(p.x)));
      hoverTargets.forEach(function (h2) {
        var x = axis.x(t + 0.5);
        h2.line.setAttribute("x1", x);
        h2.line.setAttribute("x2", x);
        h2.line.setAttribute("visibility", "visible");
        if (h2.onMove) h2.onMove(t);
      });
    });
    overlay.addEventListener("mouseleave", function () {
      hoverTargets.forEach(function (h2) {
        h2.line.setAttribute("visibility", "hidden");
        if (h2.onMove) h2.onMove(null);
      });
    });
  }

  // ---- sections --------------------------------------------------------------------------------

  function timelineStrip(j, axis) {
    var H = 64;
    var svgNode = s("svg", { class: "timeline", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "phases and fault windows" });
    var g = s("g");
    svgNode.appendChild(g);
    g.appendChild(s("text", { class: "lane-name", x: LEFT - 8, y: 20, "text-anchor": "end", text: "phases" }));
    g.appendChild(s("text", { class: "lane-name", x: LEFT - 8, y: 44, "text-anchor": "end", text: "faults" }));
    (j.phases || []).forEach(function (p, i) {
      var x0 = axis.x(p.start_s);
      var x1 = axis.x(p.end_s);
      var ph = s("g", { class: "phase" + (p.fault ? " fault-phase" : ""), "data-phase": p.name });
      ph.appendChild(s("rect", { x: x0, y: 6, width: Math.max(x1 - x0, 1), height: 20, class: "phase-" + (i % 2) }));
      ph.appendChild(s("text", { x: x0 + 4, y: 20, class: "phase-label", text: p.name }));
      g.appendChild(ph);
    });
    drawWindows(g, j, axis, 30, 20, true);
    drawXAxis(g, axis, 50);
    drawNowAndAbort(g, j, axis, 0, 50, true);
    return h("section", { class: "card", id: "timeline" }, h("h2", { text: "Timeline" }), svgNode);
  }

  // A round step (1, 2, 2.5 or 5 times a power of ten) of at least `raw`.
  function niceStep(raw) {
    if (!(raw > 0)) return 1;
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    return [1, 2, 2.5, 5, 10].map(function (m) {
      return m * mag;
    }).filter(function (st) {
      return st >= raw * (1 - 1e-9);
    })[0];
  }

  // Round y ticks from 0 to at least `v`, about four steps.
  function yTicks(v) {
    if (!(v > 0)) v = 1;
    var step = niceStep(v / 4);
    var n = Math.max(1, Math.ceil(v / step - 1e-9));
    var ticks = [];
    for (var i = 0; i <= n; i++) ticks.push(Number((i * step).toPrecision(12)));
    return ticks;
  }

  var CHARTS = [
    { key: "rps", title: "Requests per second", fmt: fmtNum },
    { key: "p95_ms", title: "p95 latency", fmt: fmtMs },
    { key: "error_rate", title: "Error rate", fmt: fmtPct },
  ];

  function lineChart(j, axis, spec) {
    var H = 190;
    var top = 10;
    var plotH = 150;
    var rows = (j.metrics && j.metrics.seconds) || [];
    var lines = ((j.metrics && j.metrics.threshold_lines) || []).filter(function (l) {
      return l.chart === spec.key && isNum(l.value);
    });
    var dataMax = 0;
    rows.forEach(function (r) {
      if (isNum(r[spec.key])) dataMax = Math.max(dataMax, r[spec.key]);
    });
    // A threshold far above the data (a safeguard at 50 % errors) would flatten the series:
    // such a line is pinned to the top edge instead, marked as being above the scale.
    var maxV = dataMax;
    lines.forEach(function (l) {
      if (!(dataMax > 0) || l.value <= dataMax * 3) maxV = Math.max(maxV, l.value);
    });
    if (spec.key === "error_rate") maxV = Math.min(Math.max(maxV, 0.01), 1);
    var ticks = yTicks(maxV * 1.05);
    var yMax = ticks[ticks.length - 1];
    var y = function (v) {
      return top + plotH - (Math.min(v, yMax) / yMax) * plotH;
    };

    var svgNode = s("svg", { class: "chart", id: "chart-" + spec.key, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": spec.title });
    var g = s("g");
    svgNode.appendChild(g);
    ticks.forEach(function (v) {
      g.appendChild(s("line", { class: "grid", x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v) }));
      g.appendChild(s("text", { class: "tick-label", x: LEFT - 8, y: y(v) + 4, "text-anchor": "end", text: spec.fmt(v) }));
    });
    drawWindows(g, j, axis, top, plotH, true);

    // The series: one path, broken where a second has no value.
    var d = "";
    var count = 0;
    var prev = null;
    rows.forEach(function (r) {
      var v = r[spec.key];
      if (!isNum(v)) {
        prev = null;
        return;
      }
      var x = axis.x(r.t + 0.5);
      d += (prev === null || prev !== r.t - 1 ? "M" : "L") + r1(x) + " " + r1(y(v)) + " ";
      prev = r.t;
      count++;
    });
    g.appendChild(s("path", { class: "series series-" + spec.key, d: d.trim() || "M0 0", "data-points": count }));

    lines.forEach(function (l) {
      var range = l.phase ? phaseRange(j, l.phase, axis) : [0, axis.end];
      var x0 = axis.x(range[0]);
      var x1 = axis.x(range[1]);
      var above = l.value > yMax;
      var ty = y(l.value);
      var th = s("g", { class: "threshold" + (above ? " above-scale" : ""), "data-threshold": l.label || "" });
      th.appendChild(s("line", { x1: x0, x2: x1, y1: ty, y2: ty }));
      var text = (above ? "↑ " : "") + (l.label || spec.fmt(l.value)) + (above ? " (" + spec.fmt(l.value) + ")" : "");
      th.appendChild(s("text", { x: x1 - 4, y: above ? ty + 12 : ty - 4, "text-anchor": "end", text: text }));
      g.appendChild(th);
    });
    drawNowAndAbort(g, j, axis, top, plotH, false);
    drawXAxis(g, axis, top + plotH);

    var readout = h("span", { class: "readout" });
    var byT = {};
    rows.forEach(function (r) {
      byT[r.t] = r;
    });
    var latest = rows.length ? rows[rows.length - 1] : null;
    var showLatest = function () {
      readout.textContent = latest ? "at " + fmtClock(latest.t) + ": " + spec.fmt(latest[spec.key]) : "";
    };
    showLatest();
    registerHover(svgNode, axis, top, plotH, function (t) {
      if (t === null || !byT[t]) showLatest();
      else readout.textContent = "at " + fmtClock(t) + ": " + spec.fmt(byT[t][spec.key]);
    });
    return h("div", { class: "chart-box" }, h("h3", null, spec.title, " ", readout), svgNode);
  }

  function breakerLanes(j, axis) {
    var names = Object.keys(j.breakers || {});
    var box = h("section", { class: "card", id: "breakers" }, h("h2", { text: "Circuit breakers" }));
    if (!names.length) {
      box.appendChild(h("p", { class: "muted", text: "No breaker states recorded." }));
      return box;
    }
    var laneH = 22;
    var gap = 8;
    var top = 4;
    var H = top + names.length * (laneH + gap) + 22;
    var svgNode = s("svg", { class: "lanes", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "breaker states over time" });
    var g = s("g");
    svgNode.appendChild(g);
    var laneEnd = axis.now !== null ? axis.now : axis.end;
    names.forEach(function (name, i) {
      var yy = top + i * (laneH + gap);
      var lane = s("g", { class: "breaker-lane", "data-breaker": name });
      lane.appendChild(s("g", null, s("title", { text: name }), s("text", { class: "lane-name", x: LEFT - 8, y: yy + 15, "text-anchor": "end", text: name })));
      var changes = (j.breakers[name] || []).filter(function (c) {
        return isNum(c.t);
      });
      changes.forEach(function (c, k) {
        var to = k + 1 < changes.length ? changes[k + 1].t : laneEnd;
        if (to <= c.t) return;
        var x0 = axis.x(c.t);
        var state = STATE_ORDER.indexOf(c.state) >= 0 ? c.state : "unknown";
        lane.appendChild(
          s("rect", { class: "state state-" + state, "data-state": c.state, x: x0, y: yy, width: Math.max(axis.x(to) - x0, 1), height: laneH },
            s("title", { text: name + ": " + c.state + " from " + fmtClock(c.t) + " to " + fmtClock(to) }))
        );
      });
      g.appendChild(lane);
    });
    var bottom = top + names.length * (laneH + gap) - gap;
    drawWindows(g, j, axis, top, bottom - top, false);
    drawNowAndAbort(g, j, axis, top, bottom - top, false);
    drawXAxis(g, axis, bottom + 2);
    registerHover(svgNode, axis, top, bottom - top, null);
    var legend = h("div", { class: "legend" },
      STATE_ORDER.map(function (st) {
        return h("span", { class: "legend-item" }, h("span", { class: "swatch state-" + st }), st);
      })
    );
    box.appendChild(svgNode);
    box.appendChild(legend);
    return box;
  }

  function table(headers, rows, attrs) {
    return h("table", attrs || null,
      h("thead", null, h("tr", null, headers.map(function (x) {
        return h("th", { text: x });
      }))),
      h("tbody", null, rows)
    );
  }

  function expectationsSection(j) {
    var exps = j.expectations || [];
    var box = h("section", { class: "card", id: "expectations" }, h("h2", { text: "Expectations" }));
    if (!exps.length) {
      box.appendChild(h("p", { class: "muted", text: "No expectations yet." }));
      return box;
    }
    box.appendChild(table(["", "expectation", "phase", "measured", "expression", "detail"],
      exps.map(function (e) {
        var cls = e.ok === true ? "pass" : e.ok === false ? "fail" : "pending";
        return h("tr", { class: "expectation " + cls, "data-ok": String(e.ok) },
          h("td", null, verdict(e.ok)),
          h("td", { class: "name", text: e.name }),
          h("td", { class: "phase", text: e.phase || "" }),
          h("td", { class: "value", text: fmtValue(e.kind, e.value, e.expression) }),
          h("td", null, h("code", { text: e.expression || "" })),
          h("td", { class: "detail", text: e.detail || "" }));
      })));
    return box;
  }

  function faultsSection(j) {
    var faults = j.faults || [];
    var box = h("section", { class: "card", id: "faults" }, h("h2", { text: "Faults and recovery" }));
    if (!faults.length) {
      box.appendChild(h("p", { class: "muted", text: "No faults in the timeline." }));
      return box;
    }
    box.appendChild(table(["fault", "kind", "target", "planned", "applied → healed", "status", "recovery"],
      faults.map(function (f) {
        var planned = isNum(f.at_s) ? "at " + fmtClock(f.at_s) + (isNum(f.for_s) ? " for " + fmtClock(f.for_s) : "") : "—";
        var applied = isNum(f.applied_s) ? fmtSecs(f.applied_s) + " → " + (isNum(f.healed_s) ? fmtSecs(f.healed_s) : "…") : "not yet";
        return h("tr", { class: "fault status-" + (f.status || "pending"), "data-fault": f.name },
          h("td", { class: "name", text: f.name }),
          h("td", { text: f.kind || "" }),
          h("td", null, h("code", { text: f.target || "" })),
          h("td", { text: planned }),
          h("td", { text: applied }),
          h("td", { class: "status", text: f.status || "pending" }),
          h("td", { class: "recovery", text: isNum(f.recovery_s) ? fmtSecs(f.recovery_s) : "—" }));
      })));
    return box;
  }

  function safeguardsSection(j) {
    var sgs = j.safeguards || [];
    var box = h("section", { class: "card", id: "safeguards" }, h("h2", { text: "Safeguards" }));
    if (j.abort) {
      var a = j.abort;
      var who = a.by === "safeguard" ? "by safeguard “" + (a.name || "?") + "”" : a.by === "signal" ? "by " + (a.signal || "a signal") : "by " + (a.by || "?");
      box.appendChild(h("p", { class: "abort-reason" },
        h("strong", { text: "Aborted " + who + (isNum(a.at_s) ? " at " + fmtClock(a.at_s) : "") }),
        a.detail ? ": " + a.detail : ""));
    }
    if (!sgs.length) {
      box.appendChild(h("p", { class: "muted", text: "No safeguards declared." }));
      return box;
    }
    box.appendChild(table(["", "safeguard", "expression", "worst value", "tripped"],
      sgs.map(function (g2) {
        return h("tr", { class: "safeguard" + (g2.tripped ? " tripped" : ""), "data-tripped": String(!!g2.tripped) },
          h("td", null, verdict(!g2.tripped)),
          h("td", { class: "name", text: g2.name }),
          h("td", null, h("code", { text: g2.expression || "" })),
          h("td", { text: fmtValue(null, g2.value, g2.expression) }),
          h("td", { text: g2.tripped ? "tripped" + (isNum(g2.at_s) ? " at " + fmtClock(g2.at_s) : "") : "no" }));
      })));
    return box;
  }

  function probesTable(probes) {
    return table(["", "probe", "tolerance", "value", "detail"],
      (probes || []).map(function (p) {
        return h("tr", { class: "probe" },
          h("td", null, verdict(p.tolerance_met)),
          h("td", { class: "name", text: p.name }),
          h("td", { text: p.tolerance || "" }),
          h("td", { text: fmtNum(p.value) }),
          h("td", { class: "detail", text: p.detail || "" }));
      }));
  }

  function steadySection(j) {
    var ss = j.steady_states || {};
    var box = h("section", { class: "card", id: "steady-state" }, h("h2", { text: "Steady state" }));
    var cols = h("div", { class: "columns" });
    ["before", "after"].forEach(function (when) {
      var st = ss[when];
      var col = h("div", { class: "steady-" + when });
      if (!st) {
        col.appendChild(h("h3", { text: when + ": not checked yet" }));
      } else {
        col.appendChild(h("h3", null, verdict(st.steady_state_met), " " + when + (st.steady_state_met ? ": met" : ": NOT met")));
        col.appendChild(probesTable(st.probes));
      }
      cols.appendChild(col);
    });
    box.appendChild(cols);
    var during = ss.during || [];
    if (during.length) {
      box.appendChild(h("h3", { text: "during the run" }));
      box.appendChild(h("ul", { class: "during" }, during.map(function (d) {
        var failed = (d.probes || []).filter(function (p) {
          return p.tolerance_met === false;
        });
        return h("li", null, verdict(d.steady_state_met), " at " + fmtClock(d.at_s || 0) +
          (failed.length ? ": " + failed.map(function (p) {
            return p.name + (p.detail ? " (" + p.detail + ")" : "");
          }).join("; ") : ""));
      })));
    }
    return box;
  }

  function findingText(f) {
    if (typeof f === "string") return f;
    if (f && typeof f === "object" && (f.kind || f.subject)) {
      return [f.kind, f.subject].filter(Boolean).join(" ") + (f.detail ? ": " + f.detail : "");
    }
    return JSON.stringify(f);
  }

  function auditSection(j) {
    var a = j.audit;
    var box = h("section", { class: "card", id: "audit" }, h("h2", { text: "Audit" }));
    if (!a) {
      box.appendChild(h("p", { class: "muted", text: j.status === "running" ? "The audit runs after the load stops." : "The audit did not run." }));
      return box;
    }
    var counts = a.counts || {};
    var keys = ["ok", "lost", "duplicated", "stuck", "unexpected"];
    box.appendChild(h("p", null, verdict(!!a.clean), a.clean ? " clean" : " NOT clean", a.quiet === false ? " — the suite never went quiet, so counts may still move" : ""));
    box.appendChild(h("table", { class: "audit-counts" },
      h("thead", null, h("tr", null, keys.map(function (k) {
        return h("th", { text: k });
      }))),
      h("tbody", null, h("tr", null, keys.map(function (k) {
        var v = counts[k];
        var bad = k !== "ok" && isNum(v) && v > 0;
        return h("td", { class: "count" + (bad ? " bad" : ""), "data-count": k, text: isNum(v) ? String(v) : "—" });
      })))));
    var inv = a.invariants || [];
    if (inv.length) {
      box.appendChild(h("ul", { class: "invariants" }, inv.map(function (i) {
        var findings = i.findings || [];
        var li = h("li", { class: "invariant", "data-ok": String(!!i.ok) }, verdict(i.ok), " ", h("span", { text: i.name }));
        if (findings.length) {
          var shown = findings.slice(0, 20);
          li.appendChild(h("ul", { class: "findings" },
            shown.map(function (f) {
              return h("li", { text: findingText(f) });
            }),
            findings.length > shown.length ? h("li", { class: "muted", text: "and " + (findings.length - shown.length) + " more" }) : null));
        }
        return li;
      })));
    }
    return box;
  }

  var serviceColours = {};

  function colourOf(service) {
    if (!(service in serviceColours)) {
      serviceColours[service] = PALETTE[Object.keys(serviceColours).length % PALETTE.length];
    }
    return serviceColours[service];
  }

  // A trace's rows: `rows` as harness.traces.pick_traces writes them (`spans` in older journals).
  function traceRows(trace) {
    return trace.rows || trace.spans || [];
  }

  // "failed POST /api/bookings · 503 · 2.1 s": why it was picked, the request and its answer.
  function traceLabel(trace) {
    if (trace.label) return trace.label;
    var parts = [(trace.why || "trace") + " " + (trace.request || "")];
    if (isNum(trace.status)) parts.push(String(trace.status));
    if (isNum(trace.duration_ms)) parts.push(fmtMs(trace.duration_ms));
    return parts.join(" · ");
  }

  function waterfall(trace) {
    var spans = traceRows(trace);
    var total = 0;
    spans.forEach(function (sp) {
      total = Math.max(total, (sp.start_ms || 0) + (sp.duration_ms || 0));
    });
    total = total || 1;
    var rowH = 20;
    var nameW = 300;
    var barL = nameW + 10;
    var barR = W - 80;
    var H = 22 + spans.length * rowH + 4;
    var xms = function (ms) {
      return barL + (ms / total) * (barR - barL);
    };
    var svgNode = s("svg", { class: "waterfall", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "trace " + (trace.trace_id || "") });
    var step = niceStep(total / 6);
    for (var t = 0; t <= total + 1e-9; t += step) {
      svgNode.appendChild(s("line", { class: "grid", x1: xms(t), x2: xms(t), y1: 16, y2: H }));
      svgNode.appendChild(s("text", { class: "tick-label", x: xms(t), y: 12, "text-anchor": "middle", text: fmtMs(t) }));
    }
    spans.forEach(function (sp, i) {
      var yy = 20 + i * rowH;
      var err = sp.status === "error";
      var row = s("g", { class: "span" + (err ? " span-error" : ""), "data-service": sp.service, "data-depth": sp.depth || 0 });
      var label = (err ? "✗ " : "") + sp.service + "  " + sp.name;
      // Cut to the name column (about 6.5 px a character); the full name is the tooltip.
      var room = Math.floor((nameW - 6 - (sp.depth || 0) * 14) / 6.5);
      var shown = label.length > room ? label.slice(0, Math.max(room - 1, 1)) + "…" : label;
      row.appendChild(s("g", null, s("title", { text: label }), s("text", { class: "span-name", x: 6 + (sp.depth || 0) * 14, y: yy + 14, "data-name": label, text: shown })));
      var x0 = xms(sp.start_ms || 0);
      var wBar = Math.max(xms((sp.start_ms || 0) + (sp.duration_ms || 0)) - x0, 2);
      row.appendChild(s("rect", { class: "span-bar", x: x0, y: yy + 3, width: wBar, height: rowH - 6, fill: colourOf(sp.service) },
        s("title", { text: sp.service + " " + sp.name + ": " + fmtMs(sp.duration_ms) + " from +" + fmtMs(sp.start_ms) + (err ? " (error)" : "") })));
      row.appendChild(s("text", { class: "span-duration", x: Math.min(x0 + wBar + 4, W - 76), y: yy + 14, text: fmtMs(sp.duration_ms) }));
      svgNode.appendChild(row);
    });
    return svgNode;
  }

  function tracesSection(j) {
    var traces = j.traces || [];
    var box = h("section", { class: "card", id: "traces" }, h("h2", { text: "Traces" }));
    if (!traces.length) {
      box.appendChild(h("p", { class: "muted", text: "No traces recorded." }));
      return box;
    }
    traces.forEach(function (tr) {
      traceRows(tr).forEach(function (sp) {
        colourOf(sp.service);
      });
    });
    box.appendChild(h("div", { class: "legend" }, Object.keys(serviceColours).map(function (svc) {
      var sw = h("span", { class: "swatch" });
      sw.appendChild(s("svg", { viewBox: "0 0 10 10", width: 10, height: 10 }, s("rect", { width: 10, height: 10, fill: serviceColours[svc] })));
      return h("span", { class: "legend-item" }, sw, svc);
    }), h("span", { class: "legend-item" }, h("span", { class: "swatch span-error-swatch" }), "error span")));
    traces.forEach(function (tr, i) {
      var windowName = tr.window || tr.phase;
      var det = h("details", { class: "trace", open: "", "data-trace": tr.trace_id || String(i), "data-why": tr.why || "", "data-window": windowName || "" },
        h("summary", null, h("span", { class: "trace-label", text: traceLabel(tr) }),
          windowName ? h("span", { class: "muted", text: " · during " + windowName }) : null,
          tr.trace_id ? h("code", { class: "trace-id", text: tr.trace_id }) : null),
        waterfall(tr));
      box.appendChild(det);
    });
    return box;
  }

  function activitiesSection(j) {
    var box = h("section", { class: "card", id: "activities" }, h("h2", { text: "Run and rollbacks" }));
    [["run", j.run || []], ["rollbacks", j.rollbacks || []]].forEach(function (pair) {
      box.appendChild(h("h3", { text: pair[0] }));
      if (!pair[1].length) {
        box.appendChild(h("p", { class: "muted", text: pair[0] === "run" ? "Nothing applied yet." : "No rollback was needed." }));
        return;
      }
      box.appendChild(table(["", "activity", "duration", "exception"], pair[1].map(function (a) {
        var act = a.activity || {};
        return h("tr", { class: "activity " + (a.status || "") },
          h("td", null, verdict(a.status === "succeeded" ? true : a.status === "failed" ? false : null)),
          h("td", { class: "name", text: act.name || "" }),
          h("td", { text: fmtSecs(a.duration) }),
          h("td", { class: "detail", text: a.exception || "" }));
      })));
    });
    return box;
  }

  function replaySection(j) {
    var box = h("section", { class: "card", id: "replay" }, h("h2", { text: "Replay this run" }));
    if (!j.replay) {
      box.appendChild(h("p", { class: "muted", text: "No replay command recorded." }));
      return box;
    }
    var code = h("code", { id: "replay-command", text: j.replay });
    var button = h("button", { type: "button", id: "copy-replay", text: "Copy" });
    button.addEventListener("click", function () {
      copyText(j.replay, code).then(function (ok) {
        button.textContent = ok ? "Copied" : "Select and copy";
        button.setAttribute("data-copied", String(ok));
      });
    });
    box.appendChild(h("div", { class: "replay" }, h("pre", null, code), button));
    return box;
  }

  function copyText(text, node) {
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(node);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      return ok;
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text).then(function () {
        return true;
      }, function () {
        return fallback();
      });
    }
    return Promise.resolve(fallback());
  }

  function header(payload, live) {
    var j = payload.journal;
    var exp = j.experiment || {};
    var label = payload.label || "";
    var cls = (j.status === "running" ? "running" : j.outcome || "unknown").replace(/[^a-z_]/g, "");
    var meta = [
      ["status", j.status],
      ["outcome", j.status === "running" ? "—" : j.outcome],
      ["exit code", j.status === "running" ? "—" : j.exit_code],
      ["seed", j.seed],
      ["started", j.start],
      ["duration", isNum(j.duration) ? fmtSecs(j.duration) : "—"],
      ["scenario", exp.file],
      ["load", j.load ? [j.load.profile, j.load.model, j.load.overrides && Object.keys(j.load.overrides).length ? JSON.stringify(j.load.overrides) : ""].filter(Boolean).join(" · ") : ""],
    ];
    var top = h("header", { class: "run-header outcome-" + cls, id: "run-header", "data-outcome": cls },
      h("div", { class: "title-row" },
        h("span", { class: "badge", id: "outcome-badge", text: label }),
        j.status !== "running" && isNum(j.exit_code) ? h("span", { class: "exit-code", id: "exit-code", text: "exit " + j.exit_code }) : null,
        h("h1", { id: "scenario-title", text: exp.title || "Game day" }),
        live ? h("span", { class: "live-state", id: "live-state", text: liveState }) : null),
      h("p", { class: "headline", id: "headline", text: payload.headline || "" }),
      exp.description ? h("p", { class: "description", text: exp.description }) : null,
      h("dl", { class: "meta" }, meta.map(function (m) {
        return [h("dt", { text: m[0] }), h("dd", { "data-meta": m[0], text: m[1] === null || m[1] === undefined || m[1] === "" ? "—" : String(m[1]) })];
      })));
    return top;
  }

  // ---- the page --------------------------------------------------------------------------------

  var liveState = "";
  var renders = 0;

  function render(payload, live) {
    var root = document.getElementById("app");
    var j = payload.journal || {};
    var openTraces = {};
    root.querySelectorAll("details.trace").forEach(function (d) {
      openTraces[d.getAttribute("data-trace")] = d.open;
    });
    hoverTargets = [];
    var axis = timeAxis(j, live);
    var frag = document.createDocumentFragment();
    append(frag, [
      header(payload, live),
      timelineStrip(j, axis),
      h("section", { class: "card", id: "charts" }, h("h2", { text: "Load" }), CHARTS.map(function (c) {
        return lineChart(j, axis, c);
      })),
      breakerLanes(j, axis),
      expectationsSection(j),
      faultsSection(j),
      safeguardsSection(j),
      steadySection(j),
      auditSection(j),
      tracesSection(j),
      activitiesSection(j),
      replaySection(j),
    ]);
    frag.querySelectorAll("details.trace").forEach(function (d) {
      var key = d.getAttribute("data-trace");
      if (key in openTraces) d.open = openTraces[key];
    });
    root.replaceChildren(frag);
    document.title = (payload.label ? payload.label + " · " : "") + ((j.experiment && j.experiment.title) || "game day");
    renders++;
    root.setAttribute("data-renders", String(renders));
    root.setAttribute("data-status", j.status || "");
  }

  function setLiveState(text) {
    liveState = text;
    var node = document.getElementById("live-state");
    if (node) node.textContent = text;
    document.getElementById("app").setAttribute("data-live", text);
  }

  function start() {
    var dataNode = document.getElementById("faultline-data");
    var configNode = document.getElementById("faultline-config");
    var config = configNode ? JSON.parse(configNode.textContent) : {};
    if (dataNode) render(JSON.parse(dataNode.textContent), false);
    if (!config.events) return;
    if (!dataNode) {
      document.getElementById("app").replaceChildren(h("p", { class: "card muted", id: "waiting", text: "Waiting for the game day's first snapshot…" }));
    }
    setLiveState("connecting");
    var source = new EventSource(config.events);
    source.addEventListener("open", function () {
      setLiveState("live");
    });
    source.addEventListener("journal", function (ev) {
      liveState = "live";
      render(JSON.parse(ev.data), true);
    });
    source.addEventListener("end", function () {
      source.close();
      setLiveState("run over");
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) setLiveState("disconnected");
      else setLiveState("reconnecting");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
