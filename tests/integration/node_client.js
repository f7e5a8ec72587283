// HTTPS client on node's own TLS (https.get), for the infertrace integration
// tests. Usage: node node_client.js URL
//
// Prints one JSON line {"status", "body_bytes", "local_port"} and exits 0 when
// the whole body was read. The test's self-signed certificate is not checked
// (rejectUnauthorized: false): what is tested is the traffic, not PKI.
'use strict';
const https = require('https');

const url = process.argv[2];
const req = https.get(url, {
  rejectUnauthorized: false,
  agent: false,                     // no keep-alive pool: one connection, then exit
  headers: { Connection: 'close' },
}, (res) => {
  let n = 0;
  const localPort = res.socket.localPort;
  res.on('data', (d) => { n += d.length; });
  res.on('end', () => {
    console.log(JSON.stringify({ status: res.statusCode, body_bytes: n, local_port: localPort }));
  });
});
req.on('error', (e) => {
  console.error('node_client: ' + e.message);
  process.exit(1);
});
