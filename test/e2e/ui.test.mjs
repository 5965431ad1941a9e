// The flame-graph explorer (issue 15) in a real browser: headless Chromium
// (Debian's `chromium`), driven by puppeteer-core, against a real server
// with multi-tenancy and basic authentication on, fed by the real Node.js
// SDK (app/workload.js, two workloads of one service) and by one big folded
// profile (more than 16,384 nodes).  Every answer the page shows is checked
// against the API's own answer, read here from the TREE format (another
// encoding than the page's flamebearer).  Screenshots of each view are saved
// as PNGs in UI_OUT (default test/e2e/out) and checked to be non-blank.
//
//   cd test/e2e && npm ci && node --test ui.test.mjs
//   env: PG_BIN (default /usr/lib/postgresql/15/bin), CHROMIUM
//   (default /usr/bin/chromium), UI_SECONDS (12), UI_OUT
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

import puppeteer from "puppeteer-core";

import { startCluster } from "./cluster.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SECONDS = Number(process.env.UI_SECONDS || 12);
const OUT = process.env.UI_OUT || path.join(here, "out");

const TENANT = "ui-team";
const USER = "viewer";
const PASSWORD = "pw-viewer";
const SERVICE = "ui-node-app";
const BIG = "ui-big-app";

let cluster;
let base;
let browser;
let page;
const consoleErrors = [];

// ------------------------------------------------------------ the server

const authHeaders = {
  "X-Scope-OrgID": TENANT,
  Authorization: "Basic " + Buffer.from(`${USER}:${PASSWORD}`).toString("base64"),
};

async function api(method, body) {
  const res = await fetch(`${base}/querier.v1.QuerierService/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method}: ${text}`);
  return JSON.parse(text);
}

function runWorkload(workload) {
  const app = spawn(process.execPath, ["--no-turbo-inlining", "--no-maglev-inlining",
    path.join(here, "app", "workload.js"), base, String(SECONDS), workload, TENANT, USER, PASSWORD],
  { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    app.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`workload ${workload} exited ${code}`))));
  });
}

// one folded profile of ~20,500 distinct frames: more than the 16,384 nodes the page asks for
async function pushBig() {
  const lines = [];
  for (let i = 0; i < 20000; i++)
    lines.push(`main;module${i % 50};function${i % 400}_${i % 50};leaf_${i} ${1 + ((i * 7919) % 97)}`);
  const now = Math.floor(Date.now() / 1000);
  const res = await fetch(`${base}/ingest?name=${BIG}.cpu{}&from=${now - 10}&until=${now}&format=folded`, {
    method: "POST", headers: authHeaders, body: lines.join("\n") + "\n",
  });
  assert.equal(res.status, 200, await res.text());
}

// ------------------------------------------ the API's answer, from TREE bytes

// pre-order: name length, name, self, number of children (spec §8.4)
function readTree(bytes) {
  let pos = 0;
  const uvarint = () => {
    let v = 0, mul = 1, b;
    do {
      b = bytes[pos++];
      v += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    return v;
  };
  const node = () => {
    const len = uvarint();
    const name = bytes.subarray(pos, pos + len).toString("utf8");
    pos += len;
    const self = uvarint();
    const n = uvarint();
    const children = [];
    for (let i = 0; i < n; i++) children.push(node());
    const total = self + children.reduce((s, c) => s + c.total, 0);
    return { name, self, total, children };
  };
  return bytes.length ? node() : { name: "", self: 0, total: 0, children: [] };
}

// per function: self summed; total summed over frames without an
// ancestor of the same name; and the share of frames matching a search
function analyse(root, search) {
  const fns = new Map();
  let share = 0;
  const walk = (n, names, matched) => {
    const f = fns.get(n.name) || { self: 0, total: 0 };
    f.self += n.self;
    if (!names.has(n.name)) f.total += n.total;
    fns.set(n.name, f);
    const hit = search && n.name.toLowerCase().includes(search.toLowerCase());
    if (hit && !matched) share += n.total;
    names.set(n.name, (names.get(n.name) || 0) + 1);
    for (const c of n.children) walk(c, names, matched || hit);
    const k = names.get(n.name) - 1;
    if (k) names.set(n.name, k); else names.delete(n.name);
  };
  for (const c of root.children) walk(c, new Map(), false);
  return { total: root.total, fns, share };
}

async function apiTree(type, selector, start, end) {
  const r = await api("SelectMergeStacktraces", {
    profileTypeID: type, labelSelector: selector, start, end, maxNodes: 16384, format: 2,
  });
  return readTree(Buffer.from(r.tree || "", "base64"));
}

// ---------------------------------------------------------------- pprof

// the sum of every sample's first value in a pprof (Profile.sample = 2,
// Sample.value = 2, packed), and the type of that value (Profile.sample_type
// = 1, ValueType.type = 1, an index into string_table = 6)
function pprofTotal(buf) {
  const fields = (b) => {
    const out = [];
    let p = 0;
    const varint = () => {
      let v = 0n, shift = 0n, x;
      do {
        x = b[p++];
        v |= BigInt(x & 0x7f) << shift;
        shift += 7n;
      } while (x & 0x80);
      return v;
    };
    while (p < b.length) {
      const key = Number(varint());
      const f = key >> 3, wt = key & 7;
      if (wt === 0) out.push([f, varint()]);
      else if (wt === 2) {
        const len = Number(varint());
        out.push([f, b.subarray(p, p + len)]);
        p += len;
      } else if (wt === 1) p += 8;
      else if (wt === 5) p += 4;
      else throw new Error("bad wire type " + wt);
    }
    return { out, varintsOf: (bb) => { const save = [b, p]; b = bb; p = 0; const vs = []; while (p < b.length) vs.push(varint()); [b, p] = save; return vs; } };
  };
  const top = fields(buf);
  let total = 0n;
  const strings = [];
  let typeIdx = null;
  for (const [f, v] of top.out) {
    if (f === 2) {
      for (const [sf, sv] of fields(v).out) {
        if (sf === 2) total += (sv instanceof Uint8Array ? top.varintsOf(sv)[0] : sv);
      }
    } else if (f === 6) strings.push(Buffer.from(v).toString("utf8"));
    else if (f === 1 && typeIdx === null) {
      for (const [tf, tv] of fields(v).out) if (tf === 1) typeIdx = Number(tv);
    }
  }
  return { total, type: strings[typeIdx] };
}

// ------------------------------------------------------------------ PNG

// decodes an 8-bit RGB(A) PNG (what Chromium writes) and says how many
// distinct colours it holds and which share of it differs from its corner
function pngStats(file) {
  const buf = fs.readFileSync(file);
  assert.equal(buf.subarray(1, 4).toString(), "PNG", `${file} is a PNG`);
  let p = 8, width = 0, height = 0, type = 0;
  const idat = [];
  while (p < buf.length) {
    const len = buf.readUInt32BE(p);
    const kind = buf.subarray(p + 4, p + 8).toString();
    const data = buf.subarray(p + 8, p + 8 + len);
    if (kind === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, "8-bit");
      type = data[9];
      assert.equal(data[12], 0, "not interlaced");
    } else if (kind === "IDAT") idat.push(data);
    p += 12 + len;
  }
  const bpp = type === 6 ? 4 : type === 2 ? 3 : 0;
  assert.ok(bpp, `colour type ${type}`);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const img = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? img[y * stride + x - bpp] : 0;
      const b = y > 0 ? img[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? img[(y - 1) * stride + x - bpp] : 0;
      let v = row[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const pp = a + b - c, pa = Math.abs(pp - a), pb = Math.abs(pp - b), pc = Math.abs(pp - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      img[y * stride + x] = v & 0xff;
    }
  }
  const colours = new Set();
  let differ = 0;
  const bg = img.readUIntBE(0, 3);
  for (let i = 0; i < img.length; i += bpp) {
    const rgb = img.readUIntBE(i, 3);
    colours.add(rgb);
    if (rgb !== bg) differ++;
  }
  return { width, height, colours: colours.size, nonBackground: differ / (width * height) };
}

async function screenshot(name) {
  const file = path.join(OUT, `ui-${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  const s = pngStats(file);
  assert.ok(s.colours >= 16 && s.nonBackground > 0.05,
    `${file} is not blank (${s.colours} colours, ${(100 * s.nonBackground).toFixed(1)} % not background)`);
  return s;
}

// ------------------------------------------------------------ the page

const explorer = (fn, ...args) => page.evaluate(fn, ...args);

async function settle() {
  await page.waitForFunction(() => window.pyroscopeExplorer && window.pyroscopeExplorer.idle(), { timeout: 30000 });
}

async function canvasClick(id, frame) {
  const canvas = await page.$(`#${id}`);
  await canvas.click({ offset: { x: frame.x + Math.min(frame.width / 2, 40), y: frame.y + 8 } });
}

// the mouse over a frame of a canvas: the tooltip's text ("" when none shows)
async function hoverTooltip(id, frame) {
  const canvas = await page.$(`#${id}`);
  await canvas.scrollIntoView();
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + frame.x + frame.width / 2, box.y + frame.y + 8);
  return page.$eval("#tooltip", (t) => (t.hidden ? "" : t.textContent));
}

const frames = () => explorer(() => window.pyroscopeExplorer.frames());
const diffFrames = () => explorer(() => window.pyroscopeExplorer.diffFrames());
const widest = (fs_, name) => fs_.filter((f) => f.name === name).sort((a, b) => b.width - a.width)[0];

let startMs;
let endMs;
let cpuType;

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  assert.ok(fs.existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (Debian package chromium; set CHROMIUM)`);
  cluster = await startCluster({ name: "pyroscope-ui",
    conf: "pyroscope.multitenancy = on\npyroscope.auth = basic\npyroscope.compactor = off\n" });
  base = cluster.base;
  cluster.psql(`CREATE ROLE ui_viewer IN ROLE pyroscope_reader, pyroscope_writer;
    INSERT INTO pyroscope.tenant_grants VALUES ('ui_viewer', '${TENANT}', true, true);
    INSERT INTO pyroscope.http_credentials (kind, username, secret_sha256, role)
      VALUES ('basic', '${USER}', sha256(convert_to('${PASSWORD}', 'UTF8')), 'ui_viewer')`);

  startMs = Date.now() - 60_000;
  await Promise.all([runWorkload("a"), runWorkload("b"), pushBig()]);
  endMs = Date.now() + 60_000;
  const types = await api("LabelValues", { name: "__profile_type__", start: startMs, end: endMs,
    matchers: [`{service_name="${SERVICE}"}`] });
  cpuType = types.names.find((id) => id.startsWith("process_cpu:cpu:"));
  assert.ok(cpuType, "the SDK pushed CPU profiles");

  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
});

after(async () => {
  if (browser) await browser.close();
  if (cluster) cluster.stop(Boolean(process.env.UI_KEEP));
});

test("the page is served at / and /ui/ with its assets, and needs no credentials", async () => {
  for (const p of ["/", "/ui/", "/ui/app.js", "/ui/app.css", "/ui/favicon.svg"]) {
    const r = await fetch(base + p);
    assert.equal(r.status, 200, p);
    assert.ok(r.headers.get("etag"), `${p} has an ETag`);
    const again = await fetch(base + p, { headers: { "If-None-Match": r.headers.get("etag") } });
    assert.equal(again.status, 304, `${p} revalidates`);
  }
  assert.match((await fetch(base + "/")).headers.get("content-security-policy"), /default-src 'none'/);
  assert.equal((await fetch(base + "/ui/missing.js")).status, 404);
  const redirect = await fetch(base + "/ui", { redirect: "manual" });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get("location"), "/ui/");
  // the API itself still wants credentials
  const r = await fetch(`${base}/querier.v1.QuerierService/ProfileTypes`, {
    method: "POST", headers: { "Content-Type": "application/json", "X-Scope-OrgID": TENANT }, body: "{}" });
  assert.equal(r.status, 401);
});

test("without credentials the page says what is missing; with the tenant and credentials entered it loads with no console errors", async () => {
  await page.goto(base + "/", { waitUntil: "networkidle0" });
  await settle();
  const err = await page.$eval("#error", (e) => (e.hidden ? "" : e.textContent));
  assert.match(err, /credentials|org id|unauthenticated/i, "the error names the problem");

  await page.click("#open-settings");
  await page.type("#set-tenant", TENANT);
  await page.type("#set-user", USER);
  await page.type("#set-secret", PASSWORD);
  await page.click("#settings-save");
  await settle();
  consoleErrors.length = 0;
  await page.reload({ waitUntil: "networkidle0" });
  await settle();
  assert.equal(await page.$eval("#error", (e) => e.hidden), true,
    await page.$eval("#error", (e) => e.textContent));
  assert.deepEqual(consoleErrors, [], "no console errors");
  assert.equal(await page.$eval("#tenant-label", (e) => e.textContent), TENANT);
  const services = await page.$$eval("#service option", (os_) => os_.map((o) => o.value));
  assert.deepEqual(services.sort(), [BIG, SERVICE].sort());
});

test("picking the service shows its flame graph: root total, hot function, search, tooltip", async () => {
  await page.select("#service", SERVICE);
  await settle();
  if ((await page.$eval("#ptype", (s) => s.value)) !== cpuType) {
    await page.select("#ptype", cpuType);
    await settle();
  }
  const sel = `{service_name="${SERVICE}"}`;
  const want = analyse(await apiTree(cpuType, sel, startMs, endMs), "alphaHotUI");
  const shown = Number(await page.$eval("#fg-total", (e) => e.dataset.total));
  assert.ok(want.total > 0);
  assert.equal(shown, want.total, "the root total is the API's");
  const fs_ = await frames();
  assert.equal(fs_[0].name, "total");
  assert.equal(fs_[0].total, want.total);
  const hot = widest(fs_, [...want.fns.keys()].find((n) => n.includes("alphaHotUI")));
  assert.ok(hot && hot.width > 50, "the hot function is on the graph, wide");

  await page.type("#search", "alphaHotUI");
  const share = Number(await page.$eval("#search-info", (e) => e.dataset.share));
  assert.equal(share, want.share, "the search's share of the total is the API's");
  assert.match(await page.$eval("#search-info", (e) => e.textContent), /% of the total/);
  const highlighted = (await frames()).filter((f) => f.name.includes("alphaHotUI"));
  assert.ok(highlighted.length > 0 && highlighted.every((f) => f.colour === "#c86dd7"), "matches are highlighted");
  assert.ok((await frames()).some((f) => !f.name.includes("alphaHotUI") && f.colour === "#e4e5ea"), "the rest is dimmed");
  await screenshot("search");

  // tooltip: name, total and self with their share
  const tip = await hoverTooltip("flamegraph", hot);
  assert.ok(tip.includes(hot.name) && /Total/.test(tip) && /Self/.test(tip) && /%/.test(tip), tip);
});

test("click to zoom, reset, and the top table agree with the API", async () => {
  await page.click("#search", { count: 3 });
  await page.keyboard.press("Backspace");
  const sel = `{service_name="${SERVICE}"}`;
  const want = analyse(await apiTree(cpuType, sel, startMs, endMs), "");
  const name = [...want.fns.keys()].find((n) => n.includes("alphaHotUI"));
  const hot = widest(await frames(), name);
  await canvasClick("flamegraph", hot);
  const W = await page.$eval("#flamegraph", (c) => c.clientWidth);
  const zoomed = widest(await frames(), name);
  assert.ok(Math.abs(zoomed.width - W) < 1, `the clicked frame fills the width (${zoomed.width} of ${W})`);
  assert.match(decodeURIComponent(page.url()), new RegExp(`zoom=[^&]*${name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`), "the zoom is in the URL");
  assert.match(await page.$eval("#breadcrumb", (e) => e.textContent), /alphaHotUI/);
  await screenshot("zoom");
  await page.click("#reset");
  const root = (await frames()).find((f) => f.level === 0);
  assert.ok(Math.abs(root.width - W) < 1, `after reset the root fills the width (${root.width} of ${W})`);

  // the top table: self and total of each function, as the API's tree says
  const rows = await page.$$eval("#top-table tbody tr", (trs) => trs.map((tr) => ({
    name: tr.dataset.name, self: Number(tr.cells[1].dataset.value), total: Number(tr.cells[2].dataset.value) })));
  assert.equal(rows.length, Math.min(want.fns.size, 500));
  for (const r of rows) {
    assert.equal(r.self, want.fns.get(r.name).self, `self of ${r.name}`);
    assert.equal(r.total, want.fns.get(r.name).total, `total of ${r.name}`);
  }
  const bySelf = [...want.fns.entries()].sort((a, b) => b[1].self - a[1].self)[0][0];
  assert.equal(rows[0].self, want.fns.get(bySelf).self, "sorted by self, largest first");
  await page.click('#top-table th[data-sort="total"]');
  const totals = await page.$$eval("#top-table tbody tr", (trs) => trs.map((tr) => Number(tr.cells[2].dataset.value)));
  assert.deepEqual(totals, [...totals].sort((a, b) => b - a), "sorted by total");
  await page.type("#top-filter", "HotUI");
  const filtered = await page.$$eval("#top-table tbody tr", (trs) => trs.map((tr) => tr.dataset.name));
  assert.ok(filtered.length >= 1 && filtered.every((n) => n.includes("HotUI")), filtered.join(", "));
  // a click on a row focuses the function in the graph
  await page.click(`#top-table tbody tr[data-name="${name}"]`);
  assert.equal(await page.$eval("#search", (e) => e.value), name);
  const focused = widest(await frames(), name);
  assert.ok(Math.abs(focused.width - W) < 1, `the function is zoomed to (${focused.width} of ${W})`);
  await page.click("#top-filter", { count: 3 });
  await page.keyboard.press("Backspace");
});

test("the URL carries the view: a second tab opens the same state", async () => {
  const url = page.url();
  assert.match(url, /service=/);
  assert.match(url, /search=/);
  const other = await browser.newPage();
  try {
    await other.setViewport({ width: 1400, height: 1000 });
    // credentials stay in the tab that got them: the other user enters theirs
    await other.evaluateOnNewDocument((u, p) => {
      sessionStorage.setItem("pyroscope.user", u);
      sessionStorage.setItem("pyroscope.secret", p);
    }, USER, PASSWORD);
    await other.goto(url, { waitUntil: "networkidle0" });
    await other.waitForFunction(() => window.pyroscopeExplorer.idle() && window.pyroscopeExplorer.stats.loads > 0,
      { timeout: 30000 });
    const [a, b] = await Promise.all([page, other].map((p) => p.evaluate(() => ({
      state: { ...window.pyroscopeExplorer.state },
      frames: window.pyroscopeExplorer.frames().map((f) => [f.name, Math.round(f.width)]).slice(0, 40),
    }))));
    for (const k of ["service", "type", "search", "zoom", "tenant"]) assert.equal(b.state[k], a.state[k], k);
    assert.deepEqual(b.frames, a.frames);
  } finally {
    await other.close();
    await page.bringToFront();
  }
});

test("label completion, group by and the timeline", async () => {
  await page.click("#search", { count: 3 });
  await page.keyboard.press("Backspace");
  await page.focus("#filter");
  await page.keyboard.type("work");
  await page.waitForSelector("#completions:not([hidden]) li");
  assert.deepEqual(await page.$$eval("#completions li", (l) => l.map((x) => x.textContent)), ["workload"]);
  await page.keyboard.press("Tab");
  assert.equal(await page.$eval("#filter", (e) => e.value), 'workload="');
  await page.waitForFunction(() => [...document.querySelectorAll("#completions li")].map((l) => l.textContent).join() === "a,b");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Tab");
  assert.equal(await page.$eval("#filter", (e) => e.value), 'workload="b"');
  await page.keyboard.press("Enter");
  await settle();
  assert.equal(await page.$eval("#completions", (e) => e.hidden), true, "Enter runs the query and closes the list");
  const wantB = analyse(await apiTree(cpuType, `{service_name="${SERVICE}", workload="b"}`, startMs, endMs), "");
  assert.equal(Number(await page.$eval("#fg-total", (e) => e.dataset.total)), wantB.total, "the filter applies");

  // group by: one line per value, a click on a legend entry filters by it
  await page.click("#filter", { count: 3 });
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Enter");
  await settle();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await page.$eval("#completions", (e) => e.hidden), true,
    "a lookup overtaken by Enter does not reopen the list");
  await page.select("#groupby", "workload");
  await settle();
  const legend = await page.$$eval("#timeline-legend li", (l) => l.map((x) => x.textContent));
  assert.deepEqual(legend.sort(), ["workload=a", "workload=b"]);
  await screenshot("groupby");
  const series = await api("SelectSeries", { profileTypeID: cpuType, labelSelector: `{service_name="${SERVICE}"}`,
    start: startMs, end: endMs, step: 15, groupBy: ["workload"] });
  assert.equal(series.series.length, 2);
  await page.click("#timeline-legend li:first-child");
  await settle();
  assert.match(await page.$eval("#filter", (e) => e.value), /^workload="[ab]"$/);

  // dragging on the timeline selects a range: absolute times in the URL
  const tl = await page.$("#timeline");
  const box = await tl.boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.99, box.y + 40, { steps: 4 });
  await page.mouse.up();
  await settle();
  const st = await explorer(() => ({ ...window.pyroscopeExplorer.state }));
  assert.match(st.from, /^\d{13}$/);
  assert.match(st.until, /^\d{13}$/);
  assert.ok(Number(st.until) > Number(st.from));
  assert.equal(await page.$eval("#preset", (e) => e.value), "custom");
  await page.select("#preset", "1h");
  await page.click("#filter", { count: 3 });
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Enter");
  await page.select("#groupby", "");
  await settle();
});

test("the merged profile downloads as a gzipped pprof equal to the graph", async () => {
  const dl = fs.mkdtempSync(path.join(os.tmpdir(), "pyroscope-ui-dl-"));
  const cdp = await page.createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: dl });
  await page.click("#download");
  let file;
  for (let i = 0; i < 100 && !file; i++) {
    file = fs.readdirSync(dl).find((f) => f.endsWith(".pb.gz"));
    if (!file) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(file, "a .pb.gz was downloaded");
  assert.equal(file, `${SERVICE}-process_cpu.pb.gz`);
  const { total, type } = pprofTotal(zlib.gunzipSync(fs.readFileSync(path.join(dl, file))));
  assert.equal(type, "cpu");
  assert.equal(Number(total), Number(await page.$eval("#fg-total", (e) => e.dataset.total)));
  fs.rmSync(dl, { recursive: true, force: true });
});

test("the diff view of the two workloads marks the changed functions", async () => {
  await page.click("#view-diff");
  await settle();
  await page.type("#left-filter", 'workload="a"');
  await page.type("#right-filter", 'workload="b"');
  await page.click("#run-diff");
  await settle();
  const left = analyse(await apiTree(cpuType, `{service_name="${SERVICE}", workload="a"}`, startMs, endMs), "");
  const right = analyse(await apiTree(cpuType, `{service_name="${SERVICE}", workload="b"}`, startMs, endMs), "");
  assert.equal(Number(await page.$eval("#diff-left-total", (e) => e.dataset.total)), left.total);
  assert.equal(Number(await page.$eval("#diff-right-total", (e) => e.dataset.total)), right.total);
  const fs_ = await diffFrames();
  const rgb = (c) => c.match(/\d+/g).map(Number);
  const beta = widest(fs_, [...right.fns.keys()].find((n) => n.includes("betaHotUI")));
  assert.ok(beta, "betaHotUI is on the diff");
  assert.equal(beta.left, 0, "absent from the baseline");
  assert.ok(beta.right > 0);
  assert.deepEqual(rgb(beta.colour), [200, 0, 0], "new in the comparison: full red");
  const alpha = widest(fs_, [...left.fns.keys()].find((n) => n.includes("alphaHotUI")));
  const [r, g] = rgb(alpha.colour);
  assert.ok(g > r, `alphaHotUI's share shrank: green (${alpha.colour})`);
  await screenshot("diff");
  // the tooltip says how it changed
  const tip = await hoverTooltip("diffgraph", beta);
  assert.match(tip, /Baseline/);
  assert.match(tip, /Comparison/);
  assert.match(tip, /new/);
  assert.match(page.url(), /view=diff/);
  assert.match(decodeURIComponent(page.url()), /rightFilter=workload="b"/);
  await page.click("#view-single");
  await settle();
});

test(`a big graph: ${BIG} with more than 16,384 nodes renders and zooms`, async () => {
  await page.select("#service", BIG);
  await settle();
  const st = await explorer(() => ({ ...window.pyroscopeExplorer.stats, type: window.pyroscopeExplorer.state.type }));
  const want = analyse(await apiTree(st.type, `{service_name="${BIG}"}`, startMs, endMs), "");
  assert.ok(st.nodes >= 16384, `the graph holds ${st.nodes} nodes`);
  assert.equal(Number(await page.$eval("#fg-total", (e) => e.dataset.total)), want.total);
  await screenshot("big");
  // zoom into a module and back: render times as the page measured them
  const mod = widest(await frames(), "module7");
  await canvasClick("flamegraph", mod);
  const zoomMs = await explorer(() => window.pyroscopeExplorer.stats.lastRenderMs);
  const zoomed = (await frames()).filter((f) => f.level === 3).length;
  await page.click("#reset");
  const resetMs = await explorer(() => window.pyroscopeExplorer.stats.lastRenderMs);
  const renders = [];
  for (let i = 0; i < 5; i++) renders.push(await explorer(() => window.pyroscopeExplorer.rerender()));
  assert.ok(zoomed > 0, "the zoomed module shows its functions");
  console.log(`# big graph: ${st.nodes} nodes; load ${st.lastLoadMs.toFixed(0)} ms ` +
    `(decode ${st.lastDecodeMs.toFixed(1)} ms, first render ${st.lastRenderMs.toFixed(1)} ms); ` +
    `zoom render ${zoomMs.toFixed(1)} ms, reset ${resetMs.toFixed(1)} ms, ` +
    `re-render median ${renders.sort((a, b) => a - b)[2].toFixed(1)} ms`);
  assert.deepEqual(consoleErrors, [], "no console errors through the whole session");
});
