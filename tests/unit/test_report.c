// SPDX-License-Identifier: MIT
/*
 * infertrace report: totals against sums worked out by hand over a small
 * file of records shaped as docs/schema.md says, every grouping, time
 * ranges, each output format, malformed lines with their line numbers,
 * gzip told by its magic, bounded lines and groups, and that nothing is
 * counted twice (usage ListCost, workload cost rows, a served request's
 * x_accelerator_cost).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "report/report.h"

/*
 * One host, two 10-second intervals across midnight UTC, a $3.60/hour
 * H100 (GPU-...4f50) and a second, unused one (GPU-...beef).
 *
 * By hand (billed figures only; estimated tokens kept apart):
 *   requests: 4 client inference requests (the served one and /healthz
 *             are not API calls); 1 unpriced (llama), 1 estimated (mini)
 *   input tokens  1200 + 1050 + 500 = 2750   (+ 400 estimated)
 *   output tokens  300 +    7 + 100 =  407   (+  50 estimated)
 *   cached input  1000 + 1000       = 2000
 *   API $   0.00475 + 0.000555 = 0.005305    (+ 0.00009 estimated)
 *   GPU s   6.5 + 4 = 10.5
 *   GPU $   0.0065 + 0.004 = 0.0105
 *   idle $  0.0035 + 0.006 (vllm's share) + 0.01 + 0.01 (idle workload)
 *           = 0.0295
 *   total   0.005305 + 0.0105 + 0.0295 = 0.045305
 * Not added: usage ListCost/x_api_cost, cost rows of real workloads, the
 * served request's x_accelerator_cost 0.004, the agent's cost_usd.
 */
static const char fixture[] =
	"{\"type\":\"agent\",\"time\":\"2026-11-27T23:59:41.002113000Z\",\"schema_version\":1"
	",\"event\":\"start\",\"version\":\"0.1.0\",\"pid\":812,\"events\":0,\"lost\":0,\"requests\":0"
	",\"cost_usd\":0}\n"

	"{\"type\":\"request\",\"time\":\"2026-11-27T23:59:52.500000000Z\",\"schema_version\":1"
	",\"pid\":4242,\"comm\":\"python3\",\"cgroup_id\":9123,\"role\":\"client\""
	",\"workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"workload.kind\":\"pod\""
	",\"container.id\":\"4f9a1c2b3d4e\",\"container.runtime\":\"containerd\""
	",\"k8s.pod.uid\":\"7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\""
	",\"k8s.pod.qos_class\":\"burstable\",\"systemd.unit\":null,\"labels\":{\"team\":\"search\"}"
	",\"client.address\":\"10.0.3.7\",\"client.port\":45236"
	",\"server.address\":\"api.openai.com\",\"server.port\":443"
	",\"network.peer.address\":\"162.159.140.245\",\"tls.library\":\"openssl\""
	",\"network.protocol.name\":\"http\",\"network.protocol.version\":\"2\""
	",\"http.request.method\":\"POST\",\"url.path\":\"/v1/chat/completions\""
	",\"http.response.status_code\":200,\"gen_ai.provider.name\":\"openai\""
	",\"gen_ai.operation.name\":\"chat\",\"gen_ai.request.model\":\"gpt-4o\""
	",\"gen_ai.response.model\":\"gpt-4o-2024-08-06\",\"gen_ai.request.stream\":true"
	",\"gen_ai.usage.input_tokens\":1200,\"gen_ai.usage.output_tokens\":300"
	",\"gen_ai.usage.cache_read.input_tokens\":1000"
	",\"gen_ai.usage.cache_creation.input_tokens\":0"
	",\"gen_ai.usage.reasoning.output_tokens\":0,\"x_provider_input_tokens\":1200"
	",\"x_provider_output_tokens\":300,\"usage_source\":\"provider\""
	",\"start_time\":\"2026-11-27T23:59:50.100000000Z\""
	",\"end_time\":\"2026-11-27T23:59:52.500000000Z\",\"duration_s\":2.4"
	",\"time_to_first_token_s\":0.31,\"stream_events\":64,\"http.request.body.size\":5210"
	",\"http.response.body.size\":9876,\"request_body_decoded_bytes\":5210"
	",\"response_body_decoded_bytes\":9876,\"http.response.content_encoding\":null"
	",\"outcome\":\"ok\",\"truncated\":false,\"x_cache_creation_1h_input_tokens\":null"
	",\"x_service_tier\":\"standard\",\"price_source\":\"table\",\"ListCost\":0.00475"
	",\"EffectiveCost\":0.00475,\"BillingCurrency\":\"USD\",\"x_cost_estimated\":false"
	",\"x_cost_breakdown\":{\"input\":0.0005,\"cache_read\":0.00125,\"cache_write\":0"
	",\"output\":0.003,\"reasoning\":0},\"x_price_ref\":{\"table\":\"prices/default.json\""
	",\"key\":\"openai/gpt-4o-2024-08-06\",\"version\":\"2026-11-01\",\"tier\":\"base\""
	",\"service_tier\":\"standard\"}}\n"

	"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:03.000000000Z\",\"schema_version\":1"
	",\"pid\":4242,\"comm\":\"python3\",\"cgroup_id\":9123,\"role\":\"client\""
	",\"workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"workload.kind\":\"pod\""
	",\"container.id\":\"4f9a1c2b3d4e\",\"container.runtime\":\"containerd\""
	",\"k8s.pod.uid\":\"7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\""
	",\"k8s.pod.qos_class\":\"burstable\",\"systemd.unit\":null,\"labels\":{\"team\":\"search\"}"
	",\"client.address\":\"10.0.3.7\",\"client.port\":45240"
	",\"server.address\":\"api.anthropic.com\",\"server.port\":443"
	",\"network.peer.address\":\"160.79.104.10\",\"tls.library\":\"openssl\""
	",\"network.protocol.name\":\"http\",\"network.protocol.version\":\"2\""
	",\"http.request.method\":\"POST\",\"url.path\":\"/v1/messages\""
	",\"http.response.status_code\":200,\"gen_ai.provider.name\":\"anthropic\""
	",\"gen_ai.operation.name\":\"chat\",\"gen_ai.request.model\":\"claude-sonnet-4-5\""
	",\"gen_ai.response.model\":\"claude-sonnet-4-5\",\"gen_ai.request.stream\":true"
	",\"gen_ai.usage.input_tokens\":1050,\"gen_ai.usage.output_tokens\":7"
	",\"gen_ai.usage.cache_read.input_tokens\":1000"
	",\"gen_ai.usage.cache_creation.input_tokens\":0"
	",\"gen_ai.usage.reasoning.output_tokens\":null,\"x_provider_input_tokens\":50"
	",\"x_provider_output_tokens\":7,\"usage_source\":\"provider\""
	",\"start_time\":\"2026-11-28T00:00:02.990000000Z\""
	",\"end_time\":\"2026-11-28T00:00:03.000000000Z\",\"duration_s\":0.01"
	",\"time_to_first_token_s\":0.005,\"stream_events\":9,\"http.request.body.size\":98"
	",\"http.response.body.size\":828,\"request_body_decoded_bytes\":98"
	",\"response_body_decoded_bytes\":1126,\"http.response.content_encoding\":\"gzip\""
	",\"outcome\":\"ok\",\"truncated\":false,\"x_cache_creation_1h_input_tokens\":0"
	",\"x_service_tier\":\"standard\",\"price_source\":\"table\",\"ListCost\":0.000555"
	",\"EffectiveCost\":0.000555,\"BillingCurrency\":\"USD\",\"x_cost_estimated\":false"
	",\"x_cost_breakdown\":{\"input\":0.00015,\"cache_read\":0.0003,\"cache_write\":0"
	",\"output\":0.000105,\"reasoning\":0},\"x_price_ref\":{\"table\":\"prices/default.json\""
	",\"key\":\"anthropic/claude-sonnet-4-5\",\"version\":\"2026-11-01\",\"tier\":\"base\""
	",\"service_tier\":\"standard\"}}\n"

	"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:05.000000000Z\",\"schema_version\":1"
	",\"pid\":5151,\"comm\":\"node\",\"cgroup_id\":777,\"role\":\"client\""
	",\"workload\":\"systemd:batch.service\",\"workload.kind\":\"systemd\""
	",\"container.id\":null,\"container.runtime\":null,\"k8s.pod.uid\":null"
	",\"k8s.pod.qos_class\":null,\"systemd.unit\":\"batch.service\",\"labels\":{}"
	",\"client.address\":\"10.0.3.7\",\"client.port\":51000,\"server.address\":\"llm.internal\""
	",\"server.port\":8000,\"network.peer.address\":\"10.0.9.9\",\"tls.library\":null"
	",\"network.protocol.name\":\"http\",\"network.protocol.version\":\"1.1\""
	",\"http.request.method\":\"POST\",\"url.path\":\"/v1/chat/completions\""
	",\"http.response.status_code\":200,\"gen_ai.provider.name\":\"openai_compatible\""
	",\"gen_ai.operation.name\":\"chat\",\"gen_ai.request.model\":\"llama-3.1-70b\""
	",\"gen_ai.response.model\":\"llama-3.1-70b\",\"gen_ai.request.stream\":false"
	",\"gen_ai.usage.input_tokens\":500,\"gen_ai.usage.output_tokens\":100"
	",\"gen_ai.usage.cache_read.input_tokens\":null"
	",\"gen_ai.usage.cache_creation.input_tokens\":null"
	",\"gen_ai.usage.reasoning.output_tokens\":null,\"x_provider_input_tokens\":500"
	",\"x_provider_output_tokens\":100,\"usage_source\":\"provider\""
	",\"start_time\":\"2026-11-28T00:00:04.000000000Z\""
	",\"end_time\":\"2026-11-28T00:00:05.000000000Z\",\"duration_s\":1"
	",\"time_to_first_token_s\":null,\"stream_events\":0,\"http.request.body.size\":700"
	",\"http.response.body.size\":1500,\"request_body_decoded_bytes\":700"
	",\"response_body_decoded_bytes\":1500,\"http.response.content_encoding\":null"
	",\"outcome\":\"ok\",\"truncated\":false,\"x_cache_creation_1h_input_tokens\":null"
	",\"x_service_tier\":\"standard\",\"price_source\":\"missing\",\"ListCost\":null"
	",\"EffectiveCost\":null,\"x_price_ref\":null,\"BillingCurrency\":\"USD\"}\n"

	"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:06.000000000Z\",\"schema_version\":1"
	",\"pid\":5151,\"comm\":\"node\",\"cgroup_id\":777,\"role\":\"client\""
	",\"workload\":\"systemd:batch.service\",\"workload.kind\":\"systemd\""
	",\"container.id\":null,\"container.runtime\":null,\"k8s.pod.uid\":null"
	",\"k8s.pod.qos_class\":null,\"systemd.unit\":\"batch.service\",\"labels\":{}"
	",\"client.address\":\"10.0.3.7\",\"client.port\":51002"
	",\"server.address\":\"api.openai.com\",\"server.port\":443"
	",\"network.peer.address\":\"162.159.140.245\",\"tls.library\":\"openssl\""
	",\"network.protocol.name\":\"http\",\"network.protocol.version\":\"1.1\""
	",\"http.request.method\":\"POST\",\"url.path\":\"/v1/chat/completions\""
	",\"http.response.status_code\":200,\"gen_ai.provider.name\":\"openai\""
	",\"gen_ai.operation.name\":\"chat\",\"gen_ai.request.model\":\"gpt-4o-mini\""
	",\"gen_ai.response.model\":null,\"gen_ai.request.stream\":true"
	",\"gen_ai.usage.input_tokens\":400,\"gen_ai.usage.output_tokens\":50"
	",\"gen_ai.usage.cache_read.input_tokens\":null"
	",\"gen_ai.usage.cache_creation.input_tokens\":null"
	",\"gen_ai.usage.reasoning.output_tokens\":null,\"x_provider_input_tokens\":null"
	",\"x_provider_output_tokens\":null,\"usage_source\":\"estimated\""
	",\"start_time\":\"2026-11-28T00:00:05.500000000Z\""
	",\"end_time\":\"2026-11-28T00:00:06.000000000Z\",\"duration_s\":0.5"
	",\"time_to_first_token_s\":0.1,\"stream_events\":12,\"http.request.body.size\":1600"
	",\"http.response.body.size\":200,\"request_body_decoded_bytes\":1600"
	",\"response_body_decoded_bytes\":200,\"http.response.content_encoding\":null"
	",\"outcome\":\"incomplete\",\"truncated\":true,\"x_cache_creation_1h_input_tokens\":null"
	",\"x_service_tier\":\"standard\",\"price_source\":\"table\",\"ListCost\":0.00009"
	",\"EffectiveCost\":0.00009,\"BillingCurrency\":\"USD\",\"x_cost_estimated\":true"
	",\"x_cost_breakdown\":{\"input\":0.00006,\"cache_read\":0,\"cache_write\":0"
	",\"output\":0.00003,\"reasoning\":0},\"x_price_ref\":{\"table\":\"prices/default.json\""
	",\"key\":\"openai/gpt-4o-mini\",\"version\":\"2026-11-01\",\"tier\":\"base\""
	",\"service_tier\":\"standard\"}}\n"

	"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:07.000000000Z\",\"schema_version\":1"
	",\"pid\":5151,\"comm\":\"node\",\"cgroup_id\":777,\"role\":\"client\""
	",\"workload\":\"systemd:batch.service\",\"workload.kind\":\"systemd\""
	",\"container.id\":null,\"container.runtime\":null,\"k8s.pod.uid\":null"
	",\"k8s.pod.qos_class\":null,\"systemd.unit\":\"batch.service\",\"labels\":{}"
	",\"client.address\":\"10.0.3.7\",\"client.port\":51004,\"server.address\":\"10.0.9.9\""
	",\"server.port\":8000,\"network.peer.address\":\"10.0.9.9\",\"tls.library\":null"
	",\"network.protocol.name\":\"http\",\"network.protocol.version\":\"1.1\""
	",\"http.request.method\":\"GET\",\"url.path\":\"/healthz\""
	",\"http.response.status_code\":200,\"gen_ai.provider.name\":null"
	",\"gen_ai.operation.name\":null,\"gen_ai.request.model\":null"
	",\"gen_ai.response.model\":null,\"gen_ai.request.stream\":null"
	",\"gen_ai.usage.input_tokens\":null,\"gen_ai.usage.output_tokens\":null"
	",\"gen_ai.usage.cache_read.input_tokens\":null"
	",\"gen_ai.usage.cache_creation.input_tokens\":null"
	",\"gen_ai.usage.reasoning.output_tokens\":null,\"x_provider_input_tokens\":null"
	",\"x_provider_output_tokens\":null,\"usage_source\":\"missing\""
	",\"start_time\":\"2026-11-28T00:00:06.900000000Z\""
	",\"end_time\":\"2026-11-28T00:00:07.000000000Z\",\"duration_s\":0.1"
	",\"time_to_first_token_s\":null,\"stream_events\":0,\"http.request.body.size\":0"
	",\"http.response.body.size\":2,\"request_body_decoded_bytes\":0"
	",\"response_body_decoded_bytes\":2,\"http.response.content_encoding\":null"
	",\"outcome\":\"ok\",\"truncated\":false}\n"

	"{\"type\":\"connection\",\"time\":\"2026-11-27T23:59:59.000000000Z\",\"schema_version\":1"
	",\"pid\":4242,\"comm\":\"python3\",\"cgroup_id\":9123,\"role\":\"client\""
	",\"workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"workload.kind\":\"pod\""
	",\"client.address\":\"10.0.3.7\",\"client.port\":45236"
	",\"server.address\":\"162.159.140.245\",\"server.port\":443,\"tls.library\":\"openssl\""
	",\"bytes_sent\":5300,\"bytes_received\":10100,\"calls\":12"
	",\"start_time\":\"2026-11-27T23:59:50.000000000Z\""
	",\"end_time\":\"2026-11-27T23:59:52.600000000Z\",\"close_reason\":\"closed\""
	",\"network.protocol.version\":\"2\",\"http.missed_start\":false}\n"

	"{\"type\":\"usage\",\"time\":\"2026-11-28T00:00:00.000000000Z\",\"schema_version\":1"
	",\"pid\":4242,\"comm\":\"python3\",\"cgroup_id\":9123"
	",\"workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"workload.kind\":\"pod\""
	",\"container.id\":\"4f9a1c2b3d4e\",\"container.runtime\":\"containerd\""
	",\"k8s.pod.uid\":\"7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\""
	",\"k8s.pod.qos_class\":\"burstable\",\"systemd.unit\":null,\"labels\":{\"team\":\"search\"}"
	",\"interval_start\":\"2026-11-27T23:59:50.000000000Z\""
	",\"interval_end\":\"2026-11-28T00:00:00.000000000Z\",\"bytes_sent\":5300"
	",\"bytes_received\":10100,\"connections\":1,\"calls\":12,\"requests\":1"
	",\"gen_ai.usage.input_tokens\":1200,\"gen_ai.usage.output_tokens\":300"
	",\"estimated_input_tokens\":0,\"estimated_output_tokens\":0,\"partial\":false"
	",\"x_api_cost\":0.00475,\"x_api_cost_estimated\":0,\"x_unpriced_requests\":0"
	",\"ListCost\":0.00475,\"EffectiveCost\":0.00475,\"BillingCurrency\":\"USD\"}\n"

	"{\"type\":\"usage\",\"time\":\"2026-11-28T00:00:00.000000000Z\",\"schema_version\":1"
	",\"pid\":7000,\"comm\":\"vllm\",\"cgroup_id\":8800"
	",\"workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\",\"workload.kind\":\"pod\""
	",\"container.id\":\"9e8d7c6b5a4f\",\"container.runtime\":\"containerd\""
	",\"k8s.pod.uid\":\"0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\""
	",\"k8s.pod.qos_class\":\"guaranteed\",\"systemd.unit\":null,\"labels\":{}"
	",\"interval_start\":\"2026-11-27T23:59:50.000000000Z\""
	",\"interval_end\":\"2026-11-28T00:00:00.000000000Z\",\"bytes_sent\":20000"
	",\"bytes_received\":4000,\"connections\":2,\"calls\":40,\"requests\":0"
	",\"gen_ai.usage.input_tokens\":0,\"gen_ai.usage.output_tokens\":0"
	",\"estimated_input_tokens\":0,\"estimated_output_tokens\":0,\"partial\":false"
	",\"x_api_cost\":0,\"x_api_cost_estimated\":0,\"x_unpriced_requests\":0"
	",\"x_gpu_cost\":0.0065,\"x_gpu_idle_cost\":0.0035,\"x_gpu_price_source\":\"table\""
	",\"ListCost\":0.01,\"EffectiveCost\":0.01,\"BillingCurrency\":\"USD\""
	",\"accelerator\":\"NVIDIA H100 80GB HBM3\""
	",\"accelerator.uuid\":\"GPU-5f3c9a7e-1b2d-4c3e-8f9a-0b1c2d3e4f50\",\"gpu.device\":0"
	",\"gpu.busy_seconds\":6.5,\"gpu.busy_seconds_ebpf\":6.4,\"gpu_time_source\":\"nvml\""
	",\"gpu.launches\":41000,\"gpu.graph_launches\":320,\"gpu.memcpy_bytes.htod\":1048576"
	",\"gpu.memcpy_bytes.dtoh\":20480,\"gpu.memcpy_bytes.dtod\":0"
	",\"gpu.memcpy_bytes.other\":0,\"gpu.mem_bytes\":70000000000"
	",\"gpu.mem_peak_bytes\":72000000000,\"gpu.sync_wait_seconds\":1.2}\n"

	"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:00.000000000Z\",\"schema_version\":1"
	",\"ChargePeriodStart\":\"2026-11-27T23:59:50.000000000Z\""
	",\"ChargePeriodEnd\":\"2026-11-28T00:00:00.000000000Z\",\"ChargeCategory\":\"Usage\""
	",\"BillingCurrency\":\"USD\",\"ServiceCategory\":\"AI and Machine Learning\""
	",\"ServiceName\":\"openai\",\"SkuMeter\":\"input tokens\""
	",\"ResourceId\":\"gpt-4o-2024-08-06\",\"ConsumedQuantity\":200,\"ConsumedUnit\":\"Tokens\""
	",\"PricingQuantity\":0.0002,\"PricingUnit\":\"1M Tokens\",\"ListUnitPrice\":2.5"
	",\"ListCost\":0.0005,\"EffectiveCost\":0.0005"
	",\"x_workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"x_estimated\":false"
	",\"x_price_key\":\"openai/gpt-4o-2024-08-06\",\"x_price_version\":\"2026-11-01\""
	",\"host.name\":\"gpu-node-7\""
	",\"Tags\":{\"workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\""
	",\"workload.kind\":\"pod\",\"container.id\":\"4f9a1c2b3d4e\""
	",\"k8s.pod.uid\":\"7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"team\":\"search\"}}\n"

	"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:00.000000000Z\",\"schema_version\":1"
	",\"ChargePeriodStart\":\"2026-11-27T23:59:50.000000000Z\""
	",\"ChargePeriodEnd\":\"2026-11-28T00:00:00.000000000Z\",\"ChargeCategory\":\"Usage\""
	",\"BillingCurrency\":\"USD\",\"ServiceCategory\":\"AI and Machine Learning\""
	",\"ServiceName\":\"openai\",\"SkuMeter\":\"cached input tokens\""
	",\"ResourceId\":\"gpt-4o-2024-08-06\",\"ConsumedQuantity\":1000"
	",\"ConsumedUnit\":\"Tokens\",\"PricingQuantity\":0.001,\"PricingUnit\":\"1M Tokens\""
	",\"ListUnitPrice\":1.25,\"ListCost\":0.00125,\"EffectiveCost\":0.00125"
	",\"x_workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"x_estimated\":false"
	",\"x_price_key\":\"openai/gpt-4o-2024-08-06\",\"x_price_version\":\"2026-11-01\""
	",\"host.name\":\"gpu-node-7\""
	",\"Tags\":{\"workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\""
	",\"workload.kind\":\"pod\",\"container.id\":\"4f9a1c2b3d4e\""
	",\"k8s.pod.uid\":\"7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"team\":\"search\"}}\n"

	"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:00.000000000Z\",\"schema_version\":1"
	",\"ChargePeriodStart\":\"2026-11-27T23:59:50.000000000Z\""
	",\"ChargePeriodEnd\":\"2026-11-28T00:00:00.000000000Z\",\"ChargeCategory\":\"Usage\""
	",\"BillingCurrency\":\"USD\",\"ServiceCategory\":\"AI and Machine Learning\""
	",\"ServiceName\":\"openai\",\"SkuMeter\":\"output tokens\""
	",\"ResourceId\":\"gpt-4o-2024-08-06\",\"ConsumedQuantity\":300,\"ConsumedUnit\":\"Tokens\""
	",\"PricingQuantity\":0.0003,\"PricingUnit\":\"1M Tokens\",\"ListUnitPrice\":10"
	",\"ListCost\":0.003,\"EffectiveCost\":0.003"
	",\"x_workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"x_estimated\":false"
	",\"x_price_key\":\"openai/gpt-4o-2024-08-06\",\"x_price_version\":\"2026-11-01\""
	",\"host.name\":\"gpu-node-7\""
	",\"Tags\":{\"workload\":\"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\""
	",\"workload.kind\":\"pod\",\"container.id\":\"4f9a1c2b3d4e\""
	",\"k8s.pod.uid\":\"7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a\",\"team\":\"search\"}}\n"

	"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:00.000000000Z\",\"schema_version\":1"
	",\"ChargePeriodStart\":\"2026-11-27T23:59:50.000000000Z\""
	",\"ChargePeriodEnd\":\"2026-11-28T00:00:00.000000000Z\",\"ChargeCategory\":\"Usage\""
	",\"BillingCurrency\":\"USD\",\"ServiceCategory\":\"AI and Machine Learning\""
	",\"ServiceName\":\"accelerator\",\"SkuMeter\":\"GPU hours\""
	",\"ResourceId\":\"GPU-5f3c9a7e-1b2d-4c3e-8f9a-0b1c2d3e4f50\""
	",\"ConsumedQuantity\":0.001805555555555556,\"ConsumedUnit\":\"Hours\""
	",\"PricingQuantity\":0.001805555555555556,\"PricingUnit\":\"Hours\""
	",\"ListUnitPrice\":3.6,\"ListCost\":0.0065,\"EffectiveCost\":0.0065"
	",\"x_workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\",\"x_estimated\":false"
	",\"x_price_key\":\"nvidia-h100-80gb\",\"x_price_version\":\"2026-11-01\""
	",\"host.name\":\"gpu-node-7\""
	",\"Tags\":{\"workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\""
	",\"workload.kind\":\"pod\",\"container.id\":\"9e8d7c6b5a4f\""
	",\"k8s.pod.uid\":\"0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\"}}\n"

	"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:00.000000000Z\",\"schema_version\":1"
	",\"ChargePeriodStart\":\"2026-11-27T23:59:50.000000000Z\""
	",\"ChargePeriodEnd\":\"2026-11-28T00:00:00.000000000Z\",\"ChargeCategory\":\"Usage\""
	",\"BillingCurrency\":\"USD\",\"ServiceCategory\":\"AI and Machine Learning\""
	",\"ServiceName\":\"accelerator\",\"SkuMeter\":\"GPU idle hours\""
	",\"ResourceId\":\"GPU-5f3c9a7e-1b2d-4c3e-8f9a-0b1c2d3e4f50\""
	",\"ConsumedQuantity\":0.0009722222222222222,\"ConsumedUnit\":\"Hours\""
	",\"PricingQuantity\":0.0009722222222222222,\"PricingUnit\":\"Hours\""
	",\"ListUnitPrice\":3.6,\"ListCost\":0.0035,\"EffectiveCost\":0.0035"
	",\"x_workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\",\"x_estimated\":false"
	",\"x_price_key\":\"nvidia-h100-80gb\",\"x_price_version\":\"2026-11-01\""
	",\"host.name\":\"gpu-node-7\""
	",\"Tags\":{\"workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\""
	",\"workload.kind\":\"pod\",\"container.id\":\"9e8d7c6b5a4f\""
	",\"k8s.pod.uid\":\"0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\"}}\n"

	"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:00.000000000Z\",\"schema_version\":1"
	",\"ChargePeriodStart\":\"2026-11-27T23:59:50.000000000Z\""
	",\"ChargePeriodEnd\":\"2026-11-28T00:00:00.000000000Z\",\"ChargeCategory\":\"Usage\""
	",\"BillingCurrency\":\"USD\",\"ServiceCategory\":\"AI and Machine Learning\""
	",\"ServiceName\":\"accelerator\",\"SkuMeter\":\"GPU idle hours\""
	",\"ResourceId\":\"GPU-a1b2c3d4-0000-4000-8000-00000000beef\""
	",\"ConsumedQuantity\":0.002777777777777778,\"ConsumedUnit\":\"Hours\""
	",\"PricingQuantity\":0.002777777777777778,\"PricingUnit\":\"Hours\""
	",\"ListUnitPrice\":3.6,\"ListCost\":0.01,\"EffectiveCost\":0.01,\"x_workload\":\"idle\""
	",\"x_estimated\":false,\"x_price_key\":\"nvidia-h100-80gb\""
	",\"x_price_version\":\"2026-11-01\",\"host.name\":\"gpu-node-7\""
	",\"Tags\":{\"workload\":\"idle\",\"workload.kind\":\"idle\"}}\n"

	"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00.001000000Z\",\"schema_version\":1"
	",\"event\":\"interval\",\"version\":\"0.1.0\",\"pid\":812"
	",\"interval_start\":\"2026-11-27T23:59:50.000000000Z\""
	",\"interval_end\":\"2026-11-28T00:00:00.000000000Z\",\"events\":1234,\"lost\":0"
	",\"requests\":1,\"requests_priced\":1,\"requests_unpriced\":0,\"cost_usd\":0.02475}\n"

	"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:08.000000000Z\",\"schema_version\":1"
	",\"pid\":7000,\"comm\":\"vllm\",\"cgroup_id\":8800,\"role\":\"server\""
	",\"workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\",\"workload.kind\":\"pod\""
	",\"container.id\":\"9e8d7c6b5a4f\",\"container.runtime\":\"containerd\""
	",\"k8s.pod.uid\":\"0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\""
	",\"k8s.pod.qos_class\":\"guaranteed\",\"systemd.unit\":null,\"labels\":{}"
	",\"client.address\":\"10.0.3.7\",\"client.port\":51000,\"server.address\":\"llm.internal\""
	",\"server.port\":8000,\"network.peer.address\":\"10.0.3.7\",\"tls.library\":null"
	",\"network.protocol.name\":\"http\",\"network.protocol.version\":\"1.1\""
	",\"http.request.method\":\"POST\",\"url.path\":\"/v1/chat/completions\""
	",\"http.response.status_code\":200,\"gen_ai.provider.name\":\"openai_compatible\""
	",\"gen_ai.operation.name\":\"chat\",\"gen_ai.request.model\":\"llama-3.1-70b\""
	",\"gen_ai.response.model\":\"llama-3.1-70b\",\"gen_ai.request.stream\":false"
	",\"gen_ai.usage.input_tokens\":500,\"gen_ai.usage.output_tokens\":100"
	",\"gen_ai.usage.cache_read.input_tokens\":null"
	",\"gen_ai.usage.cache_creation.input_tokens\":null"
	",\"gen_ai.usage.reasoning.output_tokens\":null,\"x_provider_input_tokens\":500"
	",\"x_provider_output_tokens\":100,\"usage_source\":\"provider\""
	",\"start_time\":\"2026-11-28T00:00:04.000000000Z\""
	",\"end_time\":\"2026-11-28T00:00:05.000000000Z\",\"duration_s\":1"
	",\"time_to_first_token_s\":null,\"stream_events\":0,\"http.request.body.size\":700"
	",\"http.response.body.size\":1500,\"request_body_decoded_bytes\":700"
	",\"response_body_decoded_bytes\":1500,\"http.response.content_encoding\":null"
	",\"outcome\":\"ok\",\"truncated\":false,\"x_cache_creation_1h_input_tokens\":null"
	",\"x_service_tier\":\"standard\",\"price_source\":\"accelerator\",\"x_gpu_seconds\":2"
	",\"x_accelerator_cost\":0.004}\n"

	"{\"type\":\"usage\",\"time\":\"2026-11-28T00:00:10.000000000Z\",\"schema_version\":1"
	",\"pid\":7000,\"comm\":\"vllm\",\"cgroup_id\":8800"
	",\"workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\",\"workload.kind\":\"pod\""
	",\"container.id\":\"9e8d7c6b5a4f\",\"container.runtime\":\"containerd\""
	",\"k8s.pod.uid\":\"0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\""
	",\"k8s.pod.qos_class\":\"guaranteed\",\"systemd.unit\":null,\"labels\":{}"
	",\"interval_start\":\"2026-11-28T00:00:00.000000000Z\""
	",\"interval_end\":\"2026-11-28T00:00:10.000000000Z\",\"bytes_sent\":1500"
	",\"bytes_received\":700,\"connections\":1,\"calls\":4,\"requests\":1"
	",\"gen_ai.usage.input_tokens\":500,\"gen_ai.usage.output_tokens\":100"
	",\"estimated_input_tokens\":0,\"estimated_output_tokens\":0,\"partial\":false"
	",\"x_api_cost\":0,\"x_api_cost_estimated\":0,\"x_unpriced_requests\":0"
	",\"x_gpu_cost\":0.004,\"x_gpu_idle_cost\":0.006,\"x_gpu_price_source\":\"table\""
	",\"ListCost\":0.01,\"EffectiveCost\":0.01,\"BillingCurrency\":\"USD\""
	",\"accelerator\":\"NVIDIA H100 80GB HBM3\""
	",\"accelerator.uuid\":\"GPU-5f3c9a7e-1b2d-4c3e-8f9a-0b1c2d3e4f50\",\"gpu.device\":0"
	",\"gpu.busy_seconds\":4,\"gpu.busy_seconds_ebpf\":4.1,\"gpu_time_source\":\"nvml\""
	",\"gpu.launches\":25000,\"gpu.graph_launches\":200,\"gpu.memcpy_bytes.htod\":524288"
	",\"gpu.memcpy_bytes.dtoh\":10240,\"gpu.memcpy_bytes.dtod\":0"
	",\"gpu.memcpy_bytes.other\":0,\"gpu.mem_bytes\":70000000000"
	",\"gpu.mem_peak_bytes\":72000000000,\"gpu.sync_wait_seconds\":0.8}\n"

	"{\"type\":\"usage\",\"time\":\"2026-11-28T00:00:10.000000000Z\",\"schema_version\":1"
	",\"pid\":5151,\"comm\":\"node\",\"cgroup_id\":777,\"workload\":\"systemd:batch.service\""
	",\"workload.kind\":\"systemd\",\"container.id\":null,\"container.runtime\":null"
	",\"k8s.pod.uid\":null,\"k8s.pod.qos_class\":null,\"systemd.unit\":\"batch.service\""
	",\"labels\":{},\"interval_start\":\"2026-11-28T00:00:00.000000000Z\""
	",\"interval_end\":\"2026-11-28T00:00:10.000000000Z\",\"bytes_sent\":2400"
	",\"bytes_received\":1800,\"connections\":3,\"calls\":9,\"requests\":2"
	",\"gen_ai.usage.input_tokens\":500,\"gen_ai.usage.output_tokens\":100"
	",\"estimated_input_tokens\":400,\"estimated_output_tokens\":50,\"partial\":false"
	",\"x_api_cost\":0,\"x_api_cost_estimated\":0.00009,\"x_unpriced_requests\":1"
	",\"ListCost\":0,\"EffectiveCost\":0,\"BillingCurrency\":\"USD\"}\n"

	"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:10.000000000Z\",\"schema_version\":1"
	",\"ChargePeriodStart\":\"2026-11-28T00:00:00.000000000Z\""
	",\"ChargePeriodEnd\":\"2026-11-28T00:00:10.000000000Z\",\"ChargeCategory\":\"Usage\""
	",\"BillingCurrency\":\"USD\",\"ServiceCategory\":\"AI and Machine Learning\""
	",\"ServiceName\":\"accelerator\",\"SkuMeter\":\"GPU hours\""
	",\"ResourceId\":\"GPU-5f3c9a7e-1b2d-4c3e-8f9a-0b1c2d3e4f50\""
	",\"ConsumedQuantity\":0.001111111111111111,\"ConsumedUnit\":\"Hours\""
	",\"PricingQuantity\":0.001111111111111111,\"PricingUnit\":\"Hours\""
	",\"ListUnitPrice\":3.6,\"ListCost\":0.004,\"EffectiveCost\":0.004"
	",\"x_workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\",\"x_estimated\":false"
	",\"x_price_key\":\"nvidia-h100-80gb\",\"x_price_version\":\"2026-11-01\""
	",\"host.name\":\"gpu-node-7\""
	",\"Tags\":{\"workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\""
	",\"workload.kind\":\"pod\",\"container.id\":\"9e8d7c6b5a4f\""
	",\"k8s.pod.uid\":\"0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\"}}\n"

	"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:10.000000000Z\",\"schema_version\":1"
	",\"ChargePeriodStart\":\"2026-11-28T00:00:00.000000000Z\""
	",\"ChargePeriodEnd\":\"2026-11-28T00:00:10.000000000Z\",\"ChargeCategory\":\"Usage\""
	",\"BillingCurrency\":\"USD\",\"ServiceCategory\":\"AI and Machine Learning\""
	",\"ServiceName\":\"accelerator\",\"SkuMeter\":\"GPU idle hours\""
	",\"ResourceId\":\"GPU-5f3c9a7e-1b2d-4c3e-8f9a-0b1c2d3e4f50\""
	",\"ConsumedQuantity\":0.001666666666666667,\"ConsumedUnit\":\"Hours\""
	",\"PricingQuantity\":0.001666666666666667,\"PricingUnit\":\"Hours\""
	",\"ListUnitPrice\":3.6,\"ListCost\":0.006,\"EffectiveCost\":0.006"
	",\"x_workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\",\"x_estimated\":false"
	",\"x_price_key\":\"nvidia-h100-80gb\",\"x_price_version\":\"2026-11-01\""
	",\"host.name\":\"gpu-node-7\""
	",\"Tags\":{\"workload\":\"k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\""
	",\"workload.kind\":\"pod\",\"container.id\":\"9e8d7c6b5a4f\""
	",\"k8s.pod.uid\":\"0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b\"}}\n"

	"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:10.000000000Z\",\"schema_version\":1"
	",\"ChargePeriodStart\":\"2026-11-28T00:00:00.000000000Z\""
	",\"ChargePeriodEnd\":\"2026-11-28T00:00:10.000000000Z\",\"ChargeCategory\":\"Usage\""
	",\"BillingCurrency\":\"USD\",\"ServiceCategory\":\"AI and Machine Learning\""
	",\"ServiceName\":\"accelerator\",\"SkuMeter\":\"GPU idle hours\""
	",\"ResourceId\":\"GPU-a1b2c3d4-0000-4000-8000-00000000beef\""
	",\"ConsumedQuantity\":0.002777777777777778,\"ConsumedUnit\":\"Hours\""
	",\"PricingQuantity\":0.002777777777777778,\"PricingUnit\":\"Hours\""
	",\"ListUnitPrice\":3.6,\"ListCost\":0.01,\"EffectiveCost\":0.01,\"x_workload\":\"idle\""
	",\"x_estimated\":false,\"x_price_key\":\"nvidia-h100-80gb\""
	",\"x_price_version\":\"2026-11-01\",\"host.name\":\"gpu-node-7\""
	",\"Tags\":{\"workload\":\"idle\",\"workload.kind\":\"idle\"}}\n"

	"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:10.001000000Z\",\"schema_version\":1"
	",\"event\":\"stop\",\"version\":\"0.1.0\",\"pid\":812"
	",\"interval_start\":\"2026-11-28T00:00:00.000000000Z\""
	",\"interval_end\":\"2026-11-28T00:00:10.000000000Z\",\"events\":2345,\"lost\":0"
	",\"requests\":5,\"requests_priced\":3,\"requests_unpriced\":1,\"cost_usd\":0.045305}\n";

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_report.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* tmpdir/name; the path stays valid for the next 16 calls */
static const char *tmp_path(const char *name)
{
	static char paths[16][160];
	static int slot;
	char *p = paths[slot++ % 16];

	snprintf(p, 160, "%s/%s", tmpdir, name);
	return p;
}

static const char *write_file(const char *name, const char *text, size_t n)
{
	const char *p = tmp_path(name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return p;
}

static const char *write_tmp(const char *name, const char *text)
{
	return write_file(name, text, strlen(text));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

struct run {
	int rc;
	char *out, *err;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* cmd_report with stdout and stderr caught in files, stdin from a file
 * when given. args end with NULL. */
static struct run run_in(const char *stdin_path, const char *first, ...)
{
	static char outp[160], errp[160]; /* apart from tmp_path's slots */
	const char *argv[64] = { "report" };
	int argc = 1, so, se, si = -1, fd;
	struct run r;
	va_list ap;

	snprintf(outp, sizeof(outp), "%s/stdout", tmpdir);
	snprintf(errp, sizeof(errp), "%s/stderr", tmpdir);
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	close(fd);
	fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	if (stdin_path) {
		si = dup(0);
		fd = open(stdin_path, O_RDONLY);
		assert_true(fd >= 0);
		dup2(fd, 0);
		close(fd);
	}
	r.rc = cmd_report(argc, (char **)argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	if (si >= 0) {
		dup2(si, 0);
		close(si);
	}
	r.out = slurp(outp);
	r.err = slurp(errp);
	return r;
}

#define run(...) run_in(NULL, __VA_ARGS__, NULL)

static const char *fixture_path(void)
{
	return write_tmp("fixture.jsonl", fixture);
}

/* ---- JSON helpers ---- */

static cJSON *parse_json(const struct run *r)
{
	cJSON *o = cJSON_Parse(r->out);

	if (!o)
		fprintf(stderr, "not JSON:\n%s\n", r->out);
	assert_non_null(o);
	return o;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("'%s' is not a number", key);
	return v->valuedouble;
}

static bool is_null(const cJSON *o, const char *key)
{
	return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The group whose key field k1 is v1. */
static const cJSON *group(const cJSON *o, const char *k1, const char *v1)
{
	const cJSON *g;

	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(o, "groups")) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, k1);

		if (cJSON_IsString(v) && !strcmp(v->valuestring, v1))
			return g;
	}
	fail_msg("no group %s=%s", k1, v1);
	return NULL;
}

static int ngroups(const cJSON *o)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "groups"));
}

#define assert_near(a, b) assert_true(fabs_((a) - (b)) < 1e-9)

static double fabs_(double v)
{
	return v < 0 ? -v : v;
}

/* ---- tests ---- */

static void test_totals_match_hand_sums(void **state)
{
	struct run r = run("--format", "json", fixture_path());
	cJSON *o = parse_json(&r), *t = cJSON_GetObjectItemCaseSensitive(o, "total");
	cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "input");

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	assert_near(num(t, "requests"), 4);
	assert_near(num(t, "unpriced_requests"), 1);
	assert_near(num(t, "input_tokens"), 2750);
	assert_near(num(t, "output_tokens"), 407);
	assert_near(num(t, "cache_read_input_tokens"), 2000);
	assert_near(num(t, "api_cost"), 0.005305);
	assert_near(num(t, "gpu_busy_seconds"), 10.5);
	assert_near(num(t, "gpu_cost"), 0.0105);
	assert_near(num(t, "gpu_idle_cost"), 0.0295);
	assert_near(num(t, "total_cost"), 0.045305);
	assert_near(num(t, "estimated_requests"), 1);
	assert_near(num(t, "estimated_input_tokens"), 400);
	assert_near(num(t, "estimated_output_tokens"), 50);
	assert_near(num(t, "estimated_api_cost"), 0.00009);
	assert_near(num(in, "files"), 1);
	assert_near(num(in, "lines"), 23);
	assert_near(num(in, "records"), 23);
	assert_near(num(in, "malformed"), 0);
	/* the agent's own figure for the run agrees */
	assert_near(num(t, "total_cost"), 0.045305);
	cJSON_Delete(o);
	run_free(&r);
}

static void test_group_by_workload(void **state)
{
	struct run r = run("-j", fixture_path());
	cJSON *o = parse_json(&r);
	const cJSON *a = group(o, "workload", "k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a");
	const cJSON *b = group(o, "workload", "systemd:batch.service");
	const cJSON *v = group(o, "workload", "k8s:0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b");
	const cJSON *i = group(o, "workload", "idle");

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_int_equal(ngroups(o), 4);
	assert_near(num(a, "requests"), 2);
	assert_near(num(a, "input_tokens"), 2250);
	assert_near(num(a, "output_tokens"), 307);
	assert_near(num(a, "cache_read_input_tokens"), 2000);
	assert_near(num(a, "api_cost"), 0.005305);
	assert_near(num(a, "total_cost"), 0.005305);
	assert_near(num(a, "gpu_cost"), 0);
	assert_near(num(b, "requests"), 2);
	assert_near(num(b, "unpriced_requests"), 1);
	assert_near(num(b, "estimated_requests"), 1);
	assert_near(num(b, "input_tokens"), 500);
	assert_near(num(b, "estimated_input_tokens"), 400);
	assert_near(num(b, "api_cost"), 0);
	assert_near(num(b, "estimated_api_cost"), 0.00009);
	/* the inference server: its GPU time, not the requests it served */
	assert_near(num(v, "requests"), 0);
	assert_near(num(v, "gpu_busy_seconds"), 10.5);
	assert_near(num(v, "gpu_cost"), 0.0105);
	assert_near(num(v, "gpu_idle_cost"), 0.0095);
	assert_near(num(v, "total_cost"), 0.02);
	assert_near(num(i, "gpu_idle_cost"), 0.02);
	assert_near(num(i, "gpu_busy_seconds"), 0);
	assert_near(num(i, "total_cost"), 0.02);
	cJSON_Delete(o);
	run_free(&r);
}

static void test_group_by_other_keys(void **state)
{
	const char *fx = fixture_path();
	struct run r;
	cJSON *o;

	(void)state;
	r = run("-j", "--by", "process", fx);
	o = parse_json(&r);
	assert_int_equal(ngroups(o), 4);
	assert_near(num(group(o, "process", "python3[4242]"), "api_cost"), 0.005305);
	assert_near(num(group(o, "process", "node[5151]"), "requests"), 2);
	assert_near(num(group(o, "process", "vllm[7000]"), "gpu_cost"), 0.0105);
	assert_near(num(group(o, "process", "(idle)"), "gpu_idle_cost"), 0.02);
	cJSON_Delete(o);
	run_free(&r);

	r = run("-j", "--by", "comm", fx);
	o = parse_json(&r);
	assert_int_equal(ngroups(o), 4);
	assert_near(num(group(o, "comm", "python3"), "requests"), 2);
	assert_near(num(group(o, "comm", "vllm"), "gpu_busy_seconds"), 10.5);
	assert_near(num(group(o, "comm", "(idle)"), "total_cost"), 0.02);
	cJSON_Delete(o);
	run_free(&r);

	/* the model the response names; the request's when it names none */
	r = run("-j", "--by", "model", fx);
	o = parse_json(&r);
	assert_int_equal(ngroups(o), 4);
	assert_near(num(group(o, "model", "gpt-4o-2024-08-06"), "api_cost"), 0.00475);
	assert_near(num(group(o, "model", "claude-sonnet-4-5"), "api_cost"), 0.000555);
	assert_near(num(group(o, "model", "llama-3.1-70b"), "unpriced_requests"), 1);
	assert_near(num(group(o, "model", "gpt-4o-mini"), "estimated_api_cost"), 0.00009);
	/* no GPU figures by model: null, not zero, and not in the total */
	assert_true(is_null(group(o, "model", "gpt-4o-mini"), "gpu_cost"));
	assert_true(is_null(cJSON_GetObjectItemCaseSensitive(o, "total"), "gpu_idle_cost"));
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"), 0.005305);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "ungrouped"), 4);
	cJSON_Delete(o);
	run_free(&r);

	r = run("-j", "--by", "provider", fx);
	o = parse_json(&r);
	assert_int_equal(ngroups(o), 3);
	assert_near(num(group(o, "provider", "openai"), "requests"), 2);
	assert_near(num(group(o, "provider", "openai"), "api_cost"), 0.00475);
	assert_near(num(group(o, "provider", "anthropic"), "api_cost"), 0.000555);
	assert_near(num(group(o, "provider", "openai_compatible"), "input_tokens"), 500);
	cJSON_Delete(o);
	run_free(&r);

	/* devices by UUID: the idle rows join the device by ResourceId */
	r = run("-j", "--by", "device", fx);
	o = parse_json(&r);
	assert_int_equal(ngroups(o), 3);
	{
		const cJSON *g = group(o, "device", "GPU-5f3c9a7e-1b2d-4c3e-8f9a-0b1c2d3e4f50");

		assert_string_equal(cJSON_GetObjectItemCaseSensitive(g, "device_name")->valuestring,
				    "NVIDIA H100 80GB HBM3");
		assert_near(num(g, "total_cost"), 0.02);
		g = group(o, "device", "GPU-a1b2c3d4-0000-4000-8000-00000000beef");
		assert_true(is_null(g, "device_name"));
		assert_near(num(g, "gpu_idle_cost"), 0.02);
		assert_near(num(group(o, "device", "(none)"), "api_cost"), 0.005305);
	}
	cJSON_Delete(o);
	run_free(&r);

	/* the interval that started before midnight belongs to that day */
	r = run("-j", "--by", "day", fx);
	o = parse_json(&r);
	assert_int_equal(ngroups(o), 2);
	assert_near(num(group(o, "day", "2026-11-27"), "total_cost"),
		    0.00475 + 0.0065 + 0.0035 + 0.01);
	assert_near(num(group(o, "day", "2026-11-28"), "total_cost"),
		    0.000555 + 0.004 + 0.006 + 0.01);
	assert_near(num(group(o, "day", "2026-11-28"), "requests"), 3);
	cJSON_Delete(o);
	run_free(&r);

	r = run("--format", "csv", "--by", "hour", fx);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "\n2026-11-27T23:00Z,1,0,1200,300,1000,0.00475,6.5,0.0065,"
				      "0.0135,0.02475,0,0,0,0\n"));
	assert_non_null(strstr(r.out, "\n2026-11-28T00:00Z,3,1,1550,107,1000,0.000555,4,0.004,"
				      "0.016,0.020555,1,400,50,0.00009\n"));
	run_free(&r);
}

static void test_group_by_two_keys(void **state)
{
	struct run r;

	(void)state;
	r = run("--format", "csv", "--by", "workload,model", fixture_path());
	assert_int_equal(r.rc, 0);
	assert_string_equal(
		r.out,
		"workload,model,requests,unpriced_requests,input_tokens,output_tokens,"
		"cache_read_input_tokens,api_cost,gpu_busy_seconds,gpu_cost,gpu_idle_cost,"
		"total_cost,estimated_requests,estimated_input_tokens,estimated_output_tokens,"
		"estimated_api_cost\n"
		"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a,gpt-4o-2024-08-06,1,0,1200,300,1000,0.00475"
		",,,,0.00475,0,0,0,0\n"
		"k8s:7d1c2a9e-5b1f-4c8e-9a0d-3e2f1b4c5d6a,claude-sonnet-4-5,1,0,1050,7,1000,0.000555"
		",,,,0.000555,0,0,0,0\n"
		"systemd:batch.service,gpt-4o-mini,1,0,0,0,0,0,,,,0,1,400,50,0.00009\n"
		"systemd:batch.service,llama-3.1-70b,1,1,500,100,0,0,,,,0,0,0,0,0\n"
		"(total),,4,1,2750,407,2000,0.005305,,,,0.005305,1,400,50,0.00009\n");
	run_free(&r);
	/* a key given twice, an unknown key */
	r = run("--by", "model,model", fixture_path());
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "'model' given twice"));
	run_free(&r);
	r = run("--by", "workload,team", fixture_path());
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown key 'team'"));
	run_free(&r);
}

static void test_time_ranges(void **state)
{
	const char *fx = fixture_path();
	struct run r;
	cJSON *o;

	(void)state;
	/* a date is midnight UTC; the range is [from, to) */
	r = run("-j", "--from", "2026-11-28", fx);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"), 0.020555);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "from")->valuestring,
			    "2026-11-28T00:00:00Z");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "to")));
	cJSON_Delete(o);
	run_free(&r);

	r = run("-j", "--to", "2026-11-28", fx);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"), 0.02475);
	cJSON_Delete(o);
	run_free(&r);

	/* the claude request finished at 00:00:03 exactly: in from, out of to */
	r = run("-j", "--from", "2026-11-28T00:00:03Z", "--to", "2026-11-28T00:00:04Z", fx);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "api_cost"), 0.000555);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "requests"), 1);
	cJSON_Delete(o);
	run_free(&r);

	/* the same instant with an offset, and fractions */
	r = run("-j", "--from", "2026-11-28T01:00:02.5+01:00", "--to",
		"2026-11-27T19:00:03.000000001-05:00", fx);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "requests"), 1);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "to")->valuestring,
			    "2026-11-28T00:00:03.000000001Z");
	cJSON_Delete(o);
	run_free(&r);

	/* an open end far away still works */
	r = run("-j", "--from", "1970-01-01", "--to", "9999-12-31", fx);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"), 0.045305);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "out_of_range"), 0);
	cJSON_Delete(o);
	run_free(&r);

	/* bad times are usage errors */
	r = run("--from", "2026-02-30", fx);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "--from: '2026-02-30' is not a time"));
	run_free(&r);
	r = run("--to", "2026-11-28T25:00:00Z", fx);
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = run("--to", "yesterday", fx);
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = run("--from", "2026-11-28T00:00:00", fx); /* RFC 3339 needs an offset */
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = run("--from", "2026-11-28", "--to", "2026-11-27", fx);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "--from must be before --to"));
	run_free(&r);
}

/* The column where each header's text ends must be where each row's
 * number ends. */
static void test_format_table(void **state)
{
	struct run r = run("--by", "comm", fixture_path());
	const char *lines[16];
	int n = 0;
	char *save = NULL;

	(void)state;
	assert_int_equal(r.rc, 0);
	for (char *l = strtok_r(r.out, "\n", &save); l && n < 16; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	assert_int_equal(n, 8); /* header, 4 groups, total, 2 notes */
	assert_string_equal(lines[0], "REQS  IN TOK  OUT TOK  CACHED   API $  GPU S   GPU $  IDLE $"
				      "  TOTAL $  COMM");
	assert_string_equal(lines[1], "   0       0        0       0  0.0000    0.0  0.0000  0.0200"
				      "   0.0200  (idle)");
	assert_string_equal(lines[2], "   0       0        0       0  0.0000   10.5  0.0105  0.0095"
				      "   0.0200  vllm");
	assert_string_equal(lines[3], "   2    2250      307    2000  0.0053    0.0  0.0000  0.0000"
				      "   0.0053  python3");
	assert_string_equal(lines[5], "   4    2750      407    2000  0.0053   10.5  0.0105  0.0295"
				      "   0.0453  TOTAL");
	for (int i = 0; i < 6; i++)
		assert_true(strlen(lines[i]) <= 80);
	assert_string_equal(lines[6], "note: 1 request had no price for the model: not in API $"
				      " (docs/prices.md)");
	assert_non_null(strstr(lines[7], "1 request had estimated tokens (400 in, 50 out, $0.0001)"));
	run_free(&r);

	/* by model the GPU columns go; large counts are shortened */
	r = run("--by", "model", write_tmp("big.jsonl",
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"gen_ai.response.model\":\"gpt-4o\","
		"\"gen_ai.usage.input_tokens\":123456789,\"gen_ai.usage.output_tokens\":4567890,"
		"\"ListCost\":1234.5678}\n"));
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "REQS  IN TOK  OUT TOK  CACHED    API $  TOTAL $  MODEL\n"
				   "   1    123M    4.57M       0  1234.57  1234.57  gpt-4o\n"
				   "   1    123M    4.57M       0  1234.57  1234.57  TOTAL\n");
	run_free(&r);
}

static void test_format_csv_quotes(void **state)
{
	struct run r;

	(void)state;
	r = run("--format", "csv", "--by", "workload", write_tmp("q.jsonl",
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"role\":\"client\","
		"\"workload\":\"team \\\"a\\\", b\",\"gen_ai.provider.name\":\"openai\","
		"\"ListCost\":0.5}\n"));
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "\n\"team \"\"a\"\", b\",1,0,0,0,0,0.5,0,0,0,0.5,0,0,0,0\n"));
	run_free(&r);
}

static void test_format_focus(void **state)
{
	const char *fx = fixture_path();
	struct run r;
	int rows = 0;

	(void)state;
	r = run("--format", "focus", fx);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	for (const char *p = r.out; (p = strchr(p, '\n')); p++)
		rows++;
	assert_int_equal(rows, 1 + 9); /* header and every cost row */
	assert_true(!strncmp(r.out,
		"ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BillingCurrency,"
		"ServiceCategory,ServiceName,SkuMeter,ResourceId,ConsumedQuantity,ConsumedUnit,"
		"PricingQuantity,PricingUnit,ListUnitPrice,ListCost,EffectiveCost,x_workload,"
		"x_estimated,x_price_key,x_price_version,host.name,Tags\n", 248));
	/* numbers as written, Tags as its JSON text */
	assert_non_null(strstr(r.out,
		"\n2026-11-28T00:00:00.000000000Z,2026-11-28T00:00:10.000000000Z,Usage,USD,"
		"AI and Machine Learning,accelerator,GPU idle hours,"
		"GPU-a1b2c3d4-0000-4000-8000-00000000beef,0.002777777777777778,Hours,"
		"0.002777777777777778,Hours,3.6,0.01,0.01,idle,false,nvidia-h100-80gb,2026-11-01,"
		"gpu-node-7,\"{\"\"workload\"\":\"\"idle\"\",\"\"workload.kind\"\":\"\"idle\"\"}\"\n"));
	run_free(&r);

	/* the range applies to ChargePeriodStart */
	r = run("--format", "focus", "--from", "2026-11-28", fx);
	rows = 0;
	for (const char *p = r.out; (p = strchr(p, '\n')); p++)
		rows++;
	assert_int_equal(rows, 1 + 3);
	run_free(&r);

	r = run("--format", "focus", "--by", "day", fx);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "--by does not apply to --format focus"));
	run_free(&r);
}

static void test_malformed_lines(void **state)
{
	const char *p = write_tmp("bad.jsonl",
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"ListCost\":0.25}\n"            /* 1 ok */
		"not json\n"                                                          /* 2 */
		"[1,2,3]\n"                                                           /* 3 */
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"ListCost\":\"0.25\"}\n"        /* 4 */
		"{\"time\":\"2026-11-28T00:00:00Z\"}\n"                               /* 5 */
		"{\"type\":\"usage\",\"time\":\"yesterday\"}\n"                       /* 6 */
		"\n"                                                                  /* 7 blank */
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"gen_ai.usage.input_tokens\":-5}\n" /* 8 */
		"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:00Z\",\"x_workload\":\"idle\","
		"\"ListCost\":null}\n"                                                /* 9 */
		"{\"type\":\"usage\",\"time\":\"2026-11-28T00:00:00Z\",\"pid\":\"12\"}\n" /* 10 */
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"ListCost\":1e999}\n" /* 11 */
		"{\"type\":\"request\",\"time\":\"2027-02-29T00:00:00Z\"}\n"          /* 12 */
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\"}garbage\n"     /* 13 */
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"ListCost\":0.5,"
		"\"role\":\"cli");                                                     /* 14 cut */
	struct run r = run("-j", p);
	cJSON *o = parse_json(&r);
	char want[2048];

	(void)state;
	assert_int_equal(r.rc, 0);
	snprintf(want, sizeof(want),
		 "infertrace report: %1$s:2: not JSON\n"
		 "infertrace report: %1$s:3: not a JSON object\n"
		 "infertrace report: %1$s:4: \"ListCost\" is not a number or null\n"
		 "infertrace report: %1$s:5: no \"type\": not an infertrace record\n"
		 "infertrace report: %1$s:6: \"time\" is not an RFC 3339 time\n"
		 "infertrace report: %1$s:8: \"gen_ai.usage.input_tokens\" is negative\n"
		 "infertrace report: %1$s:9: \"ListCost\" is not a number\n"
		 "infertrace report: %1$s:10: \"pid\" is not a number or null\n"
		 "infertrace report: %1$s:11: \"ListCost\" is out of range\n"
		 "infertrace report: %1$s:12: \"time\" is not an RFC 3339 time\n"
		 "infertrace report: 12 malformed lines skipped (the first 10 shown)\n", p);
	assert_string_equal(r.err, want);
	/* the good line still counts */
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "api_cost"), 0.25);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "lines"), 14);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "malformed"), 12);
	cJSON_Delete(o);
	run_free(&r);

	/* the last two on their own: past the first ten above */
	r = run("-j", write_tmp("bad2.jsonl",
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\"}garbage\n"
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"role\":\"cli"));
	assert_non_null(strstr(r.err, "bad2.jsonl:1: not JSON\n"));
	assert_non_null(strstr(r.err, "bad2.jsonl:2: truncated last line (no newline at the end)\n"));
	run_free(&r);

	/* a last line without its newline that is whole is fine */
	r = run("-j", write_tmp("nonl.jsonl",
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"ListCost\":0.25}"));
	assert_string_equal(r.err, "");
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "requests"), 1);
	cJSON_Delete(o);
	run_free(&r);
}

static void test_json_edge_cases(void **state)
{
	char deep[1200];
	size_t k = 0;
	struct run r;
	cJSON *o;

	(void)state;
	/* escapes in names and values, \u with surrogates, whitespace,
	 * numbers in all their forms */
	r = run("-j", write_tmp("esc.jsonl",
		" { \"type\" : \"request\" , \"t\\u0069me\":\"2026-11-28T00:00:00Z\","
		"\"role\":\"client\",\"gen_ai.provider.na\\u006de\":\"openai\","
		"\"workload\":\"caf\\u00e9 \\ud83d\\ude80\\t\",\"gen_ai.usage.input_tokens\":1.5e3,"
		"\"gen_ai.usage.output_tokens\":0,\"ListCost\":2.5E-1,\"x\":[{},[],\"\\/\",-0.0,true,"
		"false,null]}\r\n"));
	assert_string_equal(r.err, "");
	o = parse_json(&r);
	assert_near(num(group(o, "workload", "caf\xc3\xa9 \xf0\x9f\x9a\x80?"), "input_tokens"),
		    1500);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "api_cost"), 0.25);
	cJSON_Delete(o);
	run_free(&r);

	/* 300 levels of nesting: refused without a deep stack */
	k += (size_t)snprintf(deep, sizeof(deep), "{\"type\":\"agent\",\"x\":");
	for (int i = 0; i < 300; i++)
		deep[k++] = '[';
	for (int i = 0; i < 300; i++)
		deep[k++] = ']';
	memcpy(deep + k, "}\n", 3);
	r = run("-j", write_tmp("deep.jsonl", deep));
	assert_non_null(strstr(r.err, ":1: nested too deep\n"));
	run_free(&r);

	/* what the grammar refuses */
	r = run("-j", write_tmp("gram.jsonl",
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\",\"x\":01}\n"
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\",\"x\":1.}\n"
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\",\"x\":\"\\x\"}\n"
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\",\"x\":\"a\tb\"}\n"
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\",}\n"
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\",\"x\":tru}\n"
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\",\"x\":\"\\u12g4\"}\n"
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\"\"x\":1}\n"));
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "malformed"), 8);
	cJSON_Delete(o);
	run_free(&r);

	/* a NUL inside a line */
	r = run("-j", write_file("nul.jsonl",
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\",\"x\":\"a\0b\"}\n", 57));
	assert_non_null(strstr(r.err, ":1: not JSON\n"));
	run_free(&r);
}

static void test_record_times(void **state)
{
	struct run r;
	cJSON *o;

	(void)state;
	/* an offset moves a record to the day before in UTC; leap days */
	r = run("-j", "--by", "day", write_tmp("days.jsonl",
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:30:00+01:00\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"ListCost\":1}\n"
		"{\"type\":\"request\",\"time\":\"2028-02-29T23:59:59.9999999999Z\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"ListCost\":2}\n"
		"{\"type\":\"request\",\"time\":\"2000-02-29t12:00:00z\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"ListCost\":4}\n"
		"{\"type\":\"request\",\"time\":\"1969-12-31T23:59:59.5Z\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"ListCost\":8}\n"
		"{\"type\":\"request\",\"time\":\"2100-02-29T00:00:00Z\"}\n"));
	assert_non_null(strstr(r.err, ":5: \"time\" is not an RFC 3339 time\n"));
	o = parse_json(&r);
	assert_near(num(group(o, "day", "2026-11-27"), "api_cost"), 1);
	assert_near(num(group(o, "day", "2028-02-29"), "api_cost"), 2);
	assert_near(num(group(o, "day", "2000-02-29"), "api_cost"), 4);
	assert_near(num(group(o, "day", "1969-12-31"), "api_cost"), 8);
	/* in order of time when grouped by time */
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "groups"), 0)
				    ->child->valuestring, "1969-12-31");
	cJSON_Delete(o);
	run_free(&r);
}

static void write_gz(const char *path, const char *mode, const char *text, size_t n)
{
	gzFile g = gzopen(path, mode);

	assert_non_null(g);
	assert_int_equal(gzwrite(g, text, (unsigned)n), (int)n);
	assert_int_equal(gzclose(g), Z_OK);
}

static void test_gzip_by_magic(void **state)
{
	const char *gz = tmp_path("records.log"), *cat = tmp_path("two.bin");
	const char *plain = write_tmp("plain.gz", fixture), *cut = tmp_path("cut.gz");
	char *bytes;
	struct run r;
	cJSON *o;
	FILE *f;
	long n;

	(void)state;
	/* compressed, named as if it were not */
	write_gz(gz, "wb", fixture, strlen(fixture));
	r = run("-j", gz);
	assert_string_equal(r.err, "");
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"), 0.045305);
	cJSON_Delete(o);
	run_free(&r);

	/* not compressed, named as if it were */
	r = run("-j", plain);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"), 0.045305);
	cJSON_Delete(o);
	run_free(&r);

	/* two gzip members one after the other (rotated files put together) */
	write_gz(cat, "wb", fixture, strlen(fixture));
	write_gz(cat, "ab", fixture, strlen(fixture));
	r = run("-j", cat);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"),
		    2 * 0.045305);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "lines"), 46);
	cJSON_Delete(o);
	run_free(&r);

	/* cut short: what came is counted, the cut is said, the read counts */
	bytes = slurp(gz);
	f = fopen(gz, "rb");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	free(bytes);
	f = fopen(gz, "rb");
	bytes = malloc((size_t)n);
	assert_int_equal(fread(bytes, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	write_file("cut.gz", bytes, (size_t)n * 2 / 3);
	free(bytes);
	r = run("-j", cut);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.err, "cut.gz: unexpected end of file (gzip stream cut short?)"));
	o = parse_json(&r);
	assert_true(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "lines") < 23);
	cJSON_Delete(o);
	run_free(&r);
}

static void test_long_line_skipped(void **state)
{
	size_t big = (16u << 20) + 100, k = 0;
	char *text = malloc(big + 512);
	const char *p;
	struct run r;
	cJSON *o;

	(void)state;
	assert_non_null(text);
	k += (size_t)sprintf(text, "{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:00Z\",\"x\":\"");
	memset(text + k, 'a', big);
	k += big;
	k += (size_t)sprintf(text + k,
		"\"}\n{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"role\":\"client\","
		"\"gen_ai.provider.name\":\"openai\",\"ListCost\":0.5}\n");
	p = write_file("long.jsonl", text, k);
	free(text);
	r = run("-j", p);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.err, "long.jsonl:1: line longer than 16777216 bytes: skipped\n"));
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "api_cost"), 0.5);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "too_long"), 1);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "lines"), 2);
	cJSON_Delete(o);
	run_free(&r);
}

/* Every other record that shows the same spend is left out. */
static void test_no_double_counting(void **state)
{
	struct run r = run("-j", write_tmp("twice.jsonl",
		/* a request served here: its share of the GPU, not API spend */
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:01Z\",\"role\":\"server\","
		"\"workload\":\"w\",\"gen_ai.provider.name\":\"openai_compatible\","
		"\"gen_ai.usage.input_tokens\":10,\"price_source\":\"accelerator\","
		"\"x_gpu_seconds\":2,\"x_accelerator_cost\":0.004}\n"
		/* the GPU time it came from */
		"{\"type\":\"usage\",\"time\":\"2026-11-28T00:00:10Z\",\"workload\":\"w\","
		"\"interval_start\":\"2026-11-28T00:00:00Z\",\"x_api_cost\":0.5,\"x_gpu_cost\":0.004,"
		"\"x_gpu_idle_cost\":0.001,\"ListCost\":0.505,\"gpu.busy_seconds\":4}\n"
		/* the API call whose cost usage x_api_cost above repeats */
		"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:02Z\",\"role\":\"client\","
		"\"workload\":\"w\",\"gen_ai.provider.name\":\"openai\",\"ListCost\":0.5}\n"
		/* the cost rows of the same spend */
		"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:10Z\","
		"\"ChargePeriodStart\":\"2026-11-28T00:00:00Z\",\"x_workload\":\"w\",\"ListCost\":0.5}\n"
		"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:10Z\","
		"\"ChargePeriodStart\":\"2026-11-28T00:00:00Z\",\"x_workload\":\"w\",\"ListCost\":0.004}\n"
		/* a workload an operator named "idle": its rows repeat its usage */
		"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:10Z\","
		"\"ChargePeriodStart\":\"2026-11-28T00:00:00Z\",\"x_workload\":\"idle\","
		"\"ListCost\":0.25,\"Tags\":{\"workload\":\"idle\",\"workload.kind\":\"pod\"}}\n"
		/* the device's unclaimed time: counted */
		"{\"type\":\"cost\",\"time\":\"2026-11-28T00:00:10Z\","
		"\"ChargePeriodStart\":\"2026-11-28T00:00:00Z\",\"x_workload\":\"idle\","
		"\"ListCost\":0.005,\"Tags\":{\"workload\":\"idle\",\"workload.kind\":\"idle\"}}\n"
		/* the agent's running total */
		"{\"type\":\"agent\",\"time\":\"2026-11-28T00:00:10Z\",\"cost_usd\":0.51}\n"));
	cJSON *o = parse_json(&r), *t = cJSON_GetObjectItemCaseSensitive(o, "total");

	(void)state;
	assert_string_equal(r.err, "");
	assert_near(num(t, "requests"), 1);
	assert_near(num(t, "input_tokens"), 0);
	assert_near(num(t, "api_cost"), 0.5);
	assert_near(num(t, "gpu_cost"), 0.004);
	assert_near(num(t, "gpu_idle_cost"), 0.001 + 0.005);
	assert_near(num(t, "gpu_busy_seconds"), 4);
	assert_near(num(t, "total_cost"), 0.5 + 0.004 + 0.001 + 0.005);
	assert_near(num(group(o, "workload", "w"), "total_cost"), 0.505);
	assert_near(num(group(o, "workload", "idle"), "total_cost"), 0.005);
	cJSON_Delete(o);
	run_free(&r);
}

static void test_max_groups(void **state)
{
	char text[4096];
	size_t k = 0;
	struct run r;
	cJSON *o;

	(void)state;
	for (int i = 0; i < 5; i++)
		k += (size_t)snprintf(text + k, sizeof(text) - k,
			"{\"type\":\"request\",\"time\":\"2026-11-28T00:00:00Z\",\"role\":\"client\","
			"\"workload\":\"w%d\",\"gen_ai.provider.name\":\"openai\",\"ListCost\":%d}\n",
			i, 1 << i);
	r = run("-j", "--max-groups", "2", write_tmp("groups.jsonl", text));
	o = parse_json(&r);
	assert_int_equal(ngroups(o), 3);
	assert_near(num(group(o, "workload", "w0"), "api_cost"), 1);
	assert_near(num(group(o, "workload", "w1"), "api_cost"), 2);
	assert_near(num(group(o, "workload", "(other)"), "api_cost"), 4 + 8 + 16);
	assert_near(num(group(o, "workload", "(other)"), "requests"), 3);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "api_cost"), 31);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "other_records"), 3);
	cJSON_Delete(o);
	run_free(&r);

	r = run("--max-groups", "2", tmp_path("groups.jsonl"));
	assert_non_null(strstr(r.out, "note: 3 records beyond 2 groups are summed in (other)"));
	assert_non_null(strstr(r.out, "  (other)\n"));
	run_free(&r);

	r = run("--max-groups", "0", tmp_path("groups.jsonl"));
	assert_int_equal(r.rc, 2);
	run_free(&r);
}

static void test_inputs_and_exit_codes(void **state)
{
	const char *fx = fixture_path(), *out = tmp_path("out.json");
	struct run r;
	cJSON *o;
	char *s;

	(void)state;
	/* stdin, with no FILE and with '-' */
	r = run_in(fx, "-j", NULL);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"), 0.045305);
	cJSON_Delete(o);
	run_free(&r);
	r = run_in(fx, "-j", fx, "-", NULL);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"),
		    2 * 0.045305);
	cJSON_Delete(o);
	run_free(&r);

	/* one file missing: said, the others read, exit 0 */
	r = run("-j", tmp_path("missing.jsonl"), fx);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.err, "missing.jsonl: No such file or directory\n"));
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "input"), "files_unreadable"), 1);
	cJSON_Delete(o);
	run_free(&r);

	/* nothing readable: exit 1 */
	r = run(tmp_path("missing.jsonl"), tmpdir);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, ": is a directory\n"));
	run_free(&r);

	/* an empty file was read: exit 0, zero totals */
	r = run("-j", write_tmp("empty.jsonl", ""));
	assert_int_equal(r.rc, 0);
	o = parse_json(&r);
	assert_near(num(cJSON_GetObjectItemCaseSensitive(o, "total"), "total_cost"), 0);
	cJSON_Delete(o);
	run_free(&r);

	/* -o */
	r = run("-j", "-o", out, fx);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "");
	s = slurp(out);
	assert_non_null(strstr(s, "\"total_cost\":0.045305"));
	free(s);
	run_free(&r);
	r = run("-o", "/nonexistent-dir/x", fx);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "/nonexistent-dir/x: No such file or directory"));
	run_free(&r);

	/* usage errors */
	r = run("--bogus", fx);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown option '--bogus'"));
	run_free(&r);
	r = run("-x", fx);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown option '-x'"));
	run_free(&r);
	r = run(fx, "--by");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "option '--by' needs an argument"));
	run_free(&r);
	r = run("--format", "xml", fx);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "'xml' is not table, json, csv or focus"));
	run_free(&r);
	r = run("--help");
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "Usage: infertrace report [OPTIONS] [FILE...]"));
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals_match_hand_sums),
		cmocka_unit_test(test_group_by_workload),
		cmocka_unit_test(test_group_by_other_keys),
		cmocka_unit_test(test_group_by_two_keys),
		cmocka_unit_test(test_time_ranges),
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_format_csv_quotes),
		cmocka_unit_test(test_format_focus),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_json_edge_cases),
		cmocka_unit_test(test_record_times),
		cmocka_unit_test(test_gzip_by_magic),
		cmocka_unit_test(test_long_line_skipped),
		cmocka_unit_test(test_no_double_counting),
		cmocka_unit_test(test_max_groups),
		cmocka_unit_test(test_inputs_and_exit_codes),
	};

	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
