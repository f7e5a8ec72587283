// HTTPS server on node's own TLS (https.createServer), for the infertrace
// integration tests. Usage: node node_server.js CERT KEY LOG
//
// Same protocol and log format as httpd.py: GET/POST /bytes/N answers N bytes,
// one request per connection ("Connection: close"), and one JSON line per
// connection in LOG with the exact plaintext byte counts of this process.
// On a TLSSocket, bytesRead/bytesWritten count plaintext (what went through
// SSL_read/SSL_write), which is what the agent reports.
'use strict';
const fs = require('fs');
const https = require('https');

const [cert, key, logPath] = process.argv.slice(2);
if (!logPath) {
  console.error('usage: node node_server.js CERT KEY LOG');
  process.exit(2);
}
const log = fs.openSync(logPath, 'a');

const server = https.createServer({
  cert: fs.readFileSync(cert),
  key: fs.readFileSync(key),
}, (req, res) => {
  const path = req.url.split('?')[0];
  const m = /^\/bytes\/(\d+)$/.exec(path);
  const body = Buffer.alloc(m ? Number(m[1]) : 0, 'x');
  req.socket.testPath = req.url;
  req.socket.testMethod = req.method;
  req.resume(); // consume (and count) any request body
  req.on('end', () => {
    // Explicit Content-Length: no chunked encoding, so the counts are simple.
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      'Connection': 'close',
    });
    res.end(body);
  });
});

server.on('secureConnection', (sock) => {
  // remotePort is gone once the socket is destroyed: keep it now.
  const entry = { client_address: sock.remoteAddress, client_port: sock.remotePort, tls: true };
  sock.on('close', () => {
    entry.server_port = server.address().port;
    entry.method = sock.testMethod;
    entry.path = sock.testPath;
    entry.bytes_received = sock.bytesRead;
    entry.bytes_sent = sock.bytesWritten;
    fs.writeSync(log, JSON.stringify(entry) + '\n');
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ event: 'listening', pid: process.pid, port: server.address().port }));
});
