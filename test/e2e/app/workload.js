// A program profiled by the real Pyroscope Node.js SDK for the explorer's
// browser test (ui.test.mjs).  Two workloads of one service, told apart by
// the tag "workload":
//   a: alphaHotUI about 80 % of the time, sharedWorkUI the rest
//   b: betaHotUI about 60 %, alphaHotUI 20 %, sharedWorkUI 20 %
// so that a diff of a against b shows betaHotUI as new and alphaHotUI as
// shrunk.  Pushes to the tenant and with the credentials it is given.
//
//   node workload.js SERVER SECONDS a|b TENANT USER PASSWORD
'use strict';

const Pyroscope = require('@pyroscope/nodejs');

const [server, secondsArg, workload, tenant, user, password] = process.argv.slice(2);
const seconds = Number(secondsArg || 10);

Pyroscope.init({
  serverAddress: server,
  appName: 'ui-node-app',
  flushIntervalMs: 3000,
  tags: { workload },
  tenantID: tenant,
  basicAuthUser: user,
  basicAuthPassword: password,
  wall: { collectCpuTime: true },
});
Pyroscope.start();

function spin(n, k) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * k + i) % 1000003;
  return x;
}
function alphaHotUI(n) { return spin(n, 31); }
function betaHotUI(n) { return spin(n, 37); }
function sharedWorkUI(n) { return spin(n, 41); }

let sink = 0;
const end = Date.now() + seconds * 1000;

function slice() {
  const stop = Date.now() + 50;
  while (Date.now() < stop) {
    const r = Math.random();
    if (workload === 'a') sink += r < 0.8 ? alphaHotUI(200000) : sharedWorkUI(200000);
    else if (r < 0.6) sink += betaHotUI(200000);
    else if (r < 0.8) sink += alphaHotUI(200000);
    else sink += sharedWorkUI(200000);
  }
  if (Date.now() < end) setImmediate(slice);
  else Pyroscope.stop().then(() => { console.log('done', sink % 10); process.exit(0); });
}
slice();
