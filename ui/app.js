// The flame-graph explorer: a page served by the extension's HTTP workers at
// / and /ui/ that talks to the server's public API only (the Connect querier
// service in its JSON codec, and in its binary codec for the pprof
// download), as any other client would.  No framework, nothing fetched from
// anywhere else.  The whole view lives in the URL, so a view can be shared;
// credentials live in this tab's sessionStorage only.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const ROW = 18;                 // flame graph row height, CSS pixels
  const DEFAULT_MAX_NODES = 16384;

  // ---------------------------------------------------------------- state

  const defaults = {
    tenant: "", service: "", type: "", filter: "", from: "now-1h", until: "now",
    groupBy: "", search: "", zoom: "", view: "single", sort: "self", top: "",
    leftFilter: "", leftFrom: "", leftUntil: "", rightFilter: "", rightFrom: "", rightUntil: "",
    diffZoom: "", maxNodes: String(DEFAULT_MAX_NODES),
  };
  const state = { ...defaults };

  function readUrl() {
    const q = new URLSearchParams(location.search);
    for (const k of Object.keys(defaults)) state[k] = q.has(k) ? q.get(k) : defaults[k];
    if (!q.has("tenant")) state.tenant = localStorage.getItem("pyroscope.tenant") || "";
  }

  function writeUrl() {
    const q = new URLSearchParams();
    for (const k of Object.keys(defaults))
      if (state[k] !== defaults[k] && state[k] !== "") q.set(k, state[k]);
    const url = location.pathname + (q.toString() ? "?" + q.toString() : "");
    if (url !== location.pathname + location.search) history.replaceState(null, "", url);
  }

  // -------------------------------------------------------------- helpers

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    if (props) for (const [k, v] of Object.entries(props)) {
      if (k === "class") e.className = v;
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  const UNITS = {
    s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000,
  };

  // "now", "now-1h", epoch milliseconds (or seconds), an ISO date
  function parseTime(s, now) {
    s = (s || "").trim();
    if (s === "" || s === "now") return now;
    let m = /^now-(\d+)([smhdw])$/.exec(s);
    if (m) return now - Number(m[1]) * UNITS[m[2]];
    if (/^\d+$/.test(s)) return s.length <= 10 ? Number(s) * 1000 : Number(s);
    const t = Date.parse(s);
    if (!Number.isNaN(t)) return t;
    throw new Error(`cannot read the time "${s}": use now, now-15m, an ISO date or epoch milliseconds`);
  }

  function range(fromS, untilS) {
    const now = Date.now();
    const start = parseTime(fromS, now);
    const end = parseTime(untilS, now);
    if (!(end > start)) throw new Error("the range ends before it starts");
    return { start, end };
  }

  function quote(v) { return '"' + String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"'; }

  function selector(filter) {
    const parts = [];
    if (state.service) parts.push("service_name=" + quote(state.service));
    const f = (filter || "").trim().replace(/^\{|\}$/g, "").trim();
    if (f) parts.push(f);
    return "{" + parts.join(", ") + "}";
  }

  function unitOf(typeId) {
    // name:sample_type:sample_unit:period_type:period_unit
    const p = (typeId || "").split(":");
    return p.length >= 3 ? p[2] : "";
  }

  function fmtValue(v, unit) {
    const n = Number(v);
    if (unit === "nanoseconds" || unit === "microseconds" || unit === "milliseconds" || unit === "seconds") {
      const scale = { nanoseconds: 1e-9, microseconds: 1e-6, milliseconds: 1e-3, seconds: 1 }[unit];
      const s = n * scale;
      if (s >= 3600) return (s / 3600).toFixed(2) + " h";
      if (s >= 60) return (s / 60).toFixed(2) + " min";
      if (s >= 1) return s.toFixed(2) + " s";
      if (s >= 1e-3) return (s * 1e3).toFixed(2) + " ms";
      if (s >= 1e-6) return (s * 1e6).toFixed(2) + " µs";
      return (s * 1e9).toFixed(0) + " ns";
    }
    if (unit === "bytes") {
      const u = ["B", "KiB", "MiB", "GiB", "TiB"];
      let x = n, i = 0;
      while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
      return (i ? x.toFixed(2) : String(x)) + " " + u[i];
    }
    if (n >= 1e9) return (n / 1e9).toFixed(2) + " G";
    if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
    if (n >= 1e4) return (n / 1e3).toFixed(1) + " k";
    return String(n);
  }

  function pct(part, whole) {
    if (!whole) return "0 %";
    const p = (100 * part) / whole;
    return (p >= 10 ? p.toFixed(1) : p.toFixed(2)) + " %";
  }

  // ----------------------------------------------------------------- API

  function authHeaders() {
    const h = {};
    if (state.tenant) h["X-Scope-OrgID"] = state.tenant;
    const user = sessionStorage.getItem("pyroscope.user") || "";
    const secret = sessionStorage.getItem("pyroscope.secret") || "";
    if (user) {
      const bytes = new TextEncoder().encode(user + ":" + secret);
      let bin = "";
      for (const b of bytes) bin += String.fromCharCode(b);
      h.Authorization = "Basic " + btoa(bin);
    } else if (secret) {
      h.Authorization = "Bearer " + secret;
    }
    return h;
  }

  class ApiError extends Error {}

  async function failure(res) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const j = JSON.parse(await res.text());
      if (j && j.message) msg = `${j.code || res.status}: ${j.message}`;
    } catch (e) { /* not JSON */ }
    if (res.status === 401) msg += " — set credentials under Tenant (top right)";
    if (res.status === 403) msg += " — these credentials may not read this tenant";
    return new ApiError(msg);
  }

  async function call(method, body) {
    const res = await fetch("/querier.v1.QuerierService/" + method, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1", ...authHeaders() },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw await failure(res);
    return res.json();
  }

  // protobuf writer for the one binary request we send (SelectMergeProfileRequest)
  function pbString(out, field, s) {
    const b = new TextEncoder().encode(s);
    out.push((field << 3) | 2);
    pbVarint(out, b.length);
    for (const x of b) out.push(x);
  }
  function pbVarint(out, v) {
    while (v >= 128) { out.push((v % 128) | 128); v = Math.floor(v / 128); }
    out.push(v);
  }
  function pbInt(out, field, v) { out.push(field << 3); pbVarint(out, v); }

  async function fetchPprof(typeId, sel, start, end) {
    const body = [];
    pbString(body, 1, typeId);
    pbString(body, 2, sel);
    pbInt(body, 3, start);
    pbInt(body, 4, end);
    const res = await fetch("/querier.v1.QuerierService/SelectMergeProfile", {
      method: "POST",
      headers: { "Content-Type": "application/proto", "Connect-Protocol-Version": "1", ...authHeaders() },
      body: new Uint8Array(body),
    });
    if (!res.ok) throw await failure(res);
    const raw = await res.blob();
    const gz = raw.stream().pipeThrough(new CompressionStream("gzip"));
    return new Response(gz).blob();
  }

  // ------------------------------------------------------- flame graph model

  // Decodes a FlameGraph (4 values per node) or FlameGraphDiff (7) into
  // per-level typed arrays with absolute x, and each node's parent index.
  function decode(fg, diff) {
    const t0 = performance.now();
    const names = fg.names || [];
    const levels = [];
    const k = diff ? 7 : 4;
    let nodes = 0;
    for (let d = 0; d < (fg.levels || []).length; d++) {
      const v = fg.levels[d].values || [];
      const n = Math.floor(v.length / k);
      const L = {
        n,
        x: new Float64Array(n), total: new Float64Array(n), self: new Float64Array(n),
        name: new Int32Array(n), parent: new Int32Array(n),
        lTotal: diff ? new Float64Array(n) : null, lSelf: diff ? new Float64Array(n) : null,
        rTotal: diff ? new Float64Array(n) : null, rSelf: diff ? new Float64Array(n) : null,
      };
      let prevL = 0, prevR = 0;
      for (let i = 0; i < n; i++) {
        const o = i * k;
        if (diff) {
          const xl = Number(v[o]) + prevL, tl = Number(v[o + 1]), sl = Number(v[o + 2]);
          const xr = Number(v[o + 3]) + prevR, tr = Number(v[o + 4]), sr = Number(v[o + 5]);
          prevL = xl + tl; prevR = xr + tr;
          L.x[i] = xl + xr; L.total[i] = tl + tr; L.self[i] = sl + sr; L.name[i] = Number(v[o + 6]);
          L.lTotal[i] = tl; L.lSelf[i] = sl; L.rTotal[i] = tr; L.rSelf[i] = sr;
        } else {
          const x = Number(v[o]) + prevL, t = Number(v[o + 1]);
          prevL = x + t;
          L.x[i] = x; L.total[i] = t; L.self[i] = Number(v[o + 2]); L.name[i] = Number(v[o + 3]);
        }
      }
      // parents: the node of the level above whose span holds this one
      if (d > 0) {
        const P = levels[d - 1];
        let p = 0;
        for (let i = 0; i < n; i++) {
          // past p's end and the next parent already started: move on
          while (p < P.n - 1 && L.x[i] >= P.x[p] + P.total[p] && P.x[p + 1] <= L.x[i])
            p++;
          L.parent[i] = p;
        }
      } else {
        L.parent.fill(-1);
      }
      levels.push(L);
      nodes += n;
    }
    const model = {
      names, levels, nodes, diff,
      total: levels.length ? levels[0].total[0] : 0,
      leftTicks: diff ? Number(fg.leftTicks || 0) : 0,
      rightTicks: diff ? Number(fg.rightTicks || 0) : 0,
      decodeMs: 0,
    };
    model.decodeMs = performance.now() - t0;
    return model;
  }

  function pathOf(model, d, i) {
    const p = [];
    for (; d > 0; i = model.levels[d].parent[i], d--) p.push(model.names[model.levels[d].name[i]]);
    return p.reverse();
  }

  // the node at the end of a path of names (";"-joined), or the root
  function findPath(model, path) {
    if (!path || !model.levels.length) return { d: 0, i: 0 };
    const want = path.split(";");
    let d = 0, i = 0;
    for (const name of want) {
      const L = model.levels[d + 1];
      if (!L) return { d, i };
      let found = -1;
      for (let j = 0; j < L.n; j++)
        if (L.parent[j] === i && model.names[L.name[j]] === name) { found = j; break; }
      if (found < 0) return { d, i };
      d++; i = found;
    }
    return { d, i };
  }

  // per function: self summed, total summed over nodes without an
  // ancestor of the same name (a recursive function counts once)
  function topTable(model) {
    const self = new Map(), total = new Map();
    for (let d = 1; d < model.levels.length; d++) {
      const L = model.levels[d];
      for (let i = 0; i < L.n; i++) {
        const nm = model.names[L.name[i]];
        self.set(nm, (self.get(nm) || 0) + L.self[i]);
        let rec = false;
        for (let dd = d - 1, ii = L.parent[i]; dd > 0; ii = model.levels[dd].parent[ii], dd--)
          if (model.levels[dd].name[ii] === L.name[i]) { rec = true; break; }
        if (!rec) total.set(nm, (total.get(nm) || 0) + L.total[i]);
      }
    }
    return [...total.keys()].map((name) => ({ name, self: self.get(name) || 0, total: total.get(name) }));
  }

  // ------------------------------------------------------------ colours

  function hashString(s) {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
    return h >>> 0;
  }

  // frames of one package share a colour: the part of the name before its
  // last separator (Go/Java/Python packages, file paths, C++ namespaces)
  function packageOf(name) {
    const m = /^(.*?)[./:]?[^./:]*$/.exec(name.replace(/\(.*$/, ""));
    return m && m[1] ? m[1] : name;
  }

  const colourCache = new Map();
  function frameColour(name) {
    let c = colourCache.get(name);
    if (!c) {
      const h = hashString(packageOf(name));
      const hue = 8 + (h % 42);                 // red-orange-yellow
      const sat = 72 + ((h >>> 8) % 18);
      const lig = 58 + ((h >>> 16) % 14);
      c = `hsl(${hue}, ${sat}%, ${lig}%)`;
      colourCache.set(name, c);
    }
    return c;
  }

  // upstream's diff scale: the change of a node's share of its side's
  // total, -100 % green → 0 grey → +100 % red
  function diffColour(lTotal, rTotal, leftTicks, rightTicks) {
    const pl = leftTicks ? Math.round((10000 * lTotal) / leftTicks) / 100 : 0;
    const pr = rightTicks ? Math.round((10000 * rTotal) / rightTicks) / 100 : 0;
    let diff = pl === 0 ? (pr === 0 ? 0 : 100) : ((pr - pl) / pl) * 100;
    diff = Math.max(-100, Math.min(100, diff));
    const lerp = (a, b, t) => Math.round(a + (b - a) * t);
    const grey = [148, 142, 142], green = [0, 170, 0], red = [200, 0, 0];
    const t = Math.abs(diff) / 100;
    const to = diff < 0 ? green : red;
    return `rgb(${lerp(grey[0], to[0], t)}, ${lerp(grey[1], to[1], t)}, ${lerp(grey[2], to[2], t)})`;
  }

  // perceived brightness of an rgb() colour (others count as light)
  function luminance(c) {
    const m = /^rgb\((\d+), (\d+), (\d+)\)$/.exec(c);
    return m ? 0.299 * m[1] + 0.587 * m[2] + 0.114 * m[3] : 255;
  }

  function diffPercent(lTotal, rTotal, leftTicks, rightTicks) {
    const pl = leftTicks ? lTotal / leftTicks : 0;
    const pr = rightTicks ? rTotal / rightTicks : 0;
    if (pl === 0) return pr === 0 ? "0 %" : "new";
    if (pr === 0) return "removed";
    const d = ((pr - pl) / pl) * 100;
    return (d > 0 ? "+" : "") + d.toFixed(2) + " %";
  }

  // ----------------------------------------------------- flame graph view

  class FlameGraph {
    constructor(canvas, crumbs, opts) {
      this.canvas = canvas;
      this.crumbs = crumbs;
      this.opts = opts;
      this.model = null;
      this.zoom = { d: 0, i: 0 };
      this.search = "";
      this.drawn = [];          // rectangles of the last render, for hit tests and tests
      this.renderMs = 0;
      canvas.addEventListener("mousemove", (e) => this.hover(e));
      canvas.addEventListener("mouseleave", () => hideTooltip());
      canvas.addEventListener("click", (e) => {
        const hit = this.hit(e);
        if (hit) this.setZoom(hit.d, hit.i, true);
      });
      new ResizeObserver(() => this.render()).observe(canvas);
    }

    setModel(model, zoomPath) {
      this.model = model;
      this.zoom = findPath(model, zoomPath);
      this.render();
    }

    setZoom(d, i, user) {
      this.zoom = { d, i };
      this.render();
      if (user && this.opts.onZoom) this.opts.onZoom(pathOf(this.model, d, i).join(";"));
    }

    setSearch(s) {
      this.search = s;
      this.render();
    }

    matches(name) {
      return this.search !== "" && name.toLowerCase().includes(this.search.toLowerCase());
    }

    // share of the total held by matching frames, each sample counted once
    searchShare() {
      const m = this.model;
      if (!m || !this.search) return null;
      let sum = 0, count = 0;
      let covered = new Uint8Array(1);
      for (let d = 1; d < m.levels.length; d++) {
        const L = m.levels[d];
        const cov = new Uint8Array(L.n);
        for (let i = 0; i < L.n; i++) {
          const up = d > 1 ? covered[L.parent[i]] : 0;
          const hit = this.matches(m.names[L.name[i]]);
          if (hit) count++;
          if (hit && !up) sum += L.total[i];
          cov[i] = up || hit ? 1 : 0;
        }
        covered = cov;
      }
      return { sum, count };
    }

    render() {
      const t0 = performance.now();
      const c = this.canvas, m = this.model;
      const dpr = window.devicePixelRatio || 1;
      const W = c.clientWidth || c.parentElement.clientWidth;
      const depth = m ? m.levels.length : 0;
      const H = Math.max(depth, 1) * ROW;
      if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) {
        c.width = Math.round(W * dpr);
        c.height = Math.round(H * dpr);
        c.style.height = H + "px";
      }
      const ctx = c.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, W, H);
      this.drawn = [];
      if (!m || !depth || m.total === 0) {
        ctx.fillStyle = "#687082";
        ctx.font = "13px system-ui, sans-serif";
        ctx.fillText(m ? "No data in this selection." : "", 8, 14);
        this.renderMs = performance.now() - t0;
        return;
      }
      const zd = this.zoom.d, zi = this.zoom.i;
      const ZL = m.levels[zd];
      const zx = ZL.x[zi], zt = ZL.total[zi] || 1;
      const scale = W / zt;
      ctx.font = "11px ui-monospace, 'DejaVu Sans Mono', monospace";
      ctx.textBaseline = "middle";
      const charW = ctx.measureText("m").width || 6.6;
      const searching = this.search !== "";

      // ancestors of the zoomed node: full width, faded
      const chain = [];
      for (let d = zd, i = zi; d >= 0; i = d > 0 ? m.levels[d].parent[i] : -1, d--) chain.push([d, i]);
      for (const [d, i] of chain) {
        if (d === zd) continue;
        this.frame(ctx, m, d, i, 0, W, charW, searching, true);
      }
      for (let d = zd; d < depth; d++) {
        const L = m.levels[d];
        // first node that may reach into [zx, zx+zt)
        let lo = 0, hi = L.n;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (L.x[mid] + L.total[mid] <= zx) lo = mid + 1; else hi = mid;
        }
        for (let i = lo; i < L.n && L.x[i] < zx + zt; i++) {
          if (d === zd && i !== zi) continue;
          const x = (L.x[i] - zx) * scale;
          const w = L.total[i] * scale;
          if (w < 0.4 || x + w < 0 || x > W) continue;
          this.frame(ctx, m, d, i, x, w, charW, searching, false);
        }
      }
      this.renderCrumbs();
      this.renderMs = performance.now() - t0;
      if (this.opts.onRender) this.opts.onRender(this);
    }

    frame(ctx, m, d, i, x, w, charW, searching, faded) {
      const L = m.levels[d];
      const name = d === 0 ? "total" : m.names[L.name[i]];
      let colour;
      if (m.diff) colour = d === 0 && !m.leftTicks && !m.rightTicks ? "#948e8e"
        : diffColour(L.lTotal[i], L.rTotal[i], m.leftTicks, m.rightTicks);
      else colour = d === 0 ? "#e8a87c" : frameColour(name);
      const hit = searching && this.matches(name);
      if (searching && !hit) colour = "#e4e5ea";
      else if (hit && !m.diff) colour = "#c86dd7";
      const y = d * ROW;
      ctx.globalAlpha = faded ? 0.55 : 1;
      ctx.fillStyle = colour;
      ctx.fillRect(x, y, Math.max(w - (w > 3 ? 1 : 0), 0.5), ROW - 1);
      if (hit && m.diff) {
        ctx.strokeStyle = "#c86dd7";
        ctx.lineWidth = 2;
        ctx.strokeRect(x + 1, y + 1, Math.max(w - 3, 0.5), ROW - 3);
      }
      ctx.globalAlpha = 1;
      if (w > 3 * charW) {
        const n = Math.floor((w - 6) / charW);
        const label = name.length > n ? name.slice(0, Math.max(n - 1, 1)) + "…" : name;
        ctx.fillStyle = searching && !hit ? "#8a90a0" : luminance(colour) < 110 ? "#ffffff" : "#1f2430";
        ctx.fillText(label, x + 3, y + ROW / 2);
      }
      this.drawn.push({ d, i, x, y, w, h: ROW - 1, name, colour });
    }

    renderCrumbs() {
      const m = this.model;
      this.crumbs.textContent = "";
      const path = pathOf(m, this.zoom.d, this.zoom.i);
      const root = el("a", { href: "#", onclick: (e) => { e.preventDefault(); this.setZoom(0, 0, true); } }, "total");
      this.crumbs.append(root);
      if (path.length) this.crumbs.append(" › " + (path.length > 4 ? "… › " : "") + path.slice(-4).join(" › "));
    }

    hit(e) {
      const r = this.canvas.getBoundingClientRect();
      const x = e.clientX - r.left, y = e.clientY - r.top;
      // the last drawn wins (faded ancestors are drawn first)
      for (let k = this.drawn.length - 1; k >= 0; k--) {
        const f = this.drawn[k];
        if (x >= f.x && x < f.x + Math.max(f.w, 1) && y >= f.y && y < f.y + ROW) return f;
      }
      return null;
    }

    hover(e) {
      const f = this.hit(e);
      if (!f) { hideTooltip(); return; }
      const m = this.model, L = m.levels[f.d], unit = this.opts.unit();
      const rows = [];
      if (m.diff) {
        rows.push(["Baseline", fmtValue(L.lTotal[f.i], unit), pct(L.lTotal[f.i], m.leftTicks)]);
        rows.push(["Comparison", fmtValue(L.rTotal[f.i], unit), pct(L.rTotal[f.i], m.rightTicks)]);
        rows.push(["Change", diffPercent(L.lTotal[f.i], L.rTotal[f.i], m.leftTicks, m.rightTicks), ""]);
      } else {
        rows.push(["Total", fmtValue(L.total[f.i], unit), pct(L.total[f.i], m.total)]);
        rows.push(["Self", fmtValue(L.self[f.i], unit), pct(L.self[f.i], m.total)]);
      }
      showTooltip(e, f.name, rows);
    }

    // for tests and scripts: the frames of the last render, CSS pixels
    frames() {
      const m = this.model;
      return this.drawn.map((f) => {
        const L = m.levels[f.d];
        const o = { name: f.name, level: f.d, x: f.x, y: f.y, width: f.w, colour: f.colour,
          total: L.total[f.i], self: L.self[f.i] };
        if (m.diff) Object.assign(o, { left: L.lTotal[f.i], right: L.rTotal[f.i] });
        return o;
      });
    }
  }

  function showTooltip(e, name, rows) {
    const t = $("tooltip");
    t.textContent = "";
    t.append(el("div", { class: "name" }, name));
    const tb = el("table");
    for (const [k, v, p] of rows) tb.append(el("tr", null, el("td", null, k), el("td", { class: "num" }, v), el("td", { class: "num" }, p)));
    t.append(tb);
    t.hidden = false;
    const pad = 14;
    let x = e.clientX + pad, y = e.clientY + pad;
    const r = t.getBoundingClientRect();
    if (x + r.width > window.innerWidth) x = Math.max(0, e.clientX - r.width - pad);
    if (y + r.height > window.innerHeight) y = Math.max(0, e.clientY - r.height - pad);
    t.style.left = x + "px";
    t.style.top = y + "px";
  }
  function hideTooltip() { $("tooltip").hidden = true; }

  // --------------------------------------------------------------- timeline

  const SERIES_COLOURS = ["#e25822", "#3274d9", "#1a7f37", "#8e44ad", "#d4a017", "#00838f", "#c2185b", "#5d4037", "#607d8b", "#7cb342"];

  class Timeline {
    constructor(canvas, legend) {
      this.canvas = canvas;
      this.legend = legend;
      this.series = [];
      this.start = 0;
      this.end = 1;
      this.drag = null;
      canvas.addEventListener("mousedown", (e) => {
        this.drag = { x0: this.xOf(e), x1: this.xOf(e) };
      });
      window.addEventListener("mousemove", (e) => {
        if (!this.drag) return;
        this.drag.x1 = this.xOf(e);
        this.render();
      });
      window.addEventListener("mouseup", () => {
        if (!this.drag) return;
        const { x0, x1 } = this.drag;
        this.drag = null;
        this.render();
        const W = this.canvas.clientWidth;
        if (Math.abs(x1 - x0) < 4) return;
        const t = (x) => Math.round(this.start + (Math.min(Math.max(x, 0), W) / W) * (this.end - this.start));
        onTimeSelect(t(Math.min(x0, x1)), t(Math.max(x0, x1)));
      });
      new ResizeObserver(() => this.render()).observe(canvas);
    }

    xOf(e) { return e.clientX - this.canvas.getBoundingClientRect().left; }

    set(series, start, end) {
      this.series = series;
      this.start = start;
      this.end = end;
      this.render();
      this.legend.textContent = "";
      if (series.length > 1 || (series.length === 1 && series[0].label))
        series.forEach((s, k) => {
          this.legend.append(el("li", {
            title: s.label ? `add ${s.label} to the labels` : "",
            onclick: () => s.matcher && addFilter(s.matcher),
          }, el("i", { class: "swatch", dataset: { k: String(k) } }), s.label || "all"));
        });
      this.legend.querySelectorAll("i.swatch").forEach((i) => { i.style.background = SERIES_COLOURS[Number(i.dataset.k) % SERIES_COLOURS.length]; });
    }

    render() {
      const c = this.canvas, dpr = window.devicePixelRatio || 1;
      const W = c.clientWidth, H = c.clientHeight;
      if (!W || !H) return;
      c.width = Math.round(W * dpr);
      c.height = Math.round(H * dpr);
      const ctx = c.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, W, H);
      const top = 6, bottom = H - 16, span = this.end - this.start || 1;
      let max = 0;
      for (const s of this.series) for (const p of s.points) max = Math.max(max, p.v);
      // axis: a few time ticks
      ctx.fillStyle = "#687082";
      ctx.strokeStyle = "#eceef2";
      ctx.font = "10px system-ui, sans-serif";
      ctx.textBaseline = "alphabetic";
      const ticks = 6;
      for (let k = 0; k <= ticks; k++) {
        const x = (k / ticks) * W;
        const t = new Date(this.start + (k / ticks) * span);
        const lbl = span > 2 * 86400000 ? t.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
          : t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: span < 600000 ? "2-digit" : undefined });
        ctx.beginPath(); ctx.moveTo(x + 0.5, top); ctx.lineTo(x + 0.5, bottom); ctx.stroke();
        const tw = ctx.measureText(lbl).width;
        ctx.fillText(lbl, Math.min(Math.max(x - tw / 2, 0), W - tw), H - 3);
      }
      if (max > 0) {
        ctx.fillText(fmtValue(max, unitOf(state.type)), 4, top + 9);
      } else {
        ctx.fillText("no profiles in this range", W / 2 - 50, (top + bottom) / 2);
      }
      this.series.forEach((s, k) => {
        const colour = SERIES_COLOURS[k % SERIES_COLOURS.length];
        ctx.strokeStyle = colour;
        ctx.fillStyle = colour;
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        s.points.forEach((p, j) => {
          const x = ((p.t - this.start) / span) * W;
          const y = bottom - (max ? (p.v / max) * (bottom - top) : 0);
          if (j === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
        });
        ctx.stroke();
        if (this.series.length === 1) {
          ctx.globalAlpha = 0.15;
          ctx.lineTo(((s.points.at(-1)?.t ?? this.start) - this.start) / span * W, bottom);
          ctx.lineTo(((s.points[0]?.t ?? this.start) - this.start) / span * W, bottom);
          ctx.fill();
          ctx.globalAlpha = 1;
        }
      });
      if (this.drag) {
        ctx.fillStyle = "rgba(226, 88, 34, 0.18)";
        const a = Math.min(this.drag.x0, this.drag.x1), b = Math.max(this.drag.x0, this.drag.x1);
        ctx.fillRect(a, top, b - a, bottom - top);
      }
    }
  }

  // -------------------------------------------------------------- the page

  const stats = { loads: 0, lastLoadMs: 0, lastRenderMs: 0, lastDecodeMs: 0, nodes: 0 };

  const single = new FlameGraph($("flamegraph"), $("breadcrumb"), {
    unit: () => unitOf(state.type),
    onZoom: (p) => { state.zoom = p; writeUrl(); },
    onRender: (fg) => { stats.lastRenderMs = fg.renderMs; updateSearchInfo(); },
  });
  const diff = new FlameGraph($("diffgraph"), $("diff-breadcrumb"), {
    unit: () => unitOf(state.type),
    onZoom: (p) => { state.diffZoom = p; writeUrl(); },
    onRender: (fg) => { stats.lastDiffRenderMs = fg.renderMs; updateDiffSearchInfo(); },
  });
  const timeline = new Timeline($("timeline"), $("timeline-legend"));
  let topRows = [];
  let busy = 0;
  let generation = 0;               // drops answers of superseded queries


  function setBusy(d) {
    busy += d;
    $("busy").hidden = busy <= 0;
  }

  function showError(e) {
    const box = $("error");
    if (!e) { box.hidden = true; box.textContent = ""; return; }
    box.textContent = e.message || String(e);
    box.hidden = false;
    if (!(e instanceof ApiError)) console.warn(e);
  }

  async function guarded(fn) {
    setBusy(1);
    try {
      await fn();
    } catch (e) {
      showError(e);
    } finally {
      setBusy(-1);
    }
  }

  function fillSelect(select, items, value) {
    select.textContent = "";
    for (const it of items) select.append(el("option", { value: it.value }, it.label));
    select.value = value;
  }

  async function loadServices() {
    const { start, end } = range(state.from, state.until);
    const r = await call("LabelValues", { name: "service_name", start, end, matchers: [] });
    const names = (r.names || []).slice().sort();
    if (state.service && !names.includes(state.service)) names.unshift(state.service);
    if (!state.service && names.length) state.service = names[0];
    fillSelect($("service"), names.map((n) => ({ value: n, label: n })), state.service);
    if (!names.length) fillSelect($("service"), [{ value: "", label: "no services yet" }], "");
  }

  async function loadTypes() {
    const { start, end } = range(state.from, state.until);
    let ids = [];
    if (state.service) {
      const r = await call("LabelValues", { name: "__profile_type__", start, end, matchers: [selector("")] });
      ids = r.names || [];
    }
    if (!ids.length) {
      const r = await call("ProfileTypes", { start, end });
      ids = (r.profileTypes || []).map((t) => t.ID);
    }
    ids = [...new Set(ids)].sort();
    if (state.type && !ids.includes(state.type)) ids.unshift(state.type);
    if (!state.type || !ids.includes(state.type)) {
      state.type = ids.find((t) => /:cpu:/.test(t)) || ids.find((t) => /^process_cpu/.test(t)) || ids[0] || "";
    }
    fillSelect($("ptype"), ids.map((id) => {
      const p = id.split(":");
      return { value: id, label: p.length >= 3 ? `${p[0]} · ${p[1]} (${p[2]})` : id };
    }), state.type);
  }

  async function loadGroupBy() {
    const { start, end } = range(state.from, state.until);
    const r = await call("LabelNames", { start, end, matchers: [selector(state.filter)] });
    const names = (r.names || []).filter((n) => !n.startsWith("__") && n !== "service_name").sort();
    if (state.groupBy && !names.includes(state.groupBy)) names.unshift(state.groupBy);
    fillSelect($("groupby"), [{ value: "", label: "none" }, ...names.map((n) => ({ value: n, label: n }))], state.groupBy);
  }

  async function loadTimeline(gen) {
    const { start, end } = range(state.from, state.until);
    const step = Math.max(10, Math.ceil((end - start) / 1000 / 240));
    const body = {
      profileTypeID: state.type, labelSelector: selector(state.filter), start, end, step,
      groupBy: state.groupBy ? [state.groupBy] : [],
    };
    const r = await call("SelectSeries", body);
    if (gen !== generation) return;
    const series = (r.series || []).map((s) => {
      const lbl = (s.labels || []).find((l) => l.name === state.groupBy);
      return {
        label: lbl ? `${lbl.name}=${lbl.value}` : "",
        matcher: lbl ? `${lbl.name}=${quote(lbl.value)}` : "",
        points: (s.points || []).map((p) => ({ t: Number(p.timestamp), v: Number(p.value) })),
      };
    });
    timeline.set(series, start, end);
  }

  async function loadFlamegraph(gen) {
    const t0 = performance.now();
    const { start, end } = range(state.from, state.until);
    const r = await call("SelectMergeStacktraces", {
      profileTypeID: state.type, labelSelector: selector(state.filter), start, end,
      maxNodes: Number(state.maxNodes) || DEFAULT_MAX_NODES,
    });
    if (gen !== generation) return;
    const model = decode(r.flamegraph || { names: [], levels: [] }, false);
    single.setModel(model, state.zoom);
    $("fg-total").textContent = fmtValue(model.total, unitOf(state.type));
    $("fg-total").dataset.total = String(model.total);
    topRows = topTable(model);
    renderTop();
    stats.loads++;
    stats.lastLoadMs = performance.now() - t0;
    stats.lastDecodeMs = model.decodeMs;
    stats.nodes = model.nodes;
  }

  async function loadDiff(gen) {
    const l = range(state.leftFrom || state.from, state.leftUntil || state.until);
    const r = range(state.rightFrom || state.from, state.rightUntil || state.until);
    const side = (filter, t) => ({
      profileTypeID: state.type, labelSelector: selector(filter), start: t.start, end: t.end,
      maxNodes: Number(state.maxNodes) || DEFAULT_MAX_NODES,
    });
    const res = await call("Diff", { left: side(state.leftFilter, l), right: side(state.rightFilter, r) });
    if (gen !== generation) return;
    const model = decode(res.flamegraph || { names: [], levels: [] }, true);
    diff.setModel(model, state.diffZoom);
    const unit = unitOf(state.type);
    $("diff-left-total").textContent = fmtValue(model.leftTicks, unit);
    $("diff-left-total").dataset.total = String(model.leftTicks);
    $("diff-right-total").textContent = fmtValue(model.rightTicks, unit);
    $("diff-right-total").dataset.total = String(model.rightTicks);
  }

  function renderTop() {
    const tbody = $("top-table").tBodies[0];
    const unit = unitOf(state.type);
    const f = $("top-filter").value.toLowerCase();
    const sortKey = state.sort.replace(/^-/, "") || "self";
    const asc = state.sort.startsWith("-") ? sortKey !== "name" : sortKey === "name";
    const rows = topRows.filter((r) => !f || r.name.toLowerCase().includes(f));
    rows.sort((a, b) => {
      const c = sortKey === "name" ? a.name.localeCompare(b.name) : a[sortKey] - b[sortKey];
      return asc ? c : -c;
    });
    for (const th of $("top-table").tHead.rows[0].cells)
      th.setAttribute("aria-sort", th.dataset.sort === sortKey ? (asc ? "ascending" : "descending") : "none");
    const total = single.model ? single.model.total : 0;
    const frag = document.createDocumentFragment();
    for (const r of rows.slice(0, 500)) {
      const tr = el("tr", { dataset: { name: r.name }, title: r.name },
        el("td", null, r.name),
        el("td", { class: "num", dataset: { value: String(r.self) }, title: pct(r.self, total) },
          fmtValue(r.self, unit), el("small", null, share(r.self, total))),
        el("td", { class: "num", dataset: { value: String(r.total) }, title: pct(r.total, total) },
          fmtValue(r.total, unit), el("small", null, share(r.total, total))));
      if (single.search && single.matches(r.name)) tr.classList.add("match");
      frag.append(tr);
    }
    tbody.textContent = "";
    tbody.append(frag);
  }

  // a compact percentage for the table's cells
  function share(part, whole) {
    const p = whole ? (100 * part) / whole : 0;
    return (p >= 99.95 ? "100" : p.toFixed(1)) + "%";
  }

  // a click in the table: highlight the function and zoom to its widest frame
  function focusFunction(name) {
    const m = single.model;
    if (!m) return;
    let best = null;
    for (let d = 1; d < m.levels.length; d++) {
      const L = m.levels[d];
      for (let i = 0; i < L.n; i++)
        if (m.names[L.name[i]] === name && (!best || L.total[i] > best.t)) best = { d, i, t: L.total[i] };
    }
    state.search = name;
    $("search").value = name;
    single.search = name;
    if (best) single.setZoom(best.d, best.i, true); else single.render();
    writeUrl();
    renderTop();
  }

  function updateSearchInfo() {
    const info = $("search-info");
    const s = single.searchShare();
    if (!s) { info.textContent = ""; delete info.dataset.share; return; }
    info.textContent = `${s.count} frame${s.count === 1 ? "" : "s"} match, ${pct(s.sum, single.model.total)} of the total`;
    info.dataset.share = String(s.sum);
  }

  function updateDiffSearchInfo() {
    const info = $("diff-search-info");
    const s = diff.searchShare();
    info.textContent = s ? `${s.count} frame${s.count === 1 ? "" : "s"} match` : "";
  }

  async function refresh() {
    const gen = ++generation;
    showError(null);
    writeUrl();
    $("tenant-label").textContent = state.tenant || "anonymous";
    $("selector-prefix").textContent = state.service ? `{service_name=${quote(state.service)},` : "{";
    await guarded(async () => {
      await loadServices();
      await loadTypes();
      $("selector-prefix").textContent = state.service ? `{service_name=${quote(state.service)},` : "{";
      writeUrl();
      if (!state.type) {
        single.setModel(decode({ names: [], levels: [] }, false), "");
        return;
      }
      const jobs = [loadTimeline(gen), loadGroupBy()];
      jobs.push(state.view === "diff" ? loadDiff(gen) : loadFlamegraph(gen));
      await Promise.all(jobs);
    });
  }

  function onTimeSelect(start, end) {
    state.from = String(start);
    state.until = String(end);
    state.zoom = "";
    syncInputs();
    refresh();
  }

  function addFilter(matcher) {
    const f = state.filter.trim();
    state.filter = f ? f + ", " + matcher : matcher;
    state.groupBy = "";
    syncInputs();
    refresh();
  }

  function presetOf(from, until) {
    const m = /^now-(\d+[smhdw])$/.exec(from);
    if (m && (until === "now" || until === "")) {
      const v = m[1];
      if ([...$("preset").options].some((o) => o.value === v)) return v;
    }
    return "custom";
  }

  function syncInputs() {
    $("from").value = state.from;
    $("until").value = state.until;
    $("preset").value = presetOf(state.from, state.until);
    $("filter").value = state.filter;
    $("search").value = state.search;
    $("diff-search").value = state.search;
    $("left-filter").value = state.leftFilter;
    $("right-filter").value = state.rightFilter;
    $("left-from").value = state.leftFrom || state.from;
    $("left-until").value = state.leftUntil || state.until;
    $("right-from").value = state.rightFrom || state.from;
    $("right-until").value = state.rightUntil || state.until;
    single.search = state.search;
    diff.search = state.search;
    const isDiff = state.view === "diff";
    $("single").hidden = isDiff;
    $("diff").hidden = !isDiff;
    $("view-single").setAttribute("aria-selected", String(!isDiff));
    $("view-diff").setAttribute("aria-selected", String(isDiff));
  }

  // ------------------------------------------------- label completion

  // Tab takes the highlighted suggestion; Enter takes it only once the
  // user has moved through the list with the arrow keys, else it runs the
  // query as typed
  // seq drops the answers of lookups overtaken by typing, Enter or Escape
  const completion = { items: [], active: -1, ctx: null, navigated: false, seq: 0 };

  function closeCompletions() {
    completion.seq++;
    $("completions").hidden = true;
  }

  // what the cursor is in: a label name, or the value of a label
  function completionContext(text, pos) {
    const before = text.slice(0, pos);
    const start = Math.max(before.lastIndexOf(","), -1) + 1;
    const part = before.slice(start);
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*"?([^"]*)$/.exec(part);
    if (m) return { kind: "value", label: m[1], prefix: m[3], from: start + part.lastIndexOf(m[2]) + m[2].length };
    const n = /^\s*([A-Za-z0-9_.]*)$/.exec(part);
    if (n) return { kind: "name", prefix: n[1], from: start + part.length - n[1].length };
    return null;
  }

  async function complete() {
    const input = $("filter");
    const ctx = completionContext(input.value, input.selectionStart ?? input.value.length);
    const list = $("completions");
    const seq = ++completion.seq;
    if (!ctx) { list.hidden = true; return; }
    let items;
    try {
      const { start, end } = range(state.from, state.until);
      if (ctx.kind === "name") {
        const r = await call("LabelNames", { start, end, matchers: [selector("")] });
        items = (r.names || []).filter((n) => !n.startsWith("__") && n !== "service_name");
      } else {
        const r = await call("LabelValues", { name: ctx.label, start, end, matchers: [selector("")] });
        items = r.names || [];
      }
    } catch (e) {
      if (seq === completion.seq) list.hidden = true;
      return;
    }
    if (seq !== completion.seq) return;
    items = items.filter((s) => s.toLowerCase().startsWith(ctx.prefix.toLowerCase())).sort().slice(0, 200);
    completion.items = items;
    completion.ctx = ctx;
    completion.active = items.length ? 0 : -1;
    completion.navigated = false;
    list.textContent = "";
    items.forEach((s, k) => list.append(el("li", {
      class: k === 0 ? "active" : "",
      onmousedown: (e) => { e.preventDefault(); pickCompletion(k); },
    }, s)));
    list.hidden = items.length === 0;
  }

  function pickCompletion(k) {
    const input = $("filter"), ctx = completion.ctx, s = completion.items[k];
    if (!ctx || s == null) return;
    const pos = input.selectionStart ?? input.value.length;
    const insert = ctx.kind === "name" ? s + "=\"" : quote(s);
    input.value = input.value.slice(0, ctx.from) + insert + input.value.slice(pos).replace(/^"?/, "");
    const caret = ctx.from + insert.length;
    input.setSelectionRange(caret, caret);
    $("completions").hidden = true;
    if (ctx.kind === "name") complete();
  }

  // ---------------------------------------------------------- wiring

  function bind() {
    $("service").addEventListener("change", (e) => {
      // another service has other labels: its filter and grouping start empty
      state.service = e.target.value; state.type = ""; state.zoom = ""; state.diffZoom = "";
      state.filter = ""; state.groupBy = ""; state.leftFilter = ""; state.rightFilter = "";
      syncInputs();
      refresh();
    });
    $("ptype").addEventListener("change", (e) => { state.type = e.target.value; state.zoom = ""; state.diffZoom = ""; refresh(); });
    $("preset").addEventListener("change", (e) => {
      if (e.target.value === "custom") { $("from").focus(); return; }
      state.from = "now-" + e.target.value; state.until = "now"; state.zoom = "";
      syncInputs(); refresh();
    });
    for (const id of ["from", "until"])
      $(id).addEventListener("change", (e) => { state[id] = e.target.value.trim(); syncInputs(); refresh(); });
    $("refresh").addEventListener("click", () => refresh());
    $("groupby").addEventListener("change", (e) => { state.groupBy = e.target.value; refresh(); });
    for (const b of document.querySelectorAll(".views button"))
      b.addEventListener("click", () => { state.view = b.dataset.view; syncInputs(); refresh(); });

    const filter = $("filter");
    filter.addEventListener("input", () => complete());
    filter.addEventListener("focus", () => complete());
    filter.addEventListener("blur", () => closeCompletions());
    filter.addEventListener("keydown", (e) => {
      const list = $("completions");
      const open = !list.hidden && completion.items.length;
      if (open && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
        e.preventDefault();
        const n = completion.items.length;
        completion.active = (completion.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        completion.navigated = true;
        [...list.children].forEach((li, k) => li.classList.toggle("active", k === completion.active));
      } else if (open && completion.active >= 0 && (e.key === "Tab" || (e.key === "Enter" && completion.navigated))) {
        e.preventDefault();
        pickCompletion(completion.active);
      } else if (e.key === "Enter") {
        closeCompletions();
        state.filter = filter.value.trim(); state.zoom = "";
        refresh();
      } else if (e.key === "Escape") {
        closeCompletions();
      }
    });

    const search = (v) => {
      state.search = v;
      single.setSearch(v);
      diff.setSearch(v);
      $("search").value = v;
      $("diff-search").value = v;
      renderTop();
      writeUrl();
    };
    $("search").addEventListener("input", (e) => search(e.target.value));
    $("diff-search").addEventListener("input", (e) => search(e.target.value));
    $("reset").addEventListener("click", () => { single.setZoom(0, 0, true); });
    $("diff-reset").addEventListener("click", () => { diff.setZoom(0, 0, true); });
    $("top-filter").addEventListener("input", () => renderTop());
    for (const th of $("top-table").tHead.rows[0].cells)
      th.addEventListener("click", () => {
        const k = th.dataset.sort;
        const cur = state.sort.replace(/^-/, "");
        state.sort = cur === k && !state.sort.startsWith("-") ? "-" + k : k;
        writeUrl();
        renderTop();
      });
    $("top-table").tBodies[0].addEventListener("click", (e) => {
      const tr = e.target.closest("tr");
      if (tr) focusFunction(tr.dataset.name);
    });
    $("download").addEventListener("click", () => guarded(async () => {
      const { start, end } = range(state.from, state.until);
      const blob = await fetchPprof(state.type, selector(state.filter), start, end);
      const a = el("a", { href: URL.createObjectURL(blob), download: `${state.service || "profile"}-${(state.type.split(":")[0] || "profile")}.pb.gz` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    }));

    $("run-diff").addEventListener("click", () => {
      state.leftFilter = $("left-filter").value.trim();
      state.rightFilter = $("right-filter").value.trim();
      const keep = (v, main) => (v.trim() === main ? "" : v.trim());
      state.leftFrom = keep($("left-from").value, state.from);
      state.leftUntil = keep($("left-until").value, state.until);
      state.rightFrom = keep($("right-from").value, state.from);
      state.rightUntil = keep($("right-until").value, state.until);
      state.diffZoom = "";
      refresh();
    });
    for (const id of ["left-filter", "right-filter", "left-from", "left-until", "right-from", "right-until"])
      $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") $("run-diff").click(); });

    const dlg = $("settings");
    $("open-settings").addEventListener("click", () => {
      $("set-tenant").value = state.tenant;
      $("set-user").value = sessionStorage.getItem("pyroscope.user") || "";
      $("set-secret").value = sessionStorage.getItem("pyroscope.secret") || "";
      dlg.showModal();
    });
    $("settings-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const save = e.submitter && e.submitter.value === "save";
      dlg.close();
      if (!save) return;
      state.tenant = $("set-tenant").value.trim();
      localStorage.setItem("pyroscope.tenant", state.tenant);
      sessionStorage.setItem("pyroscope.user", $("set-user").value);
      sessionStorage.setItem("pyroscope.secret", $("set-secret").value);
      state.service = ""; state.type = ""; state.zoom = "";
      refresh();
    });
    window.addEventListener("popstate", () => { readUrl(); syncInputs(); refresh(); });
  }

  // for scripts and tests: what the page shows, without scraping pixels
  window.pyroscopeExplorer = {
    state, stats,
    frames: () => single.frames(),
    diffFrames: () => diff.frames(),
    rerender: () => { single.render(); return single.renderMs; },
    idle: () => busy === 0,
  };

  readUrl();
  bind();
  syncInputs();
  refresh();
})();
