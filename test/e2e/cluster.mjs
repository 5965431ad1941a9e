// A throw-away PostgreSQL cluster with the extension preloaded and created
// and its HTTP API on a free port, for the suites of this folder.  As root
// (CI), PostgreSQL's programs run as postgres, from "/" (postgres may not
// enter a checkout under /root).
//
//   const c = await startCluster({ conf: "pyroscope.auth = basic\n" });
//   c.psql("SELECT 1"); c.base; c.restart(); c.stop();
//   env: PG_BIN (default /usr/lib/postgresql/15/bin; scripts/test.sh sets it)
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const PG_BIN = process.env.PG_BIN || "/usr/lib/postgresql/15/bin";
const asRoot = process.getuid && process.getuid() === 0;

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
}

function pg(cmd, args) {
  const full = path.join(PG_BIN, cmd);
  const [bin, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", full, ...args]] : [full, args];
  return execFileSync(bin, argv, { encoding: "utf8", cwd: "/" });
}

// GET /ready until it answers 200 (the workers start after the postmaster)
export async function waitReady(base) {
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`${base}/ready`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the HTTP API at ${base} did not become ready`);
}

// name: the temporary directory's prefix; conf: postgresql.conf lines
export async function startCluster({ name = "pyroscope-test", conf = "" } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  fs.chmodSync(dir, 0o755);
  if (asRoot) execFileSync("chown", ["postgres:postgres", dir]);
  const pgPort = await freePort();
  const httpPort = await freePort();
  const data = path.join(dir, "data");
  const log = path.join(dir, "log");
  pg("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
  fs.appendFileSync(path.join(data, "postgresql.conf"),
    `listen_addresses = ''\nport = ${pgPort}\nunix_socket_directories = '${dir}'\n` +
    `shared_preload_libraries = 'pyroscope'\npyroscope.http_port = ${httpPort}\nfsync = off\n` + conf);
  pg("pg_ctl", ["-D", data, "-l", log, "-w", "start"]);
  const c = {
    dir, pgPort, httpPort, data,
    base: `http://127.0.0.1:${httpPort}`,
    psql: (sql) => pg("psql", ["-XAtq", "-v", "ON_ERROR_STOP=1", "-h", dir, "-p", String(pgPort),
      "-d", "postgres", "-c", sql]).trim(),
    restart: () => pg("pg_ctl", ["-D", data, "-l", log, "-w", "restart"]),
    // stops the server and, unless keep, removes its directory
    stop: (keep = false) => {
      try {
        pg("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
      } catch (e) { /* already stopped */ }
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  c.psql("CREATE EXTENSION pyroscope");
  await waitReady(c.base);
  return c;
}
