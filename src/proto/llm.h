/* SPDX-License-Identifier: MIT */
/*
 * Inference APIs: which provider and operation an HTTP request is, which
 * model it asked for and got, and how many tokens it was billed.
 *
 * The HTTP layer (src/proto/http*.c) calls these in order for one exchange:
 *   llm_classify (request line and Host/:authority)
 *   llm_on_request_body (decoded JSON request body, if any)
 *   llm_on_response_header (each response header)
 *   llm_on_stream_event (each SSE event / NDJSON line / AWS event-stream
 *                        message of a streamed response)   -- or --
 *   llm_on_response_body (the whole decoded body of a non-streamed one)
 *   llm_finish
 * Recognition is table-driven (llm.c): adding an API is one table entry.
 * Names follow the OpenTelemetry GenAI semantic conventions.
 */
#ifndef INFERTRACE_LLM_H
#define INFERTRACE_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum usage_source {
	USAGE_MISSING = 0,   /* an inference API, but no usage and nothing to estimate from */
	USAGE_PROVIDER,      /* numbers the provider reported (billed) */
	USAGE_ESTIMATED,     /* estimated from sizes: never a billed figure */
};

/* Token counts; -1 = not reported. Normalised per the OpenTelemetry GenAI
 * conventions: input_tokens INCLUDES cache reads and cache writes (OpenAI's
 * prompt_tokens already does; Anthropic's input_tokens does not, so its
 * cache_read_input_tokens and cache_creation_input_tokens are added).
 * output_tokens includes reasoning tokens. */
struct llm_usage {
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cache_read_tokens;
	int64_t cache_creation_tokens;
	int64_t reasoning_tokens;
	/* the provider's own input/output numbers, before normalisation */
	int64_t raw_input_tokens;
	int64_t raw_output_tokens;
	/* of cache_creation_tokens, those written for one hour (Anthropic's
	 * usage.cache_creation.ephemeral_1h_input_tokens; priced higher) */
	int64_t cache_creation_1h_tokens;
};

struct llm_api; /* a table entry, opaque */

struct llm_call {
	const struct llm_api *api;   /* NULL: not an inference API we know */
	const char *provider;        /* gen_ai.provider.name: "openai", "anthropic",
					"gcp.gemini", "gcp.vertex_ai", "aws.bedrock",
					"azure.ai.openai", "ollama", "openai_compatible", ... */
	const char *operation;       /* gen_ai.operation.name: "chat", "text_completion",
					"embeddings", "generate_content", ... */
	char request_model[128];     /* gen_ai.request.model ("" = unknown) */
	char response_model[128];    /* gen_ai.response.model ("" = unknown) */
	int stream;                  /* gen_ai.request.stream: -1 unknown, 0, 1 */
	struct llm_usage usage;
	enum usage_source usage_source;
	uint64_t first_token_ns;     /* ts of the first content-bearing streamed event; 0 = none */
	uint64_t stream_events;      /* streamed events seen */
	uint64_t content_chars;      /* characters of generated text seen (for estimates) */
	uint64_t prompt_chars;       /* characters of prompt text in the request (for estimates) */
	bool response_parse_error;   /* the response body was not the JSON expected */
	char error_type[64];         /* provider error type/code from an error body, "" if none */
	char service_tier[16];       /* "", "batch", "priority", "flex": the tier the provider
					says it served (else the one the request asked for);
					"" = standard */
};

/* Reset c. */
void llm_call_init(struct llm_call *c);

/*
 * Is "METHOD path" to host an inference API? host is the Host or :authority
 * value (may carry ":port"); path may carry a query string. Fills api,
 * provider, operation, and the model when the path names it (Azure
 * deployments, Gemini/Vertex, Bedrock). Returns true when recognised.
 * Known hosts (api.openai.com, api.anthropic.com, ...) give the provider's
 * name; any other host speaking a known API gives "<api>_compatible"
 * (e.g. "openai_compatible") unless the API identifies itself (Ollama).
 */
bool llm_classify(struct llm_call *c, const char *method, const char *host, const char *path);

/* The decoded request body (JSON): model, stream, stream_options, prompt size. */
void llm_on_request_body(struct llm_call *c, const char *body, size_t n);
/* One response header (name as received; compare case-insensitively). */
void llm_on_response_header(struct llm_call *c, const char *name, const char *value);
/* The whole decoded body of a non-streamed response, and its HTTP status. */
void llm_on_response_body(struct llm_call *c, int status, const char *body, size_t n);
/*
 * One streamed event, arriving at ts_ns: an SSE event (event = its type,
 * "message" by default), an NDJSON line (event = NULL), or an AWS event-stream
 * message (event = its ":event-type" header). data is NUL-terminated.
 */
void llm_on_stream_event(struct llm_call *c, const char *event, const char *data, size_t n,
			 uint64_t ts_ns);
/*
 * The exchange is over. Without usage from the provider, estimate from what
 * was seen (text characters, else body bytes; about 4 bytes a token) and mark
 * USAGE_ESTIMATED; with nothing to go on, USAGE_MISSING.
 */
void llm_finish(struct llm_call *c, uint64_t request_body_bytes, uint64_t response_body_bytes);

const char *usage_source_name(enum usage_source s); /* "provider", "estimated", "missing" */

#endif
