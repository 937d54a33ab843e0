// vakt dashboard: plain JavaScript, no dependencies. Every value from the
// API is put into the page with textContent or SVG attributes, never as
// HTML: paths, user agents and rule evidence are attacker-controlled.
"use strict";

(function () {
  const { RANGES, SEVERITY, $, el, svg, clear, fmtInt, fmtPct, isoTitle } = window.vakt;

  const RANGE_TEXT = { "15m": "the last 15 minutes", "1h": "the last hour", "24h": "the last 24 hours", "7d": "the last 7 days" };
  // Refresh periods in seconds per range: [health, threats and top lists].
  const PERIOD = { "15m": [5, 15], "1h": [5, 15], "24h": [15, 45], "7d": [60, 180] };
  const STATUS_PERIOD = 15, SITES_PERIOD = 30;
  const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#64748b"];
  const TOPS = [
    ["clients", "Clients (pseudonymous ids)", true],
    ["networks", "Networks (pseudonymous ids)", true],
    ["paths", "Paths", false],
    ["countries", "Countries", false],
    ["asns", "Autonomous systems", false],
    ["user_agents", "User agents", false],
  ];

  const params = new URLSearchParams(location.search);
  const state = {
    site: params.get("site") || "",
    range: RANGES.includes(params.get("range")) ? params.get("range") : "1h",
    live: params.get("live") !== "0",
    gen: 0, // bumped on every change of site or range: older answers are dropped
    due: { health: 0, threats: 0, top: 0, status: 0, sites: 0, decisions: 0 },
    busy: {},
    loaded: new Set(),
    health: null, threats: null,
    threatSort: null, threatCats: new Set(), threatQuery: "",
    threatsStale: false, // the filter changed while the threats were loading
    sites: [],
  };


  // ---- formatting
  function fmtCompact(n) {
    if (n === null || n === undefined) return "—";
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "G";
    if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (n / 1e3).toFixed(a >= 1e5 ? 0 : 1) + "k";
    return fmtInt(n);
  }
  function fmtRate(v) {
    if (v === null || v === undefined) return "—";
    if (v === 0) return "0";
    if (v < 0.01) return v.toFixed(3);
    if (v < 10) return v.toFixed(2);
    if (v < 100) return v.toFixed(1);
    return fmtCompact(v);
  }
  // fmtAxis labels a y-axis tick with as many decimals as the tick step needs.
  function fmtAxis(v, step) {
    if (v === 0) return "0";
    if (v >= 1e4) return fmtCompact(v);
    let dec = 0;
    while (dec < 6 && Math.abs(Math.round(step * Math.pow(10, dec)) - step * Math.pow(10, dec)) > 1e-6) dec++;
    return v.toFixed(dec);
  }
  function fmtLatencyAxis(v, step) {
    if (v === 0) return "0";
    if (step < 1) return fmtAxis(v * 1000, step * 1000) + " ms";
    return fmtAxis(v, step) + " s";
  }
  function fmtLatency(s) {
    if (s === null || s === undefined) return "—";
    if (s === 0) return "0";
    if (s < 0.001) return (s * 1e6).toFixed(0) + " µs";
    if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 1 : 0) + " ms";
    return s.toFixed(s < 10 ? 2 : 1) + " s";
  }
  function fmtDuration(ms) {
    const neg = ms < 0;
    let s = Math.abs(ms) / 1000;
    let out;
    if (s < 60) out = Math.round(s) + "s";
    else if (s < 3600) out = Math.floor(s / 60) + "m " + Math.round(s % 60) + "s";
    else if (s < 86400) out = Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    else out = Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
    return neg ? "-" + out : out;
  }
  function ago(t) {
    const ms = Date.now() - new Date(t).getTime();
    return ms < 1500 ? "just now" : fmtDuration(ms) + " ago";
  }
  const pad = (n) => String(n).padStart(2, "0");
  function fmtTime(t, withDate) {
    const d = new Date(t);
    const hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (!withDate) return hm;
    return d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) + " " + hm;
  }
  function fmtClock(t) { const d = new Date(t); return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
  function fmtUTC(t) { const d = new Date(t); return d.toISOString().slice(0, 16).replace("T", " "); }
  // fmtPeriod writes a UTC period compactly: "2026-11-25 00:00 – 24:00".
  function fmtPeriod(start, end) {
    const s = fmtUTC(start), e = fmtUTC(end);
    const endMs = new Date(end).getTime();
    if (e.slice(0, 10) === s.slice(0, 10)) return s + " – " + e.slice(11);
    if (e.slice(11) === "00:00" && fmtUTC(endMs - 1).slice(0, 10) === s.slice(0, 10)) return s + " – 24:00";
    return s + " – " + e.slice(5);
  }

  // ---- API
  async function api(path, extra) {
    const q = new URLSearchParams({ since: state.range, site: state.site });
    for (const k in extra || {}) q.set(k, extra[k]);
    const res = await fetch(path + "?" + q.toString(), { cache: "no-store", headers: { Accept: "application/json" } });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (!res.ok) throw new Error((body && body.error) || res.status + " " + res.statusText);
    return body;
  }

  // refresh runs one panel's load unless it is already running; answers to
  // an older site or range are dropped.
  async function refresh(kind, load, render, onError) {
    if (state.busy[kind]) return;
    state.busy[kind] = true;
    const gen = state.gen;
    try {
      const data = await load();
      if (gen !== state.gen) return;
      render(data);
      state.loaded.add(kind);
      document.body.dataset.loaded = Array.from(state.loaded).sort().join(" ");
      setUpdated();
    } catch (err) {
      if (gen === state.gen) onError(err);
    } finally {
      state.busy[kind] = false;
    }
  }

  function setUpdated() {
    $("updated").textContent = state.live ? "updated " + fmtClock(Date.now()) : "paused";
  }

  // ---- charts
  const charts = {};
  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
  }
  const TIME_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

  // drawChart renders series [{name, color, values: [[t, v|null]], area}]
  // between x0 and x1 (ms) into the container, with axes, a legend and a
  // hover read-out. data-points on the svg counts the drawn values.
  function drawChart(id, spec) {
    charts[id] = spec;
    const box = $(id);
    clear(box);
    const W = Math.max(box.clientWidth, 240), H = Math.max(box.clientHeight, 120);
    const m = { l: 46, r: 10, t: 8, b: 22 };
    const iw = W - m.l - m.r, ih = H - m.t - m.b;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": spec.label });
    let points = 0, nonzero = 0, ymax = 0;
    for (const s of spec.series) {
      for (const [, v] of s.values) {
        if (v === null || v === undefined || !isFinite(v)) continue;
        points++;
        if (v > 0) nonzero++;
        ymax = Math.max(ymax, v);
      }
    }
    root.dataset.points = String(points);
    root.dataset.nonzero = String(nonzero);
    root.dataset.series = String(spec.series.length);
    if (ymax <= 0) ymax = spec.minMax || 1;
    const step = niceStep(ymax / 4);
    ymax = Math.ceil(ymax / step) * step;
    const x0 = spec.x0, x1 = Math.max(spec.x1, spec.x0 + 1);
    const X = (t) => m.l + ((t - x0) / (x1 - x0)) * iw;
    const Y = (v) => m.t + ih - (v / ymax) * ih;

    const grid = svg("g", { class: "grid" }), axis = svg("g", { class: "axis" });
    for (let v = 0; v <= ymax + step / 2; v += step) {
      grid.appendChild(svg("line", { x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v) }));
      const tx = svg("text", { x: m.l - 6, y: Y(v) + 3.5, "text-anchor": "end" });
      tx.textContent = (spec.axisFmt || spec.yFmt)(v, step);
      axis.appendChild(tx);
    }
    const span = x1 - x0;
    const tstep = TIME_STEPS.find((s) => span / s <= 6) || 86400000 * Math.ceil(span / 86400000 / 6);
    const tz = new Date().getTimezoneOffset() * 60000;
    const withDate = span > 86400000;
    for (let t = Math.ceil((x0 - tz) / tstep) * tstep + tz; t <= x1; t += tstep) {
      const x = X(t);
      if (x < m.l + 14 || x > W - m.r - 14) continue;
      grid.appendChild(svg("line", { x1: x, x2: x, y1: m.t, y2: m.t + ih }));
      const tx = svg("text", { x: x, y: H - 6, "text-anchor": "middle" });
      tx.textContent = withDate && tstep >= 86400000 ? new Date(t).toLocaleDateString(undefined, { weekday: "short", day: "numeric" }) : fmtTime(t, false);
      axis.appendChild(tx);
    }
    root.appendChild(grid);
    root.appendChild(axis);

    const g = svg("g", { class: "series" });
    for (const s of spec.series) {
      let d = "", area = "", open = false, first = 0, last = 0, single = [];
      const vals = s.values;
      for (let i = 0; i < vals.length; i++) {
        const [t, v] = vals[i];
        if (v === null || v === undefined || !isFinite(v)) {
          if (open && s.area) area += `L${last},${Y(0)}L${first},${Y(0)}Z`;
          open = false;
          continue;
        }
        const x = X(t), y = Y(v);
        const prevOk = i > 0 && vals[i - 1][1] !== null && vals[i - 1][1] !== undefined;
        const nextOk = i + 1 < vals.length && vals[i + 1][1] !== null && vals[i + 1][1] !== undefined;
        if (!prevOk && !nextOk) single.push([x, y]);
        d += (open ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1);
        if (s.area) area += (open ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1);
        if (!open) first = x.toFixed(1);
        last = x.toFixed(1);
        open = true;
      }
      if (open && s.area) area += `L${last},${Y(0)}L${first},${Y(0)}Z`;
      if (s.area && area) g.appendChild(svg("path", { class: "area", d: area, fill: s.color }));
      if (d) g.appendChild(svg("path", { class: "line", d: d, stroke: s.color, "stroke-width": s.width || 1.8 }));
      for (const [x, y] of single) g.appendChild(svg("circle", { cx: x, cy: y, r: 2.5, fill: s.color }));
    }
    root.appendChild(g);

    const cursor = svg("g", { class: "cursor", visibility: "hidden" });
    const cl = svg("line", { y1: m.t, y2: m.t + ih });
    cursor.appendChild(cl);
    const dots = spec.series.map((s) => { const c = svg("circle", { r: 3.5, fill: s.color }); cursor.appendChild(c); return c; });
    root.appendChild(cursor);
    const hit = svg("rect", { x: m.l, y: m.t, width: iw, height: ih, fill: "transparent" });
    root.appendChild(hit);
    const tip = $("tooltip");
    const ts = spec.series.length ? spec.series[0].values.map((p) => p[0]) : [];
    hit.addEventListener("mousemove", (ev) => {
      if (!ts.length) return;
      const r = root.getBoundingClientRect();
      const t = x0 + ((ev.clientX - r.left) * (W / r.width) - m.l) / iw * (x1 - x0);
      let i = 0, best = Infinity;
      ts.forEach((tt, j) => { const dd = Math.abs(tt - t); if (dd < best) { best = dd; i = j; } });
      const x = X(ts[i]);
      cl.setAttribute("x1", x); cl.setAttribute("x2", x);
      clear(tip);
      tip.appendChild(el("div", "t-time", fmtTime(ts[i], withDate) + (spec.bucketText ? " · " + spec.bucketText : "")));
      spec.series.forEach((s, k) => {
        const v = s.values[i] ? s.values[i][1] : null;
        if (v === null || v === undefined) dots[k].setAttribute("visibility", "hidden");
        else { dots[k].setAttribute("visibility", "visible"); dots[k].setAttribute("cx", x); dots[k].setAttribute("cy", Y(v)); }
        const row = el("div", "t-row");
        const name = el("span");
        const sw = el("span", "sw"); sw.style.background = s.color;
        name.appendChild(sw); name.appendChild(document.createTextNode(s.name));
        row.appendChild(name);
        row.appendChild(el("b", null, spec.tipFmt ? spec.tipFmt(v, s, i) : spec.yFmt(v)));
        tip.appendChild(row);
      });
      cursor.setAttribute("visibility", "visible");
      tip.hidden = false;
      const tw = tip.offsetWidth;
      tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tw - 8) + "px";
      tip.style.top = ev.clientY + 14 + "px";
    });
    hit.addEventListener("mouseleave", () => { cursor.setAttribute("visibility", "hidden"); tip.hidden = true; });
    box.appendChild(root);
    if (spec.empty) box.appendChild(el("div", "chart-empty", spec.empty));

    const legend = $(spec.legend);
    clear(legend);
    if (!spec.empty) {
      for (const s of spec.series) {
        const item = el("span");
        const sw = el("span", "sw"); sw.style.background = s.color;
        item.appendChild(sw); item.appendChild(document.createTextNode(s.name));
        legend.appendChild(item);
      }
    }
  }
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { for (const id in charts) drawChart(id, charts[id]); }, 150);
  });

  // ---- health
  function bucketLabel(sec) {
    if (sec < 60) return sec + "s buckets";
    if (sec < 3600) return sec / 60 + "m buckets";
    return sec / 3600 + "h buckets";
  }
  function renderHealth(h) {
    state.health = h;
    const x0 = new Date(h.since).getTime(), x1 = new Date(h.until).getTime();
    const bucketMs = h.bucket_seconds * 1000;
    const series = h.series || [];
    const total = h.all || {};
    const noData = !total.requests;
    const scope = state.site ? state.site : "any site";
    const emptyText = noData ? `No requests for ${scope} in ${RANGE_TEXT[state.range] || state.range}.` : "";
    // Seconds each bucket covers (the last one is still filling).
    const secs = (t) => Math.max(1, Math.min(bucketMs, x1 - t) / 1000);
    const base = series.length ? series[0].points.map((p) => p.t) : [];
    if (!base.length) for (let t = x0; t < x1; t += bucketMs) base.push(t);
    const sum = (f) => base.map((t, i) => [t, series.reduce((a, s) => a + (s.points[i] ? f(s.points[i]) : 0), 0)]);
    const bucketText = bucketLabel(h.bucket_seconds);

    // requests/s: every site, and their total when there are several.
    const rps = [];
    if (series.length > 1) rps.push({ name: "All sites", color: "#111827", values: sum((p) => p.rps || 0), width: 2.2 });
    series.slice(0, 6).forEach((s, i) => rps.push({ name: s.site, color: PALETTE[i], values: s.points.map((p) => [p.t, p.rps || 0]), area: series.length === 1 }));
    if (!rps.length) rps.push({ name: state.site || "requests", color: PALETTE[0], values: base.map((t) => [t, 0]) });
    drawChart("chart-rps", { label: "Requests per second", legend: "legend-rps", series: rps, x0, x1, yFmt: fmtRate, axisFmt: fmtAxis, bucketText, empty: emptyText,
      tipFmt: (v) => fmtRate(v) + "/s" });

    // errors/s over every site, with their share of requests.
    const reqs = sum((p) => p.requests);
    const e5 = sum((p) => p.s5xx), e4 = sum((p) => p.s4xx);
    const perSec = (arr) => arr.map(([t, n]) => [t, n / secs(t)]);
    drawChart("chart-errors", { label: "Errors per second", legend: "legend-errors", x0, x1, yFmt: fmtRate, axisFmt: fmtAxis, bucketText, empty: emptyText,
      series: [
        { name: "5xx", color: "#dc2626", values: perSec(e5), area: true },
        { name: "4xx", color: "#d97706", values: perSec(e4) },
      ],
      tipFmt: (v, s, i) => { const n = reqs[i] ? reqs[i][1] : 0; const c = (s.name === "5xx" ? e5 : e4)[i][1]; return fmtRate(v) + "/s" + (n ? " (" + fmtPct(c / n) + ")" : ""); } });

    // latency: p50/p95/p99 of one site; p95 per site for several.
    let lat;
    if (series.length === 1) {
      const pts = series[0].points;
      lat = [
        { name: "p50", color: "#16a34a", values: pts.map((p) => [p.t, p.p50]) },
        { name: "p95", color: "#2563eb", values: pts.map((p) => [p.t, p.p95]) },
        { name: "p99", color: "#9333ea", values: pts.map((p) => [p.t, p.p99]) },
      ];
    } else {
      // Sites that log no request time have no line (and no legend entry).
      lat = series.slice(0, 6).map((s, i) => ({ name: s.site + " p95", color: PALETTE[i], values: s.points.map((p) => [p.t, p.p95]) }))
        .filter((s) => s.values.some((v) => v[1] !== null && v[1] !== undefined));
    }
    const known = series.some((s) => s.points.some((p) => p.latency_known > 0));
    const latEmpty = noData ? emptyText : !known ? "No request times logged. Log nginx's $request_time (or Caddy's duration) to see latency." : "";
    drawChart("chart-latency", { label: "Latency percentiles", legend: "legend-latency", series: lat.length ? lat : [{ name: "p95", color: PALETTE[0], values: [] }],
      x0, x1, yFmt: fmtLatency, axisFmt: fmtLatencyAxis, bucketText, empty: latEmpty, minMax: 0.1 });

    // key figures
    const last = base.length ? base.length - 1 : -1;
    const nowRps = last >= 0 ? sum((p) => p.rps || 0)[last][1] : 0;
    kpi("kpi-requests", fmtCompact(total.requests || 0), `in ${state.range} · ${fmtRate(total.rps || 0)}/s average`, noData ? "" : "ok", total.requests || 0);
    kpi("kpi-rps", fmtRate(nowRps), `${bucketText.replace(" buckets", "")} bucket so far`, "");
    const er = total.error_rate, cer = total.client_error_rate;
    kpi("kpi-5xx", fmtPct(er), `${fmtInt(total.s5xx || 0)} responses`, er === null || er === undefined ? "" : er >= 0.05 ? "bad" : er >= 0.01 ? "warn" : "ok");
    kpi("kpi-4xx", fmtPct(cer), `${fmtInt(total.s4xx || 0)} responses`, cer === null || cer === undefined ? "" : cer >= 0.25 ? "bad" : cer >= 0.1 ? "warn" : "ok");
    if (total.p95 !== null && total.p95 !== undefined) {
      kpi("kpi-latency", fmtLatency(total.p95), `p50 ${fmtLatency(total.p50)} · p99 ${fmtLatency(total.p99)}`, total.p95 >= 1 ? "bad" : total.p95 >= 0.3 ? "warn" : "ok");
    } else if (h.worst_p95 !== null && h.worst_p95 !== undefined) {
      kpi("kpi-latency", fmtLatency(h.worst_p95), `worst site: ${h.worst_p95_site}`, h.worst_p95 >= 1 ? "bad" : h.worst_p95 >= 0.3 ? "warn" : "ok");
    } else {
      kpi("kpi-latency", "—", noData ? "no requests" : "request time not logged", "");
    }

    renderPaths("failing", h.failing_paths || [], (p) => fmtInt(p.failures), "No failing paths: no 5xx responses in this range.");
    renderPaths("slowest", h.slowest_paths || [], (p) => fmtLatency(p.p95), known ? "No slow paths in this range." : "No request times logged, so no latency per path.");
  }

  // kpi sets a key figure; exact, if given, is kept in data-value.
  function kpi(id, value, sub, level, exact) {
    const k = $(id);
    k.className = "kpi" + (level ? " " + level : "");
    if (exact === undefined) delete k.dataset.value; else k.dataset.value = String(exact);
    k.querySelector(".k-value").textContent = value;
    k.querySelector(".k-sub").textContent = sub;
    k.querySelector(".k-sub").title = sub;
  }

  function renderPaths(id, rows, last, emptyText) {
    const tb = $(id).querySelector("tbody");
    clear(tb);
    for (const p of rows.slice(0, 10)) {
      const tr = el("tr");
      const td = el("td", "path", p.path); td.title = p.path;
      tr.appendChild(td);
      tr.appendChild(el("td", "nowrap", p.site));
      tr.appendChild(el("td", "num", fmtInt(p.requests)));
      tr.appendChild(el("td", "num", last(p)));
      tb.appendChild(tr);
    }
    $(id).hidden = rows.length === 0;
    const e = $(id + "-empty");
    e.hidden = rows.length > 0;
    e.className = "empty";
    e.textContent = emptyText;
  }

  function healthError(err) {
    for (const [id, legend] of [["chart-rps", "legend-rps"], ["chart-errors", "legend-errors"], ["chart-latency", "legend-latency"]]) {
      const box = $(id);
      clear(box);
      clear($(legend));
      box.appendChild(el("div", "chart-empty error-text", "Could not load health: " + err.message));
      delete charts[id];
    }
  }

  // ---- threats
  // The server filters, sorts and pages the offenders (a month's are
  // thousands): the table asks for the first THREATS_PAGE of its view.
  const THREATS_PAGE = 250;
  function threatsQuery() {
    const q = { limit: THREATS_PAGE };
    if (state.threatCats.size) q.category = Array.from(state.threatCats).join(",");
    if (state.threatQuery.trim()) q.q = state.threatQuery.trim();
    if (state.threatSort) {
      q.sort = state.threatSort.key;
      q.dir = state.threatSort.dir === 1 ? "asc" : "desc";
    }
    return q;
  }
  function loadThreats() {
    return refresh("threats", () => api("/api/threats", threatsQuery()), (t) => {
      if (!state.threatsStale) renderThreats(t);
    }, threatsError).then(() => {
      if (state.threatsStale) threatsChanged();
    });
  }
  // threatsChanged reloads the table for a new filter or sort; one asked
  // while a load runs follows it, and that load's answer is not shown.
  function threatsChanged() {
    state.threatsStale = state.busy.threats === true;
    if (!state.threatsStale) loadThreats();
  }
  let searchTimer = 0;

  function renderThreats(t) {
    state.threats = t;
    const total = t.total || 0;
    const count = $("threat-count");
    count.textContent = fmtInt(total);
    count.className = "badge" + (total ? " hot" : "");
    const cats = t.categories || [];
    kpi("kpi-threats", fmtInt(total), total ? `${cats.length} categor${cats.length === 1 ? "y" : "ies"} · ${RANGE_TEXT[state.range] ? state.range : ""}` : `${(t.rules || []).length} rules, none triggered`, total ? "bad" : "ok");
    for (const c of Array.from(state.threatCats)) if (!cats.some((x) => x.category === c)) state.threatCats.delete(c);
    const chips = $("category-chips");
    clear(chips);
    for (const c of cats) {
      const b = el("button", "chip");
      b.type = "button";
      b.setAttribute("aria-pressed", state.threatCats.has(c.category) ? "true" : "false");
      b.appendChild(document.createTextNode(c.category.replace(/_/g, " ")));
      b.appendChild(el("span", "n", c.offenders));
      b.addEventListener("click", () => {
        if (state.threatCats.has(c.category)) state.threatCats.delete(c.category); else state.threatCats.add(c.category);
        b.setAttribute("aria-pressed", state.threatCats.has(c.category) ? "true" : "false");
        threatsChanged();
      });
      chips.appendChild(b);
    }
    drawThreatRows();
  }

  // clientHref is the investigation page of a client, network or AS, over
  // the dashboard's site and range.
  function clientHref(scope, id, epoch) {
    const q = new URLSearchParams();
    if (scope !== "client") q.set("scope", scope);
    q.set("id", id);
    if (epoch) q.set("epoch", String(epoch));
    if (state.site) q.set("site", state.site);
    q.set("range", state.range);
    return "/client?" + q.toString();
  }

  function drawThreatRows() {
    const t = state.threats;
    if (!t) return;
    const cats = (o) => o.categories || [o.category];
    const rules = (o) => o.rules || [o.rule];
    const shown = t.offenders || [];
    const matched = t.matched || 0;
    document.body.dataset.offenders = String(shown.length);
    const tb = $("threats").querySelector("tbody");
    clear(tb);
    for (const o of shown) {
      const tr = el("tr", "offender");
      tr.dataset.category = cats(o).join(" ");
      tr.dataset.key = [o.scope, o.site, o.epoch, o.id].join("/");
      const sev = el("td"); sev.appendChild(el("span", "sev sev-" + (o.severity || 0), SEVERITY[o.severity] || String(o.severity)));
      tr.appendChild(sev);
      const catCell = el("td", "cats");
      for (const c of cats(o)) catCell.appendChild(el("span", "cat", c.replace(/_/g, " ")));
      tr.appendChild(catCell);
      const rule = el("td", "rules");
      for (const name of rules(o)) {
        const r = el("span", "rule", name);
        const info = (t.rules || []).find((x) => x.name === name);
        if (info) r.title = info.description;
        rule.appendChild(r);
      }
      tr.appendChild(rule);
      const id = el("td");
      const idb = el("a", "offender-id", o.id);
      idb.href = clientHref(o.scope, o.id, o.scope === "asn" ? 0 : o.epoch);
      idb.title = "Investigate this " + o.scope + ": its requests, paths, user agents, rules and network";
      id.appendChild(idb);
      id.appendChild(el("span", "scope", o.scope + (o.scope !== "asn" && o.epoch ? " · epoch " + o.epoch : "")));
      tr.appendChild(id);
      tr.appendChild(el("td", "nowrap", o.site));
      tr.appendChild(el("td", "num", fmtInt(o.requests)));
      const ev = el("td");
      for (const m of o.matches || [{ rule: o.rule, evidence: o.evidence }]) {
        const line = el("div", "ev-line");
        if ((o.matches || []).length > 1) line.appendChild(el("span", "ev-rule", m.rule));
        for (const k of Object.keys(m.evidence || {}).sort()) {
          const v = m.evidence[k];
          const chip = el("span", "ev");
          chip.appendChild(document.createTextNode(k.replace(/_/g, " ") + " "));
          chip.appendChild(el("b", null, v === null ? "—" : Number.isInteger(v) ? fmtInt(v) : v < 1 ? v.toFixed(3) : v.toFixed(1)));
          line.appendChild(chip);
        }
        ev.appendChild(line);
      }
      tr.appendChild(ev);
      const fs = el("td", "nowrap", fmtTime(o.first_seen, state.range === "7d" || state.range === "24h")); fs.title = isoTitle(o.first_seen);
      const ls = el("td", "nowrap", ago(o.last_seen)); ls.title = isoTitle(o.last_seen);
      tr.appendChild(fs);
      tr.appendChild(ls);
      const origin = [o.country, o.asn ? "AS" + o.asn : ""].filter(Boolean).join(" · ");
      tr.appendChild(el("td", "nowrap", origin || "—"));
      tb.appendChild(tr);
    }
    const total = t.total || 0;
    $("threats").hidden = shown.length === 0;
    const empty = $("threats-empty");
    empty.className = "empty";
    empty.hidden = shown.length > 0;
    empty.textContent = total === 0
      ? `No offenders for ${state.site || "any site"} in ${RANGE_TEXT[state.range] || state.range}: ${(t.rules || []).length} rules checked.`
      : "No offender matches this filter.";
    const more = $("threats-more");
    more.hidden = matched <= shown.length;
    more.textContent = `Showing ${shown.length} of ${fmtInt(matched)}; narrow the filter to see the rest.`;
  }

  function threatsError(err) {
    $("threats").hidden = true;
    const e = $("threats-empty");
    e.hidden = false;
    e.className = "empty error";
    e.textContent = "Could not load threats: " + err.message;
    kpi("kpi-threats", "—", "threat report unavailable", "");
  }

  // ---- top lists
  function renderTop(t) {
    const box = $("tops");
    clear(box);
    $("top-note").textContent = `${state.site || "all sites"} · ${RANGE_TEXT[state.range] || state.range}`;
    for (const [key, title, ids] of TOPS) {
      const list = t[key] || [];
      const card = el("div", "top" + (ids ? " ids" : ""));
      card.dataset.list = key;
      card.appendChild(el("h3", null, title));
      const geo = key === "countries" || key === "asns";
      const unknown = (e) => (key === "countries" && e.key === "") || (key === "asns" && e.key === "0");
      if (!list.length) {
        card.appendChild(el("p", "empty", "No requests."));
      } else if (geo && list.every(unknown)) {
        card.appendChild(el("p", "empty", "Unknown for every request: GeoIP enrichment is off (set pseudonymize.geoip.country_db and asn_db)."));
      } else {
        const ol = el("ol");
        const maxN = Math.max(...list.map((e) => e.requests), 1);
        for (const e of list) {
          const li = el("li");
          const bar = el("span", "bar");
          bar.style.width = ((e.requests / maxN) * 100).toFixed(1) + "%";
          li.appendChild(bar);
          let text = unknown(e) ? "unknown" : e.key === "" ? "(none)" : key === "asns" && /^\d+$/.test(e.key) ? "AS" + e.key : e.key;
          if (e.label) text += " " + e.label;
          const scope = { clients: "client", networks: "network", asns: "asn" }[key];
          const k = scope && !unknown(e) ? el("a", "key", text) : el("span", "key", text);
          if (k.tagName === "A") k.href = clientHref(scope, e.key, 0);
          k.title = text;
          li.appendChild(k);
          li.appendChild(el("span", "val", fmtCompact(e.requests) + (e.share !== null && e.share !== undefined ? " · " + fmtPct(e.share) : "")));
          ol.appendChild(li);
        }
        card.appendChild(ol);
      }
      box.appendChild(card);
    }
  }
  function topError(err) {
    const box = $("tops");
    clear(box);
    box.appendChild(el("p", "empty error", "Could not load top lists: " + err.message));
  }

  // ---- status: salts, retention, pipeline
  function renderStatus(s) {
    const salts = s.salts || {};
    $("salt-schedule").textContent = salts.epoch_length ? `new salt every ${salts.epoch_length}, destroyed ${salts.grace} after its epoch` : "";
    const cur = $("salt-current");
    clear(cur);
    const epochs = salts.epochs || [];
    const current = epochs.find((e) => e.current);
    const now = new Date(s.now).getTime();
    if (salts.error) {
      cur.className = "salt-current bad";
      cur.appendChild(el("span", null, "Salt status unavailable: " + salts.error));
    } else if (current) {
      cur.className = "salt-current";
      cur.appendChild(el("span", "big", "Epoch " + current.epoch + " in use"));
      cur.appendChild(el("span", null, "since " + fmtUTC(current.start) + " UTC"));
      cur.appendChild(el("span", null, "rotates in " + fmtDuration(new Date(current.end).getTime() - now)));
    } else {
      cur.className = "salt-current";
      cur.appendChild(el("span", null, "No salt for the current epoch yet: it is created with the first event of the epoch."));
    }
    const tb = $("salts").querySelector("tbody");
    clear(tb);
    for (const e of epochs.slice().reverse()) {
      const tr = el("tr");
      tr.appendChild(el("td", "num", e.epoch));
      tr.appendChild(el("td", "nowrap", fmtPeriod(e.start, e.end)));
      const st = el("td");
      st.appendChild(el("span", "state " + (e.current ? "in-use" : "retired"), e.current ? "in use" : "retired"));
      tr.appendChild(st);
      const left = new Date(e.destroy_at).getTime() - now;
      const d = el("td", "nowrap", left > 0 ? "in " + fmtDuration(left) : "due now");
      d.title = isoTitle(e.destroy_at);
      tr.appendChild(d);
      tb.appendChild(tr);
    }
    $("salts").hidden = epochs.length === 0;

    const rt = $("retention").querySelector("tbody");
    clear(rt);
    for (const r of s.retention || []) {
      const tr = el("tr");
      const d = el("td", null, r.data);
      if (r.note) d.title = r.note;
      tr.appendChild(d);
      tr.appendChild(el("td", "nowrap", r.keep_seconds ? r.keep : "not kept"));
      tr.appendChild(el("td", "small muted", r.where));
      rt.appendChild(tr);
    }
    const st = s.store || {};
    const sum = $("store-summary");
    if (st.error) { sum.textContent = "Store: " + st.error; sum.className = "hint error-text"; } else if (st.rows) {
      sum.className = "hint";
      sum.textContent = `${fmtInt(st.rows)} requests stored; oldest ${ago(st.oldest)} (${fmtUTC(st.oldest)} UTC), newest ${ago(st.newest)}. Older rows expire with no human action.`;
    } else {
      sum.className = "hint";
      sum.textContent = "No requests stored.";
    }
    if (s.retention_error) { sum.textContent += " Retention: " + s.retention_error; }

    renderPipeline(s.pipeline);
    renderAttribution(s.attribution || []);
  }

  // The open GeoIP data's licences ask for credit (and DB-IP's for a link)
  // where its results are shown.
  function renderAttribution(list) {
    const box = $("geo-attribution");
    clear(box);
    for (const a of list) {
      const p = el("span", "attribution", a.text + " ");
      for (const href of a.links || []) {
        const link = el("a", null, href.replace(/^https:\/\/(www\.)?/, ""));
        link.href = href;
        link.rel = "noopener noreferrer";
        link.target = "_blank";
        p.appendChild(link);
        p.appendChild(document.createTextNode(" "));
      }
      box.appendChild(p);
    }
  }

  function renderPipeline(p) {
    const pill = $("pipeline");
    const dl = $("pipeline-list");
    clear(dl);
    const add = (k, v, bad) => { dl.appendChild(el("dt", null, k)); const dd = el("dd", bad ? "error-text" : null, v); dl.appendChild(dd); };
    if (!p) { pill.hidden = true; add("State", "not reported by this process"); return; }
    pill.hidden = false;
    pill.className = "pill " + (p.ready ? "ok" : "bad");
    pill.textContent = p.ready ? "pipeline ready" : "pipeline not ready";
    add("State", p.ready ? "ready" : "not ready", !p.ready);
    if (p.nats) add("NATS", p.nats, p.nats !== "connected");
    if (p.clickhouse) add("ClickHouse", p.clickhouse, p.clickhouse !== "ok");
    for (const [name, c] of Object.entries(p.consumers || {})) {
      add("Consumer " + name, c.error ? c.error : `${fmtInt(c.pending)} pending · ${fmtInt(c.ack_pending)} in flight`, !!c.error);
    }
  }

  // ---- sites
  function renderSites(d) {
    state.sites = d.sites || [];
    const sel = $("site");
    const keep = state.site;
    clear(sel);
    const total = state.sites.reduce((a, s) => a + s.requests, 0);
    sel.appendChild(new Option(`All sites (${fmtCompact(total)})`, ""));
    const names = state.sites.map((s) => s.site);
    for (const s of state.sites) sel.appendChild(new Option(`${s.site} (${fmtCompact(s.requests)})`, s.site));
    if (keep && !names.includes(keep)) sel.appendChild(new Option(`${keep} (no data)`, keep));
    sel.value = keep;
    const banner = $("banner");
    if (!state.sites.length) {
      banner.hidden = false;
      banner.className = "banner";
      clear(banner);
      banner.appendChild(el("strong", null, "No requests stored yet. "));
      banner.appendChild(document.createTextNode("Feed vakt a log: "));
      banner.appendChild(el("code", null, "vakt run --demo"));
      banner.appendChild(document.createTextNode(", "));
      banner.appendChild(el("code", null, "vakt run --file /var/log/nginx/access.log"));
      banner.appendChild(document.createTextNode(" or "));
      banner.appendChild(el("code", null, "vakt import FILE"));
      banner.appendChild(document.createTextNode(". This page updates by itself."));
    } else {
      banner.hidden = true;
    }
  }

  // ---- scheduling
  function schedule(now) {
    const [hp, tp] = PERIOD[state.range] || PERIOD["1h"];
    const run = (kind, period, fn) => {
      if (now >= state.due[kind]) { state.due[kind] = now + period * 1000; fn(); }
    };
    run("sites", SITES_PERIOD, () => refresh("sites", () => fetchPlain("/api/sites"), renderSites, () => {}));
    run("health", hp, () => refresh("health", () => api("/api/health"), renderHealth, healthError));
    run("threats", tp, loadThreats);
    run("top", tp, () => refresh("top", () => api("/api/top", { n: 8 }), renderTop, topError));
    run("status", STATUS_PERIOD, () => refresh("status", () => fetchPlain("/api/status"), renderStatus, statusError));
    run("decisions", STATUS_PERIOD, () => refresh("decisions", () => fetchPlain("/api/decisions"), renderDecisions, decisionsError));
  }
  function renderDecisions(d) {
    const tb = $("decisions").querySelector("tbody");
    clear(tb);
    const list = d.decisions || [];
    const now = Date.now();
    for (const x of list) {
      const tr = el("tr");
      tr.appendChild(el("td", null, x.scope));
      tr.appendChild(el("td", "mono", x.id));
      tr.appendChild(el("td", "num", x.epoch || "—"));
      const r = el("td", null, x.rule);
      r.title = x.origin + (x.carried_from ? " from epoch " + x.carried_from : "");
      tr.appendChild(r);
      tr.appendChild(el("td", null, x.site || "all"));
      tr.appendChild(el("td", "num", x.status));
      const ex = el("td", "nowrap", "in " + fmtDuration(new Date(x.expires).getTime() - now));
      ex.title = isoTitle(x.expires);
      tr.appendChild(ex);
      tr.appendChild(el("td", "num", fmtInt(x.hits || 0)));
      tb.appendChild(tr);
    }
    $("decisions").hidden = list.length === 0;
    const empty = $("decisions-empty");
    empty.hidden = list.length !== 0 && !d.error;
    empty.textContent = d.error ? "Decisions unavailable: " + d.error : "No active bans.";
    $("decisions-note").textContent = list.length ? list.length + " active" : "";
  }
  function decisionsError(err) {
    const empty = $("decisions-empty");
    empty.hidden = false;
    empty.textContent = "Decisions unavailable: " + err.message;
  }
  async function fetchPlain(path) {
    const res = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (!res.ok) throw new Error((body && body.error) || res.status + " " + res.statusText);
    return body;
  }
  function statusError(err) {
    const cur = $("salt-current");
    clear(cur);
    cur.className = "salt-current bad";
    cur.appendChild(el("span", null, "Status unavailable: " + err.message));
  }

  function tick() {
    if (state.live && !document.hidden) schedule(Date.now());
  }

  function changed() {
    state.gen++;
    for (const k in state.due) if (k !== "status" && k !== "sites") state.due[k] = 0;
    state.busy = {};
    const q = new URLSearchParams();
    if (state.site) q.set("site", state.site);
    if (state.range !== "1h") q.set("range", state.range);
    if (!state.live) q.set("live", "0");
    history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q.toString() : ""));
    syncControls();
    schedule(Date.now());
  }

  function syncControls() {
    for (const b of $("range").querySelectorAll("button")) b.setAttribute("aria-pressed", b.dataset.range === state.range ? "true" : "false");
    const live = $("live");
    live.setAttribute("aria-pressed", state.live ? "true" : "false");
    live.querySelector(".label").textContent = state.live ? "Live" : "Paused";
    setUpdated();
  }

  function init() {
    document.body.dataset.jsErrors = String(window.vakt.errorCount());
    $("site").addEventListener("change", (e) => { state.site = e.target.value; changed(); });
    for (const b of $("range").querySelectorAll("button")) b.addEventListener("click", () => { state.range = b.dataset.range; changed(); });
    $("live").addEventListener("click", () => {
      state.live = !state.live;
      if (state.live) for (const k in state.due) state.due[k] = 0;
      changed();
    });
    $("threat-search").addEventListener("input", (e) => {
      state.threatQuery = e.target.value;
      clearTimeout(searchTimer);
      searchTimer = setTimeout(threatsChanged, 150);
    });
    for (const th of $("threats").querySelectorAll("th.sortable")) {
      th.addEventListener("click", () => {
        const key = th.dataset.sort;
        const cur = state.threatSort;
        state.threatSort = cur && cur.key === key ? (cur.dir === -1 ? { key, dir: 1 } : null) : { key, dir: -1 };
        for (const o of $("threats").querySelectorAll("th.sortable")) o.classList.remove("asc", "desc");
        if (state.threatSort) th.classList.add(state.threatSort.dir === 1 ? "asc" : "desc");
        threatsChanged();
      });
    }
    document.addEventListener("visibilitychange", tick);
    if (state.site) $("site").appendChild(new Option(state.site, state.site));
    $("site").value = state.site;
    syncControls();
    // Everything loads once even when paused, then refreshes while live.
    schedule(Date.now());
    setInterval(tick, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
