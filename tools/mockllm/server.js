#!/usr/bin/env node
// Mock LLM API server for the infertrace tests: answers the request shapes of
// the OpenAI, Anthropic, Gemini, Ollama, Bedrock and Azure OpenAI APIs with
// realistic bodies (JSON, SSE, NDJSON, AWS event-stream) whose usage numbers
// come from request headers, so a test knows exactly what the agent must see.
//
//   node server.js --tls --cert CERT --key KEY [--port N] [--log FILE]
//   node server.js --plain [--port N] [--log FILE]
//
// --tls   HTTP/1.1 and HTTP/2 (ALPN) over TLS (http2.createSecureServer, allowHTTP1)
// --plain HTTP/1.1 without TLS: a self-hosted inference server (vLLM, Ollama)
// --port  0 (default): the kernel picks. Listens on 127.0.0.1 only.
// The first stdout line is {"port":N,"pid":P} once listening.
//
// Only built-in modules, and only APIs present in node 18.
// See README.md for the request headers and the log format.
'use strict';
const fs = require('fs');
const http = require('http');
const http2 = require('http2');
const zlib = require('zlib');
const crypto = require('crypto');

// ---------------------------------------------------------------------------
// Options

function usage(msg) {
  if (msg) process.stderr.write('mockllm: ' + msg + '\n');
  process.stderr.write('usage: node server.js (--tls --cert CERT --key KEY | --plain) ' +
                       '[--port N] [--log FILE]\n');
  process.exit(2);
}

const opts = { tls: false, plain: false, port: 0, log: null, cert: null, key: null };
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    const val = () => { if (i + 1 >= a.length) usage(k + ' needs a value'); return a[++i]; };
    if (k === '--tls') opts.tls = true;
    else if (k === '--plain') opts.plain = true;
    else if (k === '--port') opts.port = Number(val());
    else if (k === '--log') opts.log = val();
    else if (k === '--cert') opts.cert = val();
    else if (k === '--key') opts.key = val();
    else if (k === '-h' || k === '--help') usage();
    else usage('unknown argument ' + k);
  }
  if (opts.tls === opts.plain) usage('give exactly one of --tls and --plain');
  if (opts.tls && !(opts.cert && opts.key)) usage('--tls needs --cert and --key');
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('bad --port');
}

const logFd = opts.log ? fs.openSync(opts.log, 'a') : null;
function writeLog(entry) {
  if (logFd !== null) fs.writeSync(logFd, JSON.stringify(entry) + '\n');
}

// ---------------------------------------------------------------------------
// Small helpers

const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog',
               ' while', ' tokens', ' stream', ' by', ' one', ' at', ' a', ' time', '.'];

function sleep(ms) {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

function hdrInt(req, name, dflt) {
  const v = req.headers[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new MockError(400, name + ' must be a non-negative integer');
  return n;
}

class MockError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// Deterministic ids: derived from the request id header (or a counter), so two
// runs of a test produce the same bodies.
let seq = 0;
function ids(req) {
  const base = String(req.headers['x-mock-id'] || 'req' + (++seq));
  const h = crypto.createHash('sha256').update(base).digest('hex');
  return { hex: h, b62: h.slice(0, 24), num: parseInt(h.slice(0, 8), 16) };
}

const CREATED = 1767225600; // 2026-01-01T00:00:00Z: fixed, bodies are reproducible

function textChunks(n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(WORDS[i % WORDS.length]);
  return out;
}

// ---------------------------------------------------------------------------
// Usage numbers: request headers -> each provider's raw fields and the
// normalised OpenTelemetry GenAI totals (input includes cache reads and
// writes; output includes reasoning).

function usageFromHeaders(req) {
  return {
    input: hdrInt(req, 'x-mock-input-tokens', 11),
    output: hdrInt(req, 'x-mock-output-tokens', 7),
    cached: hdrInt(req, 'x-mock-cached-tokens', 0),
    cacheWrite: hdrInt(req, 'x-mock-cache-write-tokens', 0),
    reasoning: hdrInt(req, 'x-mock-reasoning-tokens', 0),
  };
}

// otel: what the agent must report (null: the provider does not report it).
function otel(input, output, cacheRead, cacheCreation, reasoning, rawIn, rawOut) {
  return {
    input_tokens: input, output_tokens: output,
    cache_read_input_tokens: cacheRead, cache_creation_input_tokens: cacheCreation,
    reasoning_output_tokens: reasoning,
    raw_input_tokens: rawIn, raw_output_tokens: rawOut,
  };
}

// ---------------------------------------------------------------------------
// Routes. Each returns a plan:
//   { family, operation, model, responseModel, stream, status, headers,
//     body (non-stream) | events [{data: Buffer|string, content: bool}],
//     cutAt (event index the cut stops before), usage (raw provider object),
//     otel, format ('json'|'sse'|'ndjson'|'eventstream') }

function openaiUsageChat(u) {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning, audio_tokens: 0,
      accepted_prediction_tokens: 0, rejected_prediction_tokens: 0,
    },
  };
}

function openaiOtel(u) {
  return otel(u.input, u.output, u.cached, null, u.reasoning, u.input, u.output);
}

function datedOpenAIModel(model) {
  if (!model) return 'gpt-4o-mini-2024-07-18';
  return /-\d{4}-\d\d-\d\d$/.test(model) ? model : model + '-2024-08-06';
}

function sse(obj, event) {
  const data = typeof obj === 'string' ? obj : JSON.stringify(obj);
  return (event ? 'event: ' + event + '\n' : '') + 'data: ' + data + '\n\n';
}

function routeChat(req, body, ctx, azure) {
  const u = usageFromHeaders(req);
  const id = 'chatcmpl-' + ctx.ids.b62;
  const reqModel = azure ? ctx.azureDeployment : body.model;
  const respModel = req.headers['x-mock-response-model'] ||
                    (azure ? 'gpt-4o-2024-08-06' : datedOpenAIModel(body.model));
  const stream = body.stream === true;
  const includeUsage = !!(body.stream_options && body.stream_options.include_usage);
  const fp = 'fp_' + ctx.ids.hex.slice(0, 10);
  const texts = textChunks(ctx.chunks);
  const plan = {
    family: azure ? 'azure' : 'openai', operation: 'chat', model: reqModel || null,
    responseModel: respModel, stream, usage: openaiUsageChat(u), otel: openaiOtel(u),
  };
  if (!stream) {
    plan.body = {
      id, object: 'chat.completion', created: CREATED, model: respModel,
      choices: [{
        index: 0,
        message: { role: 'assistant', content: texts.join(''), refusal: null, annotations: [] },
        logprobs: null, finish_reason: 'stop',
      }],
      usage: plan.usage, service_tier: 'default', system_fingerprint: fp,
    };
    if (azure) {
      plan.body.prompt_filter_results = [{ prompt_index: 0, content_filter_results: {} }];
      plan.body.choices[0].content_filter_results = {};
    }
    return plan;
  }
  const chunk = (choices, extra) => {
    const c = { id, object: 'chat.completion.chunk', created: CREATED, model: respModel,
                service_tier: 'default', system_fingerprint: fp, choices };
    if (includeUsage) c.usage = null;
    return Object.assign(c, extra || {});
  };
  const ev = [];
  if (azure) {
    // Azure sends the prompt filter results first: no id, an EMPTY model.
    ev.push({ data: sse({ choices: [], created: 0, id: '', model: '', object: '',
                          prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] }) });
  }
  ev.push({ data: sse(chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null },
                               logprobs: null, finish_reason: null }])) });
  for (const t of texts) {
    ev.push({ content: true, data: sse(chunk([{ index: 0, delta: { content: t }, logprobs: null,
                                                finish_reason: null }])) });
  }
  ev.push({ data: sse(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }])) });
  plan.cutAt = ev.length; // cut before the usage chunk (and [DONE])
  if (includeUsage) ev.push({ data: sse(chunk([], { usage: plan.usage })) });
  ev.push({ data: sse('[DONE]') });
  plan.events = ev;
  if (!includeUsage) {
    // No usage in the stream: nothing the agent could read.
    plan.usage = null;
    plan.otel = otel(null, null, null, null, null, null, null);
  }
  return plan;
}

function routeCompletions(req, body, ctx) {
  const u = usageFromHeaders(req);
  const id = 'cmpl-' + ctx.ids.b62;
  const respModel = req.headers['x-mock-response-model'] || body.model || 'gpt-3.5-turbo-instruct';
  const stream = body.stream === true;
  const includeUsage = !!(body.stream_options && body.stream_options.include_usage);
  const usage = { prompt_tokens: u.input, completion_tokens: u.output,
                  total_tokens: u.input + u.output };
  const texts = textChunks(ctx.chunks);
  const plan = {
    family: 'openai', operation: 'text_completion', model: body.model || null,
    responseModel: respModel, stream, usage,
    otel: otel(u.input, u.output, null, null, null, u.input, u.output),
  };
  if (!stream) {
    plan.body = { id, object: 'text_completion', created: CREATED, model: respModel,
                  choices: [{ text: texts.join(''), index: 0, logprobs: null, finish_reason: 'stop' }],
                  usage };
    return plan;
  }
  const ev = [];
  texts.forEach((t, i) => {
    const c = { id, object: 'text_completion', created: CREATED, model: respModel,
                choices: [{ text: t, index: 0, logprobs: null,
                            finish_reason: i === texts.length - 1 ? 'stop' : null }] };
    if (includeUsage) c.usage = null;
    ev.push({ content: true, data: sse(c) });
  });
  plan.cutAt = ev.length;
  if (includeUsage) {
    ev.push({ data: sse({ id, object: 'text_completion', created: CREATED, model: respModel,
                          choices: [], usage }) });
  } else {
    plan.usage = null;
    plan.otel = otel(null, null, null, null, null, null, null);
  }
  ev.push({ data: sse('[DONE]') });
  plan.events = ev;
  return plan;
}

function routeEmbeddings(req, body) {
  const u = usageFromHeaders(req);
  const respModel = req.headers['x-mock-response-model'] || body.model || 'text-embedding-3-small';
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const dims = Number(body.dimensions) > 0 ? Number(body.dimensions) : 8;
  const usage = { prompt_tokens: u.input, total_tokens: u.input };
  return {
    family: 'openai', operation: 'embeddings', model: body.model || null,
    responseModel: respModel, stream: false, usage,
    otel: otel(u.input, null, null, null, null, u.input, null),
    body: {
      object: 'list',
      data: inputs.map((_, i) => ({
        object: 'embedding', index: i,
        embedding: Array.from({ length: dims }, (__, k) => Number((((i + 1) * (k + 3)) % 17 / 17 - 0.5).toFixed(6))),
      })),
      model: respModel, usage,
    },
  };
}

function routeResponses(req, body, ctx) {
  const u = usageFromHeaders(req);
  const respModel = req.headers['x-mock-response-model'] || datedOpenAIModel(body.model);
  const stream = body.stream === true;
  const texts = textChunks(ctx.chunks);
  const rid = 'resp_' + ctx.ids.hex.slice(0, 48);
  const mid = 'msg_' + ctx.ids.hex.slice(16, 64);
  const usage = {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cached },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: u.input + u.output,
  };
  const item = (status, text) => ({
    id: mid, type: 'message', status, role: 'assistant',
    content: text === null ? [] : [{ type: 'output_text', annotations: [], logprobs: [], text }],
  });
  const response = (status, output, usageObj) => ({
    id: rid, object: 'response', created_at: CREATED, status, background: false, error: null,
    incomplete_details: null, instructions: null, max_output_tokens: null, model: respModel,
    output, parallel_tool_calls: true, previous_response_id: null,
    reasoning: { effort: null, summary: null }, store: true, temperature: 1.0,
    text: { format: { type: 'text' } }, tool_choice: 'auto', tools: [], top_p: 1.0,
    truncation: 'disabled', usage: usageObj, user: null, metadata: {},
  });
  const plan = {
    family: 'openai', operation: 'chat', model: body.model || null, responseModel: respModel,
    stream, usage, otel: openaiOtel(u),
  };
  if (!stream) {
    plan.body = response('completed', [item('completed', texts.join(''))], usage);
    return plan;
  }
  let n = 0;
  const e = (type, obj) => sse(Object.assign({ type, sequence_number: n++ }, obj), type);
  const ev = [];
  ev.push({ data: e('response.created', { response: response('in_progress', [], null) }) });
  ev.push({ data: e('response.in_progress', { response: response('in_progress', [], null) }) });
  ev.push({ data: e('response.output_item.added', { output_index: 0, item: item('in_progress', null) }) });
  ev.push({ data: e('response.content_part.added', {
    item_id: mid, output_index: 0, content_index: 0,
    part: { type: 'output_text', annotations: [], logprobs: [], text: '' } }) });
  for (const t of texts) {
    ev.push({ content: true, data: e('response.output_text.delta', {
      item_id: mid, output_index: 0, content_index: 0, delta: t, logprobs: [] }) });
  }
  const full = texts.join('');
  ev.push({ data: e('response.output_text.done', {
    item_id: mid, output_index: 0, content_index: 0, text: full, logprobs: [] }) });
  ev.push({ data: e('response.content_part.done', {
    item_id: mid, output_index: 0, content_index: 0,
    part: { type: 'output_text', annotations: [], logprobs: [], text: full } }) });
  ev.push({ data: e('response.output_item.done', { output_index: 0, item: item('completed', full) }) });
  plan.cutAt = ev.length;
  ev.push({ data: e('response.completed', {
    response: response('completed', [item('completed', full)], usage) }) });
  plan.events = ev;
  return plan;
}

function anthropicUsage(u) {
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: u.cacheWrite,
    cache_read_input_tokens: u.cached,
    output_tokens: u.output,
    service_tier: 'standard',
  };
}

function anthropicOtel(u) {
  // input_tokens excludes the cache: OTel's input includes reads and writes.
  return otel(u.input + u.cached + u.cacheWrite, u.output, u.cached, u.cacheWrite, null,
              u.input, u.output);
}

function routeMessages(req, body, ctx, opt) {
  const u = usageFromHeaders(req);
  const respModel = req.headers['x-mock-response-model'] || body.model || 'claude-sonnet-4-20250514';
  const stream = body.stream === true;
  const texts = textChunks(ctx.chunks);
  const id = (opt && opt.bedrock ? 'msg_bdrk_' : 'msg_') + ctx.ids.b62;
  const usage = anthropicUsage(u);
  const plan = {
    family: 'anthropic', operation: 'chat', model: body.model || null, responseModel: respModel,
    stream, usage, otel: anthropicOtel(u),
  };
  if (!stream) {
    plan.body = { id, type: 'message', role: 'assistant', model: respModel,
                  content: [{ type: 'text', text: texts.join('') }],
                  stop_reason: 'end_turn', stop_sequence: null, usage };
    return plan;
  }
  const ev = [];
  const startUsage = Object.assign({}, usage, { output_tokens: 1 });
  ev.push({ data: sse({ type: 'message_start', message: {
    id, type: 'message', role: 'assistant', model: respModel, content: [], stop_reason: null,
    stop_sequence: null, usage: startUsage } }, 'message_start') });
  ev.push({ data: sse({ type: 'content_block_start', index: 0,
                        content_block: { type: 'text', text: '' } }, 'content_block_start') });
  ev.push({ data: sse({ type: 'ping' }, 'ping') });
  for (const t of texts) {
    ev.push({ content: true, data: sse({ type: 'content_block_delta', index: 0,
                                         delta: { type: 'text_delta', text: t } },
                                       'content_block_delta') });
  }
  ev.push({ data: sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop') });
  plan.cutAt = ev.length; // the input numbers were in message_start; the output ones are not
  ev.push({ data: sse({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null },
                        usage: { output_tokens: u.output } }, 'message_delta') });
  ev.push({ data: sse({ type: 'message_stop' }, 'message_stop') });
  plan.events = ev;
  return plan;
}

function routeGemini(req, body, ctx, model, streaming) {
  const u = usageFromHeaders(req);
  const respModel = req.headers['x-mock-response-model'] || model;
  const texts = textChunks(ctx.chunks);
  // Gemini omits zero counts; promptTokenCount includes the cached content;
  // thoughts are billed as output but not part of candidatesTokenCount.
  const meta = (cand, final) => {
    const m = { promptTokenCount: u.input, candidatesTokenCount: cand };
    if (final && u.reasoning) m.thoughtsTokenCount = u.reasoning;
    m.totalTokenCount = u.input + cand + (final ? u.reasoning : 0);
    if (u.cached) m.cachedContentTokenCount = u.cached;
    m.promptTokensDetails = [{ modality: 'TEXT', tokenCount: u.input }];
    return m;
  };
  const respId = ctx.ids.b62;
  const plan = {
    family: 'gemini', operation: 'generate_content', model, responseModel: respModel,
    stream: streaming, usage: meta(u.output, true),
    otel: otel(u.input, u.output + u.reasoning, u.cached ? u.cached : null, null,
               u.reasoning ? u.reasoning : null, u.input, u.output),
  };
  const cand = (text, finish) => {
    const c = { content: { parts: [{ text }], role: 'model' } };
    if (finish) c.finishReason = 'STOP';
    c.index = 0;
    return c;
  };
  if (!streaming) {
    plan.body = { candidates: [cand(texts.join(''), true)], usageMetadata: plan.usage,
                  modelVersion: respModel, responseId: respId };
    return plan;
  }
  // Gemini's SSE uses CRLF line ends. Every chunk carries usageMetadata, the
  // candidates count growing: only the last one is the total.
  const ev = [];
  texts.forEach((t, i) => {
    const partial = Math.min(u.output, i + 1);
    ev.push({ content: true, data: 'data: ' + JSON.stringify({
      candidates: [cand(t, false)], usageMetadata: meta(partial, false),
      modelVersion: respModel, responseId: respId }) + '\r\n\r\n' });
  });
  plan.cutAt = ev.length;
  ev.push({ data: 'data: ' + JSON.stringify({
    candidates: [cand('', true)], usageMetadata: plan.usage, modelVersion: respModel,
    responseId: respId }) + '\r\n\r\n' });
  plan.events = ev;
  return plan;
}

function routeOllama(req, body, ctx, kind) {
  const u = usageFromHeaders(req);
  const respModel = req.headers['x-mock-response-model'] || body.model || 'llama3.2';
  // Ollama streams unless the request says "stream": false.
  const stream = body.stream !== false;
  const texts = textChunks(ctx.chunks);
  const at = (i) => new Date((CREATED + i) * 1000).toISOString().replace('.000Z', '.123456789Z');
  const final = (content) => {
    const o = { model: respModel, created_at: at(99) };
    if (kind === 'chat') o.message = { role: 'assistant', content };
    else o.response = content;
    o.done = true;
    o.done_reason = 'stop';
    if (kind === 'generate') o.context = [128006, 882, 128007, 271];
    Object.assign(o, {
      total_duration: 1234567890, load_duration: 12345678, prompt_eval_count: u.input,
      prompt_eval_duration: 2345678, eval_count: u.output, eval_duration: 987654321,
    });
    return o;
  };
  const plan = {
    family: 'ollama', operation: kind === 'chat' ? 'chat' : 'text_completion',
    model: body.model || null, responseModel: respModel, stream,
    usage: { prompt_eval_count: u.input, eval_count: u.output },
    otel: otel(u.input, u.output, null, null, null, u.input, u.output),
  };
  if (!stream) {
    plan.body = final(texts.join(''));
    return plan;
  }
  const ev = texts.map((t, i) => {
    const o = { model: respModel, created_at: at(i) };
    if (kind === 'chat') o.message = { role: 'assistant', content: t };
    else o.response = t;
    o.done = false;
    return { content: true, data: JSON.stringify(o) + '\n' };
  });
  plan.cutAt = ev.length;
  ev.push({ data: JSON.stringify(final('')) + '\n' });
  plan.events = ev;
  return plan;
}

function bedrockUsage(u) {
  const o = { inputTokens: u.input, outputTokens: u.output,
              totalTokens: u.input + u.output + u.cached + u.cacheWrite };
  if (u.cached || u.cacheWrite) {
    o.cacheReadInputTokens = u.cached;
    o.cacheWriteInputTokens = u.cacheWrite;
  }
  return o;
}

function bedrockOtel(u) {
  // Like Anthropic, inputTokens excludes cache reads and writes.
  const cache = u.cached || u.cacheWrite;
  return otel(u.input + u.cached + u.cacheWrite, u.output, cache ? u.cached : null,
              cache ? u.cacheWrite : null, null, u.input, u.output);
}

// AWS event-stream framing (application/vnd.amazon.eventstream): prelude
// (total length, headers length, CRC32 of both), headers, payload, CRC32.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf, start) {
  let c = (start === undefined ? 0 : start) ^ 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function eventStreamMessage(headers, payload) {
  const hparts = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(7, 1 + n.length); // string
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    hparts.push(h);
  }
  const hbuf = Buffer.concat(hparts);
  const pbuf = Buffer.from(payload);
  const total = 12 + hbuf.length + pbuf.length + 4;
  const msg = Buffer.alloc(total);
  msg.writeUInt32BE(total, 0);
  msg.writeUInt32BE(hbuf.length, 4);
  msg.writeUInt32BE(crc32(msg.subarray(0, 8)), 8);
  hbuf.copy(msg, 12);
  pbuf.copy(msg, 12 + hbuf.length);
  msg.writeUInt32BE(crc32(msg.subarray(0, total - 4)), total - 4);
  return msg;
}
function awsEvent(type, obj) {
  // Real Bedrock pads payloads with a "p" field so that sizes leak less.
  const payload = JSON.stringify(Object.assign({}, obj, { p: 'abcdefghijklmnopqrstuvwxyzABCDEF'.slice(0, 5 + (type.length % 7)) }));
  return eventStreamMessage({ ':event-type': type, ':content-type': 'application/json',
                              ':message-type': 'event' }, payload);
}

function routeBedrock(req, body, ctx, modelId, action) {
  const u = usageFromHeaders(req);
  const texts = textChunks(ctx.chunks);
  if (action === 'converse' || action === 'converse-stream') {
    const usage = bedrockUsage(u);
    const plan = {
      family: 'bedrock', operation: 'chat', model: modelId, responseModel: null,
      stream: action === 'converse-stream', usage, otel: bedrockOtel(u),
    };
    if (!plan.stream) {
      plan.body = {
        metrics: { latencyMs: 321 },
        output: { message: { content: [{ text: texts.join('') }], role: 'assistant' } },
        stopReason: 'end_turn', usage,
      };
      return plan;
    }
    const ev = [{ data: awsEvent('messageStart', { role: 'assistant' }) }];
    for (const t of texts) {
      ev.push({ content: true, data: awsEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: t } }) });
    }
    ev.push({ data: awsEvent('contentBlockStop', { contentBlockIndex: 0 }) });
    ev.push({ data: awsEvent('messageStop', { stopReason: 'end_turn' }) });
    plan.cutAt = ev.length;
    ev.push({ data: awsEvent('metadata', { usage, metrics: { latencyMs: 321 } }) });
    plan.events = ev;
    plan.format = 'eventstream';
    return plan;
  }
  // invoke: the model's own body; the counts are in response headers.
  const headers = {
    'x-amzn-bedrock-input-token-count': String(u.input),
    'x-amzn-bedrock-output-token-count': String(u.output),
    'x-amzn-bedrock-invocation-latency': '321',
  };
  let plan;
  if (modelId.startsWith('anthropic.')) {
    plan = routeMessages(req, Object.assign({}, body, { model: undefined, stream: false }), ctx,
                         { bedrock: true });
    plan.responseModel = plan.body.model = req.headers['x-mock-response-model'] ||
                                           modelId.replace(/^anthropic\./, '').replace(/-v\d+:\d+$/, '');
    plan.body.usage = { input_tokens: u.input, output_tokens: u.output };
    plan.usage = { headers, body: plan.body.usage };
  } else {
    // Meta Llama's native body: no model name in it.
    plan = {
      body: { generation: texts.join(''), prompt_token_count: u.input,
              generation_token_count: u.output, stop_reason: 'stop' },
      responseModel: null, usage: { headers },
    };
  }
  return Object.assign(plan, {
    family: 'bedrock', operation: 'invoke', model: modelId, stream: false,
    otel: otel(u.input, u.output, null, null, null, u.input, u.output), headers,
  });
}

function errorPlan(family, status, ctx) {
  const p = { family, status, stream: false, usage: null,
              otel: otel(null, null, null, null, null, null, null) };
  const rl = status === 429;
  const server = status >= 500;
  if (family === 'anthropic') {
    const type = rl ? 'rate_limit_error' : status === 529 ? 'overloaded_error' :
                 server ? 'api_error' : status === 401 ? 'authentication_error' : 'invalid_request_error';
    p.body = { type: 'error', error: { type, message: 'mock ' + type }, request_id: 'req_' + ctx.ids.b62 };
    p.errorType = type;
    p.errorCode = null;
  } else if (family === 'gemini') {
    const st = rl ? 'RESOURCE_EXHAUSTED' : server ? 'INTERNAL' : 'INVALID_ARGUMENT';
    p.body = { error: { code: status, message: 'mock ' + st, status: st } };
    p.errorType = st;
    p.errorCode = status;
  } else if (family === 'ollama') {
    p.body = { error: rl ? 'server busy, please try again. maximum pending requests exceeded'
                         : 'mock error ' + status };
    p.errorType = null;
    p.errorCode = null;
  } else if (family === 'bedrock') {
    const t = rl ? 'ThrottlingException' : server ? 'InternalServerException' : 'ValidationException';
    p.body = { message: rl ? 'Too many requests, please wait before trying again.' : 'mock ' + t };
    p.headers = { 'x-amzn-errortype': t + ':http://internal.amazon.com/coral/com.amazon.bedrock/' };
    p.errorType = t;
    p.errorCode = null;
  } else {
    const type = rl ? 'requests' : server ? 'server_error' : 'invalid_request_error';
    const code = rl ? 'rate_limit_exceeded' : null;
    p.body = { error: { message: rl ? 'Rate limit reached for requests' : 'mock ' + type,
                        type, param: null, code } };
    p.errorType = type;
    p.errorCode = code;
  }
  if (rl) p.headers = Object.assign({ 'retry-after': '1' }, p.headers || {});
  return p;
}

// Model listings (GET): HTTP exchanges with an inference server that are not
// inference; no usage.
function routeModelList(req, ctx) {
  const ollama = ctx.path === '/api/tags';
  const body = ollama
    ? { models: [{ name: 'llama3.2:3b', model: 'llama3.2:3b', size: 2019393189,
                   digest: ctx.ids.hex, details: { family: 'llama', parameter_size: '3.2B' } }] }
    : { object: 'list', data: ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'].map((id) => (
      { id, object: 'model', created: CREATED, owned_by: 'system' })) };
  return { family: ollama ? 'ollama' : 'openai', operation: null, model: null, responseModel: null,
           stream: false, usage: null, otel: otel(null, null, null, null, null, null, null), body };
}

// Which API a request is, from its path (the Host does not matter here: the
// tests choose the provider name the agent should give with the Host header).
function route(req, body, ctx) {
  const p = ctx.path;
  let m;
  if (req.method === 'GET' && (p === '/v1/models' || p === '/api/tags')) return routeModelList(req, ctx);
  if (p === '/v1/chat/completions' || p === '/chat/completions') return routeChat(req, body, ctx, false);
  if (p === '/v1/completions') return routeCompletions(req, body, ctx);
  if (p === '/v1/embeddings') return routeEmbeddings(req, body, ctx);
  if (p === '/v1/responses') return routeResponses(req, body, ctx);
  if (p === '/v1/messages') return routeMessages(req, body, ctx, null);
  if ((m = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(p))) {
    ctx.azureDeployment = decodeURIComponent(m[1]);
    return routeChat(req, body, ctx, true);
  }
  if ((m = /^\/v1(?:beta)?\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(p))) {
    return routeGemini(req, body, ctx, decodeURIComponent(m[1]), m[2] === 'streamGenerateContent');
  }
  if (p === '/api/chat') return routeOllama(req, body, ctx, 'chat');
  if (p === '/api/generate') return routeOllama(req, body, ctx, 'generate');
  if ((m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(p))) {
    return routeBedrock(req, body, ctx, decodeURIComponent(m[1]), m[2]);
  }
  throw new MockError(404, 'no mock route for ' + req.method + ' ' + p);
}

function familyOfPath(p) {
  if (p === '/v1/messages') return 'anthropic';
  if (/^\/v1(beta)?\/models\//.test(p)) return 'gemini';
  if (p.startsWith('/api/')) return 'ollama';
  if (p.startsWith('/model/')) return 'bedrock';
  if (p.startsWith('/openai/deployments/')) return 'azure';
  return 'openai';
}

// ---------------------------------------------------------------------------
// Sending: content-encoding, delays, cuts, byte counts

const ENCODERS = {
  gzip: { sync: zlib.gzipSync, stream: () => zlib.createGzip(), header: 'gzip' },
  'x-gzip': { sync: zlib.gzipSync, stream: () => zlib.createGzip(), header: 'x-gzip' },
  deflate: { sync: zlib.deflateSync, stream: () => zlib.createDeflate(), header: 'deflate' },
  // "deflate" on the wire but a raw deflate stream (no zlib header): some servers do this.
  'deflate-raw': { sync: zlib.deflateRawSync, stream: () => zlib.createDeflateRaw(), header: 'deflate' },
  br: {
    sync: (b) => zlib.brotliCompressSync(b),
    stream: () => zlib.createBrotliCompress(),
    header: 'br',
  },
};
if (typeof zlib.zstdCompressSync === 'function') { // node >= 22.15 / 23.8
  ENCODERS.zstd = { sync: (b) => zlib.zstdCompressSync(b), stream: () => zlib.createZstdCompress(), header: 'zstd' };
}

function contentType(plan) {
  if (!plan.stream || plan.status >= 400) return 'application/json';
  if (plan.format === 'eventstream') return 'application/vnd.amazon.eventstream';
  if (plan.family === 'ollama') return 'application/x-ndjson';
  return 'text/event-stream; charset=utf-8';
}

function baseHeaders(plan, ctx) {
  const h = { 'content-type': contentType(plan) };
  if (plan.family === 'openai' || plan.family === 'azure') {
    h['x-request-id'] = 'req_' + ctx.ids.hex.slice(0, 32);
    h['openai-processing-ms'] = '123';
    h['x-ratelimit-remaining-requests'] = '9999';
  } else if (plan.family === 'anthropic') {
    h['request-id'] = 'req_' + ctx.ids.b62;
    h['anthropic-ratelimit-requests-remaining'] = '999';
  } else if (plan.family === 'bedrock') {
    h['x-amzn-requestid'] = ctx.ids.hex.slice(0, 8) + '-' + ctx.ids.hex.slice(8, 12) + '-' +
                            ctx.ids.hex.slice(12, 16) + '-' + ctx.ids.hex.slice(16, 20) + '-' +
                            ctx.ids.hex.slice(20, 32);
  }
  if (plan.stream && plan.status < 400) h['cache-control'] = 'no-cache';
  return Object.assign(h, plan.headers || {});
}

// Abort the exchange abruptly: HTTP/1.1 -> the TCP connection is destroyed;
// HTTP/2 -> the stream is reset (RST_STREAM INTERNAL_ERROR).
function cut(req, res) {
  if (req.httpVersion === '2.0') req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  else req.socket.destroy();
}

function writeRaw(res, st, buf) {
  return new Promise((resolve) => {
    st.wire += buf.length;
    res.write(buf, () => resolve());
  });
}

async function sendPlan(req, res, plan, ctx) {
  const st = ctx.st;
  const enc = ctx.encoding ? ENCODERS[ctx.encoding] : null;
  const headers = baseHeaders(plan, ctx);
  if (enc) headers['content-encoding'] = enc.header;
  st.status = plan.status;

  if (!plan.stream || plan.status >= 400) {
    await sleep(ctx.delay);
    const decoded = Buffer.from(JSON.stringify(plan.body));
    const wire = enc ? enc.sync(decoded) : decoded;
    st.decoded = decoded.length;
    headers['content-length'] = String(wire.length);
    res.writeHead(plan.status, headers);
    if (ctx.headersFirst) {
      // The header block goes out on its own, the body a little later.
      if (typeof res.flushHeaders === 'function') res.flushHeaders();
      await sleep(20);
    }
    if (ctx.cut) {
      // Half the body, then the connection goes away.
      await writeRaw(res, st, wire.subarray(0, wire.length >> 1));
      await sleep(30);
      st.cut = true;
      cut(req, res);
      return;
    }
    st.wire += wire.length;
    st.firstByte = Date.now();
    await new Promise((resolve) => res.end(wire, resolve));
    return;
  }

  res.writeHead(plan.status, headers);
  if (typeof res.flushHeaders === 'function') res.flushHeaders();
  let zs = null;
  const pending = [];
  if (enc) {
    zs = enc.stream();
    zs.on('data', (c) => pending.push(c));
  }
  const emit = async (buf) => {
    st.decoded += buf.length;
    if (!zs) return writeRaw(res, st, buf);
    zs.write(buf);
    await new Promise((r) => zs.flush(r));
    await new Promise((r) => setImmediate(r)); // let the flushed output's 'data' events run
    const out = Buffer.concat(pending.splice(0));
    if (out.length) await writeRaw(res, st, out);
  };
  const events = plan.events;
  const limit = ctx.cut ? plan.cutAt : events.length;
  let sawContent = false;
  for (let i = 0; i < limit; i++) {
    const ev = events[i];
    if (i > 0) await sleep(ctx.gap);
    if (ev.content && !sawContent) {
      await sleep(ctx.delay);
      sawContent = true;
      st.firstContent = Date.now();
    }
    await emit(Buffer.from(ev.data));
    st.events++;
  }
  if (ctx.cut) {
    await sleep(30);
    st.cut = true;
    cut(req, res);
    if (zs) zs.destroy();
    return;
  }
  if (zs) {
    await new Promise((r) => { zs.on('end', r); zs.end(); });
    const out = Buffer.concat(pending.splice(0));
    if (out.length) await writeRaw(res, st, out);
  }
  await new Promise((resolve) => res.end(resolve));
}

// ---------------------------------------------------------------------------
// Request handling and the log

function handle(req, res) {
  const t0 = Date.now();
  const q = req.url.indexOf('?');
  const ctx = {
    path: q >= 0 ? req.url.slice(0, q) : req.url,
    st: { status: 0, wire: 0, decoded: 0, events: 0, cut: false, firstContent: null, firstByte: null },
  };
  const entry = {
    id: req.headers['x-mock-id'] || null,
    method: req.method,
    url: req.url,
    path: ctx.path,
    http_version: req.httpVersion === '2.0' ? '2' : req.httpVersion,
    host: req.headers.host || req.headers[':authority'] || null,
    client_port: req.socket ? req.socket.remotePort : null,
    server_port: req.socket ? req.socket.localPort : null,
    accept_encoding: req.headers['accept-encoding'] || null,
    t_request: t0 / 1000,
  };
  let reqBytes = 0;
  const parts = [];
  req.on('data', (c) => { reqBytes += c.length; parts.push(c); });
  let logged = false;
  const done = (err) => {
    if (logged) return;
    logged = true;
    const st = ctx.st;
    const plan = ctx.plan || {};
    Object.assign(entry, {
      status: st.status,
      family: plan.family || null,
      operation: plan.operation || null,
      model: plan.model === undefined ? null : plan.model,
      response_model: plan.responseModel === undefined ? null : plan.responseModel,
      stream: plan.stream === undefined ? null : plan.stream,
      usage: plan.usage === undefined ? null : plan.usage,
      otel: plan.otel || null,
      error_type: plan.errorType || null,
      error_code: plan.errorCode === undefined ? null : plan.errorCode,
      encoding: ctx.encoding || null,
      content_encoding: ctx.encoding && ENCODERS[ctx.encoding] ? ENCODERS[ctx.encoding].header : null,
      request_body_bytes: reqBytes,
      response_body_bytes: st.wire,
      response_body_decoded_bytes: st.decoded,
      stream_events: st.events,
      cut: st.cut,
      delay_ms: ctx.delay || 0,
      gap_ms: ctx.gap || 0,
      t_first_content: st.firstContent === null ? null : st.firstContent / 1000,
      t_end: Date.now() / 1000,
    });
    if (err) entry.error = String(err && err.message ? err.message : err);
    writeLog(entry);
  };
  req.on('error', () => {});
  res.on('error', () => {});
  req.on('end', async () => {
    try {
      ctx.ids = ids(req);
      ctx.delay = hdrInt(req, 'x-mock-delay-ms', 0);
      ctx.gap = hdrInt(req, 'x-mock-event-gap-ms', 0);
      ctx.chunks = hdrInt(req, 'x-mock-chunks', 3);
      ctx.cut = req.headers['x-mock-cut'] === '1';
      ctx.headersFirst = req.headers['x-mock-headers-first'] === '1';
      ctx.encoding = req.headers['x-mock-encoding'] || null;
      if (ctx.encoding === 'identity') ctx.encoding = null;
      if (ctx.encoding && !ENCODERS[ctx.encoding]) {
        throw new MockError(400, 'x-mock-encoding ' + ctx.encoding + ' is not supported by this node (' +
                            process.version + '): use one of ' + Object.keys(ENCODERS).join(', '));
      }
      const status = hdrInt(req, 'x-mock-status', 200);
      let body = {};
      const raw = Buffer.concat(parts).toString('utf8');
      if (raw.length) {
        try { body = JSON.parse(raw); } catch (e) { throw new MockError(400, 'request body is not JSON: ' + e.message); }
      }
      let plan;
      if (status >= 400) {
        // Errors come as JSON even for stream requests (as the providers do);
        // still parse the request for the model and the stream flag.
        let ok = null;
        try { ok = route(req, body, ctx); } catch (e) { ok = null; }
        plan = errorPlan(familyOfPath(ctx.path), status, ctx);
        if (ok) {
          plan.operation = ok.operation;
          plan.model = ok.model;
          plan.stream = false;
          plan.requestStream = ok.stream;
        }
        plan.responseModel = null;
      } else {
        plan = route(req, body, ctx);
        plan.status = status;
      }
      ctx.plan = plan;
      if (plan.requestStream !== undefined) entry.request_stream = plan.requestStream;
      else entry.request_stream = plan.stream;
      res.on('close', () => done(null));
      await sendPlan(req, res, plan, ctx);
      done(null);
    } catch (e) {
      const status = e instanceof MockError ? e.status : 500;
      ctx.st.status = status;
      try {
        if (!res.headersSent) {
          const b = Buffer.from(JSON.stringify({ error: { message: 'mockllm: ' + e.message, type: 'mock_error' } }));
          res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(b.length) });
          res.end(b);
        } else {
          cut(req, res);
        }
      } catch (_) { /* the peer is gone */ }
      process.stderr.write('mockllm: ' + req.method + ' ' + req.url + ': ' + (e.stack || e) + '\n');
      done(e);
    }
  });
}

let server;
if (opts.tls) {
  server = http2.createSecureServer({
    cert: fs.readFileSync(opts.cert),
    key: fs.readFileSync(opts.key),
    allowHTTP1: true,
  }, handle);
} else {
  server = http.createServer(handle);
  server.keepAliveTimeout = 30000;
}
server.on('clientError', (err, sock) => { try { sock.destroy(); } catch (_) { /* gone */ } });
server.on('sessionError', () => {});
server.listen(opts.port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, pid: process.pid }) + '\n');
});
// A bug in one exchange must not take the server (and every later test) down.
process.on('uncaughtException', (e) => process.stderr.write('mockllm: uncaught: ' + (e.stack || e) + '\n'));
process.on('unhandledRejection', (e) => process.stderr.write('mockllm: unhandled: ' + (e && e.stack || e) + '\n'));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
