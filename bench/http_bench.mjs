// HTTP benchmark of the extension's Pyroscope API (driven by bench/http.sh):
//   1. durable ingest: the same pprof files pushed by C concurrent clients
//      to /ingest?format=pprof, against pyroscope.ingest_pprof() of the same
//      files by as many SQL backends as there are HTTP workers, one
//      transaction per profile, fsync on, as interleaved pairs with wall
//      and CPU time (ratios printed);
//   2. push-to-queryable latency: push a fresh profile, then query until
//      it is visible (p50 / p99, goal <= 1 s);
//   3. query: SelectMergeStacktraces requests/s over an hour of data;
//   4. the same over an hour of real pprof, in head and then in blocks.
//
//   node bench/http_bench.mjs HTTP_PORT PGHOST PGPORT FILE... (env: BENCH_SECONDS, CLIENTS)
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";

const [httpPort, pgHost, pgPort, ...files] = process.argv.slice(2);
const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const CLIENTS = Number(process.env.CLIENTS || 4);
const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS * 2 });

function psql(sql) {
  return execFileSync("psql", ["-XAtq", "-v", "ON_ERROR_STOP=1", "-h", pgHost, "-p", pgPort,
    "-U", "postgres", "-d", "postgres", "-f", "-"], { encoding: "utf8", input: sql,
    maxBuffer: 1 << 26 }).trim();
}

function request(path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: httpPort, path, method: body ? "POST" : "GET",
      agent, headers: { "content-length": body ? body.length : 0, ...headers } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const profiles = files.map((f) => fs.readFileSync(f));
const totalBytes = profiles.reduce((s, p) => s + p.length, 0);

// 1. durable ingest (fsync on), as interleaved rounds: the same profiles
// pushed over HTTP by CLIENTS clients to the 2 HTTP workers, then stored
// by 2 SQL backends (autocommit: one transaction per profile, as a push
// is), then by 2 SQL backends in one transaction each, then HTTP again, ...  Wall time of each phase, and CPU time of the
// server processes doing the work (the HTTP workers; the SQL backends).
function schedstat(pid) {
  return Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e9;
}
const httpPids = psql("SELECT string_agg(pid::text, ',') FROM pyroscope.http_workers WHERE kind = 'http'")
  .split(",").map(Number);
psql("CREATE TABLE IF NOT EXISTS bench_http_files (id int, data bytea)");
psql("TRUNCATE bench_http_files");
profiles.forEach((p, i) => psql(`INSERT INTO bench_http_files VALUES (${i}, '\\x${p.toString("hex")}')`));
const ROUNDS = Number(process.env.INGEST_ROUNDS || 10);
const PAIRS = Number(process.env.PAIRS || 3);
const M = profiles.length * ROUNDS;

async function httpPhase() {
  const cpu0 = httpPids.reduce((s, p) => s + schedstat(p), 0);
  let next = 0, errors = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    for (let k = next++; k < M; k = next++) {
      const r = await request(`/ingest?name=bench.http${c}&format=pprof`, profiles[k % profiles.length]);
      if (r.status !== 200) errors++;
    }
  }));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return { wall, cpu: httpPids.reduce((s, p) => s + schedstat(p), 0) - cpu0, errors };
}

// autocommit: one transaction per profile, as a push; else one
// transaction per backend for all its profiles
function sqlPhase(autocommit) {
  const BACKENDS = httpPids.length;
  const t0 = process.hrtime.bigint();
  const runs = Array.from({ length: BACKENDS }, (_, b) => new Promise((resolve, reject) => {
    let script = "SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1);\n";
    if (!autocommit) script += "BEGIN;\n";
    for (let k = b; k < M; k += BACKENDS)
      script += `SELECT pyroscope.ingest_pprof(data, '{"service_name":"bench.sql${b}"}') FROM bench_http_files WHERE id = ${k % profiles.length};\n`;
    if (!autocommit) script += "COMMIT;\n";
    script += "SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1);\n";
    const child = spawn("psql", ["-XAtq", "-v", "ON_ERROR_STOP=1", "-h", pgHost, "-p", pgPort,
      "-U", "postgres", "-d", "postgres", "-f", "-"]);
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`psql failed: ${code}`));
      const lines = out.trim().split("\n");
      resolve((Number(lines[lines.length - 1]) - Number(lines[0])) / 1e9);
    });
    child.stdin.end(script);
  }));
  return Promise.all(runs).then((cpus) => ({
    wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpus.reduce((s, c) => s + c, 0) }));
}

const pairs = [];
let httpErrors = 0;
for (let i = 0; i < PAIRS; i++) {
  const h = await httpPhase();
  const q = await sqlPhase(true);
  const t = await sqlPhase(false);
  httpErrors += h.errors;
  pairs.push({ h, q, t });
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const hWall = median(pairs.map((p) => p.h.wall)), qWall = median(pairs.map((p) => p.q.wall));
const hCpu = median(pairs.map((p) => p.h.cpu)), qCpu = median(pairs.map((p) => p.q.cpu));
const tWall = median(pairs.map((p) => p.t.wall)), tCpu = median(pairs.map((p) => p.t.cpu));
const mb = (totalBytes * ROUNDS) / 1e6;
console.log(`durable ingest (fsync on): ${M} profiles (${mb.toFixed(1)} MB as sent) per phase, ${PAIRS} interleaved pairs`);
console.log(`  HTTP /ingest, ${CLIENTS} clients, ${httpPids.length} HTTP workers : ${(M / hWall).toFixed(1)} profiles/s, ` +
  `${(mb / hWall).toFixed(2)} MB/s, workers' CPU ${hCpu.toFixed(2)} s${httpErrors ? `  (${httpErrors} errors)` : ""}`);
console.log(`  SQL ingest_pprof, ${httpPids.length} backends, autocommit   : ${(M / qWall).toFixed(1)} profiles/s, ` +
  `${(mb / qWall).toFixed(2)} MB/s, backends' CPU ${qCpu.toFixed(2)} s`);
console.log(`  SQL ingest_pprof, ${httpPids.length} backends, one transaction each : ${(M / tWall).toFixed(1)} profiles/s, ` +
  `${(mb / tWall).toFixed(2)} MB/s, backends' CPU ${tCpu.toFixed(2)} s`);
console.log(`  ratio HTTP / SQL autocommit throughput      : wall ${median(pairs.map((p) => p.q.wall / p.h.wall)).toFixed(2)} ` +
  `(goal >= 0.8), CPU ${median(pairs.map((p) => p.q.cpu / p.h.cpu)).toFixed(2)}  (median of pair ratios)`);
console.log(`  ratio HTTP / SQL one-transaction throughput : wall ${median(pairs.map((p) => p.t.wall / p.h.wall)).toFixed(2)} ` +
  `(goal >= 0.8), CPU ${median(pairs.map((p) => p.t.cpu / p.h.cpu)).toFixed(2)}  (median of pair ratios)`);

// 2. push-to-queryable latency
const lat = [];
for (let i = 0; i < 100; i++) {
  const app = `latency${i}`;
  const now = Date.now();
  const start = process.hrtime.bigint();
  const r = await request(`/ingest?name=${app}.cpu&from=${Math.floor(now / 1000)}`,
    Buffer.from("main;work 5\nmain;idle 1\n"));
  if (r.status !== 200) throw new Error(`push failed: ${r.status}`);
  for (;;) {
    const q = await request("/querier.v1.QuerierService/SelectMergeStacktraces", Buffer.from(JSON.stringify({
      profileTypeID: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
      labelSelector: `{service_name="${app}"}`, start: now - 60000, end: now + 60000 })),
    { "content-type": "application/json" });
    if (JSON.parse(q.body).flamegraph?.total === "60000000") break;
  }
  lat.push(Number(process.hrtime.bigint() - start) / 1e6);
}
lat.sort((a, b) => a - b);
console.log("push -> queryable latency (100 pushes)");
console.log(`  p50 ${lat[49].toFixed(1)} ms, p99 ${lat[98].toFixed(1)} ms (goal p99 <= 1000 ms)`);

// 3. query throughput over an hour of one service (360 profiles, 10 s apart)
const folded = fs.readFileSync(new URL("../test/data/folded/dotnet-tree_1.txt", import.meta.url));
const hourEnd = Math.floor(Date.now() / 1000);
for (let k = 0; k < 360; k++)
  await request(`/ingest?name=queryapp.cpu&from=${hourEnd - 3600 + k * 10}`, folded);
const qbody = Buffer.from(JSON.stringify({
  profileTypeID: "process_cpu:cpu:nanoseconds:cpu:nanoseconds", labelSelector: '{service_name="queryapp"}',
  start: (hourEnd - 3600) * 1000, end: hourEnd * 1000 + 1000 }));
let nq = 0;
const qDeadline = Date.now() + SECONDS * 1000;
const t2 = process.hrtime.bigint();
await Promise.all(Array.from({ length: CLIENTS }, async () => {
  while (Date.now() < qDeadline) {
    const r = await request("/querier.v1.QuerierService/SelectMergeStacktraces", qbody,
      { "content-type": "application/json" });
    if (r.status !== 200) throw new Error(`query failed: ${r.status}`);
    nq++;
  }
}));
const qSecs = Number(process.hrtime.bigint() - t2) / 1e9;
console.log(`SelectMergeStacktraces over 1 h (360 folded profiles), ${CLIENTS} clients`);
console.log(`  requests/s                   : ${(nq / qSecs).toFixed(1)}`);

// 4. the same over an hour of a real pprof (Java CPU, 18 kB gzipped):
// first while in head, where each request normalises the pprofs as sent,
// then once compacted into blocks
async function queryRate(body) {
  let n = 0;
  const end = Date.now() + SECONDS * 1000;
  const t = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (Date.now() < end) {
      const r = await request("/querier.v1.QuerierService/SelectMergeStacktraces", body,
        { "content-type": "application/json" });
      if (r.status !== 200) throw new Error(`query failed: ${r.status}`);
      n++;
    }
  }));
  return n / (Number(process.hrtime.bigint() - t) / 1e9);
}
const java = fs.readFileSync(new URL("../test/data/pprof/java/profile_java.pb.gz", import.meta.url));
for (let k = 0; k < 360; k++) {
  const r = await request(`/ingest?name=queryjava&format=pprof`, java);
  if (r.status !== 200) throw new Error(`java push failed: ${r.status}`);
}
// the pprof's own time_nanos is its time: all 360 at one instant
const jRow = psql(`SELECT s.profile_type, extract(epoch FROM h.ts)::bigint
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.service_name = 'queryjava' ORDER BY s.profile_type LIMIT 1`);
const [jType, jTs] = jRow.split("|");
if (!jTs) throw new Error(`no Java profiles stored: ${psql("SELECT DISTINCT service_name || ' ' || profile_type FROM pyroscope.series")}`);
const jbody = Buffer.from(JSON.stringify({
  profileTypeID: jType, labelSelector: '{service_name="queryjava"}',
  start: (Number(jTs) - 3600) * 1000, end: (Number(jTs) + 1) * 1000 }));
async function checkTotal() {
  const r = await request("/querier.v1.QuerierService/SelectMergeStacktraces", jbody,
    { "content-type": "application/json" });
  const total = Number(JSON.parse(r.body.toString()).flamegraph?.total || 0);
  if (!(total > 0)) throw new Error(`the Java query found nothing: ${r.body}`);
  return total;
}
const headTotal = await checkTotal();
const headRate = await queryRate(jbody);
psql("SET pyroscope.compact_after = 0; SET pyroscope.retention = 0; SELECT pyroscope.compact(now() + interval '1 minute');");
const left = psql("SELECT count(*) FROM pyroscope.head h JOIN pyroscope.series s USING (series_id) WHERE s.service_name = 'queryjava'");
if (left !== "0") throw new Error(`compaction left ${left} head rows`);
if (await checkTotal() !== headTotal) throw new Error("compaction changed the answer");
const blockRate = await queryRate(jbody);
console.log(`SelectMergeStacktraces over 360 Java CPU pprofs of ${java.length} bytes, ${CLIENTS} clients`);
console.log(`  in head (pprof as sent)      : ${headRate.toFixed(1)} requests/s`);
console.log(`  compacted into blocks        : ${blockRate.toFixed(1)} requests/s`);
console.log(`  ratio head / blocks          : ${(headRate / blockRate).toFixed(3)}`);
agent.destroy();
