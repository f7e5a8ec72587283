import json, sys
t = dict(req=0, unpriced=0, inp=0, out=0, cached=0, api=0.0, gpus=0.0, gpu=0.0, idle=0.0)
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "request" and r.get("role") == "client" and r.get("gen_ai.provider.name"):
        t["req"] += 1
        if r.get("price_source") == "missing": t["unpriced"] += 1
        t["inp"] += r.get("gen_ai.usage.input_tokens") or 0
        t["out"] += r.get("gen_ai.usage.output_tokens") or 0
        t["cached"] += r.get("gen_ai.usage.cache_read.input_tokens") or 0
        t["api"] += r.get("ListCost") or 0
    elif r["type"] == "usage":
        t["gpus"] += r.get("gpu.busy_seconds") or 0
        t["gpu"] += r.get("x_gpu_cost") or 0
        t["idle"] += r.get("x_gpu_idle_cost") or 0
    elif r["type"] == "cost" and r["x_workload"] == "idle":
        t["idle"] += r["ListCost"]
t["total"] = t["api"] + t["gpu"] + t["idle"]
print(json.dumps(t))
