// A tiny Node.js service (a stand-in for seed 001's agile-nodered): answers GET / on --port
// (default 8082) with its name, version and uptime as JSON, and GET /health with "ok".
'use strict';
const http = require('http');

const VERSION = '1';
const i = process.argv.indexOf('--port');
const port = i >= 0 ? Number(process.argv[i + 1]) : 8082;
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('node-hello: --port must be 1..65535');
  process.exit(2);
}
const started = Date.now();
const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ service: 'node-hello', version: VERSION, uptime_ms: Date.now() - started }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
server.listen(port, () => console.log(`node-hello ${VERSION} listening on :${port}`));
