// HTTP client on node's built-in fetch() (undici; node 18+), for the mock LLM
// server: what the OpenAI and Anthropic JavaScript SDKs use underneath.
//
//   node fetch_client.js SPEC.json
//
// SPEC: {"base": "https://127.0.0.1:PORT", "requests": [{"method", "path",
//        "headers", "body"}, ...]}. Requests run one after the other; undici
// keeps the connection alive between them. fetch() decodes gzip/br/deflate
// itself, so body_bytes is the DECODED body length. A test certificate is
// trusted with NODE_EXTRA_CA_CERTS.
//
// One JSON line per request: {"i", "status", "body_bytes", "t_start",
// "t_first_chunk", "t_end", "error", "content_encoding"}; exit status 0.
'use strict';
const fs = require('fs');

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  for (let i = 0; i < spec.requests.length; i++) {
    const r = spec.requests[i];
    const t0 = Date.now() / 1000;
    let status = null;
    let n = 0;
    let first = null;
    let error = null;
    let enc = null;
    try {
      const res = await fetch(spec.base + r.path, {
        method: r.method || 'POST', headers: r.headers || {}, body: r.body,
      });
      status = res.status;
      enc = res.headers.get('content-encoding');
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (first === null) first = Date.now() / 1000;
        n += value.length;
      }
    } catch (e) {
      error = String(e && e.cause ? e.message + ': ' + e.cause.message : e);
    }
    process.stdout.write(JSON.stringify({ i, status, body_bytes: n, t_start: t0, t_first_chunk: first,
                                          t_end: Date.now() / 1000, error, content_encoding: enc }) + '\n');
    if (error) break;
  }
}

main().then(() => process.exit(0), (e) => { console.error('fetch_client: ' + (e.stack || e)); process.exit(1); });
