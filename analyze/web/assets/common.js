// vakt's pages' shared helpers (the dashboard, app.js, and the
// investigation page, client.js): errors recorded in the page, DOM and SVG
// builders that only ever set text and attributes, never HTML (paths, user
// agents and evidence are attacker-controlled), and number formats.
"use strict";

window.vakt = (function () {
  // ---- errors: recorded in the page (tests read them), never thrown away
  const jsErrors = [];
  function recordError(msg) {
    jsErrors.push(String(msg));
    const ul = document.getElementById("js-errors");
    if (ul) {
      const li = document.createElement("li");
      li.textContent = String(msg);
      ul.appendChild(li);
    }
    if (document.body) document.body.dataset.jsErrors = String(jsErrors.length);
  }
  window.addEventListener("error", (e) => recordError(e.message || "error"));
  window.addEventListener("unhandledrejection", (e) => recordError((e.reason && e.reason.message) || String(e.reason)));
  document.addEventListener("securitypolicyviolation", (e) => recordError("CSP violation: " + e.violatedDirective + " " + e.blockedURI));

  const SVG = "http://www.w3.org/2000/svg";
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  const nf = new Intl.NumberFormat();
  function fmtPct(v) {
    if (v === null || v === undefined) return "—";
    const p = v * 100;
    if (p === 0) return "0%";
    if (p < 0.1) return "<0.1%";
    return (p < 10 ? p.toFixed(2) : p.toFixed(1)) + "%";
  }

  return {
    errorCount: () => jsErrors.length,
    RANGES: ["15m", "1h", "24h", "7d"],
    SEVERITY: { 5: "critical", 4: "high", 3: "medium", 2: "low", 1: "info", 0: "—" },
    $: (id) => document.getElementById(id),
    el, svg,
    clear(e) { while (e.firstChild) e.removeChild(e.firstChild); },
    fmtInt: (n) => nf.format(Math.round(n)),
    fmtPct,
    isoTitle: (t) => new Date(t).toISOString().replace(".000Z", "Z"),
  };
})();
