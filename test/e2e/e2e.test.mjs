// End-to-end suite of the HTTP API (issue 3).
//
// Starts its own PostgreSQL cluster with the extension preloaded, lets the
// real Pyroscope Node.js SDK profile app/hot.js for about 20 s (pushing
// through a recording proxy, so the test knows exactly what was sent),
// then runs Grafana's datasource sequence with a real Connect client, in
// the proto codec (as Grafana does) and in JSON (as Profiles Drilldown
// does), and checks the answers against the pushed pprof documents.
//
//   cd test/e2e && npm ci && node --test e2e.test.mjs
//   env: PG_BIN (default /usr/lib/postgresql/15/bin), E2E_SECONDS (20)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

import { startCluster } from "./cluster.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const SECONDS = Number(process.env.E2E_SECONDS || 20);
const asRoot = process.getuid && process.getuid() === 0;

let cluster;
let dir;
let httpPort;
let proxy;
let proxyPort;
const pushed = []; // { query, contentType, body } of every /ingest the SDK sent
let registry;
let startMs;
let endMs;

const psql = (sql) => cluster.psql(sql);

// A proxy that records each request body and forwards it to the server.
function startProxy() {
  return new Promise((resolve) => {
    proxy = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const fwd = http.request(
          { host: "127.0.0.1", port: httpPort, path: req.url, method: req.method,
            headers: { ...req.headers, "content-length": body.length } },
          (r) => {
            const out = [];
            r.on("data", (c) => out.push(c));
            r.on("end", () => {
              if (req.url.startsWith("/ingest") && r.statusCode === 200)
                pushed.push({ query: req.url, contentType: req.headers["content-type"], body });
              res.writeHead(r.statusCode, r.headers);
              res.end(Buffer.concat(out));
            });
          });
        fwd.on("error", (e) => { res.writeHead(502); res.end(String(e)); });
        fwd.end(body);
      });
    });
    proxy.listen(0, "127.0.0.1", () => resolve(proxy.address().port));
  });
}

// The parts of a multipart/form-data body, by name.
function multipartParts(body, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = Buffer.from("--" + (m[1] || m[2]));
  const parts = {};
  let pos = body.indexOf(boundary);
  while (pos >= 0) {
    const next = body.indexOf(boundary, pos + boundary.length);
    if (next < 0) break;
    const part = body.subarray(pos + boundary.length + 2, next - 2);
    const sep = part.indexOf("\r\n\r\n");
    const headers = part.subarray(0, sep).toString();
    const name = /name="([^"]+)"/.exec(headers)[1];
    parts[name] = part.subarray(sep + 4);
    pos = next;
  }
  return parts;
}

// Sum of the values of one sample type over the pushed pprof documents.
function pushedTotal(sampleType) {
  const Profile = registry.getMessage("perftools.profiles.Profile");
  let total = 0n;
  let found = false;
  for (const p of pushed) {
    const parts = multipartParts(p.body, p.contentType);
    if (!parts.profile) continue;
    let raw = parts.profile;
    if (raw[0] === 0x1f && raw[1] === 0x8b) raw = zlib.gunzipSync(raw);
    const prof = fromBinary(Profile, raw);
    const st = prof.stringTable;
    const idx = prof.sampleType.findIndex((t) => st[Number(t.type)] === sampleType);
    if (idx < 0) continue;
    found = true;
    for (const s of prof.sample) if (s.value[idx] > 0n) total += s.value[idx];
  }
  return found ? total : null;
}

// The total of one sample type in each pushed pprof document.
function pushedTotals(sampleType) {
  const Profile = registry.getMessage("perftools.profiles.Profile");
  const totals = [];
  for (const p of pushed) {
    const parts = multipartParts(p.body, p.contentType);
    if (!parts.profile) continue;
    let raw = parts.profile;
    if (raw[0] === 0x1f && raw[1] === 0x8b) raw = zlib.gunzipSync(raw);
    const prof = fromBinary(Profile, raw);
    const idx = prof.sampleType.findIndex((t) => prof.stringTable[Number(t.type)] === sampleType);
    if (idx < 0) continue;
    totals.push(prof.sample.reduce((s, x) => s + (x.value[idx] > 0n ? x.value[idx] : 0n), 0n));
  }
  return totals;
}

// Decode a FlameGraph into nodes with absolute x, for self/total checks.
function flameNodes(fg) {
  const nodes = [];
  fg.levels.forEach((level, depth) => {
    let prev = 0n;
    const v = level.values.map(BigInt);
    for (let i = 0; i < v.length; i += 4) {
      const x = v[i] + prev;
      prev = x + v[i + 1];
      nodes.push({ depth, x, total: v[i + 1], self: v[i + 2], name: fg.names[Number(v[i + 3])] });
    }
  });
  return nodes;
}

// The frame names from the root (excluded) down to node, as a call site.
function pathOf(nodes, node) {
  const names = [node.name];
  let cur = node;
  for (let d = node.depth - 1; d > 0; d--) {
    cur = nodes.find((n) => n.depth === d && n.x <= cur.x && cur.x < n.x + n.total);
    names.unshift(cur.name);
  }
  return names;
}

const pprofTotal = (prof) => prof.sample.reduce((s, x) => s + x.value[0], 0n);

before(async () => {
  cluster = await startCluster({ name: "pyroscope-e2e" });
  ({ dir, httpPort } = cluster);

  // message and service descriptors from our own .proto files
  const fds = path.join(dir, "fds.bin");
  execFileSync("protoc", ["-I", path.join(root, "proto"), "--include_imports",
    `--descriptor_set_out=${fds}`, "querier.proto", "push.proto", "settings.proto"]);
  registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, fs.readFileSync(fds)));

  proxyPort = await startProxy();
  startMs = Date.now() - 60_000;
  // no inlining: V8 may otherwise inline hotFunctionE2E into its
  // caller, and the samples would then (rightly) name the caller
  const app = spawn(process.execPath, ["--no-turbo-inlining", "--no-maglev-inlining", path.join(here, "app", "hot.js"),
    `http://127.0.0.1:${proxyPort}`, String(SECONDS)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    app.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`app exited ${code}`))));
  });
  endMs = Date.now() + 60_000;
});

after(() => {
  if (proxy) proxy.close();
  if (cluster) cluster.stop(Boolean(process.env.E2E_KEEP));
});

test("the SDK pushed profiles that the server accepted", () => {
  assert.ok(pushed.length >= 3, `expected at least 3 pushes in ${SECONDS} s, got ${pushed.length}`);
  // stored profiles, in head or (the compactor runs every minute) in blocks
  assert.ok(Number(psql("SELECT (SELECT count(*) FROM pyroscope.head) + " +
    "(SELECT coalesce(sum(nprofiles), 0) FROM pyroscope.blocks)")) >= pushed.length);
});

for (const codec of ["proto", "json"]) {
  test(`Grafana's datasource sequence (${codec} codec)`, async () => {
    const transport = createConnectTransport({
      baseUrl: `http://127.0.0.1:${httpPort}`,
      httpVersion: "1.1",
      useBinaryFormat: codec === "proto",
    });
    const querier = createClient(registry.getService("querier.v1.QuerierService"), transport);
    const start = BigInt(startMs);
    const end = BigInt(endMs);

    // health check and profile type list
    const types = await querier.profileTypes({ start, end });
    const ids = types.profileTypes.map((t) => t.ID);
    const cpu = types.profileTypes.find((t) => t.name === "process_cpu" && t.sampleType === "cpu");
    assert.ok(cpu, `a process_cpu:cpu type among ${ids.join(", ")}`);

    const names = await querier.labelNames({
      matchers: [`{__profile_type__="${cpu.ID}"}`], start, end });
    assert.ok(names.names.includes("service_name"));
    assert.ok(names.names.includes("suite"), "the SDK's tag is a label");

    const values = await querier.labelValues({
      name: "service_name", matchers: [`{__profile_type__="${cpu.ID}"}`], start, end });
    assert.deepEqual(values.names, ["e2e-node-app"]);

    const selector = '{service_name="e2e-node-app"}';
    const merged = await querier.selectMergeStacktraces({
      profileTypeID: cpu.ID, labelSelector: selector, start, end,
      optMaxNodes: { case: "maxNodes", value: 16384n } });
    const fg = merged.flamegraph;
    assert.ok(fg && fg.total > 0n, "a non-empty CPU flame graph");
    const nodes = flameNodes(fg);
    const top = nodes.filter((n) => n.depth > 0).sort((a, b) => (b.self > a.self ? 1 : b.self < a.self ? -1 : 0))[0];
    assert.match(top.name, /hotFunctionE2E/, `top self function is ${top.name}`);
    const cold = nodes.filter((n) => /coldFunctionE2E/.test(n.name)).reduce((s, n) => s + n.self, 0n);
    assert.ok(top.self > cold, "the hot function burns more than the cold one");

    // the flame graph total is what the SDK pushed
    const pushedCpu = pushedTotal("cpu");
    assert.notEqual(pushedCpu, null, "the pushed profiles have a cpu sample type");
    assert.equal(fg.total, pushedCpu, "flame graph total equals the sum of the pushed cpu values");

    // a time series with Grafana's step, summing to the same total
    const series = await querier.selectSeries({
      profileTypeID: cpu.ID, labelSelector: selector, start, end, step: 15, groupBy: [] });
    assert.equal(series.series.length, 1);
    let sum = 0;
    for (const p of series.series[0].points) {
      assert.equal((BigInt(p.timestamp) - start) % 15000n, 0n, "points on the step grid");
      sum += p.value;
    }
    assert.equal(BigInt(Math.round(sum)), pushedCpu, "series total equals the pushed total");

    // exemplars (Drilldown 2.3, Grafana's "include exemplars"): one per
    // point, an individual profile; clicking it opens that profile alone
    const withEx = await querier.selectSeries({
      profileTypeID: cpu.ID, labelSelector: selector, start, end, step: 15, groupBy: [],
      exemplarType: 2 });
    const perPush = pushedTotals("cpu");
    const exemplars = withEx.series[0].points.flatMap((p) => {
      assert.ok(p.exemplars.length <= 1, "at most one exemplar per point");
      for (const e of p.exemplars) {
        assert.ok(BigInt(Math.round(p.value)) >= e.value, "an exemplar is a part of its point");
        assert.ok(e.timestamp <= p.timestamp && e.timestamp > p.timestamp - 15000n,
          "the exemplar's own time lies in its point's bucket");
      }
      return p.exemplars;
    });
    assert.equal(exemplars.length, withEx.series[0].points.length, "every point has its exemplar");
    assert.equal(new Set(exemplars.map((e) => e.profileId)).size, exemplars.length, "distinct profiles");
    for (const e of exemplars) {
      assert.match(e.profileId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.ok(perPush.includes(e.value), `exemplar value ${e.value} is one pushed profile's total`);
      assert.ok(e.labels.some((l) => l.name === "service_name" && l.value === "e2e-node-app"));
    }
    const one = exemplars[0];
    const single = await querier.selectMergeStacktraces({
      profileTypeID: cpu.ID, labelSelector: selector, start, end,
      profileIdSelector: [one.profileId], optMaxNodes: { case: "maxNodes", value: 16384n } });
    assert.equal(single.flamegraph.total, one.value, "the exemplar's profile alone");
    assert.ok(single.flamegraph.total < pushedCpu, "not the whole selection");
    const singlePprof = await querier.selectMergeProfile({
      profileTypeID: cpu.ID, labelSelector: selector, start, end, profileIdSelector: [one.profileId] });
    assert.equal(pprofTotal(singlePprof), one.value, "the same as a pprof");

    // the merged pprof
    const prof = await querier.selectMergeProfile({
      profileTypeID: cpu.ID, labelSelector: selector, start, end });
    assert.equal(prof.stringTable[Number(prof.sampleType[0].type)], "cpu");
    const ptotal = prof.sample.reduce((s, x) => s + x.value[0], 0n);
    assert.equal(ptotal, pushedCpu, "merged pprof total equals the pushed total");
    const fnNames = prof.function.map((f) => prof.stringTable[Number(f.name)]);
    assert.ok(fnNames.some((n) => /hotFunctionE2E/.test(n)));

    // Function details (Drilldown): the merged pprof at the hot function's
    // call site holds exactly that node's total, whole stacks from the root
    const callSite = pathOf(nodes, top).map((name) => ({ name }));
    assert.ok(callSite.length >= 2, `a call site of ${callSite.length} frames`);
    const atSite = await querier.selectMergeProfile({
      profileTypeID: cpu.ID, labelSelector: selector, start, end,
      stackTraceSelector: { callSite } });
    assert.equal(pprofTotal(atSite), top.total, "call-site pprof total equals the node's total");
    assert.ok(pprofTotal(atSite) < pushedCpu, "the call site selects a part of the profile");
    const rootNames = new Set(atSite.sample.map((x) => {
      const loc = atSite.location.find((l) => l.id === x.locationId[x.locationId.length - 1]);
      return atSite.stringTable[Number(atSite.function.find((f) => f.id === loc.line[loc.line.length - 1].functionId).name)];
    }));
    assert.deepEqual([...rootNames], [callSite[0].name], "every kept stack starts at the real root");
    const viaFormat = await querier.selectMergeStacktraces({
      profileTypeID: cpu.ID, labelSelector: selector, start, end, format: 4,
      stackTraceSelector: { callSite } });
    assert.equal(pprofTotal(viaFormat.pprof.profile), top.total, "the same through the PPROF format");
    const none = await querier.selectMergeProfile({
      profileTypeID: cpu.ID, labelSelector: selector, start, end,
      stackTraceSelector: { callSite: [{ name: "noSuchFunctionE2E" }] } });
    assert.equal(pprofTotal(none), 0n, "a call site nobody calls selects nothing");
  });
}

for (const codec of ["json", "proto"])
test(`heatmaps: individual profiles, spans and traces, with exemplars that open their flame graphs (${codec} codec)`, async () => {
  const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${httpPort}`,
    httpVersion: "1.1", useBinaryFormat: codec === "proto" });
  const querier = createClient(registry.getService("querier.v1.QuerierService"), transport);
  const start = BigInt(startMs);
  const end = BigInt(endMs);
  const types = await querier.profileTypes({ start, end });
  const cpu = types.profileTypes.find((t) => t.name === "process_cpu" && t.sampleType === "cpu");
  const selector = '{service_name="e2e-node-app"}';
  const seconds = Number(end - start) / 1000;
  const step = Math.max(1, Math.ceil(seconds / 64));
  const perPush = pushedTotals("cpu");

  // INDIVIDUAL (Grafana's "include heatmap"): one point per pushed profile
  const ind = await querier.selectHeatmap({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, step, groupBy: [], queryType: 1, exemplarType: 2 });
  assert.equal(ind.series.length, 1);
  const slots = ind.series[0].slots;
  const points = slots.reduce((n, sl) => n + sl.counts.reduce((a, c) => a + c, 0), 0);
  assert.equal(points, perPush.length, "one point per pushed profile");
  let prev = -1n;
  for (const sl of slots) {
    assert.equal(sl.yMin.length, 20);
    assert.equal(sl.counts.length, 20);
    assert.ok(sl.timestamp > prev, "slots in time order");
    prev = sl.timestamp;
    assert.equal((sl.timestamp - start) % BigInt(step * 1000), 0n, "slots on the step grid");
    assert.equal(sl.exemplars.length, sl.counts.filter((c) => c > 0).length, "one exemplar per cell");
    for (const e of sl.exemplars) {
      assert.ok(perPush.includes(e.value), "an exemplar is one pushed profile");
      assert.ok(e.timestamp <= sl.timestamp && e.timestamp > sl.timestamp - BigInt(step * 1000));
    }
  }
  assert.equal(Number(slots[0].yMin[0]), Number(perPush.reduce((a, b) => (b < a ? b : a))),
    "the value axis starts at the smallest profile");
  const ex = slots[0].exemplars[0];
  const alone = await querier.selectMergeStacktraces({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, profileIdSelector: [ex.profileId] });
  assert.equal(alone.flamegraph.total, ex.value, "the exemplar's profile alone");

  // SPAN (Drilldown's profiles-to-traces): one point per profile and span
  const sp = await querier.selectHeatmap({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, step, groupBy: [], queryType: 2, exemplarType: 3 });
  assert.equal(sp.series.length, 1);
  const spans = sp.series[0].slots.flatMap((sl) => sl.exemplars);
  assert.ok(spans.length > 0, "span exemplars");
  for (const e of spans) {
    assert.match(e.spanId, /^000000000000[0-9a-f]{4}$/, "the app's span ids");
    assert.equal(e.profileId, "", "span points name no profile");
    assert.ok(e.value > 0n);
  }
  // the same points in SQL: list_spans has each exemplar's (span, value)
  const listed = psql(`SELECT string_agg(span_id || ' ' || total, ',') FROM pyroscope.list_spans('${cpu.ID}', ` +
    `'${selector}', to_timestamp(${startMs} / 1000.0), to_timestamp(${endMs} / 1000.0))`).split(",");
  for (const e of spans)
    assert.ok(listed.includes(`${e.spanId} ${e.value}`), `span ${e.spanId} ${e.value} listed in SQL`);
  // a span's flame graph holds at least that exemplar's samples, and only the app's work
  const top = spans.reduce((a, b) => (b.value > a.value ? b : a));
  const spanFg = await querier.selectMergeStacktraces({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, spanSelector: [top.spanId], optMaxNodes: { case: "maxNodes", value: 16384n } });
  assert.ok(spanFg.flamegraph.total >= top.value, "the span's flame graph holds the exemplar's samples");
  assert.ok(spanFg.flamegraph.names.some((n) => /hotFunctionE2E|coldFunctionE2E|work/.test(n)));
  const other = await querier.selectMergeStacktraces({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, spanSelector: ["00000000000000ff"] });
  assert.equal(other.flamegraph.total, 0n, "a span the app never had selects nothing");

  // traces: each span exemplar names its trace, and a trace selects its spans
  for (const e of spans)
    assert.equal(e.traceId, (parseInt(e.spanId, 16) >> 2).toString(16).padStart(32, "0"),
      `span ${e.spanId} is in the app's trace`);
  const traceRows = psql(`SELECT coalesce(sum(total), 0) FROM pyroscope.list_spans('${cpu.ID}', '${selector}', ` +
    `to_timestamp(${startMs} / 1000.0), to_timestamp(${endMs} / 1000.0)) WHERE trace_id = '${top.traceId}'`);
  const traceFg = await querier.selectMergeStacktraces({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, traceIdSelector: [top.traceId], optMaxNodes: { case: "maxNodes", value: 16384n } });
  assert.equal(traceFg.flamegraph.total, BigInt(traceRows), "a trace's flame graph: all its spans' samples");
  assert.ok(traceFg.flamegraph.total >= spanFg.flamegraph.total, "at least its span's");
  const tracePprof = await querier.selectMergeProfile({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, traceIdSelector: [top.traceId] });
  assert.equal(pprofTotal(tracePprof), traceFg.flamegraph.total, "the same as a pprof");
  const noTrace = await querier.selectMergeStacktraces({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, traceIdSelector: ["0000000000000000000000000000beef"] });
  assert.equal(noTrace.flamegraph.total, 0n, "a trace the app never had selects nothing");
  await assert.rejects(querier.selectMergeStacktraces({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, traceIdSelector: ["abc"] }), /invalid trace id/);
  await assert.rejects(querier.selectMergeStacktraces({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, traceIdSelector: [top.traceId], spanSelector: [top.spanId] }), /cannot be combined/);

  // compaction moves everything into blocks: the same answers from there
  const compacted = JSON.parse(psql("SELECT pyroscope.compact(now() + interval '1 hour')"));
  assert.ok(compacted.head_rows_compacted > 0 || Number(psql("SELECT count(*) FROM pyroscope.head")) === 0);
  assert.equal(Number(psql("SELECT count(*) FROM pyroscope.head")), 0, "nothing left in head");
  const sp2 = await querier.selectHeatmap({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, step, groupBy: [], queryType: 2, exemplarType: 3 });
  assert.deepEqual(sp2, sp, "the span heatmap from blocks");
  const ind2 = await querier.selectHeatmap({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, step, groupBy: [], queryType: 1, exemplarType: 2 });
  assert.deepEqual(ind2, ind, "the individual heatmap from blocks");
  const traceFg2 = await querier.selectMergeStacktraces({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, traceIdSelector: [top.traceId], optMaxNodes: { case: "maxNodes", value: 16384n } });
  assert.deepEqual(traceFg2, traceFg, "the trace's flame graph from blocks");
  const alone2 = await querier.selectMergeStacktraces({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, profileIdSelector: [ex.profileId] });
  assert.deepEqual(alone2, alone, "an exemplar's profile from blocks");

  // mismatched exemplar and query types are invalid_argument
  await assert.rejects(querier.selectHeatmap({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, step, queryType: 1, exemplarType: 3 }), /invalid_argument|does not go with/);
  await assert.rejects(querier.selectHeatmap({ profileTypeID: cpu.ID, labelSelector: selector,
    start, end, step }), /query type/);
});

test("DOT call graphs: Drilldown's explain-flame-graph render and the DOT format", async () => {
  const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${httpPort}`,
    httpVersion: "1.1", useBinaryFormat: false });
  const querier = createClient(registry.getService("querier.v1.QuerierService"), transport);
  const types = await querier.profileTypes({ start: BigInt(startMs), end: BigInt(endMs) });
  const cpu = types.profileTypes.find((t) => t.name === "process_cpu" && t.sampleType === "cpu");
  const query = encodeURIComponent(`${cpu.ID}{service_name="e2e-node-app"}`);
  // what Drilldown's ProfileApiClient asks: ms times, max-nodes=100
  const r = await fetch(`http://127.0.0.1:${httpPort}/pyroscope/render?query=${query}` +
    `&from=${startMs}&until=${endMs}&format=dot&max-nodes=100`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/plain/);
  const dot = await r.text();
  assert.match(dot, /^digraph "[^"]*" \{\nnode \[style=filled fillcolor="#f8f8f8"\]\n/);
  assert.match(dot, /\n\}\n$/);
  const nodes = dot.split("\n").filter((l) => /^N\d+ \[label="/.test(l));
  const edges = dot.split("\n").filter((l) => /^N\d+ -> N\d+ \[/.test(l));
  assert.ok(nodes.length > 3 && nodes.length <= 100, `${nodes.length} nodes`);
  assert.ok(edges.length >= nodes.length - 1, "a connected graph");
  const hot = nodes.find((l) => /hotFunctionE2E/.test(l));
  assert.ok(hot, "the hot function is a node");
  assert.match(hot, /\d(\.\d+)?s \(\d+(\.\d+)?%\)/, "its flat time in seconds and percent");
  for (const e of edges) {
    const [, a, b] = /^N(\d+) -> N(\d+)/.exec(e);
    assert.ok(Number(a) <= nodes.length && Number(b) <= nodes.length, "edges join kept nodes");
  }
  // valid Graphviz: Graphviz's own dot lays it out (scripts/install-deps.sh installs it)
  const laid = spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8" });
  assert.equal(laid.error, undefined, `graphviz dot runs: ${laid.error}`);
  assert.equal(laid.status, 0, `graphviz accepts the graph: ${laid.stderr}`);
  assert.match(laid.stdout, /<svg[\s\S]*hotFunctionE2E/);
  // a smaller limit keeps fewer nodes and says so
  const small = await (await fetch(`http://127.0.0.1:${httpPort}/pyroscope/render?query=${query}` +
    `&from=${startMs}&until=${endMs}&format=dot&maxNodes=3`)).text();
  assert.equal(small.split("\n").filter((l) => /^N\d+ \[label="/.test(l)).length, 3);
  assert.match(small, /Showing top 3 nodes out of \d+/);
  // the DOT format of SelectMergeStacktraces is the same graph
  const viaConnect = await querier.selectMergeStacktraces({ profileTypeID: cpu.ID,
    labelSelector: '{service_name="e2e-node-app"}', start: BigInt(startMs), end: BigInt(endMs),
    format: 3, optMaxNodes: { case: "maxNodes", value: 100n } });
  assert.equal(viaConnect.dot, dot);
  // nothing selected: an empty answer
  const none = await fetch(`http://127.0.0.1:${httpPort}/pyroscope/render?query=` +
    encodeURIComponent(`${cpu.ID}{service_name="nobody"}`) + `&from=${startMs}&until=${endMs}&format=dot`);
  assert.equal(none.status, 200);
  assert.equal(await none.text(), "");
});

test("Drilldown's capability probe: GetFeatureFlags", async () => {
  // what functionProjections.ts posts through the data-source proxy
  const r = await fetch(`http://127.0.0.1:${httpPort}/capabilities.v1.FeatureFlagsService/GetFeatureFlags`,
    { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  assert.equal(r.status, 200);
  const flags = (await r.json()).featureFlags;
  const byName = Object.fromEntries(flags.map((f) => [f.name, f.enabled === true]));
  assert.equal(byName.functionProjections, false, "no server-side function projections: Drilldown computes them");
  assert.equal(byName.v2StorageLayer, true, "profile ids, exemplars and heatmaps are served");
  assert.deepEqual(flags.map((f) => f.name), [...flags.map((f) => f.name)].sort(), "sorted by name");
});

test("the same flame graph through SQL and through HTTP", async () => {
  const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${httpPort}`,
    httpVersion: "1.1", useBinaryFormat: false });
  const querier = createClient(registry.getService("querier.v1.QuerierService"), transport);
  const types = await querier.profileTypes({ start: BigInt(startMs), end: BigInt(endMs) });
  const cpu = types.profileTypes.find((t) => t.name === "process_cpu" && t.sampleType === "cpu");
  const r = await fetch(`http://127.0.0.1:${httpPort}/pyroscope/render?query=` +
    encodeURIComponent(`${cpu.ID}{service_name="e2e-node-app"}`) + `&from=${startMs}&until=${endMs}`);
  const render = await r.json();
  const viaSql = JSON.parse(psql(`SELECT pyroscope.flamegraph('${cpu.ID}', '{service_name="e2e-node-app"}', ` +
    `to_timestamp(${startMs} / 1000.0), to_timestamp(${endMs} / 1000.0), 8192)`));
  assert.deepEqual(render.flamebearer, viaSql);
});

// Last: the server restarted with TLS (pyroscope.http_tls_cert_file and
// _key_file); the Connect client, in both codecs, pushes and reads over
// HTTPS, verifying the server's certificate.
test("the Connect client over TLS", async () => {
  const cert = path.join(dir, "server.crt");
  const key = path.join(dir, "server.key");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-days", "2", "-subj", "/CN=e2e", "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", key, "-out", cert], { stdio: "ignore" });
  if (asRoot) execFileSync("chown", ["postgres:postgres", cert, key]);
  fs.chmodSync(key, 0o600);
  fs.appendFileSync(path.join(dir, "data", "postgresql.conf"),
    `pyroscope.http_tls_cert_file = '${cert}'\npyroscope.http_tls_key_file = '${key}'\n`);
  cluster.restart();
  const ca = fs.readFileSync(cert);
  const base = `https://127.0.0.1:${httpPort}`;
  let ready = false;
  for (let i = 0; i < 300 && !ready; i++) {
    ready = await new Promise((resolve) => {
      https.get(`${base}/ready`, { ca }, (res) => { res.resume(); resolve(res.statusCode === 200); })
        .on("error", () => resolve(false));
    });
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(ready, "the HTTPS API became ready");

  const Profile = registry.getMessage("perftools.profiles.Profile");
  const first = pushed.map((p) => multipartParts(p.body, p.contentType).profile).find(Boolean);
  let raw = first;
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = zlib.gunzipSync(raw);
  const prof = fromBinary(Profile, raw);
  const cpuIdx = prof.sampleType.findIndex((t) => prof.stringTable[Number(t.type)] === "cpu");
  const cpuTotal = prof.sample.reduce((s, x) => s + (x.value[cpuIdx] > 0n ? x.value[cpuIdx] : 0n), 0n);

  for (const codec of ["proto", "json"]) {
    const transport = createConnectTransport({ baseUrl: base, httpVersion: "1.1",
      useBinaryFormat: codec === "proto", nodeOptions: { ca } });
    const pusher = createClient(registry.getService("push.v1.PusherService"), transport);
    const querier = createClient(registry.getService("querier.v1.QuerierService"), transport);
    const service = `e2e-tls-${codec}`;
    await pusher.push({ series: [{ labels: [{ name: "__name__", value: "process_cpu" },
      { name: "service_name", value: service }], samples: [{ rawProfile: raw }] }] });
    const types = await querier.profileTypes({ start: BigInt(startMs), end: BigInt(Date.now() + 60_000) });
    const cpu = types.profileTypes.find((t) => t.name === "process_cpu" && t.sampleType === "cpu");
    assert.ok(cpu, `${codec}: the CPU type over TLS`);
    const fg = await querier.selectMergeStacktraces({ profileTypeID: cpu.ID,
      labelSelector: `{service_name="${service}"}`, start: BigInt(startMs - 600_000), end: BigInt(Date.now() + 600_000) });
    assert.equal(BigInt(fg.flamegraph.total), cpuTotal, `${codec}: the pushed profile comes back over TLS`);
  }
  // a client that does not trust the certificate is refused by the handshake
  await assert.rejects(new Promise((resolve, reject) => {
    https.get(`${base}/ready`, (res) => { res.resume(); resolve(res.statusCode); }).on("error", reject);
  }), /self[- ]signed|certificate/i);
});
