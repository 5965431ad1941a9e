// A small program profiled by the real Pyroscope Node.js SDK: it burns CPU
// in hotFunctionE2E (about 80 % of the time) and coldFunctionE2E, and pushes
// its profiles to the server given as argv[2] every few seconds.
'use strict';

const Pyroscope = require('@pyroscope/nodejs');

const server = process.argv[2];
const seconds = Number(process.argv[3] || 20);

Pyroscope.init({
  serverAddress: server,
  appName: 'e2e-node-app',
  flushIntervalMs: 5000,
  tags: { suite: 'e2e' },
  wall: { collectCpuTime: true },
});
Pyroscope.start();

function hotFunctionE2E(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
  return x;
}

function coldFunctionE2E(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + i * 7) % 1000033;
  return x;
}

const end = Date.now() + seconds * 1000;
let sink = 0;

// every slice is a span, as a tracing integration would label it: its
// samples carry the pprof labels span_id (16 hex digits, from 0x1000 up)
// and trace_id (32 hex digits: four consecutive spans make one trace)
let spanNo = 0x1000;

function work() {
  const stop = Date.now() + 50;
  while (Date.now() < stop) {
    sink += hotFunctionE2E(400000);
    if (Math.random() < 0.25) sink += coldFunctionE2E(400000);
  }
}

function slice() {
  // run in slices so that the SDK's timers get to flush
  const span = spanNo++;
  Pyroscope.wrapWithLabels({
    span_id: span.toString(16).padStart(16, '0'),
    trace_id: Math.floor(span / 4).toString(16).padStart(32, '0'),
  }, work);
  if (Date.now() < end) setImmediate(slice);
  else Pyroscope.stop().then(() => { console.log('done', sink % 10); process.exit(0); });
}
slice();
