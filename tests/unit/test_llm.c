// SPDX-License-Identifier: MIT
/*
 * llm.c against bodies and streams shaped as each provider's public API
 * reference documents them, fed the way the HTTP layer feeds them: one
 * llm_on_stream_event per SSE event / NDJSON line / AWS event-stream
 * message, with its event type. Then cut streams, error bodies and garbage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/llm.h"

/* One streamed event: its type (SSE "event:", AWS ":event-type", NULL for NDJSON). */
struct ev {
	const char *event;
	const char *data;
};

#define TS0 1000000000ULL
#define TS_STEP 1000ULL

static void call_start(struct llm_call *c, const char *host, const char *path, const char *req)
{
	llm_call_init(c);
	assert_true(llm_classify(c, "POST", host, path));
	if (req)
		llm_on_request_body(c, req, strlen(req));
}

/* Feed events i = 0.. at TS0 + i * TS_STEP. */
static void feed(struct llm_call *c, const struct ev *evs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		llm_on_stream_event(c, evs[i].event, evs[i].data, strlen(evs[i].data),
				    TS0 + i * TS_STEP);
}

static void body(struct llm_call *c, int status, const char *b)
{
	llm_on_response_body(c, status, b, strlen(b));
}

static void assert_usage(const struct llm_call *c, int64_t in, int64_t out, int64_t cr, int64_t cc,
			 int64_t reasoning, int64_t raw_in, int64_t raw_out)
{
	const struct llm_usage *u = &c->usage;

	if (u->input_tokens != in || u->output_tokens != out || u->cache_read_tokens != cr ||
	    u->cache_creation_tokens != cc || u->reasoning_tokens != reasoning ||
	    u->raw_input_tokens != raw_in || u->raw_output_tokens != raw_out)
		fail_msg("usage: expected in %lld out %lld cr %lld cc %lld reasoning %lld raw %lld/%lld, "
			 "got in %lld out %lld cr %lld cc %lld reasoning %lld raw %lld/%lld",
			 (long long)in, (long long)out, (long long)cr, (long long)cc,
			 (long long)reasoning, (long long)raw_in, (long long)raw_out,
			 (long long)u->input_tokens, (long long)u->output_tokens,
			 (long long)u->cache_read_tokens, (long long)u->cache_creation_tokens,
			 (long long)u->reasoning_tokens, (long long)u->raw_input_tokens,
			 (long long)u->raw_output_tokens);
}

static void assert_source(const struct llm_call *c, enum usage_source s)
{
	assert_string_equal(usage_source_name(c->usage_source), usage_source_name(s));
}

/* Whatever went in, the state must make sense. */
static void assert_sane(const struct llm_call *c)
{
	const int64_t *f = &c->usage.input_tokens;

	for (int i = 0; i < 7; i++)
		assert_true(f[i] >= -1 && f[i] < (int64_t)1e16);
	assert_true(c->usage_source <= USAGE_ESTIMATED);
	assert_non_null(memchr(c->request_model, '\0', sizeof(c->request_model)));
	assert_non_null(memchr(c->response_model, '\0', sizeof(c->response_model)));
	assert_non_null(memchr(c->error_type, '\0', sizeof(c->error_type)));
	assert_true(c->stream >= -1 && c->stream <= 1);
	if (c->usage_source == USAGE_PROVIDER)
		assert_true(c->usage.raw_input_tokens >= 0);
	for (const char *p = c->response_model; *p; p++)
		assert_true((unsigned char)*p >= 0x20);
}

/* ---- recognition -------------------------------------------------------- */

struct classify_case {
	const char *method, *host, *path;
	const char *provider, *operation, *model;
	int stream;
};

static const struct classify_case classify_cases[] = {
	{ "POST", "api.openai.com", "/v1/chat/completions", "openai", "chat", "", -1 },
	{ "POST", "API.OpenAI.com:443", "/v1/chat/completions?foo=bar", "openai", "chat", "", -1 },
	{ "POST", "api.openai.com.", "/v1/completions", "openai", "text_completion", "", -1 },
	{ "POST", "api.openai.com", "/v1/responses", "openai", "chat", "", -1 },
	{ "POST", "api.openai.com", "/v1/embeddings", "openai", "embeddings", "", 0 },
	{ "post", "api.openai.com", "//v1//chat/completions/", "openai", "chat", "", -1 },
	{ "POST", "myres.openai.azure.com",
	  "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
	  "azure.ai.openai", "chat", "gpt-4o-prod", -1 },
	{ "POST", "myres.openai.azure.com", "/openai/deployments/my%20dep/completions?api-version=x",
	  "azure.ai.openai", "text_completion", "my dep", -1 },
	{ "POST", "myres.cognitiveservices.azure.com",
	  "/openai/deployments/embed-small/embeddings?api-version=2024-10-21", "azure.ai.openai",
	  "embeddings", "embed-small", 0 },
	{ "POST", "myres.openai.azure.com", "/openai/v1/chat/completions", "azure.ai.openai", "chat",
	  "", -1 },
	{ "POST", "myres.openai.azure.com", "/openai/v1/responses", "azure.ai.openai", "chat", "", -1 },
	{ "POST", "myres.openai.azure.com", "/openai/responses?api-version=2025-04-01-preview",
	  "azure.ai.openai", "chat", "", -1 },
	{ "POST", "proj.services.ai.azure.com", "/models/chat/completions?api-version=2024-05-01-preview",
	  "azure.ai.inference", "chat", "", -1 },
	{ "POST", "api.anthropic.com", "/v1/messages", "anthropic", "chat", "", -1 },
	{ "POST", "generativelanguage.googleapis.com", "/v1beta/models/gemini-2.0-flash:generateContent",
	  "gcp.gemini", "generate_content", "gemini-2.0-flash", 0 },
	{ "POST", "generativelanguage.googleapis.com",
	  "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gcp.gemini",
	  "generate_content", "gemini-2.5-pro", 1 },
	{ "POST", "generativelanguage.googleapis.com", "/v1beta/models/text-embedding-004:embedContent",
	  "gcp.gemini", "embeddings", "text-embedding-004", 0 },
	{ "POST", "generativelanguage.googleapis.com", "/v1beta/openai/chat/completions", "gcp.gemini",
	  "chat", "", -1 },
	{ "POST", "us-central1-aiplatform.googleapis.com",
	  "/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-1.5-pro-002:generateContent",
	  "gcp.vertex_ai", "generate_content", "gemini-1.5-pro-002", 0 },
	{ "POST", "aiplatform.googleapis.com",
	  "/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
	  "gcp.vertex_ai", "generate_content", "gemini-2.5-flash", 1 },
	{ "POST", "us-east5-aiplatform.googleapis.com",
	  "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict",
	  "gcp.vertex_ai", "chat", "claude-sonnet-4@20250514", -1 },
	{ "POST", "bedrock-runtime.us-east-1.amazonaws.com",
	  "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", "aws.bedrock", "chat",
	  "anthropic.claude-3-5-sonnet-20240620-v1:0", 0 },
	{ "POST", "bedrock-runtime.us-west-2.amazonaws.com",
	  "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream", "aws.bedrock",
	  "chat", "us.anthropic.claude-3-7-sonnet-20250219-v1:0", 1 },
	{ "POST", "bedrock-runtime.eu-west-1.amazonaws.com", "/model/meta.llama3-70b-instruct-v1%3A0/invoke",
	  "aws.bedrock", "chat", "meta.llama3-70b-instruct-v1:0", 0 },
	{ "POST", "bedrock-runtime.us-east-1.amazonaws.com",
	  "/model/anthropic.claude-3-haiku-20240307-v1%3a0/invoke-with-response-stream", "aws.bedrock",
	  "chat", "anthropic.claude-3-haiku-20240307-v1:0", 1 },
	{ "POST", "bedrock-runtime.us-east-1.amazonaws.com",
	  "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.meta.llama3-2-1b-instruct-v1%3A0/converse",
	  "aws.bedrock", "chat",
	  "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0", 0 },
	{ "POST", "bedrock-runtime.us-east-1.amazonaws.com",
	  "/model/arn:aws:bedrock:us-east-1:123:inference-profile/us.x-v1:0/converse", "aws.bedrock",
	  "chat", "arn:aws:bedrock:us-east-1:123:inference-profile/us.x-v1:0", 0 },
	{ "POST", "bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.titan-embed-text-v2%3A0/invoke",
	  "aws.bedrock", "embeddings", "amazon.titan-embed-text-v2:0", 0 },
	{ "POST", "bedrock-runtime.us-east-1.amazonaws.com", "/openai/v1/chat/completions",
	  "aws.bedrock", "chat", "", -1 },
	/* self-hosted and compatible */
	{ "POST", "10.0.0.5:8000", "/v1/chat/completions", "openai_compatible", "chat", "", -1 },
	{ "POST", "localhost:8080", "/v1/completions", "openai_compatible", "text_completion", "", -1 },
	{ "POST", "[::1]:8000", "/v1/embeddings", "openai_compatible", "embeddings", "", 0 },
	{ "POST", "litellm.internal", "/chat/completions", "openai_compatible", "chat", "", -1 },
	{ "POST", "vllm:8000", "/v1/responses", "openai_compatible", "chat", "", -1 },
	{ "POST", "openrouter.ai", "/api/v1/chat/completions", "openai_compatible", "chat", "", -1 },
	{ "POST", "api.groq.com", "/openai/v1/chat/completions", "groq", "chat", "", -1 },
	{ "POST", "api.deepseek.com", "/chat/completions", "deepseek", "chat", "", -1 },
	{ "POST", "api.openai.com.evil.example", "/v1/chat/completions", "openai_compatible", "chat",
	  "", -1 },
	{ "POST", "127.0.0.1:9000", "/v1/messages", "anthropic_compatible", "chat", "", -1 },
	{ "POST", "api.anthropic.com", "/v1/chat/completions", "anthropic", "chat", "", -1 },
	{ "POST", "127.0.0.1:11434", "/api/chat", "ollama", "chat", "", -1 },
	{ "POST", "ollama", "/api/generate", "ollama", "text_completion", "", -1 },
	{ "POST", "ollama", "/api/embed", "ollama", "embeddings", "", 0 },
	{ "POST", "ollama", "/api/embeddings", "ollama", "embeddings", "", 0 },
	{ "POST", "tgi:80", "/generate", "tgi", "text_completion", "", 0 },
	{ "POST", "tgi:80", "/generate_stream", "tgi", "text_completion", "", 1 },
	{ "POST", NULL, "http://api.openai.com/v1/chat/completions", "openai", "chat", "", -1 },
	{ "POST", "", "https://api.anthropic.com:443/v1/messages?beta=true", "anthropic", "chat", "",
	  -1 },
	{ "POST", "127.0.0.1", "/v1beta/models/gemini-pro:generateContent", "gemini_compatible",
	  "generate_content", "gemini-pro", 0 },
};

static void test_classify_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
		const struct classify_case *k = &classify_cases[i];
		struct llm_call c;

		if (!llm_classify(&c, k->method, k->host, k->path))
			fail_msg("not recognised: %s %s %s", k->method, k->host, k->path);
		if (strcmp(c.provider, k->provider) || strcmp(c.operation, k->operation) ||
		    strcmp(c.request_model, k->model) || c.stream != k->stream)
			fail_msg("%s %s: expected %s/%s/'%s'/%d, got %s/%s/'%s'/%d", k->host, k->path,
				 k->provider, k->operation, k->model, k->stream, c.provider,
				 c.operation, c.request_model, c.stream);
		assert_non_null(c.api);
		assert_source(&c, USAGE_MISSING);
	}
}

static void test_classify_rejects(void **state)
{
	static const char *const paths[] = {
		"/", "", "/v1/models", "/v1/chat", "/v1/messages/count_tokens", "/v1/messages/batches",
		"/v1beta/models/gemini-pro:countTokens", "/v1beta/models/:generateContent",
		"/model//converse", "/model/x/converse/extra", "/api/tags", "/api/chatty",
		"/health", "/v1/files", "/openai/deployments/x/chat",
		"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/a/b/c/d/e/f/g/h/i/j",
	};
	struct llm_call c;

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (llm_classify(&c, "POST", "api.openai.com", paths[i]))
			fail_msg("recognised %s", paths[i]);
		assert_null(c.api);
	}
	assert_false(llm_classify(&c, "GET", "api.openai.com", "/v1/chat/completions"));
	assert_false(llm_classify(&c, "POST", "api.openai.com", NULL));
	assert_false(llm_classify(NULL, "POST", "api.openai.com", "/v1/chat/completions"));
	/* an unrecognised call ignores everything after */
	llm_on_request_body(&c, "{\"model\":\"x\"}", 13);
	body(&c, 200, "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}");
	llm_finish(&c, 10, 10);
	assert_null(c.api);
	assert_string_equal(c.request_model, "");
	assert_int_equal(c.usage.input_tokens, -1);
	/* NULL everywhere does not crash */
	llm_call_init(NULL);
	llm_on_request_body(NULL, "{}", 2);
	llm_on_response_header(NULL, "a", "b");
	llm_on_response_body(NULL, 200, "{}", 2);
	llm_on_stream_event(NULL, NULL, "{}", 2, 1);
	llm_finish(NULL, 1, 1);
	call_start(&c, "api.openai.com", "/v1/chat/completions", NULL);
	llm_on_request_body(&c, NULL, 5);
	llm_on_response_header(&c, NULL, "x");
	llm_on_response_header(&c, "x", NULL);
	llm_on_response_body(&c, 200, NULL, 5);
	llm_on_stream_event(&c, "message", NULL, 5, 1);
	llm_finish(&c, 0, 0);
	assert_source(&c, USAGE_MISSING);
	assert_sane(&c);
}

static void test_usage_source_names(void **state)
{
	(void)state;
	assert_string_equal(usage_source_name(USAGE_PROVIDER), "provider");
	assert_string_equal(usage_source_name(USAGE_ESTIMATED), "estimated");
	assert_string_equal(usage_source_name(USAGE_MISSING), "missing");
	assert_string_equal(usage_source_name((enum usage_source)42), "missing");
}

/* ---- OpenAI ------------------------------------------------------------- */

static const char OAI_CHAT_REQ[] =
	"{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"developer\",\"content\":\"You are a "
	"helpful assistant.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	"\"Hello!\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,"
	"iVBORw0KGgo=\"}}]}]}";

static const char OAI_CHAT_RESP[] =
	"{\n  \"id\": \"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\n"
	"  \"object\": \"chat.completion\",\n  \"created\": 1741569952,\n"
	"  \"model\": \"gpt-4.1-2025-04-14\",\n  \"choices\": [\n    {\n      \"index\": 0,\n"
	"      \"message\": {\n        \"role\": \"assistant\",\n"
	"        \"content\": \"Hello! How can I assist you today?\",\n"
	"        \"refusal\": null,\n        \"annotations\": []\n      },\n"
	"      \"logprobs\": null,\n      \"finish_reason\": \"stop\"\n    }\n  ],\n"
	"  \"usage\": {\n    \"prompt_tokens\": 2006,\n    \"completion_tokens\": 300,\n"
	"    \"total_tokens\": 2306,\n    \"prompt_tokens_details\": {\n"
	"      \"cached_tokens\": 1920,\n      \"audio_tokens\": 0\n    },\n"
	"    \"completion_tokens_details\": {\n      \"reasoning_tokens\": 128,\n"
	"      \"audio_tokens\": 0,\n      \"accepted_prediction_tokens\": 0,\n"
	"      \"rejected_prediction_tokens\": 0\n    }\n  },\n"
	"  \"service_tier\": \"default\"\n}\n";

static void test_openai_chat(void **state)
{
	struct llm_call c;

	(void)state;
	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_CHAT_REQ);
	assert_string_equal(c.request_model, "gpt-4.1");
	assert_int_equal(c.stream, 0);
	assert_int_equal(c.prompt_chars, strlen("You are a helpful assistant.") + strlen("Hello!"));
	body(&c, 200, OAI_CHAT_RESP);
	llm_finish(&c, strlen(OAI_CHAT_REQ), strlen(OAI_CHAT_RESP));
	assert_string_equal(c.provider, "openai");
	assert_string_equal(c.operation, "chat");
	assert_string_equal(c.response_model, "gpt-4.1-2025-04-14");
	/* prompt_tokens already includes cached_tokens: input = raw */
	assert_usage(&c, 2006, 300, 1920, -1, 128, 2006, 300);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.content_chars, strlen("Hello! How can I assist you today?"));
	assert_int_equal(c.first_token_ns, 0);
	assert_int_equal(c.stream_events, 0);
	assert_false(c.response_parse_error);
	assert_string_equal(c.error_type, "");
}

#define CHUNK(choices, usage)                                                                   \
	"{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"   \
	"\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_44709d6fcb\","          \
	"\"choices\":" choices ",\"usage\":" usage "}"

static const struct ev oai_chat_stream[] = {
	{ "message", CHUNK("[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
			   "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]", "null") },
	{ "message", CHUNK("[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,"
			   "\"finish_reason\":null}]", "null") },
	{ "message", CHUNK("[{\"index\":0,\"delta\":{\"content\":\" wörld!\"},\"logprobs\":null,"
			   "\"finish_reason\":null}]", "null") },
	{ "message", CHUNK("[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]",
			   "null") },
	{ "message", CHUNK("[]", "{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29,"
			   "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
			   "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
			   "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}") },
	{ "message", "[DONE]" },
};

static const char OAI_STREAM_REQ[] =
	"{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
	"\"messages\":[{\"role\":\"user\",\"content\":\"Say hello to the world, please.\"}]}";

static void test_openai_chat_stream(void **state)
{
	struct llm_call c;

	(void)state;
	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_STREAM_REQ);
	assert_int_equal(c.stream, 1);
	feed(&c, oai_chat_stream, 6);
	llm_finish(&c, strlen(OAI_STREAM_REQ), 2000);
	assert_usage(&c, 19, 10, 0, -1, 0, 19, 10);
	assert_source(&c, USAGE_PROVIDER);
	assert_string_equal(c.response_model, "gpt-4o-mini-2024-07-18");
	/* the role-only chunk is not the first token */
	assert_int_equal(c.first_token_ns, TS0 + 1 * TS_STEP);
	assert_int_equal(c.stream_events, 6);
	assert_int_equal(c.content_chars, 5 + 7); /* "Hello", " wörld!" in characters */
	assert_false(c.response_parse_error);
}

/* Cut before the usage chunk: nothing from the provider, both sides estimated. */
static void test_openai_chat_stream_cut(void **state)
{
	struct llm_call c;

	(void)state;
	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_STREAM_REQ);
	feed(&c, oai_chat_stream, 3);
	llm_finish(&c, strlen(OAI_STREAM_REQ), 900);
	assert_source(&c, USAGE_ESTIMATED);
	/* 31 prompt characters -> 8; 12 content characters -> 3 */
	assert_int_equal(c.prompt_chars, 31);
	assert_usage(&c, 8, 3, -1, -1, -1, -1, -1);
	assert_int_equal(c.first_token_ns, TS0 + TS_STEP);
	/* finishing twice changes nothing */
	llm_finish(&c, strlen(OAI_STREAM_REQ), 900);
	assert_usage(&c, 8, 3, -1, -1, -1, -1, -1);
	assert_source(&c, USAGE_ESTIMATED);
}

/* Tool calls and reasoning deltas are content; vLLM's per-chunk usage is a running count. */
static void test_openai_chat_stream_tools_and_running_usage(void **state)
{
	static const struct ev evs[] = {
		{ "message", CHUNK("[{\"index\":0,\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]",
				   "{\"prompt_tokens\":50,\"completion_tokens\":0,\"total_tokens\":50}") },
		{ "message", CHUNK("[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
				   "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},"
				   "\"finish_reason\":null}]",
				   "{\"prompt_tokens\":50,\"completion_tokens\":1,\"total_tokens\":51}") },
		{ "message", CHUNK("[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
				   "{\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]",
				   "{\"prompt_tokens\":50,\"completion_tokens\":7,\"total_tokens\":57}") },
	};
	static const struct ev last = {
		"message", CHUNK("[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]",
				 "{\"prompt_tokens\":50,\"completion_tokens\":9,\"total_tokens\":59}")
	};
	struct llm_call c;

	(void)state;
	call_start(&c, "10.1.2.3:8000", "/v1/chat/completions",
		   "{\"model\":\"Qwen/Qwen2.5-7B\",\"stream\":true,\"messages\":[]}");
	feed(&c, evs, 3);
	assert_string_equal(c.provider, "openai_compatible");
	assert_int_equal(c.first_token_ns, TS0 + TS_STEP);
	assert_int_equal(c.content_chars, strlen("{\"city\":\"Paris\"}"));
	/* running counts: input final, output provisional */
	assert_usage(&c, 50, 7, -1, -1, -1, 50, -1);
	assert_source(&c, USAGE_MISSING);
	/* cut here: the provisional 7 is a floor for the estimate (16 chars -> 4) */
	{
		struct llm_call cut = c;

		llm_finish(&cut, 60, 3000);
		assert_usage(&cut, 50, 7, -1, -1, -1, 50, -1);
		assert_source(&cut, USAGE_ESTIMATED);
	}
	llm_on_stream_event(&c, "message", last.data, strlen(last.data), TS0 + 9 * TS_STEP);
	llm_finish(&c, 60, 3000);
	assert_usage(&c, 50, 9, -1, -1, -1, 50, 9);
	assert_source(&c, USAGE_PROVIDER);
}

static void test_openai_completions(void **state)
{
	static const char resp[] =
		"{\"id\":\"cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7\",\"object\":\"text_completion\","
		"\"created\":1589478378,\"model\":\"gpt-3.5-turbo-instruct\",\"system_fingerprint\":"
		"\"fp_44709d6fcb\",\"choices\":[{\"text\":\"\\n\\nThis is indeed a test\",\"index\":0,"
		"\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,"
		"\"completion_tokens\":7,\"total_tokens\":12}}";
	static const struct ev evs[] = {
		{ "message", "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"choices\":"
			     "[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}],"
			     "\"model\":\"gpt-3.5-turbo-instruct\"}" },
		{ "message", "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"choices\":"
			     "[{\"text\":\"This\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}],"
			     "\"model\":\"gpt-3.5-turbo-instruct\"}" },
		{ "message", "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"choices\":"
			     "[],\"model\":\"gpt-3.5-turbo-instruct\",\"usage\":{\"prompt_tokens\":5,"
			     "\"completion_tokens\":1,\"total_tokens\":6}}" },
		{ "message", "[DONE]" },
	};
	struct llm_call c;

	(void)state;
	call_start(&c, "api.openai.com", "/v1/completions",
		   "{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"Say this is a test\","
		   "\"max_tokens\":7}");
	assert_int_equal(c.prompt_chars, strlen("Say this is a test"));
	body(&c, 200, resp);
	llm_finish(&c, 90, strlen(resp));
	assert_string_equal(c.operation, "text_completion");
	assert_usage(&c, 5, 7, -1, -1, -1, 5, 7);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.content_chars, strlen("\n\nThis is indeed a test"));

	call_start(&c, "api.openai.com", "/v1/completions",
		   "{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":[\"a\",\"bc\"],\"stream\":true}");
	assert_int_equal(c.prompt_chars, 3);
	feed(&c, evs, 4);
	llm_finish(&c, 90, 900);
	assert_usage(&c, 5, 1, -1, -1, -1, 5, 1);
	assert_int_equal(c.first_token_ns, TS0 + TS_STEP);
	assert_source(&c, USAGE_PROVIDER);
}

#define RESPONSE(status, output, usage)                                                          \
	"{\"id\":\"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b\",\"object\":\"response\"," \
	"\"created_at\":1741476542,\"status\":\"" status "\",\"error\":null,"                       \
	"\"incomplete_details\":null,\"instructions\":null,\"max_output_tokens\":null,"            \
	"\"model\":\"gpt-4.1-2025-04-14\",\"output\":" output ",\"parallel_tool_calls\":true,"    \
	"\"previous_response_id\":null,\"reasoning\":{\"effort\":null,\"summary\":null},"          \
	"\"store\":true,\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"}},"            \
	"\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\","         \
	"\"usage\":" usage ",\"user\":null,\"metadata\":{}}"

#define RESP_OUTPUT                                                                             \
	"[{\"type\":\"message\",\"id\":\"msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b\","  \
	"\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","  \
	"\"text\":\"In a peaceful grove.\",\"annotations\":[]}]}]"

static void test_openai_responses(void **state)
{
	static const char resp[] = RESPONSE("completed", RESP_OUTPUT,
		"{\"input_tokens\":37,\"input_tokens_details\":{\"cached_tokens\":32},\"output_tokens\":"
		"11,\"output_tokens_details\":{\"reasoning_tokens\":4},\"total_tokens\":48}");
	static const char req[] =
		"{\"model\":\"gpt-4.1\",\"instructions\":\"Be terse.\",\"input\":[{\"role\":\"user\","
		"\"content\":[{\"type\":\"input_text\",\"text\":\"Tell me a story.\"},{\"type\":"
		"\"input_image\",\"image_url\":\"data:image/png;base64,AAAA\"}]}]}";
	struct llm_call c;

	(void)state;
	call_start(&c, "api.openai.com", "/v1/responses", req);
	assert_int_equal(c.prompt_chars, strlen("Be terse.") + strlen("Tell me a story."));
	assert_int_equal(c.stream, 0);
	body(&c, 200, resp);
	llm_finish(&c, strlen(req), strlen(resp));
	assert_string_equal(c.operation, "chat");
	assert_string_equal(c.response_model, "gpt-4.1-2025-04-14");
	assert_usage(&c, 37, 11, 32, -1, 4, 37, 11);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.content_chars, strlen("In a peaceful grove."));
	assert_false(c.response_parse_error);
	assert_string_equal(c.error_type, "");
}

static const struct ev responses_stream[] = {
	{ "response.created", "{\"type\":\"response.created\",\"sequence_number\":0,\"response\":"
		RESPONSE("in_progress", "[]", "null") "}" },
	{ "response.in_progress", "{\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":"
		RESPONSE("in_progress", "[]", "null") "}" },
	{ "response.output_item.added", "{\"type\":\"response.output_item.added\",\"sequence_number\":2,"
		"\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":"
		"\"in_progress\",\"role\":\"assistant\",\"content\":[]}}" },
	{ "response.content_part.added", "{\"type\":\"response.content_part.added\",\"sequence_number\":3,"
		"\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":"
		"\"output_text\",\"text\":\"\",\"annotations\":[]}}" },
	{ "response.output_text.delta", "{\"type\":\"response.output_text.delta\",\"sequence_number\":4,"
		"\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"In a \"}" },
	{ "response.output_text.delta", "{\"type\":\"response.output_text.delta\",\"sequence_number\":5,"
		"\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":"
		"\"peaceful grove.\"}" },
	{ "response.output_text.done", "{\"type\":\"response.output_text.done\",\"sequence_number\":6,"
		"\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"text\":"
		"\"In a peaceful grove.\"}" },
	{ "response.content_part.done", "{\"type\":\"response.content_part.done\",\"sequence_number\":7,"
		"\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":"
		"\"output_text\",\"text\":\"In a peaceful grove.\",\"annotations\":[]}}" },
	{ "response.output_item.done", "{\"type\":\"response.output_item.done\",\"sequence_number\":8,"
		"\"output_index\":0,\"item\":" "{\"type\":\"message\",\"id\":\"msg_1\",\"status\":"
		"\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":"
		"\"In a peaceful grove.\",\"annotations\":[]}]}}" },
	{ "response.completed", "{\"type\":\"response.completed\",\"sequence_number\":9,\"response\":"
		RESPONSE("completed", RESP_OUTPUT, "{\"input_tokens\":37,\"input_tokens_details\":"
			 "{\"cached_tokens\":0},\"output_tokens\":11,\"output_tokens_details\":"
			 "{\"reasoning_tokens\":0},\"total_tokens\":48}") "}" },
};

static void test_openai_responses_stream(void **state)
{
	struct llm_call c;

	(void)state;
	call_start(&c, "api.openai.com", "/v1/responses",
		   "{\"model\":\"gpt-4.1\",\"input\":\"Tell me a story.\",\"stream\":true}");
	assert_int_equal(c.stream, 1);
	assert_int_equal(c.prompt_chars, 16);
	feed(&c, responses_stream, 10);
	llm_finish(&c, 70, 5000);
	assert_usage(&c, 37, 11, 0, -1, 0, 37, 11);
	assert_source(&c, USAGE_PROVIDER);
	assert_string_equal(c.response_model, "gpt-4.1-2025-04-14");
	assert_int_equal(c.first_token_ns, TS0 + 4 * TS_STEP);
	/* the deltas only: the full text in *.done and response.completed is not counted again */
	assert_int_equal(c.content_chars, strlen("In a peaceful grove."));

	/* cut before response.completed */
	call_start(&c, "api.openai.com", "/v1/responses",
		   "{\"model\":\"gpt-4.1\",\"input\":\"Tell me a story.\",\"stream\":true}");
	feed(&c, responses_stream, 9);
	llm_finish(&c, 70, 4000);
	assert_source(&c, USAGE_ESTIMATED);
	assert_usage(&c, 4, 5, -1, -1, -1, -1, -1);

	/* a failed response: the error in response.failed */
	call_start(&c, "api.openai.com", "/v1/responses", "{\"model\":\"gpt-4.1\",\"stream\":true}");
	{
		static const struct ev evs[] = {
			responses_stream[0],
			{ "response.failed", "{\"type\":\"response.failed\",\"sequence_number\":1,"
			  "\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"failed\","
			  "\"error\":{\"code\":\"server_error\",\"message\":\"The model failed\"},"
			  "\"model\":\"gpt-4.1-2025-04-14\",\"output\":[],\"usage\":null}}" },
		};

		feed(&c, evs, 2);
	}
	llm_finish(&c, 30, 900);
	assert_string_equal(c.error_type, "server_error");
	assert_source(&c, USAGE_MISSING);
	assert_usage(&c, -1, -1, -1, -1, -1, -1, -1);

	/* an "error" event: code at the top level */
	call_start(&c, "api.openai.com", "/v1/responses", "{\"model\":\"gpt-4.1\",\"stream\":true}");
	{
		static const char err[] = "{\"type\":\"error\",\"code\":\"ERR_SOMETHING\",\"message\":"
					  "\"Something went wrong\",\"param\":null,\"sequence_number\":1}";

		llm_on_stream_event(&c, "error", err, strlen(err), TS0);
	}
	assert_string_equal(c.error_type, "ERR_SOMETHING");
}

static void test_openai_embeddings(void **state)
{
	static const char resp[] =
		"{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":[0.0023064255,"
		"-0.009327292,-0.0028842222],\"index\":0}],\"model\":\"text-embedding-ada-002\","
		"\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}";
	struct llm_call c;

	(void)state;
	call_start(&c, "api.openai.com", "/v1/embeddings",
		   "{\"input\":\"The food was delicious and the waiter...\",\"model\":"
		   "\"text-embedding-ada-002\",\"encoding_format\":\"float\"}");
	assert_int_equal(c.prompt_chars, strlen("The food was delicious and the waiter..."));
	assert_int_equal(c.stream, 0);
	body(&c, 200, resp);
	llm_finish(&c, 100, strlen(resp));
	assert_string_equal(c.operation, "embeddings");
	assert_string_equal(c.response_model, "text-embedding-ada-002");
	/* no output for embeddings: not reported, and not estimated either */
	assert_usage(&c, 8, -1, -1, -1, -1, 8, -1);
	assert_source(&c, USAGE_PROVIDER);

	/* token-id input and no usage: input estimated from bytes, output still none */
	call_start(&c, "127.0.0.1:8080", "/v1/embeddings", "{\"input\":[[1,2,3]],\"model\":\"e5\"}");
	assert_int_equal(c.prompt_chars, 0);
	body(&c, 200, "{\"object\":\"list\",\"data\":[],\"model\":\"e5\"}");
	llm_finish(&c, 30, 40);
	assert_usage(&c, 8, -1, -1, -1, -1, -1, -1);
	assert_source(&c, USAGE_ESTIMATED);
}

static void test_azure_openai(void **state)
{
	static const char resp[] =
		"{\"choices\":[{\"content_filter_results\":{},\"finish_reason\":\"stop\",\"index\":0,"
		"\"logprobs\":null,\"message\":{\"content\":\"Hi.\",\"refusal\":null,\"role\":"
		"\"assistant\"}}],\"created\":1724716364,\"id\":\"chatcmpl-A0qLL\",\"model\":"
		"\"gpt-4o-2024-05-13\",\"object\":\"chat.completion\",\"prompt_filter_results\":"
		"[{\"prompt_index\":0,\"content_filter_results\":{}}],\"system_fingerprint\":"
		"\"fp_abc28019ad\",\"usage\":{\"completion_tokens\":2,\"prompt_tokens\":12,"
		"\"total_tokens\":14}}";
	static const struct ev evs[] = {
		/* Azure's prompt filter results come first: empty model, no choices, no usage */
		{ "message", "{\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
			     "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}" },
		{ "message", "{\"choices\":[{\"delta\":{\"content\":\"\",\"role\":\"assistant\"},"
			     "\"finish_reason\":null,\"index\":0}],\"created\":1,\"id\":\"c1\",\"model\":"
			     "\"gpt-4o-2024-05-13\",\"object\":\"chat.completion.chunk\"}" },
		{ "message", "{\"choices\":[{\"content_filter_results\":{},\"delta\":{\"content\":\"Hi.\"},"
			     "\"finish_reason\":null,\"index\":0}],\"created\":1,\"id\":\"c1\",\"model\":"
			     "\"gpt-4o-2024-05-13\",\"object\":\"chat.completion.chunk\"}" },
		{ "message", "{\"choices\":[],\"created\":1,\"id\":\"c1\",\"model\":\"gpt-4o-2024-05-13\","
			     "\"object\":\"chat.completion.chunk\",\"usage\":{\"completion_tokens\":2,"
			     "\"prompt_tokens\":12,\"total_tokens\":14}}" },
		{ "message", "[DONE]" },
	};
	struct llm_call c;

	(void)state;
	call_start(&c, "contoso.openai.azure.com",
		   "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
		   "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
	assert_string_equal(c.provider, "azure.ai.openai");
	assert_string_equal(c.request_model, "gpt-4o-prod");
	assert_int_equal(c.stream, 0);
	body(&c, 200, resp);
	llm_finish(&c, 50, strlen(resp));
	assert_string_equal(c.response_model, "gpt-4o-2024-05-13");
	assert_usage(&c, 12, 2, -1, -1, -1, 12, 2);
	assert_source(&c, USAGE_PROVIDER);

	/* a "model" in the body does not replace the deployment */
	call_start(&c, "contoso.openai.azure.com",
		   "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
		   "{\"model\":\"other\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
		   "\"messages\":[]}");
	assert_string_equal(c.request_model, "gpt-4o-prod");
	feed(&c, evs, 5);
	llm_finish(&c, 50, 2000);
	assert_usage(&c, 12, 2, -1, -1, -1, 12, 2);
	assert_string_equal(c.response_model, "gpt-4o-2024-05-13");
	assert_int_equal(c.first_token_ns, TS0 + 2 * TS_STEP);
	assert_source(&c, USAGE_PROVIDER);

	/* v1 API: the model is in the body */
	call_start(&c, "contoso.openai.azure.com", "/openai/v1/chat/completions",
		   "{\"model\":\"gpt-4.1-mini\",\"messages\":[]}");
	assert_string_equal(c.provider, "azure.ai.openai");
	assert_string_equal(c.request_model, "gpt-4.1-mini");
}

/* ---- Anthropic ---------------------------------------------------------- */

static const char ANTH_REQ[] =
	"{\"model\":\"claude-sonnet-4-20250514\",\"max_tokens\":1024,\"system\":[{\"type\":\"text\","
	"\"text\":\"You are terse.\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":"
	"[{\"role\":\"user\",\"content\":\"Hello, Claude\"},{\"role\":\"assistant\",\"content\":"
	"[{\"type\":\"text\",\"text\":\"Hi!\"}]},{\"role\":\"user\",\"content\":[{\"type\":"
	"\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":"
	"\"iVBORw0KGgo=\"}},{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":"
	"[{\"type\":\"text\",\"text\":\"15 C\"}]}]}]}";

static void test_anthropic_messages(void **state)
{
	static const char resp[] =
		"{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"type\":\"message\",\"role\":\"assistant\","
		"\"model\":\"claude-sonnet-4-20250514\",\"content\":[{\"type\":\"thinking\",\"thinking\":"
		"\"Hm.\",\"signature\":\"zbbJhbGciOiJFU8zI1NiIsImtp==\"},{\"type\":\"text\",\"text\":"
		"\"Hi! My name is Claude.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"x\","
		"\"input\":{\"a\":1}}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":"
		"{\"input_tokens\":100,\"cache_creation_input_tokens\":2000,\"cache_read_input_tokens\":"
		"3000,\"output_tokens\":503,\"service_tier\":\"standard\"}}";
	struct llm_call c;

	(void)state;
	call_start(&c, "api.anthropic.com", "/v1/messages", ANTH_REQ);
	assert_int_equal(c.prompt_chars, strlen("You are terse.") + strlen("Hello, Claude") +
						 strlen("Hi!") + strlen("15 C"));
	assert_int_equal(c.stream, 0);
	body(&c, 200, resp);
	llm_finish(&c, strlen(ANTH_REQ), strlen(resp));
	assert_string_equal(c.provider, "anthropic");
	assert_string_equal(c.response_model, "claude-sonnet-4-20250514");
	/* input_tokens excludes the cache: 100 + 3000 read + 2000 written */
	assert_usage(&c, 5100, 503, 3000, 2000, -1, 100, 503);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.content_chars, strlen("Hm.") + strlen("Hi! My name is Claude."));
}

/* The tier a request was billed at, and Anthropic's one-hour cache writes:
 * both change its price. The response's word wins over the request's. */
static void test_service_tier_and_1h_cache(void **state)
{
	static const char anth[] =
		"{\"type\":\"message\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"usage\":"
		"{\"input_tokens\":10,\"cache_creation_input_tokens\":700,\"cache_creation\":"
		"{\"ephemeral_5m_input_tokens\":300,\"ephemeral_1h_input_tokens\":400},"
		"\"output_tokens\":5,\"service_tier\":\"batch\"}}";
	static const char oai[] =
		"{\"object\":\"chat.completion\",\"model\":\"gpt-4o\",\"service_tier\":\"priority\","
		"\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}";
	static const char dflt[] =
		"{\"object\":\"chat.completion\",\"model\":\"gpt-4o\",\"service_tier\":\"default\","
		"\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}";
	struct llm_call c;

	(void)state;
	call_start(&c, "api.anthropic.com", "/v1/messages", ANTH_REQ);
	body(&c, 200, anth);
	assert_string_equal(c.service_tier, "batch");
	assert_int_equal(c.usage.cache_creation_tokens, 700);
	assert_int_equal(c.usage.cache_creation_1h_tokens, 400);
	call_start(&c, "api.openai.com", "/v1/chat/completions",
		   "{\"model\":\"gpt-4o\",\"service_tier\":\"flex\",\"messages\":[]}");
	assert_string_equal(c.service_tier, "flex");
	body(&c, 200, oai);
	assert_string_equal(c.service_tier, "priority");
	assert_int_equal(c.usage.cache_creation_1h_tokens, -1);
	call_start(&c, "api.openai.com", "/v1/chat/completions",
		   "{\"model\":\"gpt-4o\",\"service_tier\":\"flex\",\"messages\":[]}");
	body(&c, 200, dflt);
	assert_string_equal(c.service_tier, ""); /* asked for flex, served standard */
}

static const struct ev anth_stream[] = {
	{ "message_start", "{\"type\":\"message_start\",\"message\":{\"id\":"
		"\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\",\"type\":\"message\",\"role\":\"assistant\","
		"\"content\":[],\"model\":\"claude-sonnet-4-20250514\",\"stop_reason\":null,"
		"\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,"
		"\"cache_read_input_tokens\":1000,\"output_tokens\":1}}}" },
	{ "content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
		"{\"type\":\"text\",\"text\":\"\"}}" },
	{ "ping", "{\"type\": \"ping\"}" },
	{ "content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
		"{\"type\":\"text_delta\",\"text\":\"Hello\"}}" },
	{ "content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
		"{\"type\":\"text_delta\",\"text\":\" there, how are you today?\"}}" },
	{ "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}" },
	{ "message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
		"\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}" },
	{ "message_stop", "{\"type\":\"message_stop\"}" },
};

static void test_anthropic_stream(void **state)
{
	struct llm_call c;

	(void)state;
	call_start(&c, "api.anthropic.com", "/v1/messages",
		   "{\"model\":\"claude-sonnet-4-20250514\",\"max_tokens\":256,\"stream\":true,"
		   "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
	assert_int_equal(c.stream, 1);
	feed(&c, anth_stream, 8);
	llm_finish(&c, 120, 3000);
	assert_usage(&c, 1025, 15, 1000, 0, -1, 25, 15);
	assert_source(&c, USAGE_PROVIDER);
	assert_string_equal(c.response_model, "claude-sonnet-4-20250514");
	assert_int_equal(c.first_token_ns, TS0 + 3 * TS_STEP);
	assert_int_equal(c.stream_events, 8);
	assert_int_equal(c.content_chars, strlen("Hello there, how are you today?"));
}

/* Newer API versions repeat input and cache counts in message_delta: take them. */
static void test_anthropic_stream_delta_with_input(void **state)
{
	static const struct ev evs[] = {
		anth_stream[0],
		{ "content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
		  "{\"type\":\"thinking\",\"thinking\":\"\"}}" },
		{ "content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
		  "{\"type\":\"thinking_delta\",\"thinking\":\"Let me think\"}}" },
		{ "content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
		  "{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds\"}}" },
		{ "content_block_start", "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
		  "{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}" },
		{ "content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
		  "{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}" },
		{ "content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
		  "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"SF\\\"}\"}}" },
		{ "message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
		  "\"stop_sequence\":null},\"usage\":{\"input_tokens\":30,\"cache_creation_input_tokens\":"
		  "5,\"cache_read_input_tokens\":1000,\"output_tokens\":89}}" },
		{ "message_stop", "{\"type\":\"message_stop\"}" },
	};
	struct llm_call c;

	(void)state;
	call_start(&c, "api.anthropic.com", "/v1/messages", "{\"model\":\"claude-opus-4\",\"stream\":true}");
	feed(&c, evs, 9);
	llm_finish(&c, 50, 3000);
	assert_usage(&c, 1035, 89, 1000, 5, -1, 30, 89);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.first_token_ns, TS0 + 2 * TS_STEP);
	assert_int_equal(c.content_chars, strlen("Let me think") + strlen("{\"location\": \"SF\"}"));
}

/*
 * Cut after some text, before message_delta: message_start's input counts
 * are the provider's and stay; its output_tokens placeholder is not a
 * final count; the output is estimated and the whole marked estimated.
 */
static void test_anthropic_stream_cut(void **state)
{
	struct llm_call c;

	(void)state;
	call_start(&c, "api.anthropic.com", "/v1/messages",
		   "{\"model\":\"claude-sonnet-4-20250514\",\"stream\":true,\"messages\":[]}");
	feed(&c, anth_stream, 5);
	llm_finish(&c, 60, 1500);
	/* 31 characters of text -> 8 tokens */
	assert_usage(&c, 1025, 8, 1000, 0, -1, 25, -1);
	assert_source(&c, USAGE_ESTIMATED);
	assert_int_equal(c.first_token_ns, TS0 + 3 * TS_STEP);

	/* cut right after message_start: the placeholder 1 is the floor */
	call_start(&c, "api.anthropic.com", "/v1/messages",
		   "{\"model\":\"claude-sonnet-4-20250514\",\"stream\":true,\"messages\":[]}");
	feed(&c, anth_stream, 1);
	llm_finish(&c, 60, 400);
	assert_usage(&c, 1025, 100, 1000, 0, -1, 25, -1);
	assert_source(&c, USAGE_ESTIMATED);
	assert_int_equal(c.first_token_ns, 0);
}

static void test_anthropic_errors(void **state)
{
	static const char overloaded[] =
		"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"},"
		"\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}";
	struct llm_call c;

	(void)state;
	call_start(&c, "api.anthropic.com", "/v1/messages", ANTH_REQ);
	body(&c, 529, overloaded);
	llm_finish(&c, strlen(ANTH_REQ), strlen(overloaded));
	assert_string_equal(c.error_type, "overloaded_error");
	assert_false(c.response_parse_error);
	/* a failed request was not an inference: nothing estimated */
	assert_source(&c, USAGE_MISSING);
	assert_usage(&c, -1, -1, -1, -1, -1, -1, -1);

	/* an error event in the middle of a stream: what was generated is estimated */
	call_start(&c, "api.anthropic.com", "/v1/messages", "{\"stream\":true,\"messages\":[]}");
	feed(&c, anth_stream, 4);
	llm_on_stream_event(&c, "error", overloaded, strlen(overloaded), TS0 + 50 * TS_STEP);
	llm_finish(&c, 30, 1200);
	assert_string_equal(c.error_type, "overloaded_error");
	assert_usage(&c, 1025, 2, 1000, 0, -1, 25, -1);
	assert_source(&c, USAGE_ESTIMATED);

	/* an Anthropic-compatible server on another host */
	call_start(&c, "127.0.0.1:4000", "/v1/messages", "{\"model\":\"glm-4.5\",\"messages\":[]}");
	assert_string_equal(c.provider, "anthropic_compatible");
	body(&c, 400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
		      "\"message\":\"max_tokens: Field required\"}}");
	assert_string_equal(c.error_type, "invalid_request_error");
}

/* ---- Gemini / Vertex AI ------------------------------------------------- */

static const char GEMINI_REQ[] =
	"{\"systemInstruction\":{\"parts\":[{\"text\":\"Be brief.\"}]},\"contents\":[{\"role\":"
	"\"user\",\"parts\":[{\"text\":\"Explain how AI works\"},{\"inlineData\":{\"mimeType\":"
	"\"image/jpeg\",\"data\":\"/9j/4AAQSkZJRg==\"}}]}],\"generationConfig\":{\"thinkingConfig\":"
	"{\"thinkingBudget\":1024}}}";

static void test_gemini_generate(void **state)
{
	static const char resp[] =
		"{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n"
		"          {\n            \"text\": \"AI learns patterns from data.\"\n          }\n"
		"        ],\n        \"role\": \"model\"\n      },\n      \"finishReason\": \"STOP\",\n"
		"      \"avgLogprobs\": -0.1\n    }\n  ],\n  \"usageMetadata\": {\n"
		"    \"promptTokenCount\": 1200,\n    \"candidatesTokenCount\": 40,\n"
		"    \"totalTokenCount\": 1530,\n    \"cachedContentTokenCount\": 1000,\n"
		"    \"toolUsePromptTokenCount\": 40,\n    \"thoughtsTokenCount\": 250,\n"
		"    \"promptTokensDetails\": [\n      {\n        \"modality\": \"TEXT\",\n"
		"        \"tokenCount\": 1200\n      }\n    ]\n  },\n"
		"  \"modelVersion\": \"gemini-2.5-flash\",\n  \"responseId\": \"mxxxxx\"\n}\n";
	struct llm_call c;

	(void)state;
	call_start(&c, "generativelanguage.googleapis.com",
		   "/v1beta/models/gemini-2.5-flash:generateContent", GEMINI_REQ);
	assert_int_equal(c.prompt_chars, strlen("Be brief.") + strlen("Explain how AI works"));
	assert_string_equal(c.request_model, "gemini-2.5-flash");
	body(&c, 200, resp);
	llm_finish(&c, strlen(GEMINI_REQ), strlen(resp));
	assert_string_equal(c.provider, "gcp.gemini");
	assert_string_equal(c.operation, "generate_content");
	assert_string_equal(c.response_model, "gemini-2.5-flash");
	/*
	 * promptTokenCount includes the cached 1000; the tool-use prompt is
	 * input too; thoughts are output but not in candidatesTokenCount.
	 */
	assert_usage(&c, 1240, 290, 1000, -1, 250, 1200, 40);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.content_chars, strlen("AI learns patterns from data."));
	assert_int_equal(c.stream, 0);
}

/* Gemini leaves zero counts out: a function call only, candidatesTokenCount absent. */
static void test_gemini_zero_counts_left_out(void **state)
{
	static const char resp[] =
		"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_time\","
		"\"args\":{}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
		"\"usageMetadata\":{\"promptTokenCount\":31,\"totalTokenCount\":76,"
		"\"thoughtsTokenCount\":45},\"modelVersion\":\"gemini-2.5-pro\"}";
	struct llm_call c;

	(void)state;
	call_start(&c, "generativelanguage.googleapis.com",
		   "/v1beta/models/gemini-2.5-pro:generateContent", GEMINI_REQ);
	body(&c, 200, resp);
	llm_finish(&c, 10, 10);
	assert_usage(&c, 31, 45, -1, -1, 45, 31, 0);
	assert_source(&c, USAGE_PROVIDER);
}

#define GCHUNK(text, finish, usage)                                                             \
	"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"" text "\"}],\"role\": "       \
	"\"model\"}" finish ",\"index\": 0}],\"usageMetadata\": " usage                            \
	",\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"Ws3oaLGQO\"}"

static const struct ev gemini_stream[] = {
	{ "message", GCHUNK("The", "", "{\"promptTokenCount\": 8,\"totalTokenCount\": 8}") },
	{ "message", GCHUNK(" quick brown fox", "", "{\"promptTokenCount\": 8,"
			    "\"candidatesTokenCount\": 4,\"totalTokenCount\": 12}") },
	{ "message", GCHUNK(" jumps.", ",\"finishReason\": \"STOP\"", "{\"promptTokenCount\": 8,"
			    "\"candidatesTokenCount\": 6,\"totalTokenCount\": 14,\"promptTokensDetails\":"
			    " [{\"modality\": \"TEXT\",\"tokenCount\": 8}],\"candidatesTokensDetails\":"
			    " [{\"modality\": \"TEXT\",\"tokenCount\": 6}]}") },
};

static void test_gemini_stream_sse(void **state)
{
	struct llm_call c;

	(void)state;
	call_start(&c, "generativelanguage.googleapis.com",
		   "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", GEMINI_REQ);
	assert_int_equal(c.stream, 1);
	feed(&c, gemini_stream, 3);
	llm_finish(&c, 100, 1000);
	assert_usage(&c, 8, 6, -1, -1, -1, 8, 6);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.first_token_ns, TS0);
	assert_int_equal(c.content_chars, strlen("The quick brown fox jumps."));
	assert_string_equal(c.response_model, "gemini-2.0-flash");

	/* cut before the finishing chunk: the running count 4 is not final */
	call_start(&c, "generativelanguage.googleapis.com",
		   "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", GEMINI_REQ);
	feed(&c, gemini_stream, 2);
	assert_source(&c, USAGE_MISSING);
	llm_finish(&c, 100, 600);
	/* 19 characters -> 5, above the provisional 4 */
	assert_usage(&c, 8, 5, -1, -1, -1, 8, -1);
	assert_source(&c, USAGE_ESTIMATED);
}

/* Without alt=sse the stream is one JSON array, delivered as a body. */
static void test_gemini_stream_array(void **state)
{
	static const char arr[] = "[" GCHUNK("The", "", "{\"promptTokenCount\": 8,\"totalTokenCount\": 8}")
		",\r\n" GCHUNK(" quick brown fox", "", "{\"promptTokenCount\": 8,\"candidatesTokenCount\":"
			       " 4,\"totalTokenCount\": 12}")
		",\r\n" GCHUNK(" jumps.", ",\"finishReason\": \"STOP\"", "{\"promptTokenCount\": 8,"
			       "\"candidatesTokenCount\": 6,\"totalTokenCount\": 14}") "]";
	char cut[sizeof(arr)];
	struct llm_call c;
	size_t n;

	(void)state;
	call_start(&c, "us-central1-aiplatform.googleapis.com",
		   "/v1/projects/my-project/locations/us-central1/publishers/google/models/"
		   "gemini-2.0-flash-001:streamGenerateContent", GEMINI_REQ);
	assert_string_equal(c.provider, "gcp.vertex_ai");
	assert_string_equal(c.request_model, "gemini-2.0-flash-001");
	body(&c, 200, arr);
	llm_finish(&c, 100, strlen(arr));
	assert_usage(&c, 8, 6, -1, -1, -1, 8, 6);
	assert_source(&c, USAGE_PROVIDER);
	assert_false(c.response_parse_error);
	assert_int_equal(c.content_chars, strlen("The quick brown fox jumps."));

	/* the array cut inside its last element: the complete ones are kept */
	n = (size_t)(strstr(arr, " jumps.") - arr);
	memcpy(cut, arr, n);
	cut[n] = '\0';
	call_start(&c, "us-central1-aiplatform.googleapis.com",
		   "/v1/projects/my-project/locations/us-central1/publishers/google/models/"
		   "gemini-2.0-flash-001:streamGenerateContent", GEMINI_REQ);
	body(&c, 200, cut);
	llm_finish(&c, 100, n);
	assert_true(c.response_parse_error);
	assert_usage(&c, 8, 5, -1, -1, -1, 8, -1);
	assert_source(&c, USAGE_ESTIMATED);
}

static void test_gemini_errors(void **state)
{
	static const char err[] =
		"{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"Resource has been exhausted "
		"(e.g. check quota).\",\n    \"status\": \"RESOURCE_EXHAUSTED\"\n  }\n}\n";
	static const char err_in_array[] =
		"[{\n  \"error\": {\n    \"code\": 400,\n    \"message\": \"API key not valid.\",\n"
		"    \"status\": \"INVALID_ARGUMENT\",\n    \"details\": []\n  }\n}\n]";
	struct llm_call c;

	(void)state;
	call_start(&c, "generativelanguage.googleapis.com",
		   "/v1beta/models/gemini-2.0-flash:generateContent", GEMINI_REQ);
	body(&c, 429, err);
	llm_finish(&c, 100, strlen(err));
	assert_string_equal(c.error_type, "RESOURCE_EXHAUSTED");
	assert_false(c.response_parse_error);
	assert_source(&c, USAGE_MISSING);

	call_start(&c, "generativelanguage.googleapis.com",
		   "/v1beta/models/gemini-2.0-flash:streamGenerateContent", GEMINI_REQ);
	body(&c, 400, err_in_array);
	assert_string_equal(c.error_type, "INVALID_ARGUMENT");

	/* a numeric code only */
	call_start(&c, "generativelanguage.googleapis.com",
		   "/v1beta/models/gemini-2.0-flash:generateContent", GEMINI_REQ);
	body(&c, 503, "{\"error\":{\"code\":503,\"message\":\"overloaded\"}}");
	assert_string_equal(c.error_type, "503");
}

/* Claude on Vertex AI: Messages bodies, model from the path. */
static void test_vertex_anthropic(void **state)
{
	struct llm_call c;

	(void)state;
	call_start(&c, "us-east5-aiplatform.googleapis.com",
		   "/v1/projects/p/locations/us-east5/publishers/anthropic/models/"
		   "claude-3-5-sonnet-v2@20241022:streamRawPredict",
		   "{\"anthropic_version\":\"vertex-2023-10-16\",\"stream\":true,\"max_tokens\":10,"
		   "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
	assert_string_equal(c.provider, "gcp.vertex_ai");
	assert_string_equal(c.request_model, "claude-3-5-sonnet-v2@20241022");
	assert_int_equal(c.stream, 1);
	feed(&c, anth_stream, 8);
	llm_finish(&c, 100, 1000);
	assert_usage(&c, 1025, 15, 1000, 0, -1, 25, 15);
	assert_source(&c, USAGE_PROVIDER);
}

/* ---- Bedrock ------------------------------------------------------------ */

static const char CONVERSE_REQ[] =
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hello\"},{\"image\":{\"format\":"
	"\"png\",\"source\":{\"bytes\":\"iVBORw0KGgo=\"}}}]}],\"system\":[{\"text\":\"Be nice.\"},"
	"{\"cachePoint\":{\"type\":\"default\"}}],\"inferenceConfig\":{\"maxTokens\":512}}";

static void test_bedrock_converse(void **state)
{
	static const char resp[] =
		"{\"metrics\":{\"latencyMs\":321},\"output\":{\"message\":{\"content\":[{\"text\":"
		"\"Hello there.\"}],\"role\":\"assistant\"}},\"stopReason\":\"end_turn\",\"usage\":"
		"{\"inputTokens\":30,\"outputTokens\":7,\"totalTokens\":1037,\"cacheReadInputTokens\":"
		"800,\"cacheWriteInputTokens\":200}}";
	struct llm_call c;

	(void)state;
	call_start(&c, "bedrock-runtime.us-east-1.amazonaws.com",
		   "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", CONVERSE_REQ);
	assert_string_equal(c.request_model, "anthropic.claude-3-5-sonnet-20240620-v1:0");
	assert_int_equal(c.prompt_chars, strlen("Hello") + strlen("Be nice."));
	assert_int_equal(c.stream, 0);
	body(&c, 200, resp);
	llm_finish(&c, strlen(CONVERSE_REQ), strlen(resp));
	assert_string_equal(c.provider, "aws.bedrock");
	assert_string_equal(c.operation, "chat");
	/* inputTokens excludes cache reads and writes, like Anthropic's */
	assert_usage(&c, 1030, 7, 800, 200, -1, 30, 7);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.content_chars, strlen("Hello there."));
	assert_string_equal(c.response_model, "");
}

static const struct ev converse_stream[] = {
	{ "messageStart", "{\"p\":\"abcdefghijk\",\"role\":\"assistant\"}" },
	{ "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"\"},\"p\":\"abcdef\"}" },
	{ "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hel\"},\"p\":\"abcdef\"}" },
	{ "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"lo!\"},\"p\":\"abcdef\"}" },
	{ "contentBlockStop", "{\"contentBlockIndex\":0,\"p\":\"abcdefghijklmno\"}" },
	{ "messageStop", "{\"p\":\"abcdefgh\",\"stopReason\":\"end_turn\"}" },
	{ "metadata", "{\"metrics\":{\"latencyMs\":512},\"p\":\"abc\",\"usage\":{\"inputTokens\":12,"
		      "\"outputTokens\":3,\"totalTokens\":15}}" },
};

static void test_bedrock_converse_stream(void **state)
{
	struct llm_call c;

	(void)state;
	call_start(&c, "bedrock-runtime.us-west-2.amazonaws.com",
		   "/model/us.amazon.nova-pro-v1%3A0/converse-stream", CONVERSE_REQ);
	assert_int_equal(c.stream, 1);
	feed(&c, converse_stream, 7);
	llm_finish(&c, strlen(CONVERSE_REQ), 800);
	assert_usage(&c, 12, 3, -1, -1, -1, 12, 3);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.first_token_ns, TS0 + 2 * TS_STEP);
	assert_int_equal(c.content_chars, 6);
	assert_string_equal(c.request_model, "us.amazon.nova-pro-v1:0");

	/* cut before metadata */
	call_start(&c, "bedrock-runtime.us-west-2.amazonaws.com",
		   "/model/us.amazon.nova-pro-v1%3A0/converse-stream", CONVERSE_REQ);
	feed(&c, converse_stream, 6);
	llm_finish(&c, strlen(CONVERSE_REQ), 700);
	assert_usage(&c, 4, 2, -1, -1, -1, -1, -1);
	assert_source(&c, USAGE_ESTIMATED);

	/* an exception message mid-stream */
	call_start(&c, "bedrock-runtime.us-west-2.amazonaws.com",
		   "/model/us.amazon.nova-pro-v1%3A0/converse-stream", CONVERSE_REQ);
	feed(&c, converse_stream, 1);
	llm_on_stream_event(&c, "throttlingException", "{\"message\":\"Too many requests\"}", 32,
			    TS0 + 9 * TS_STEP);
	llm_finish(&c, strlen(CONVERSE_REQ), 200);
	assert_string_equal(c.error_type, "throttlingException");
	assert_source(&c, USAGE_MISSING);

	/* boto-style wrapped events and no event type */
	call_start(&c, "bedrock-runtime.us-west-2.amazonaws.com",
		   "/model/m/converse-stream", CONVERSE_REQ);
	{
		static const struct ev evs[] = {
			{ NULL, "{\"contentBlockDelta\":{\"delta\":{\"text\":\"Hi\"},\"contentBlockIndex\":0}}" },
			{ NULL, "{\"metadata\":{\"usage\":{\"inputTokens\":5,\"outputTokens\":1,"
				"\"totalTokens\":6}}}" },
		};

		feed(&c, evs, 2);
	}
	llm_finish(&c, 10, 10);
	assert_usage(&c, 5, 1, -1, -1, -1, 5, 1);
	assert_int_equal(c.first_token_ns, TS0);
}

static void test_bedrock_invoke_headers(void **state)
{
	static const char resp[] =
		"{\"id\":\"msg_bdrk_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
		"\"claude-3-5-sonnet-20240620\",\"content\":[{\"type\":\"text\",\"text\":\"Hi there\"}],"
		"\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
		"\"cache_read_input_tokens\":100,\"output_tokens\":40}}";
	static const char req[] =
		"{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":100,\"messages\":"
		"[{\"role\":\"user\",\"content\":\"Hello there\"}]}";
	struct llm_call c;

	(void)state;
	call_start(&c, "bedrock-runtime.us-east-1.amazonaws.com",
		   "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke", req);
	assert_int_equal(c.prompt_chars, strlen("Hello there"));
	llm_on_response_header(&c, "Content-Type", "application/json");
	llm_on_response_header(&c, "X-Amzn-Bedrock-Input-Token-Count", "25");
	llm_on_response_header(&c, "x-amzn-bedrock-output-token-count", " 40 ");
	llm_on_response_header(&c, "x-amzn-bedrock-cache-read-input-token-count", "100");
	llm_on_response_header(&c, "x-amzn-bedrock-cache-write-input-token-count", "0");
	llm_on_response_header(&c, "x-amzn-bedrock-invocation-latency", "1234");
	assert_source(&c, USAGE_PROVIDER);
	body(&c, 200, resp);
	llm_finish(&c, strlen(req), strlen(resp));
	assert_usage(&c, 125, 40, 100, 0, -1, 25, 40);
	assert_source(&c, USAGE_PROVIDER);
	assert_string_equal(c.response_model, "claude-3-5-sonnet-20240620");
	assert_int_equal(c.content_chars, strlen("Hi there"));

	/* Llama's own body, and bad header values ignored */
	call_start(&c, "bedrock-runtime.us-east-1.amazonaws.com",
		   "/model/meta.llama3-8b-instruct-v1%3A0/invoke",
		   "{\"prompt\":\"<|begin_of_text|>Hi\",\"max_gen_len\":64}");
	llm_on_response_header(&c, "x-amzn-bedrock-input-token-count", "-5");
	llm_on_response_header(&c, "x-amzn-bedrock-output-token-count", "12abc");
	llm_on_response_header(&c, "x-amzn-bedrock-input-token-count", "99999999999999999999");
	assert_usage(&c, -1, -1, -1, -1, -1, -1, -1);
	body(&c, 200, "{\"generation\":\" Hello!\",\"prompt_token_count\":7,"
		      "\"generation_token_count\":3,\"stop_reason\":\"stop\"}");
	llm_finish(&c, 60, 90);
	assert_usage(&c, 7, 3, -1, -1, -1, 7, 3);
	assert_source(&c, USAGE_PROVIDER);

	/* errors: the type from x-amzn-errortype */
	call_start(&c, "bedrock-runtime.us-east-1.amazonaws.com",
		   "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke", req);
	llm_on_response_header(&c, "x-amzn-ErrorType",
			       "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/");
	body(&c, 400, "{\"message\":\"Malformed input request, please reformat your input and try again.\"}");
	llm_finish(&c, strlen(req), 80);
	assert_string_equal(c.error_type, "ValidationException");
	assert_source(&c, USAGE_MISSING);
}

static char *b64(const char *s)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), o = 0;
	char *out = malloc(n / 3 * 4 + 8);

	assert_non_null(out);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;

		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* A "chunk" event as Bedrock sends it: {"bytes": base64(the model's own event)}. */
static void chunk_event(struct llm_call *c, const char *native, uint64_t ts)
{
	char *enc = b64(native), *data;
	size_t sz = strlen(enc) + 32;

	data = malloc(sz);
	if (!data) {
		free(enc);
		fail_msg("out of memory");
		return;
	}
	snprintf(data, sz, "{\"bytes\":\"%s\",\"p\":\"abcd\"}", enc);
	llm_on_stream_event(c, "chunk", data, strlen(data), ts);
	free(enc);
	free(data);
}

static void test_bedrock_invoke_stream(void **state)
{
	static const char *const natives[] = {
		"{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_1\",\"type\":\"message\","
		"\"role\":\"assistant\",\"model\":\"claude-3-haiku-20240307\",\"content\":[],"
		"\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":14,"
		"\"output_tokens\":1}}}",
		"{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
		"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi!\"}}",
		"{\"type\":\"content_block_stop\",\"index\":0}",
		"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
		"\"usage\":{\"output_tokens\":5}}",
		"{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":14,"
		"\"outputTokenCount\":5,\"invocationLatency\":426,\"firstByteLatency\":298}}",
	};
	struct llm_call c;

	(void)state;
	call_start(&c, "bedrock-runtime.us-east-1.amazonaws.com",
		   "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream",
		   "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":100,\"messages\":"
		   "[{\"role\":\"user\",\"content\":\"Hello\"}]}");
	assert_int_equal(c.stream, 1);
	for (size_t i = 0; i < 6; i++)
		chunk_event(&c, natives[i], TS0 + i * TS_STEP);
	llm_finish(&c, 100, 2000);
	assert_usage(&c, 14, 5, -1, -1, -1, 14, 5);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.first_token_ns, TS0 + 2 * TS_STEP);
	assert_int_equal(c.content_chars, 3);
	assert_string_equal(c.response_model, "claude-3-haiku-20240307");
	assert_false(c.response_parse_error);

	/* Llama: running counts until invocationMetrics */
	call_start(&c, "bedrock-runtime.us-east-1.amazonaws.com",
		   "/model/meta.llama3-8b-instruct-v1%3A0/invoke-with-response-stream",
		   "{\"prompt\":\"Hi\"}");
	chunk_event(&c, "{\"generation\":\"Hello\",\"prompt_token_count\":9,"
			"\"generation_token_count\":1,\"stop_reason\":null}", TS0);
	chunk_event(&c, "{\"generation\":\" you\",\"prompt_token_count\":null,"
			"\"generation_token_count\":2,\"stop_reason\":null}", TS0 + TS_STEP);
	assert_usage(&c, 9, 2, -1, -1, -1, 9, -1);
	chunk_event(&c, "{\"generation\":\"\",\"prompt_token_count\":null,\"generation_token_count\":3,"
			"\"stop_reason\":\"stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":"
			"9,\"outputTokenCount\":3,\"invocationLatency\":200,\"firstByteLatency\":100}}",
		    TS0 + 2 * TS_STEP);
	llm_finish(&c, 20, 600);
	assert_usage(&c, 9, 3, -1, -1, -1, 9, 3);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.first_token_ns, TS0);

	/* bad base64 and bad inner JSON */
	call_start(&c, "bedrock-runtime.us-east-1.amazonaws.com",
		   "/model/meta.llama3-8b-instruct-v1%3A0/invoke-with-response-stream", NULL);
	{
		static const char bad64[] = "{\"bytes\":\"!!!not base64\"}";

		llm_on_stream_event(&c, "chunk", bad64, strlen(bad64), TS0);
	}
	assert_true(c.response_parse_error);
	call_start(&c, "bedrock-runtime.us-east-1.amazonaws.com",
		   "/model/meta.llama3-8b-instruct-v1%3A0/invoke-with-response-stream", NULL);
	chunk_event(&c, "{\"generation\":", TS0);
	assert_true(c.response_parse_error);
	llm_finish(&c, 0, 100);
	assert_sane(&c);
}

/* ---- Ollama, TGI -------------------------------------------------------- */

static const struct ev ollama_chat_stream[] = {
	{ NULL, "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\","
		"\"message\":{\"role\":\"assistant\",\"content\":\"The\"},\"done\":false}" },
	{ NULL, "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.485406455-07:00\","
		"\"message\":{\"role\":\"assistant\",\"content\":\" sky\"},\"done\":false}" },
	{ NULL, "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":"
		"{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\","
		"\"total_duration\":4883583458,\"load_duration\":1334875,\"prompt_eval_count\":26,"
		"\"prompt_eval_duration\":342546000,\"eval_count\":282,\"eval_duration\":4535599000}" },
};

static void test_ollama_chat_default_stream(void **state)
{
	struct llm_call c;

	(void)state;
	/* no "stream" in the request: Ollama streams */
	call_start(&c, "127.0.0.1:11434", "/api/chat",
		   "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":"
		   "\"why is the sky blue?\"}]}");
	assert_int_equal(c.stream, 1);
	assert_string_equal(c.request_model, "llama3.2");
	assert_int_equal(c.prompt_chars, strlen("why is the sky blue?"));
	feed(&c, ollama_chat_stream, 3);
	llm_finish(&c, 80, 700);
	assert_string_equal(c.provider, "ollama");
	assert_usage(&c, 26, 282, -1, -1, -1, 26, 282);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.first_token_ns, TS0);
	assert_int_equal(c.content_chars, 7);
	assert_string_equal(c.response_model, "llama3.2");

	/* cut before done */
	call_start(&c, "127.0.0.1:11434", "/api/chat",
		   "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":"
		   "\"why is the sky blue?\"}]}");
	feed(&c, ollama_chat_stream, 2);
	llm_finish(&c, 80, 300);
	assert_usage(&c, 5, 2, -1, -1, -1, -1, -1);
	assert_source(&c, USAGE_ESTIMATED);

	/* the whole NDJSON stream delivered as one body */
	call_start(&c, "127.0.0.1:11434", "/api/chat", "{\"model\":\"llama3.2\",\"messages\":[]}");
	{
		char buf[2048];

		snprintf(buf, sizeof(buf), "%s\n%s\n%s\n", ollama_chat_stream[0].data,
			 ollama_chat_stream[1].data, ollama_chat_stream[2].data);
		body(&c, 200, buf);
	}
	llm_finish(&c, 80, 700);
	assert_usage(&c, 26, 282, -1, -1, -1, 26, 282);
	assert_false(c.response_parse_error);
}

static void test_ollama_generate_and_embed(void **state)
{
	static const char gen[] =
		"{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"response\":"
		"\"The sky is blue because it is the color of the sky.\",\"done\":true,\"context\":"
		"[1,2,3],\"total_duration\":5043500667,\"load_duration\":5025959,\"prompt_eval_count\":"
		"26,\"prompt_eval_duration\":325953000,\"eval_count\":290,\"eval_duration\":4709213000}";
	static const char embed[] =
		"{\"model\":\"all-minilm\",\"embeddings\":[[0.010071029,-0.0017594862,0.05007221]],"
		"\"total_duration\":14143917,\"load_duration\":1019500,\"prompt_eval_count\":8}";
	struct llm_call c;

	(void)state;
	call_start(&c, "ollama:11434", "/api/generate",
		   "{\"model\":\"llama3.2\",\"prompt\":\"Why is the sky blue?\",\"stream\":false}");
	assert_int_equal(c.stream, 0);
	assert_string_equal(c.operation, "text_completion");
	body(&c, 200, gen);
	llm_finish(&c, 70, strlen(gen));
	assert_usage(&c, 26, 290, -1, -1, -1, 26, 290);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.first_token_ns, 0);

	/* prompt_eval_count left out (the prompt was in Ollama's cache): input estimated */
	call_start(&c, "ollama:11434", "/api/generate",
		   "{\"model\":\"llama3.2\",\"prompt\":\"Why is the sky blue?\",\"stream\":false}");
	body(&c, 200, "{\"model\":\"llama3.2\",\"response\":\"Rayleigh.\",\"done\":true,\"eval_count\":4}");
	llm_finish(&c, 70, 90);
	assert_usage(&c, 5, 4, -1, -1, -1, -1, 4);
	assert_source(&c, USAGE_ESTIMATED);

	call_start(&c, "ollama:11434", "/api/embed",
		   "{\"model\":\"all-minilm\",\"input\":[\"Why is the sky blue?\",\"Why is the grass green?\"]}");
	assert_int_equal(c.prompt_chars, 20 + 23);
	body(&c, 200, embed);
	llm_finish(&c, 80, strlen(embed));
	assert_usage(&c, 8, -1, -1, -1, -1, 8, -1);
	assert_source(&c, USAGE_PROVIDER);

	/* an error: a string, no type, so the status */
	call_start(&c, "ollama:11434", "/api/chat", "{\"model\":\"nope\",\"messages\":[]}");
	body(&c, 404, "{\"error\":\"model \\\"nope\\\" not found, try pulling it first\"}");
	llm_finish(&c, 30, 60);
	assert_string_equal(c.error_type, "404");
	assert_source(&c, USAGE_MISSING);
}

static void test_tgi(void **state)
{
	static const struct ev evs[] = {
		{ "message", "{\"index\":1,\"token\":{\"id\":29889,\"text\":\" Deep\",\"logprob\":-0.1,"
			     "\"special\":false},\"generated_text\":null,\"details\":null}" },
		{ "message", "{\"index\":2,\"token\":{\"id\":6509,\"text\":\" learning\",\"logprob\":-0.2,"
			     "\"special\":false},\"generated_text\":null,\"details\":null}" },
		{ "message", "{\"index\":3,\"token\":{\"id\":2,\"text\":\"</s>\",\"logprob\":0.0,"
			     "\"special\":true},\"generated_text\":\" Deep learning\",\"details\":"
			     "{\"finish_reason\":\"eos_token\",\"generated_tokens\":3,\"seed\":null}}" },
	};
	struct llm_call c;

	(void)state;
	call_start(&c, "tgi:8080", "/generate_stream",
		   "{\"inputs\":\"What is Deep Learning?\",\"parameters\":{\"max_new_tokens\":20}}");
	assert_int_equal(c.prompt_chars, strlen("What is Deep Learning?"));
	feed(&c, evs, 3);
	llm_finish(&c, 70, 600);
	/* TGI reports the output only: the input is estimated */
	assert_usage(&c, 6, 3, -1, -1, -1, -1, 3);
	assert_source(&c, USAGE_ESTIMATED);
	assert_int_equal(c.first_token_ns, TS0);
	assert_int_equal(c.content_chars, strlen(" Deep learning"));

	call_start(&c, "tgi:8080", "/generate", "{\"inputs\":\"What is Deep Learning?\"}");
	body(&c, 200, "[{\"generated_text\":\" Deep learning is\",\"details\":{\"finish_reason\":"
		      "\"length\",\"generated_tokens\":4,\"seed\":null,\"prefill\":[{\"id\":1,\"text\":"
		      "\"<s>\"},{\"id\":2,\"text\":\"What\"}],\"tokens\":[]}}]");
	llm_finish(&c, 40, 100);
	assert_usage(&c, 2, 4, -1, -1, -1, 2, 4);
	assert_source(&c, USAGE_PROVIDER);

	call_start(&c, "tgi:8080", "/generate", "{\"inputs\":\"x\"}");
	body(&c, 422, "{\"error\":\"Input validation error: `inputs` must not be empty\","
		      "\"error_type\":\"validation\"}");
	assert_string_equal(c.error_type, "validation");
}

/* ---- estimates, errors, garbage ----------------------------------------- */

static void test_estimates(void **state)
{
	struct llm_call c;

	(void)state;
	/* a compatible server that sends no usage: characters / 4, rounded up */
	call_start(&c, "127.0.0.1:8000", "/v1/chat/completions",
		   "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"123456789\"}]}");
	body(&c, 200, "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":"
		      "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"12345\"},"
		      "\"finish_reason\":\"stop\"}]}");
	llm_finish(&c, 64, 120);
	assert_usage(&c, 3, 2, -1, -1, -1, -1, -1);
	assert_source(&c, USAGE_ESTIMATED);

	/* no text seen: body bytes / 4 */
	call_start(&c, "127.0.0.1:8000", "/v1/chat/completions", NULL);
	llm_finish(&c, 41, 400);
	assert_usage(&c, 11, 100, -1, -1, -1, -1, -1);
	assert_source(&c, USAGE_ESTIMATED);

	/* only a request */
	call_start(&c, "127.0.0.1:8000", "/v1/chat/completions", NULL);
	llm_finish(&c, 8, 0);
	assert_usage(&c, 2, -1, -1, -1, -1, -1, -1);
	assert_source(&c, USAGE_ESTIMATED);

	/* nothing at all */
	call_start(&c, "127.0.0.1:8000", "/v1/chat/completions", NULL);
	llm_finish(&c, 0, 0);
	assert_usage(&c, -1, -1, -1, -1, -1, -1, -1);
	assert_source(&c, USAGE_MISSING);

	/* never "provider" from an estimate, even with an input count */
	call_start(&c, "api.anthropic.com", "/v1/messages", "{\"stream\":true}");
	feed(&c, anth_stream, 1);
	llm_finish(&c, 0, 0);
	assert_source(&c, USAGE_ESTIMATED);
	assert_int_equal(c.usage.raw_output_tokens, -1);
}

static void test_error_bodies(void **state)
{
	static const char rl[] =
		"{\n    \"error\": {\n        \"message\": \"Rate limit reached for requests\",\n"
		"        \"type\": \"requests\",\n        \"param\": null,\n"
		"        \"code\": \"rate_limit_exceeded\"\n    }\n}\n";
	static const char bad[] =
		"{\"error\":{\"message\":\"you must provide a model parameter\",\"type\":"
		"\"invalid_request_error\",\"param\":null,\"code\":null}}";
	struct llm_call c;

	(void)state;
	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_CHAT_REQ);
	body(&c, 429, rl);
	llm_finish(&c, strlen(OAI_CHAT_REQ), strlen(rl));
	assert_string_equal(c.error_type, "rate_limit_exceeded");
	assert_false(c.response_parse_error);
	assert_source(&c, USAGE_MISSING);
	assert_usage(&c, -1, -1, -1, -1, -1, -1, -1);

	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_CHAT_REQ);
	body(&c, 400, bad);
	assert_string_equal(c.error_type, "invalid_request_error");

	/* a proxy's HTML page */
	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_CHAT_REQ);
	body(&c, 502, "<html><body>Bad Gateway</body></html>");
	llm_finish(&c, 100, 40);
	assert_string_equal(c.error_type, "502");
	assert_true(c.response_parse_error);
	assert_source(&c, USAGE_MISSING);

	/* an error in the middle of a chat stream */
	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_STREAM_REQ);
	feed(&c, oai_chat_stream, 2);
	llm_on_stream_event(&c, "message", bad, strlen(bad), TS0 + 10 * TS_STEP);
	llm_finish(&c, 100, 800);
	assert_string_equal(c.error_type, "invalid_request_error");
	assert_source(&c, USAGE_ESTIMATED);
	assert_int_equal(c.usage.output_tokens, 2);

	/* 200 with JSON of the wrong shape */
	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_CHAT_REQ);
	body(&c, 200, "{\"hello\":\"world\"}");
	assert_true(c.response_parse_error);
	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_CHAT_REQ);
	body(&c, 200, "[1,2,3]");
	assert_true(c.response_parse_error);
	call_start(&c, "api.openai.com", "/v1/chat/completions", OAI_CHAT_REQ);
	body(&c, 200, "\"just a string\"");
	assert_true(c.response_parse_error);
}

/* Wrong types, huge and negative numbers: ignored, never believed. */
static void test_hostile_numbers_and_types(void **state)
{
	static const char *const bodies[] = {
		"{\"choices\":[],\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":1e300}}",
		"{\"choices\":[],\"usage\":{\"prompt_tokens\":\"12\",\"completion_tokens\":true}}",
		"{\"choices\":[],\"usage\":{\"prompt_tokens\":1e15,\"completion_tokens\":null}}",
		"{\"choices\":[],\"usage\":\"lots\"}",
		"{\"choices\":{\"0\":{\"message\":{\"content\":\"x\"}}},\"usage\":[1,2]}",
		"{\"choices\":[{\"message\":\"hi\"},{\"message\":{\"content\":42}},null,7],"
		"\"model\":123,\"usage\":{\"prompt_tokens_details\":5}}",
		"{\"choices\":[],\"model\":\"\",\"usage\":{\"prompt_tokens\":NaN}}",
		"{\"error\":{\"code\":1e300,\"type\":[]}}",
		"{\"error\":{\"code\":{},\"type\":null,\"status\":7}}",
		"{\"error\":[]}",
	};
	struct llm_call c;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		call_start(&c, "api.openai.com", "/v1/chat/completions", "{\"model\":7,\"stream\":\"yes\"}");
		assert_string_equal(c.request_model, "");
		assert_int_equal(c.stream, 0);
		body(&c, 200, bodies[i]);
		assert_true(c.usage.raw_input_tokens == -1);
		assert_true(c.usage.raw_output_tokens == -1);
		llm_finish(&c, 30, strlen(bodies[i]));
		assert_true(c.usage_source != USAGE_PROVIDER);
		assert_sane(&c);
	}
	/* just under the limit is believed */
	call_start(&c, "api.openai.com", "/v1/chat/completions", NULL);
	body(&c, 200, "{\"choices\":[],\"usage\":{\"prompt_tokens\":999999999999999,\"completion_tokens\":0}}");
	llm_finish(&c, 0, 0);
	assert_usage(&c, 999999999999999LL, 0, -1, -1, -1, 999999999999999LL, 0);
	assert_source(&c, USAGE_PROVIDER);
}

static void test_models_copied_and_truncated(void **state)
{
	char req[1024], *heap;
	struct llm_call c;
	size_t n;

	(void)state;
	/* a model name longer than the buffer, then the buffer freed */
	n = (size_t)snprintf(req, sizeof(req), "{\"model\":\"%0300d\",\"messages\":[]}", 7);
	heap = strdup(req);
	assert_non_null(heap);
	call_start(&c, "api.openai.com", "/v1/chat/completions", NULL);
	llm_on_request_body(&c, heap, n);
	memset(heap, 'X', n);
	free(heap);
	assert_int_equal(strlen(c.request_model), sizeof(c.request_model) - 1);
	assert_int_equal(c.request_model[0], '0');
	assert_int_equal(c.request_model[126], '0');

	/* multibyte names are cut on a character boundary */
	snprintf(req, sizeof(req), "{\"model\":\"%0126d\\u00e9\\u00e9\"}", 1);
	call_start(&c, "api.openai.com", "/v1/chat/completions", req);
	assert_int_equal(strlen(c.request_model), 126);

	/* control characters do not reach the output */
	call_start(&c, "api.openai.com", "/v1/chat/completions", NULL);
	body(&c, 200, "{\"object\":\"chat.completion\",\"model\":\"a\\nb\\u0001c\",\"choices\":[]}");
	assert_string_equal(c.response_model, "a_b_c");

	/* a path model longer than the buffer */
	{
		char path[600];

		snprintf(path, sizeof(path), "/v1beta/models/%0400d:generateContent", 3);
		call_start(&c, "generativelanguage.googleapis.com", path, NULL);
		assert_int_equal(strlen(c.request_model), sizeof(c.request_model) - 1);
	}
	/* bad escapes stay as they are; %00 cannot end the name early */
	call_start(&c, "bedrock-runtime.us-east-1.amazonaws.com", "/model/a%zzb%00c%4/converse", NULL);
	assert_string_equal(c.request_model, "a%zzb_c%4");
}

/* Streams handed over whole, the way a server sends them. */
static void test_sse_body_fallback(void **state)
{
	static const char sse[] =
		"event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
		"\"claude-3-haiku\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\r\n\r\n"
		": a comment\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		"\"delta\":{\"type\":\"text_delta\",\"text\":\"Hey\"}}\n\n"
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{},\"usage\":"
		"{\"output_tokens\":2}}\n\n";
	struct llm_call c;

	(void)state;
	call_start(&c, "api.anthropic.com", "/v1/messages", "{\"stream\":true}");
	body(&c, 200, sse);
	llm_finish(&c, 20, strlen(sse));
	assert_usage(&c, 10, 2, -1, -1, -1, 10, 2);
	assert_source(&c, USAGE_PROVIDER);
	assert_int_equal(c.content_chars, 3);
	assert_false(c.response_parse_error);
}

/* Events the SSE parser may deliver that carry nothing. */
static void test_odd_events(void **state)
{
	static const struct ev evs[] = {
		{ "message", "" },
		{ "message", "   " },
		{ "message", "[DONE]" },
		{ "message", "not json" },
		{ "message", "42" },
		{ "message", "{\"choices\":[{\"delta\":{\"content\":null}}]}" },
		{ NULL, "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}" },
	};
	struct llm_call c;

	(void)state;
	call_start(&c, "api.openai.com", "/v1/chat/completions", NULL);
	assert_int_equal(c.stream, -1);
	feed(&c, evs, 7);
	/* a stream was seen: the request must have asked for one */
	assert_int_equal(c.stream, 1);
	assert_int_equal(c.stream_events, 7);
	assert_true(c.response_parse_error);
	assert_int_equal(c.first_token_ns, TS0 + 6 * TS_STEP);
	llm_finish(&c, 0, 300);
	assert_sane(&c);
}

/* Every prefix of every fixture, as a body and as an event: no crash, no leak. */
static void test_truncated_everywhere(void **state)
{
	static const char *const fixtures[] = {
		OAI_CHAT_RESP, ANTH_REQ, GEMINI_REQ, CONVERSE_REQ, OAI_CHAT_REQ,
	};
	static const char *const routes[][2] = {
		{ "api.openai.com", "/v1/chat/completions" },
		{ "api.openai.com", "/v1/responses" },
		{ "api.anthropic.com", "/v1/messages" },
		{ "generativelanguage.googleapis.com", "/v1beta/models/g:streamGenerateContent" },
		{ "bedrock-runtime.us-east-1.amazonaws.com", "/model/m/invoke" },
		{ "bedrock-runtime.us-east-1.amazonaws.com", "/model/m/converse-stream" },
		{ "x", "/api/chat" },
		{ "x", "/generate_stream" },
	};

	(void)state;
	for (size_t r = 0; r < sizeof(routes) / sizeof(routes[0]); r++)
		for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
			size_t len = strlen(fixtures[f]);

			for (size_t n = 0; n <= len; n += 7) {
				char *buf = malloc(n + 1);
				struct llm_call c;

				assert_non_null(buf);
				memcpy(buf, fixtures[f], n);
				buf[n] = '\0';
				call_start(&c, routes[r][0], routes[r][1], NULL);
				llm_on_request_body(&c, buf, n);
				llm_on_response_body(&c, 200, buf, n);
				llm_on_stream_event(&c, "message", buf, n, 5);
				llm_finish(&c, n, n);
				assert_sane(&c);
				free(buf);
			}
		}
}

/* Random bytes, NUL bytes and JSON-ish noise into every entry point of every API. */
static void test_garbage(void **state)
{
	static const char alphabet[] = "{}[]\":,0123456789.-eE truefalsnul\\u\n\r\tabc\x00\xff\xc3\xa9";
	static const char *const routes[][2] = {
		{ "api.openai.com", "/v1/chat/completions" },
		{ "api.openai.com", "/v1/completions" },
		{ "api.openai.com", "/v1/responses" },
		{ "api.openai.com", "/v1/embeddings" },
		{ "api.anthropic.com", "/v1/messages" },
		{ "generativelanguage.googleapis.com", "/v1beta/models/g:generateContent" },
		{ "generativelanguage.googleapis.com", "/v1beta/models/g:embedContent" },
		{ "bedrock-runtime.us-east-1.amazonaws.com", "/model/m/invoke-with-response-stream" },
		{ "bedrock-runtime.us-east-1.amazonaws.com", "/model/m/converse" },
		{ "x", "/api/chat" },
		{ "x", "/api/embed" },
		{ "x", "/generate" },
	};
	static const char *const events[] = {
		NULL, "message", "chunk", "metadata", "contentBlockDelta", "message_start",
		"message_delta", "response.completed", "response.output_text.delta", "error",
		"internalServerException",
	};
	char buf[512];

	(void)state;
	srand(12345);
	for (int iter = 0; iter < 3000; iter++) {
		const char *const *r = routes[(size_t)iter % (sizeof(routes) / sizeof(routes[0]))];
		size_t n = (size_t)rand() % (sizeof(buf) - 1);
		struct llm_call c;

		for (size_t i = 0; i < n; i++)
			buf[i] = iter % 2 ? (char)(rand() & 0xff)
					  : alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		buf[n] = '\0';
		call_start(&c, r[0], r[1], NULL);
		llm_on_request_body(&c, buf, n);
		llm_on_response_header(&c, "x-amzn-bedrock-input-token-count", buf);
		llm_on_stream_event(&c, events[(size_t)rand() % (sizeof(events) / sizeof(events[0]))],
				    buf, n, (uint64_t)iter + 1);
		llm_on_response_body(&c, iter % 3 ? 200 : 500, buf, n);
		llm_finish(&c, n, n);
		assert_sane(&c);
	}
}

/* Valid fixtures with a few bytes changed: the paths past the first key get exercised. */
static void test_mutated_fixtures(void **state)
{
	static const struct {
		const char *host, *path, *event, *data;
	} seeds[] = {
		{ "api.openai.com", "/v1/chat/completions", NULL, OAI_CHAT_RESP },
		{ "api.openai.com", "/v1/chat/completions", "message", OAI_CHAT_RESP },
		{ "api.anthropic.com", "/v1/messages", "message_start", NULL },
		{ "api.openai.com", "/v1/responses", "response.completed", NULL },
		{ "generativelanguage.googleapis.com", "/v1beta/models/g:streamGenerateContent", "message", NULL },
		{ "bedrock-runtime.us-east-1.amazonaws.com", "/model/m/converse-stream", "metadata", NULL },
		{ "x", "/api/chat", NULL, NULL },
	};
	const char *datas[] = {
		OAI_CHAT_RESP, OAI_CHAT_RESP, anth_stream[0].data, responses_stream[9].data,
		gemini_stream[2].data, converse_stream[6].data, ollama_chat_stream[2].data,
	};
	char buf[4096];

	(void)state;
	srand(777);
	for (int iter = 0; iter < 6000; iter++) {
		size_t k = (size_t)iter % (sizeof(seeds) / sizeof(seeds[0])), n = strlen(datas[k]);
		struct llm_call c;

		assert_true(n < sizeof(buf));
		memcpy(buf, datas[k], n + 1);
		for (int m = 1 + rand() % 4; m > 0; m--)
			buf[(size_t)rand() % n] = (char)(rand() % 3 ? "{}[]\":,0-9e"[rand() % 11]
								    : rand() & 0xff);
		call_start(&c, seeds[k].host, seeds[k].path, NULL);
		if (seeds[k].event || iter % 2)
			llm_on_stream_event(&c, seeds[k].event, buf, n, 77);
		else
			llm_on_response_body(&c, 200, buf, n);
		llm_finish(&c, 10, n);
		assert_sane(&c);
	}
}

/* Nesting past cJSON's limit, and deep nesting within it where usage is looked for. */
static void test_deep_nesting(void **state)
{
	const size_t depth = 5000;
	char *deep = malloc(2 * depth + 64), *p;
	struct llm_call c;

	(void)state;
	assert_non_null(deep);
	p = deep;
	for (size_t i = 0; i < depth; i++)
		*p++ = '[';
	for (size_t i = 0; i < depth; i++)
		*p++ = ']';
	*p = '\0';
	call_start(&c, "api.openai.com", "/v1/chat/completions", NULL);
	llm_on_request_body(&c, deep, strlen(deep));
	body(&c, 200, deep);
	llm_on_stream_event(&c, "message", deep, strlen(deep), 1);
	llm_finish(&c, 1, 1);
	assert_sane(&c);

	/* 400 levels of messages/content within cJSON's limit: the walk is bounded */
	p = deep;
	p += sprintf(p, "{\"messages\":");
	for (size_t i = 0; i < 400; i++)
		p += sprintf(p, "[{\"content\":");
	p += sprintf(p, "\"x\"");
	for (size_t i = 0; i < 400; i++)
		p += sprintf(p, "}]");
	p += sprintf(p, "}");
	call_start(&c, "api.openai.com", "/v1/chat/completions", NULL);
	llm_on_request_body(&c, deep, strlen(deep));
	assert_int_equal(c.prompt_chars, 0);
	llm_finish(&c, strlen(deep), 0);
	assert_sane(&c);
	free(deep);
}

/* Bodies past 8 MiB are not parsed: sizes still give an estimate. */
static void test_huge_body_ignored(void **state)
{
	size_t n = (8u << 20) + 16;
	char *big = malloc(n + 1);
	struct llm_call c;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"model\":\"big\",\"messages\":[]}", 29);
	big[n] = '\0';
	call_start(&c, "api.openai.com", "/v1/chat/completions", NULL);
	llm_on_request_body(&c, big, n);
	assert_string_equal(c.request_model, "");
	llm_on_response_body(&c, 200, big, n);
	llm_on_stream_event(&c, "message", big, n, 9);
	llm_finish(&c, n, 400);
	assert_usage(&c, (int64_t)((n + 3) / 4), 100, -1, -1, -1, -1, -1);
	assert_source(&c, USAGE_ESTIMATED);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_classify_rejects),
		cmocka_unit_test(test_usage_source_names),
		cmocka_unit_test(test_openai_chat),
		cmocka_unit_test(test_openai_chat_stream),
		cmocka_unit_test(test_openai_chat_stream_cut),
		cmocka_unit_test(test_openai_chat_stream_tools_and_running_usage),
		cmocka_unit_test(test_openai_completions),
		cmocka_unit_test(test_openai_responses),
		cmocka_unit_test(test_openai_responses_stream),
		cmocka_unit_test(test_openai_embeddings),
		cmocka_unit_test(test_azure_openai),
		cmocka_unit_test(test_anthropic_messages),
		cmocka_unit_test(test_anthropic_stream),
		cmocka_unit_test(test_anthropic_stream_delta_with_input),
		cmocka_unit_test(test_anthropic_stream_cut),
		cmocka_unit_test(test_anthropic_errors),
		cmocka_unit_test(test_gemini_generate),
		cmocka_unit_test(test_gemini_zero_counts_left_out),
		cmocka_unit_test(test_gemini_stream_sse),
		cmocka_unit_test(test_gemini_stream_array),
		cmocka_unit_test(test_gemini_errors),
		cmocka_unit_test(test_vertex_anthropic),
		cmocka_unit_test(test_bedrock_converse),
		cmocka_unit_test(test_bedrock_converse_stream),
		cmocka_unit_test(test_bedrock_invoke_headers),
		cmocka_unit_test(test_bedrock_invoke_stream),
		cmocka_unit_test(test_ollama_chat_default_stream),
		cmocka_unit_test(test_ollama_generate_and_embed),
		cmocka_unit_test(test_tgi),
		cmocka_unit_test(test_estimates),
		cmocka_unit_test(test_error_bodies),
		cmocka_unit_test(test_hostile_numbers_and_types),
		cmocka_unit_test(test_models_copied_and_truncated),
		cmocka_unit_test(test_sse_body_fallback),
		cmocka_unit_test(test_odd_events),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_mutated_fixtures),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_huge_body_ignored),
		cmocka_unit_test(test_service_tier_and_1h_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
