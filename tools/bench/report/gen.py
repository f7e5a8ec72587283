#!/usr/bin/env python3
"""Generate infertrace JSON lines shaped as docs/schema.md says, for
benchmarking `infertrace report`: gen.py SIZE_MB OUT [SEED]."""
import json, random, sys

size = int(sys.argv[1]) * 1000 * 1000
out = sys.argv[2]
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)

pods = ["3f2b8c1e-%04x-4a6b-9d1e-7c0a5b2e%04x" % (i, i) for i in range(200)]
models = [("openai", "gpt-4o-2024-08-06", 2.5e-6, 10e-6), ("openai", "gpt-4o-mini", 0.15e-6, 0.6e-6),
          ("anthropic", "claude-sonnet-4-5", 3e-6, 15e-6), ("gcp.gemini", "gemini-2.5-pro", 1.25e-6, 10e-6),
          ("openai_compatible", "llama-3.1-70b", None, None)]
gpus = ["GPU-5f3c9a7e-1b2d-4c3e-8f9a-0b1c2d3e4f%02x" % i for i in range(8)]

def ts(t):
    s = int(t); ns = int((t - s) * 1e9)
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%09dZ" % ns

def wl(pod):
    return {"workload": "k8s:" + pod, "workload.kind": "pod", "container.id": None,
            "container.runtime": None, "k8s.pod.uid": pod, "k8s.pod.qos_class": "burstable",
            "systemd.unit": None, "labels": {"team": "search"}}

t0 = 1795000000.0
written = 0
n = 0
with open(out, "w") as f:
    buf = []
    while written < size:
        t = t0 + n * 0.01
        n += 1
        pod = rnd.choice(pods)
        r = rnd.random()
        if r < 0.70:
            prov, model, pin, pout = rnd.choice(models)
            inp = rnd.randint(50, 20000); outp = rnd.randint(1, 2000); cr = rnd.randint(0, inp // 2)
            cost = None if pin is None else (inp - cr) * pin + cr * pin / 10 + outp * pout
            rec = {"type": "request", "time": ts(t), "schema_version": 1, "pid": 1000 + pods.index(pod),
                   "comm": "python3", "cgroup_id": 4242, "role": "client", **wl(pod),
                   "client.address": "10.0.0.5", "client.port": 45236, "server.address": "api.openai.com",
                   "server.port": 443, "network.peer.address": "162.159.140.245", "tls.library": "openssl",
                   "network.protocol.name": "http", "network.protocol.version": "2",
                   "http.request.method": "POST", "url.path": "/v1/chat/completions",
                   "http.response.status_code": 200, "gen_ai.provider.name": prov,
                   "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                   "gen_ai.response.model": model, "gen_ai.request.stream": True,
                   "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": outp,
                   "gen_ai.usage.cache_read.input_tokens": cr, "gen_ai.usage.cache_creation.input_tokens": 0,
                   "gen_ai.usage.reasoning.output_tokens": None, "x_provider_input_tokens": inp,
                   "x_provider_output_tokens": outp, "usage_source": "provider",
                   "start_time": ts(t - 1.5), "end_time": ts(t), "duration_s": 1.5,
                   "time_to_first_token_s": 0.21, "stream_events": 120, "http.request.body.size": 4000,
                   "http.response.body.size": 30000, "request_body_decoded_bytes": 4000,
                   "response_body_decoded_bytes": 30000, "http.response.content_encoding": None,
                   "outcome": "ok", "truncated": False, "x_cache_creation_1h_input_tokens": None,
                   "x_service_tier": "standard",
                   "price_source": "missing" if cost is None else "table", "ListCost": cost,
                   "EffectiveCost": cost, "BillingCurrency": "USD", "x_cost_estimated": False}
            if cost is not None:
                rec["x_cost_breakdown"] = {"input": (inp - cr) * pin, "cache_read": cr * pin / 10,
                                           "cache_write": 0, "output": outp * pout, "reasoning": 0}
                rec["x_price_ref"] = {"table": "prices/default.json", "key": model, "version": "2026-11-01",
                                      "tier": "base", "service_tier": "standard"}
            else:
                rec["x_price_ref"] = None
        elif r < 0.85:
            g = rnd.randrange(8)
            busy = rnd.random() * 10; gc = busy / 3600 * 2.49; ic = rnd.random() * 0.003
            rec = {"type": "usage", "time": ts(t), "schema_version": 1, "pid": 2000 + g, "comm": "vllm",
                   "cgroup_id": 777, **wl(pod), "interval_start": ts(t - 10), "interval_end": ts(t),
                   "bytes_sent": 123456, "bytes_received": 23456, "connections": 3, "calls": 300,
                   "requests": 12, "gen_ai.usage.input_tokens": 0, "gen_ai.usage.output_tokens": 0,
                   "estimated_input_tokens": 0, "estimated_output_tokens": 0, "partial": False,
                   "x_api_cost": 0, "x_api_cost_estimated": 0, "x_unpriced_requests": 0,
                   "x_gpu_cost": gc, "x_gpu_idle_cost": ic, "x_gpu_price_source": "table",
                   "ListCost": gc + ic, "EffectiveCost": gc + ic, "BillingCurrency": "USD",
                   "accelerator": "NVIDIA H100 80GB HBM3", "accelerator.uuid": gpus[g], "gpu.device": g,
                   "gpu.busy_seconds": busy, "gpu.busy_seconds_ebpf": busy, "gpu_time_source": "nvml",
                   "gpu.launches": 40000, "gpu.graph_launches": 300, "gpu.memcpy_bytes.htod": 1000000,
                   "gpu.memcpy_bytes.dtoh": 20000, "gpu.memcpy_bytes.dtod": 0, "gpu.memcpy_bytes.other": 0,
                   "gpu.mem_bytes": 70000000000, "gpu.mem_peak_bytes": 72000000000,
                   "gpu.sync_wait_seconds": 1.2}
        elif r < 0.95:
            idle = rnd.random() < 0.2
            q = rnd.random() * 0.0027; c = q * 2.49
            rec = {"type": "cost", "time": ts(t), "schema_version": 1, "ChargePeriodStart": ts(t - 10),
                   "ChargePeriodEnd": ts(t), "ChargeCategory": "Usage", "BillingCurrency": "USD",
                   "ServiceCategory": "AI and Machine Learning", "ServiceName": "accelerator",
                   "SkuMeter": "GPU idle hours" if idle else "GPU hours", "ResourceId": rnd.choice(gpus),
                   "ConsumedQuantity": q, "ConsumedUnit": "Hours", "PricingQuantity": q,
                   "PricingUnit": "Hours", "ListUnitPrice": 2.49, "ListCost": c, "EffectiveCost": c,
                   "x_workload": "idle" if idle else "k8s:" + pod, "x_estimated": False,
                   "x_price_key": "nvidia-h100-80gb", "x_price_version": "2026-11-01",
                   "host.name": "gpu-node-7",
                   "Tags": {} if idle else {"workload": "k8s:" + pod, "workload.kind": "pod",
                                            "k8s.pod.uid": pod, "team": "search"}}
        else:
            rec = {"type": "connection", "time": ts(t), "schema_version": 1, "pid": 1234, "comm": "curl",
                   "cgroup_id": 1, "role": "client", **wl(pod), "client.address": "127.0.0.1",
                   "client.port": 56592, "server.address": "127.0.0.1", "server.port": 8443,
                   "tls.library": "openssl", "bytes_sent": 79, "bytes_received": 1060, "calls": 2,
                   "start_time": ts(t - 1), "end_time": ts(t), "close_reason": "closed",
                   "network.protocol.version": "1.1", "http.missed_start": False}
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        buf.append(line)
        written += len(line)
        if len(buf) >= 10000:
            f.write("".join(buf)); buf = []
    f.write("".join(buf))
print(n, "records", written, "bytes")
