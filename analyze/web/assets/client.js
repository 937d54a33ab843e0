// vakt investigation page: one pseudonymous client (or network, or AS)
// over a range, from /api/client, the same code as `vakt report client`.
// Every value is put into the page with textContent or attributes, never
// as HTML: paths, user agents and referrers are attacker-controlled.
"use strict";

(function () {
  const { RANGES, SEVERITY, $, el, svg, clear, fmtInt, fmtPct, isoTitle } = window.vakt;

  const params = new URLSearchParams(location.search);
  const q = {
    scope: params.get("scope") || "client",
    id: params.get("id") || "",
    epoch: params.get("epoch") || "",
    site: params.get("site") || "",
    range: RANGES.includes(params.get("range")) ? params.get("range") : "24h",
  };

  const fmtUTC = (t) => new Date(t).toISOString().slice(0, 19).replace("T", " ");
  function fmtEv(v) { return v === null ? "—" : Number.isInteger(v) ? fmtInt(v) : v < 1 ? v.toFixed(3) : v.toFixed(1); }

  // href of another investigation over the same site and range.
  function href(scope, id, epoch) {
    const p = new URLSearchParams();
    if (scope !== "client") p.set("scope", scope);
    p.set("id", id);
    if (epoch) p.set("epoch", String(epoch));
    if (q.site) p.set("site", q.site);
    p.set("range", q.range);
    return "/client?" + p.toString();
  }
  function link(scope, id, epoch, text) {
    const a = el("a", "offender-id", text || id);
    a.href = href(scope, id, epoch);
    return a;
  }

  function kpi(id, value, sub, exact) {
    const k = $(id);
    k.dataset.value = exact === undefined ? String(value) : String(exact);
    k.querySelector(".k-value").textContent = value;
    k.querySelector(".k-sub").textContent = sub || "";
    k.querySelector(".k-sub").title = sub || "";
  }

  function row(table, data, cells) {
    const tr = el("tr");
    for (const k in data) tr.dataset[k] = String(data[k]);
    for (const c of cells) tr.appendChild(c);
    $(table).querySelector("tbody").appendChild(tr);
    return tr;
  }
  function td(cls, text) { return el("td", cls, text); }
  function tdWith(cls, child) { const c = el("td", cls); c.appendChild(child); return c; }
  function table(id, rows, emptyText, fill) {
    clear($(id).querySelector("tbody"));
    for (const r of rows) fill(r);
    $(id).hidden = rows.length === 0;
    const e = $(id + "-empty");
    e.hidden = rows.length > 0;
    e.textContent = emptyText;
  }

  function renderSummary(c) {
    const s = c.summary;
    const what = { client: "client", network: "network", asn: "AS" }[c.scope] || c.scope;
    $("subject").textContent = what + " " + (c.scope === "asn" ? "AS" : "") + c.id + (c.epoch ? " · epoch " + c.epoch : "");
    document.title = "vakt — " + what + " " + c.id;
    $("site-note").textContent = (c.site || "all sites") + " · " + fmtUTC(c.since) + " – " + fmtUTC(c.until) + " UTC";
    kpi("kpi-requests", fmtInt(s.requests), (s.sites || []).join(", ") + (c.scope !== "client" && s.clients ? " · " + fmtInt(s.clients) + " clients" : ""), s.requests);
    kpi("kpi-errors", fmtInt(s.s4xx) + " / " + fmtInt(s.s5xx), s.requests ? fmtPct(s.s4xx / s.requests) + " 4xx · " + fmtPct(s.s5xx / s.requests) + " 5xx" : "", s.s4xx + " " + s.s5xx);
    kpi("kpi-paths", fmtInt(s.distinct_paths), fmtInt(s.bytes) + " bytes sent", s.distinct_paths);
    kpi("kpi-seen", s.last_seen ? fmtUTC(s.last_seen).slice(11, 16) : "—", s.first_seen ? "from " + fmtUTC(s.first_seen) + " UTC" : "no requests",
      s.first_seen ? isoTitle(s.first_seen) + " " + isoTitle(s.last_seen) : "");
    kpi("kpi-country", s.country || "unknown", s.requests ? "of most requests" : "", s.country);
    kpi("kpi-as", s.asn ? "AS" + s.asn : "unknown", s.as_org || "", s.asn);
    if (s.asn && c.scope !== "asn") {
      const sub = $("kpi-as").querySelector(".k-sub");
      clear(sub);
      sub.appendChild(link("asn", String(s.asn), 0, s.as_org || "AS" + s.asn));
    }
    const banner = $("banner");
    banner.hidden = s.requests > 0;
    banner.textContent = `No requests of ${what} ${c.id} in this range. Pick a longer range, or its data has expired.`;
  }

  // renderSeries draws requests per bucket as bars, 4xx and 5xx on top.
  function renderSeries(c) {
    const box = $("chart-series");
    clear(box);
    const W = Math.max(box.clientWidth, 300), H = Math.max(box.clientHeight, 120);
    const m = { l: 46, r: 10, t: 8, b: 22 }, iw = W - m.l - m.r, ih = H - m.t - m.b;
    const x0 = new Date(c.since).getTime(), x1 = new Date(c.until).getTime(), bucket = c.bucket_seconds * 1000;
    const pts = c.series || [];
    const ymax = Math.max(1, ...pts.map((p) => p.requests));
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Requests over time" });
    root.dataset.points = String(pts.length);
    root.dataset.total = String(pts.reduce((a, p) => a + p.requests, 0));
    const X = (t) => m.l + ((t - x0) / Math.max(x1 - x0, 1)) * iw;
    const Y = (v) => m.t + ih - (v / ymax) * ih;
    const axis = svg("g", { class: "axis" }), grid = svg("g", { class: "grid" });
    for (const v of [0, ymax / 2, ymax]) {
      grid.appendChild(svg("line", { x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v) }));
      const t = svg("text", { x: m.l - 6, y: Y(v) + 3.5, "text-anchor": "end" });
      t.textContent = Number.isInteger(v) ? fmtInt(v) : v.toFixed(1);
      axis.appendChild(t);
    }
    for (const t of [x0, (x0 + x1) / 2, x1]) {
      const tx = svg("text", { x: X(t), y: H - 6, "text-anchor": t === x0 ? "start" : t === x1 ? "end" : "middle" });
      tx.textContent = fmtUTC(t).slice(5, 16);
      axis.appendChild(tx);
    }
    root.appendChild(grid);
    root.appendChild(axis);
    const bars = svg("g", { class: "bars" });
    const bw = Math.max(1.5, (bucket / Math.max(x1 - x0, 1)) * iw - 1);
    for (const p of pts) {
      const x = X(p.t);
      const r = svg("rect", { class: "req", x: x, y: Y(p.requests), width: bw, height: Y(0) - Y(p.requests) });
      const title = svg("title", {});
      title.textContent = `${fmtUTC(p.t)} UTC: ${p.requests} requests, ${p.s4xx} 4xx, ${p.s5xx} 5xx`;
      r.appendChild(title);
      bars.appendChild(r);
      const e = p.s4xx + p.s5xx;
      if (e) bars.appendChild(svg("rect", { class: "err", x: x, y: Y(e), width: bw, height: Y(0) - Y(e) }));
    }
    root.appendChild(bars);
    box.appendChild(root);
    const legend = $("legend-series");
    clear(legend);
    legend.appendChild(el("span", null, `requests per ${c.bucket_seconds >= 3600 ? c.bucket_seconds / 3600 + "h" : c.bucket_seconds / 60 + "m"} (red: 4xx and 5xx)`));
    if (!pts.length) box.appendChild(el("div", "chart-empty", "No requests in this range."));
  }

  function renderTables(c) {
    const rules = c.matches || [];
    $("rules-count").textContent = String(rules.length);
    $("rules-count").className = "badge" + (rules.length ? " hot" : "");
    table("c-rules", rules, "No rule caught it in this range.", (o) => {
      const ev = el("td");
      for (const k of Object.keys(o.evidence || {}).sort()) {
        const chip = el("span", "ev");
        chip.appendChild(document.createTextNode(k.replace(/_/g, " ") + " "));
        chip.appendChild(el("b", null, fmtEv(o.evidence[k])));
        ev.appendChild(chip);
      }
      const sev = el("td");
      sev.appendChild(el("span", "sev sev-" + (o.severity || 0), SEVERITY[o.severity] || String(o.severity)));
      const caught = o.scope === c.scope && o.id === c.id ? td("nowrap", "this " + o.scope) : tdWith("nowrap", link(o.scope, o.id, o.scope === "asn" ? 0 : o.epoch, o.scope + " " + o.id));
      const fs = td("nowrap", fmtUTC(o.first_seen)); fs.title = isoTitle(o.first_seen);
      const ls = td("nowrap", fmtUTC(o.last_seen)); ls.title = isoTitle(o.last_seen);
      row("c-rules", { key: o.rule, scope: o.scope, id: o.id, n: o.requests, evidence: JSON.stringify(o.evidence || {}) },
        [sev, td("nowrap", o.rule), td("cat", o.category.replace(/_/g, " ")), caught, td("nowrap", o.site), td("num", fmtInt(o.requests)), ev, fs, ls]);
    });
    table("c-paths", c.paths || [], "No requests.", (p) => {
      const path = td("path", p.path); path.title = p.path;
      const ls = td("nowrap", fmtUTC(p.last_seen)); ls.title = isoTitle(p.last_seen);
      row("c-paths", { key: p.path, status: p.status, n: p.requests }, [path, td("num", p.status), td("num", fmtInt(p.requests)), ls]);
    });
    for (const [id, none] of [["user_agents", "(no user agent)"], ["referrers", "(no referrer)"]]) {
      table("c-" + id, c[id] || [], "No requests.", (e) => {
        const k = td(id === "user_agents" ? "ua" : "path", e.key === "" ? none : e.key); k.title = e.key;
        row("c-" + id, { key: e.key, n: e.requests }, [k, td("num", fmtInt(e.requests)), td("num", fmtPct(e.share))]);
      });
    }
    renderNeighbours(c);
  }

  function renderNeighbours(c) {
    $("network-title").textContent = { client: "Other clients of its network", network: "Clients of the network", asn: "Clients of the AS" }[c.scope] || "Clients";
    const note = $("network-note");
    clear(note);
    const nets = (c.summary.networks || []);
    if (c.scope === "client" && nets.length) {
      note.appendChild(document.createTextNode("network "));
      nets.forEach((n, i) => {
        if (i) note.appendChild(document.createTextNode(", "));
        note.appendChild(link("network", n.id, n.epoch));
      });
    }
    table("c-network", c.neighbours || [], c.scope === "client" ? "No other client of its network in this range." : "No clients in this range.", (n) => {
      const fs = td("nowrap", fmtUTC(n.first_seen)); fs.title = isoTitle(n.first_seen);
      const ls = td("nowrap", fmtUTC(n.last_seen)); ls.title = isoTitle(n.last_seen);
      const rules = td("small", (n.rules || []).join(", ") || "—");
      const tr = row("c-network", { key: n.id, epoch: n.epoch, n: n.requests, rules: (n.rules || []).join(" ") },
        [tdWith("nowrap", link("client", n.id, n.epoch)), td("num", n.epoch), td("num", fmtInt(n.requests)), td("num", fmtInt(n.s4xx)),
          td("num", fmtInt(n.s5xx)), td("num", fmtInt(n.distinct_paths)), fs, ls, rules]);
      if ((n.rules || []).length) tr.className = "flagged";
    });
  }

  async function load() {
    const p = new URLSearchParams({ since: q.range, site: q.site, scope: q.scope, id: q.id });
    if (q.epoch) p.set("epoch", q.epoch);
    $("updated").textContent = "loading…";
    const res = await fetch("/api/client?" + p.toString(), { cache: "no-store", headers: { Accept: "application/json" } });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (!res.ok) throw new Error((body && body.error) || res.status + " " + res.statusText);
    return body;
  }

  function init() {
    document.body.dataset.jsErrors = String(window.vakt.errorCount());
    const back = new URLSearchParams();
    if (q.site) back.set("site", q.site);
    if (q.range !== "1h") back.set("range", q.range);
    $("back").href = "/" + (back.toString() ? "?" + back.toString() : "");
    for (const b of $("range").querySelectorAll("button")) {
      b.setAttribute("aria-pressed", b.dataset.range === q.range ? "true" : "false");
      b.addEventListener("click", () => { q.range = b.dataset.range; location.href = href(q.scope, q.id, q.epoch); });
    }
    load().then((c) => {
      renderSummary(c);
      renderSeries(c);
      renderTables(c);
      document.body.dataset.loaded = "client";
      $("updated").textContent = "as of " + fmtUTC(c.until).slice(11) + " UTC";
    }).catch((err) => {
      const banner = $("banner");
      banner.hidden = false;
      banner.className = "banner bad";
      banner.textContent = "Could not load this investigation: " + err.message;
      $("updated").textContent = "";
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
