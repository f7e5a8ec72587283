// SPDX-License-Identifier: MIT
/*
 * Inference API recognition and usage extraction (see llm.h).
 *
 * Recognition is two tables: api_table says which request paths are which
 * API (and how their bodies look), host_table says which hosts belong to a
 * named provider. An API spoken to a host that is not in host_table gets the
 * entry's "compatible" name: vLLM on 10.0.0.5:8000 is "openai_compatible".
 *
 * Rules, in one place so that the numbers can be trusted:
 *
 * Normalisation (OpenTelemetry GenAI): input_tokens includes cache reads and
 * cache writes; output_tokens includes reasoning tokens.
 *  - OpenAI (chat, completions, responses, embeddings) and every
 *    OpenAI-shaped server: prompt_tokens/input_tokens already include
 *    cached_tokens, so input = raw.
 *  - Anthropic and Bedrock (Converse usage, invoke headers, invocation
 *    metrics): input_tokens/inputTokens exclude cache reads and writes, so
 *    input = raw + cache_read + cache_creation.
 *  - Gemini/Vertex: promptTokenCount includes cachedContentTokenCount;
 *    candidatesTokenCount excludes thoughtsTokenCount, and totalTokenCount =
 *    prompt + toolUsePrompt + candidates + thoughts. So input = prompt +
 *    toolUsePrompt (tool-use prompt tokens are billed as input), output =
 *    candidates + thoughts, reasoning = thoughts. Zero counts are omitted
 *    from Gemini JSON: a missing candidatesTokenCount is derived from
 *    totalTokenCount when that is present.
 *  - raw_input_tokens/raw_output_tokens keep the provider's own figures
 *    (promptTokenCount, input_tokens, ...) and stay -1 when the provider did
 *    not report a final figure.
 *
 * Final and provisional figures. Some streams carry running counts before
 * the final one (Anthropic message_start's output_tokens placeholder, Gemini
 * chunks before the finishing one, vLLM's continuous usage). Such an output
 * count is provisional: it goes to output_tokens but not raw_output_tokens.
 * Input counts are known when the request is read, so any reported input
 * count is final.
 *
 * usage_source "provider" only when the provider reported a final input AND
 * a final output figure (embeddings generate no tokens: their output stays
 * -1, not reported, and the input alone is complete). Otherwise llm_finish
 * estimates the missing side (about 4 characters a token:
 * ceil(prompt_chars/4), else ceil(request bytes/4); ceil(content_chars/4),
 * else ceil(response bytes/4), never below a provisional count) and says
 * "estimated", keeping any provider figure it had, raw_* included (a raw_*
 * of -1 shows which side is the estimate). An error body is not generated
 * text: it estimates 0 output. A failed exchange (an error, no content, no
 * provider count: an HTTP error, or a stream that failed before anything)
 * is "missing" with no numbers: it was not billed as an inference, and an
 * estimate would invent a cost. With nothing at all to go on: "missing".
 *
 * Input is hostile: bodies and events over LLM_JSON_MAX are not parsed,
 * numbers must be finite, non-negative and below 1e15 to count, strings of
 * the wrong type are ignored, walks over JSON are depth-bounded and cJSON
 * refuses nesting past CJSON_NESTING_LIMIT.
 */
#include "proto/llm.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

/* Larger bodies or events are not parsed (counted by the caller only). */
#define LLM_JSON_MAX (8u << 20)
/* Token counts above this are not believed (and sums cannot overflow). */
#define TOKENS_MAX 1e15
/* How deep text walks go into messages/parts/content. */
#define TEXT_DEPTH_MAX 12
#define PATH_SEGS_MAX 32

static const char OP_CHAT[] = "chat";
static const char OP_TEXT[] = "text_completion";
static const char OP_EMBED[] = "embeddings";
static const char OP_GENERATE[] = "generate_content";

/* How request and response bodies of an API look. */
enum dialect {
	D_OAI_CHAT,	   /* chat.completion(.chunk) */
	D_OAI_TEXT,	   /* text_completion */
	D_OAI_RESPONSES,   /* Responses API objects and events */
	D_OAI_EMBED,	   /* embeddings list */
	D_ANTHROPIC,	   /* Messages API */
	D_GEMINI,	   /* GenerateContentResponse */
	D_GEMINI_EMBED,	   /* embedContent */
	D_BR_CONVERSE,	   /* Bedrock Converse / ConverseStream */
	D_BR_INVOKE,	   /* Bedrock InvokeModel*: the model's native JSON */
	D_OLLAMA,	   /* /api/chat, /api/generate: JSON or NDJSON */
	D_OLLAMA_EMBED,	   /* /api/embed(dings) */
	D_TGI,		   /* text-generation-inference native */
};

/* Which host_table entries may name the provider of an API. */
enum {
	F_OPENAI = 1 << 0,	/* OpenAI paths */
	F_AZURE = 1 << 1,	/* Azure OpenAI deployment paths */
	F_AZINF = 1 << 2,	/* Azure AI model inference */
	F_ANTHROPIC = 1 << 3,
	F_GOOGLE = 1 << 4,	/* Gemini API and Vertex AI paths */
	F_BEDROCK = 1 << 5,
	F_SELF = 1 << 6,	/* the API names itself (Ollama, TGI) */
};

struct llm_api {
	/*
	 * Path pattern over '/'-separated segments: a literal segment, "*" (any
	 * one segment), a segment with "{}" (the rest must match around it; what
	 * "{}" covers is the model), "{+}" (one or more whole segments: the
	 * model). A leading "**" lets any segments come before the rest.
	 */
	const char *path;
	unsigned family;
	const char *operation;
	enum dialect dialect;
	const char *compat;	/* provider on a host not in host_table */
	signed char stream;	/* -1: the request body says; 0/1: the path says */
	signed char stream_dflt; /* when the request body does not say */
};

/* First match wins: specific paths before the "**" ones. */
static const struct llm_api api_table[] = {
	/* Azure OpenAI: the deployment is the model. */
	{ "/openai/deployments/{}/chat/completions", F_AZURE, OP_CHAT, D_OAI_CHAT, "openai_compatible", -1, 0 },
	{ "/openai/deployments/{}/completions", F_AZURE, OP_TEXT, D_OAI_TEXT, "openai_compatible", -1, 0 },
	{ "/openai/deployments/{}/embeddings", F_AZURE, OP_EMBED, D_OAI_EMBED, "openai_compatible", 0, 0 },
	{ "/openai/responses", F_AZURE, OP_CHAT, D_OAI_RESPONSES, "openai_compatible", -1, 0 },
	/* Azure AI model inference (Foundry). */
	{ "/models/chat/completions", F_AZINF, OP_CHAT, D_OAI_CHAT, "openai_compatible", -1, 0 },
	{ "/models/embeddings", F_AZINF, OP_EMBED, D_OAI_EMBED, "openai_compatible", 0, 0 },
	/* OpenAI and everything that speaks it (/v1/..., /openai/v1/..., /api/v1/...). */
	{ "**/chat/completions", F_OPENAI, OP_CHAT, D_OAI_CHAT, "openai_compatible", -1, 0 },
	{ "**/v1/completions", F_OPENAI, OP_TEXT, D_OAI_TEXT, "openai_compatible", -1, 0 },
	{ "/completions", F_OPENAI, OP_TEXT, D_OAI_TEXT, "openai_compatible", -1, 0 },
	{ "**/v1/responses", F_OPENAI, OP_CHAT, D_OAI_RESPONSES, "openai_compatible", -1, 0 },
	{ "**/v1/embeddings", F_OPENAI, OP_EMBED, D_OAI_EMBED, "openai_compatible", 0, 0 },
	{ "/embeddings", F_OPENAI, OP_EMBED, D_OAI_EMBED, "openai_compatible", 0, 0 },
	/* Anthropic Messages. */
	{ "**/v1/messages", F_ANTHROPIC, OP_CHAT, D_ANTHROPIC, "anthropic_compatible", -1, 0 },
	/* Claude on Vertex AI: Messages bodies, model in the path. */
	{ "/*/projects/*/locations/*/publishers/anthropic/models/{}:rawPredict", F_GOOGLE, OP_CHAT, D_ANTHROPIC, "anthropic_compatible", -1, 0 },
	{ "/*/projects/*/locations/*/publishers/anthropic/models/{}:streamRawPredict", F_GOOGLE, OP_CHAT, D_ANTHROPIC, "anthropic_compatible", 1, 1 },
	/* Gemini API and Vertex AI generateContent. */
	{ "/*/models/{}:generateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 0, 0 },
	{ "/*/models/{}:streamGenerateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 1, 1 },
	{ "/*/tunedModels/{}:generateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 0, 0 },
	{ "/*/tunedModels/{}:streamGenerateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 1, 1 },
	{ "/*/models/{}:embedContent", F_GOOGLE, OP_EMBED, D_GEMINI_EMBED, "gemini_compatible", 0, 0 },
	{ "/*/models/{}:batchEmbedContents", F_GOOGLE, OP_EMBED, D_GEMINI_EMBED, "gemini_compatible", 0, 0 },
	{ "/*/projects/*/locations/*/publishers/*/models/{}:generateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 0, 0 },
	{ "/*/projects/*/locations/*/publishers/*/models/{}:streamGenerateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 1, 1 },
	{ "/*/projects/*/locations/*/endpoints/{}:generateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 0, 0 },
	{ "/*/projects/*/locations/*/endpoints/{}:streamGenerateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 1, 1 },
	{ "/*/publishers/*/models/{}:generateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 0, 0 },
	{ "/*/publishers/*/models/{}:streamGenerateContent", F_GOOGLE, OP_GENERATE, D_GEMINI, "gemini_compatible", 1, 1 },
	/* Bedrock runtime: the model id is URL-encoded (an ARN may even keep its '/'). */
	{ "/model/{+}/converse", F_BEDROCK, OP_CHAT, D_BR_CONVERSE, "bedrock_compatible", 0, 0 },
	{ "/model/{+}/converse-stream", F_BEDROCK, OP_CHAT, D_BR_CONVERSE, "bedrock_compatible", 1, 1 },
	{ "/model/{+}/invoke", F_BEDROCK, OP_CHAT, D_BR_INVOKE, "bedrock_compatible", 0, 0 },
	{ "/model/{+}/invoke-with-response-stream", F_BEDROCK, OP_CHAT, D_BR_INVOKE, "bedrock_compatible", 1, 1 },
	/* Ollama: streams unless the request says "stream": false. */
	{ "/api/chat", F_SELF, OP_CHAT, D_OLLAMA, "ollama", -1, 1 },
	{ "/api/generate", F_SELF, OP_TEXT, D_OLLAMA, "ollama", -1, 1 },
	{ "/api/embed", F_SELF, OP_EMBED, D_OLLAMA_EMBED, "ollama", 0, 0 },
	{ "/api/embeddings", F_SELF, OP_EMBED, D_OLLAMA_EMBED, "ollama", 0, 0 },
	/* Hugging Face text-generation-inference native API. */
	{ "/generate", F_SELF, OP_TEXT, D_TGI, "tgi", 0, 0 },
	{ "/generate_stream", F_SELF, OP_TEXT, D_TGI, "tgi", 1, 1 },
};

struct llm_host {
	const char *glob;	/* fnmatch() pattern over the lower-case host */
	unsigned families;
	const char *provider;	/* gen_ai.provider.name */
};

static const struct llm_host host_table[] = {
	{ "api.openai.com", F_OPENAI, "openai" },
	{ "*.openai.azure.com", F_OPENAI | F_AZURE, "azure.ai.openai" },
	{ "*.cognitiveservices.azure.com", F_OPENAI | F_AZURE, "azure.ai.openai" },
	{ "*.services.ai.azure.com", F_AZINF, "azure.ai.inference" },
	{ "*.services.ai.azure.com", F_OPENAI | F_AZURE, "azure.ai.openai" },
	{ "*.models.ai.azure.com", F_OPENAI | F_AZINF, "azure.ai.inference" },
	{ "api.anthropic.com", F_ANTHROPIC | F_OPENAI, "anthropic" }, /* + its OpenAI SDK endpoint */
	{ "generativelanguage.googleapis.com", F_GOOGLE | F_OPENAI, "gcp.gemini" },
	{ "aiplatform.googleapis.com", F_GOOGLE | F_OPENAI, "gcp.vertex_ai" },
	{ "*-aiplatform.googleapis.com", F_GOOGLE | F_OPENAI, "gcp.vertex_ai" },
	{ "bedrock-runtime*.amazonaws.com", F_BEDROCK | F_OPENAI, "aws.bedrock" },
	{ "*.bedrock-runtime*.amazonaws.com", F_BEDROCK | F_OPENAI, "aws.bedrock" },
	{ "api.deepseek.com", F_OPENAI | F_ANTHROPIC, "deepseek" },
	{ "api.groq.com", F_OPENAI, "groq" },
	{ "api.mistral.ai", F_OPENAI, "mistral_ai" },
	{ "api.x.ai", F_OPENAI | F_ANTHROPIC, "x_ai" },
	{ "api.perplexity.ai", F_OPENAI, "perplexity" },
	{ "api.cohere.com", F_OPENAI, "cohere" },
	{ "api.cohere.ai", F_OPENAI, "cohere" },
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t max0(int64_t v)
{
	return v > 0 ? v : 0;
}

static int64_t ceil_div4(uint64_t v)
{
	uint64_t q = v / 4 + (v % 4 != 0);

	return q > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)q;
}

/* Characters (code points) of UTF-8 text: count the non-continuation bytes. */
static uint64_t utf8_chars(const char *s)
{
	uint64_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Copy a model name into a fixed buffer: truncated on a UTF-8 boundary,
 * control characters replaced so that nothing odd reaches the output.
 */
static void model_copy(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	if (n < len)
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = (ch < 0x20 || ch == 0x7f) ? '_' : (char)ch;
	}
	dst[n] = '\0';
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Percent-decode a path piece into a model buffer (bad escapes kept as is). */
static void model_from_path(char *dst, size_t cap, const char *src, size_t len)
{
	char tmp[512];
	size_t o = 0;

	for (size_t i = 0; i < len && o < sizeof(tmp) - 1; i++) {
		int hi, lo;

		if (src[i] == '%' && i + 2 < len && (hi = hexval(src[i + 1])) >= 0 &&
		    (lo = hexval(src[i + 2])) >= 0) {
			tmp[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			tmp[o++] = src[i];
		}
	}
	model_copy(dst, cap, tmp, o);
}

static void model_set(char *dst, size_t cap, const cJSON *v)
{
	if (cJSON_IsString(v) && v->valuestring[0])
		model_copy(dst, cap, v->valuestring, strlen(v->valuestring));
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A token count: a finite, non-negative number below TOKENS_MAX; else -1. */
static int64_t json_count(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	if (!cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	if (!isfinite(d) || d < 0 || d >= TOKENS_MAX)
		return -1;
	return (int64_t)d;
}

static int64_t json_count_in(const cJSON *obj, const char *outer, const char *key)
{
	return json_count(cJSON_GetObjectItemCaseSensitive(obj, outer), key);
}

static int64_t first_count(int64_t a, int64_t b)
{
	return a >= 0 ? a : b;
}

/* v if it is an array, else NULL: cJSON_ArrayForEach would walk an object's members. */
static const cJSON *arr(const cJSON *v)
{
	return cJSON_IsArray(v) ? v : NULL;
}

static bool str_nonempty(const cJSON *v)
{
	return cJSON_IsString(v) && v->valuestring[0];
}

static bool has_key(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !memcmp(s + n - m, suffix, m);
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* Parse one JSON value at p (a UTF-8 BOM skipped); *end is where it stopped. */
static cJSON *json_parse(const char *p, size_t n, const char **end)
{
	const char *stop = NULL;
	cJSON *root;

	if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) {
		p += 3;
		n -= 3;
	}
	if (n == 0 || n > LLM_JSON_MAX)
		return NULL;
	root = cJSON_ParseWithLengthOpts(p, n, &stop, 0);
	if (end)
		*end = root ? stop : NULL;
	return root;
}

/* ---- usage bookkeeping -------------------------------------------------- */

/* One report of token counts from a provider; -1 = not in this report. */
struct tokens {
	int64_t in, out, cache_read, cache_write, reasoning;
	int64_t extra_in;	/* added to input, not raw (Gemini tool-use prompt) */
	int64_t extra_out;	/* added to output, not raw (Gemini thoughts) */
	bool exclusive;		/* in excludes cache reads and writes */
	bool out_final;		/* out is the final figure, not a running count */
};

static void tokens_init(struct tokens *t, bool exclusive, bool out_final)
{
	*t = (struct tokens){ -1, -1, -1, -1, -1, -1, -1, exclusive, out_final };
}

static bool output_not_applicable(const struct llm_call *c)
{
	return c->operation == OP_EMBED;
}

static bool usage_complete(const struct llm_call *c)
{
	return c->usage.raw_input_tokens >= 0 &&
	       (c->usage.raw_output_tokens >= 0 || output_not_applicable(c));
}

static void usage_apply(struct llm_call *c, const struct tokens *t)
{
	struct llm_usage *u = &c->usage;
	bool input_touched = false;

	if (t->in >= 0) {
		u->raw_input_tokens = t->in;
		input_touched = true;
	}
	if (t->cache_read >= 0) {
		u->cache_read_tokens = t->cache_read;
		input_touched = true;
	}
	if (t->cache_write >= 0) {
		u->cache_creation_tokens = t->cache_write;
		input_touched = true;
	}
	if (t->reasoning >= 0)
		u->reasoning_tokens = t->reasoning;
	if (input_touched && u->raw_input_tokens >= 0) {
		int64_t in = u->raw_input_tokens + max0(t->extra_in);

		if (t->exclusive)
			in += max0(u->cache_read_tokens) + max0(u->cache_creation_tokens);
		u->input_tokens = in;
	}
	if (t->out >= 0) {
		int64_t out = t->out + max0(t->extra_out);

		if (t->out_final) {
			u->raw_output_tokens = t->out;
			u->output_tokens = out;
		} else if (u->raw_output_tokens < 0 && out > u->output_tokens) {
			u->output_tokens = out; /* provisional: a lower bound */
		}
	}
	if (usage_complete(c))
		c->usage_source = USAGE_PROVIDER;
}

/* Generated text seen; a content-bearing streamed event sets the first token time. */
static void content_seen(struct llm_call *c, uint64_t ts, bool bearing, uint64_t chars)
{
	c->content_chars += chars;
	if (bearing && ts && !c->first_token_ns)
		c->first_token_ns = ts;
}

/* A string of generated text: its characters, and whether it had any. */
static bool text_piece(const cJSON *v, uint64_t *chars)
{
	if (!cJSON_IsString(v))
		return false;
	*chars += utf8_chars(v->valuestring);
	return v->valuestring[0] != '\0';
}

/*
 * Characters of text in a JSON tree: strings, arrays of them, and the
 * text-holding members of objects (keys). Image data, roles, ids and the
 * like sit under other keys and are not counted.
 */
static uint64_t text_chars(const cJSON *n, const char *const *keys, int depth)
{
	uint64_t sum = 0;
	const cJSON *it;

	if (!n || depth > TEXT_DEPTH_MAX)
		return 0;
	if (cJSON_IsString(n))
		return utf8_chars(n->valuestring);
	if (cJSON_IsArray(n)) {
		cJSON_ArrayForEach(it, n)
			sum += text_chars(it, keys, depth + 1);
		return sum;
	}
	if (!cJSON_IsObject(n))
		return 0;
	for (const char *const *k = keys; *k; k++)
		sum += text_chars(cJSON_GetObjectItemCaseSensitive(n, *k), keys, depth + 1);
	return sum;
}

/* Where prompt text lives in request bodies of every dialect. */
static const char *const prompt_top_keys[] = {
	"messages", "system", "input", "prompt", "contents", "systemInstruction",
	"system_instruction", "instructions", "inputs", "inputText", "texts", "content",
	"requests", "suffix", NULL,
};
static const char *const prompt_inner_keys[] = {
	"content", "text", "parts", "output", "arguments", "toolResult", "thinking", NULL,
};
/* Where generated text lives in response objects. */
static const char *const output_keys[] = {
	"content", "text", "parts", "summary", "arguments", "refusal", "thinking",
	"reasoningContent", "reasoningText", NULL,
};

/*
 * An error in a body or event: sets error_type (the first one wins).
 * Returns 0: no error; 1: an error with a type or code; 2: an error that
 * names no type (the caller may prefer the HTTP status).
 */
static int error_extract(struct llm_call *c, const cJSON *root)
{
	const cJSON *e, *code;
	const char *t = NULL;
	char num[24];

	if (!cJSON_IsObject(root))
		return 0;
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsObject(e)) {
		code = cJSON_GetObjectItemCaseSensitive(e, "code");
		if (str_nonempty(code))
			t = code->valuestring;
		else if (str_nonempty(cJSON_GetObjectItemCaseSensitive(e, "type")))
			t = json_str(e, "type");
		else if (str_nonempty(cJSON_GetObjectItemCaseSensitive(e, "status")))
			t = json_str(e, "status");
		else if (cJSON_IsNumber(code) && code->valuedouble > -1e9 &&
			 code->valuedouble < 1e9) {
			snprintf(num, sizeof(num), "%d", (int)code->valuedouble);
			t = num;
		}
	} else if (cJSON_IsString(e)) {
		/* Ollama and TGI: {"error": "message", "error_type": "..."} */
		t = json_str(root, "error_type");
		if (!t || !t[0]) {
			if (!c->error_type[0])
				model_copy(c->error_type, sizeof(c->error_type), "_OTHER", 6);
			return 2;
		}
	} else {
		const char *type = json_str(root, "type");
		const char *aws = json_str(root, "__type");

		if (type && !strcmp(type, "error")) {
			/* Responses API "error" event: code at the top level */
			t = json_str(root, "code");
			if (!t || !t[0]) {
				if (!c->error_type[0])
					model_copy(c->error_type, sizeof(c->error_type), "_OTHER", 6);
				return 2;
			}
		} else if (aws && aws[0]) {
			const char *hash = strrchr(aws, '#');

			t = hash ? hash + 1 : aws;
		} else {
			return 0;
		}
	}
	if (!t || !t[0]) {
		if (!c->error_type[0])
			model_copy(c->error_type, sizeof(c->error_type), "_OTHER", 6);
		return 2;
	}
	if (!c->error_type[0] || !strcmp(c->error_type, "_OTHER"))
		model_copy(c->error_type, sizeof(c->error_type), t, strlen(t));
	return 1;
}

/* ---- OpenAI ------------------------------------------------------------- */

/* Chat/completions usage, Responses usage and the compatible servers' variants. */
static void oai_usage(struct llm_call *c, const cJSON *u, bool final)
{
	struct tokens t;

	if (!cJSON_IsObject(u))
		return;
	tokens_init(&t, false, final);
	t.in = first_count(json_count(u, "prompt_tokens"), json_count(u, "input_tokens"));
	t.out = first_count(json_count(u, "completion_tokens"), json_count(u, "output_tokens"));
	t.cache_read = first_count(json_count_in(u, "prompt_tokens_details", "cached_tokens"),
				   json_count_in(u, "input_tokens_details", "cached_tokens"));
	if (t.cache_read < 0)
		t.cache_read = json_count(u, "prompt_cache_hit_tokens"); /* DeepSeek */
	t.reasoning = first_count(json_count_in(u, "completion_tokens_details", "reasoning_tokens"),
				  json_count_in(u, "output_tokens_details", "reasoning_tokens"));
	usage_apply(c, &t);
}

/* One chat.completion.chunk / text_completion chunk. */
static void oai_chunk(struct llm_call *c, const cJSON *root, uint64_t ts)
{
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices"), *ch;
	bool bearing = false, finished = false, empty = true;
	uint64_t chars = 0;

	model_set(c->response_model, sizeof(c->response_model),
		  cJSON_GetObjectItemCaseSensitive(root, "model"));
	if (cJSON_IsArray(choices)) {
		cJSON_ArrayForEach(ch, choices) {
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(ch, "delta"), *tc, *it;

			empty = false;
			if (str_nonempty(cJSON_GetObjectItemCaseSensitive(ch, "finish_reason")))
				finished = true;
			bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(ch, "text"), &chars);
			if (!cJSON_IsObject(d))
				continue;
			bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(d, "content"), &chars);
			bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(d, "reasoning_content"), &chars);
			bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(d, "reasoning"), &chars);
			bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(d, "refusal"), &chars);
			tc = cJSON_GetObjectItemCaseSensitive(d, "tool_calls");
			if (cJSON_IsArray(tc) && cJSON_GetArraySize(tc) > 0) {
				bearing = true;
				cJSON_ArrayForEach(it, tc)
					text_piece(cJSON_GetObjectItemCaseSensitive(
							   cJSON_GetObjectItemCaseSensitive(it, "function"),
							   "arguments"),
						   &chars);
			}
			tc = cJSON_GetObjectItemCaseSensitive(d, "function_call");
			if (cJSON_IsObject(tc)) {
				bearing = true;
				text_piece(cJSON_GetObjectItemCaseSensitive(tc, "arguments"), &chars);
			}
		}
	}
	content_seen(c, ts, bearing, chars);
	/*
	 * The include_usage chunk has no choices; servers that put usage on
	 * every chunk (vLLM continuous_usage_stats) give running counts until
	 * the choice that finishes.
	 */
	oai_usage(c, cJSON_GetObjectItemCaseSensitive(root, "usage"), empty || finished);
}

static bool oai_body(struct llm_call *c, const cJSON *root)
{
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices"), *ch;
	uint64_t chars = 0;

	if (!has_key(root, "choices") && !has_key(root, "usage") && !has_key(root, "object"))
		return false;
	model_set(c->response_model, sizeof(c->response_model),
		  cJSON_GetObjectItemCaseSensitive(root, "model"));
	cJSON_ArrayForEach(ch, arr(choices)) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(ch, "message"), *tc, *it;

		text_piece(cJSON_GetObjectItemCaseSensitive(ch, "text"), &chars);
		if (!cJSON_IsObject(m))
			continue;
		text_piece(cJSON_GetObjectItemCaseSensitive(m, "content"), &chars);
		text_piece(cJSON_GetObjectItemCaseSensitive(m, "reasoning_content"), &chars);
		text_piece(cJSON_GetObjectItemCaseSensitive(m, "refusal"), &chars);
		tc = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
		cJSON_ArrayForEach(it, arr(tc))
			text_piece(cJSON_GetObjectItemCaseSensitive(
					   cJSON_GetObjectItemCaseSensitive(it, "function"), "arguments"),
				   &chars);
	}
	content_seen(c, 0, false, chars);
	oai_usage(c, cJSON_GetObjectItemCaseSensitive(root, "usage"), true);
	return true;
}

/* A Responses API response object (a body, or inside a stream event). */
static void resp_object(struct llm_call *c, const cJSON *r, bool count_output, bool final)
{
	if (!cJSON_IsObject(r))
		return;
	model_set(c->response_model, sizeof(c->response_model),
		  cJSON_GetObjectItemCaseSensitive(r, "model"));
	if (count_output)
		content_seen(c, 0, false,
			     text_chars(cJSON_GetObjectItemCaseSensitive(r, "output"), output_keys, 0));
	oai_usage(c, cJSON_GetObjectItemCaseSensitive(r, "usage"), final);
	error_extract(c, r);
}

static bool responses_body(struct llm_call *c, const cJSON *root)
{
	if (!has_key(root, "output") && !has_key(root, "usage") && !has_key(root, "object"))
		return false;
	resp_object(c, root, true, true);
	return true;
}

static void responses_event(struct llm_call *c, const char *type, const cJSON *root, uint64_t ts)
{
	const char *t = json_str(root, "type");
	const cJSON *d;

	if (t)
		type = t;
	if (!type)
		return;
	/*
	 * Every "response.*.delta" carries generated output (text, refusal,
	 * reasoning, tool arguments, audio); audio deltas are base64, not text.
	 */
	if (!strncmp(type, "response.", 9) && ends_with(type, ".delta")) {
		uint64_t chars = 0;

		d = cJSON_GetObjectItemCaseSensitive(root, "delta");
		if (str_nonempty(d)) {
			if (strcmp(type, "response.audio.delta"))
				chars = utf8_chars(d->valuestring);
			content_seen(c, ts, true, chars);
		}
		return;
	}
	/* The full text comes again in *.done and response.completed: not counted. */
	resp_object(c, cJSON_GetObjectItemCaseSensitive(root, "response"), false,
		    !strcmp(type, "response.completed") || !strcmp(type, "response.incomplete") ||
			    !strcmp(type, "response.failed"));
}

/* ---- Anthropic ---------------------------------------------------------- */

static void anth_usage(struct llm_call *c, const cJSON *u, bool out_final)
{
	struct tokens t;

	if (!cJSON_IsObject(u))
		return;
	tokens_init(&t, true, out_final);
	t.in = json_count(u, "input_tokens");
	t.out = json_count(u, "output_tokens");
	t.cache_read = json_count(u, "cache_read_input_tokens");
	t.cache_write = json_count(u, "cache_creation_input_tokens");
	usage_apply(c, &t);
	{
		int64_t h1 = json_count_in(u, "cache_creation", "ephemeral_1h_input_tokens");

		if (h1 >= 0)
			c->usage.cache_creation_1h_tokens = h1;
	}
}

static bool anth_body(struct llm_call *c, const cJSON *root)
{
	if (!has_key(root, "content") && !has_key(root, "usage") && !has_key(root, "type"))
		return false;
	model_set(c->response_model, sizeof(c->response_model),
		  cJSON_GetObjectItemCaseSensitive(root, "model"));
	content_seen(c, 0, false,
		     text_chars(cJSON_GetObjectItemCaseSensitive(root, "content"), output_keys, 0));
	anth_usage(c, cJSON_GetObjectItemCaseSensitive(root, "usage"), true);
	return true;
}

static void anth_event(struct llm_call *c, const char *type, const cJSON *root, uint64_t ts)
{
	const char *t = json_str(root, "type");
	const cJSON *msg, *d;

	if (t)
		type = t;
	if (!type)
		return;
	if (!strcmp(type, "message_start")) {
		msg = cJSON_GetObjectItemCaseSensitive(root, "message");
		model_set(c->response_model, sizeof(c->response_model),
			  cJSON_GetObjectItemCaseSensitive(msg, "model"));
		/* output_tokens here is a placeholder (1 or so): provisional */
		anth_usage(c, cJSON_GetObjectItemCaseSensitive(msg, "usage"), false);
	} else if (!strcmp(type, "content_block_start")) {
		uint64_t chars = 0;
		bool b = text_piece(cJSON_GetObjectItemCaseSensitive(
					    cJSON_GetObjectItemCaseSensitive(root, "content_block"), "text"),
				    &chars);

		content_seen(c, ts, b, chars);
	} else if (!strcmp(type, "content_block_delta")) {
		uint64_t chars = 0;
		const cJSON *v;
		bool b;

		d = cJSON_GetObjectItemCaseSensitive(root, "delta");
		v = cJSON_GetObjectItemCaseSensitive(d, "text");
		if (!v)
			v = cJSON_GetObjectItemCaseSensitive(d, "partial_json");
		if (!v)
			v = cJSON_GetObjectItemCaseSensitive(d, "thinking");
		/* signature, citations and unknown deltas: content, no text */
		b = v ? text_piece(v, &chars) : cJSON_IsObject(d);
		content_seen(c, ts, b, chars);
	} else if (!strcmp(type, "message_delta")) {
		/* cumulative; newer API versions repeat input and cache counts */
		anth_usage(c, cJSON_GetObjectItemCaseSensitive(root, "usage"), true);
	}
}

/* ---- Gemini / Vertex AI ------------------------------------------------- */

static void gemini_usage(struct llm_call *c, const cJSON *um, bool final)
{
	int64_t prompt, cand, cached, thoughts, tool, total;
	struct tokens t;

	if (!cJSON_IsObject(um))
		return;
	prompt = json_count(um, "promptTokenCount");
	cand = json_count(um, "candidatesTokenCount");
	cached = json_count(um, "cachedContentTokenCount");
	thoughts = json_count(um, "thoughtsTokenCount");
	tool = json_count(um, "toolUsePromptTokenCount");
	total = json_count(um, "totalTokenCount");
	/* Zero counts are left out of the JSON: derive candidates from the total. */
	if (cand < 0 && prompt >= 0 && total >= 0 &&
	    total - prompt - max0(thoughts) - max0(tool) >= 0)
		cand = total - prompt - max0(thoughts) - max0(tool);
	tokens_init(&t, false, final);
	t.in = prompt;
	t.extra_in = tool;
	t.cache_read = cached;
	t.out = cand;
	t.extra_out = thoughts;
	t.reasoning = thoughts;
	usage_apply(c, &t);
}

/* A GenerateContentResponse: a whole body or one streamed chunk. */
static bool gemini_chunk(struct llm_call *c, const cJSON *root, uint64_t ts, bool streamed)
{
	const cJSON *cands = cJSON_GetObjectItemCaseSensitive(root, "candidates"), *cand, *part;
	bool bearing = false, finished = false, any = false;
	uint64_t chars = 0;

	if (!cJSON_IsObject(root))
		return false;
	if (!has_key(root, "candidates") && !has_key(root, "usageMetadata") &&
	    !has_key(root, "promptFeedback") && !has_key(root, "modelVersion"))
		return false;
	model_set(c->response_model, sizeof(c->response_model),
		  cJSON_GetObjectItemCaseSensitive(root, "modelVersion"));
	cJSON_ArrayForEach(cand, arr(cands)) {
		const cJSON *parts = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(cand, "content"), "parts");

		any = true;
		if (str_nonempty(cJSON_GetObjectItemCaseSensitive(cand, "finishReason")))
			finished = true;
		cJSON_ArrayForEach(part, arr(parts)) {
			bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(part, "text"), &chars);
			if (has_key(part, "functionCall") || has_key(part, "executableCode") ||
			    has_key(part, "codeExecutionResult") || has_key(part, "inlineData"))
				bearing = true;
		}
	}
	content_seen(c, streamed ? ts : 0, bearing, chars);
	/* A streamed count is final in the chunk that finishes, or a usage-only trailer. */
	gemini_usage(c, cJSON_GetObjectItemCaseSensitive(root, "usageMetadata"),
		     !streamed || finished || !any);
	return true;
}

static bool gemini_embed_body(struct llm_call *c, const cJSON *root)
{
	if (!has_key(root, "embedding") && !has_key(root, "embeddings") &&
	    !has_key(root, "usageMetadata"))
		return false;
	gemini_usage(c, cJSON_GetObjectItemCaseSensitive(root, "usageMetadata"), true);
	return true;
}

/* ---- Bedrock ------------------------------------------------------------ */

static void converse_usage(struct llm_call *c, const cJSON *u)
{
	struct tokens t;

	if (!cJSON_IsObject(u))
		return;
	tokens_init(&t, true, true);
	t.in = json_count(u, "inputTokens");
	t.out = json_count(u, "outputTokens");
	t.cache_read = first_count(json_count(u, "cacheReadInputTokens"),
				   json_count(u, "cacheReadInputTokenCount"));
	t.cache_write = first_count(json_count(u, "cacheWriteInputTokens"),
				    json_count(u, "cacheWriteInputTokenCount"));
	usage_apply(c, &t);
}

static bool converse_body(struct llm_call *c, const cJSON *root)
{
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(root, "output");

	if (!has_key(root, "output") && !has_key(root, "usage"))
		return false;
	content_seen(c, 0, false,
		     text_chars(cJSON_GetObjectItemCaseSensitive(
					cJSON_GetObjectItemCaseSensitive(out, "message"), "content"),
				output_keys, 0));
	converse_usage(c, cJSON_GetObjectItemCaseSensitive(root, "usage"));
	return true;
}

static const char *const converse_events[] = {
	"messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop",
	"messageStop", "metadata", NULL,
};

/* One ConverseStream event (payload as on the wire, or wrapped in its name). */
static void converse_event(struct llm_call *c, const char *event, const cJSON *root, uint64_t ts)
{
	const cJSON *inner;

	if (!event) {
		for (const char *const *e = converse_events; *e; e++)
			if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, *e))) {
				event = *e;
				break;
			}
		if (!event)
			event = has_key(root, "usage") ? "metadata" :
				has_key(root, "delta") ? "contentBlockDelta" : "";
	}
	inner = cJSON_GetObjectItemCaseSensitive(root, event);
	if (cJSON_IsObject(inner))
		root = inner;
	if (!strcmp(event, "contentBlockDelta")) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delta"), *v;
		uint64_t chars = 0;
		bool b;

		v = cJSON_GetObjectItemCaseSensitive(d, "text");
		if (!v)
			v = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(d, "toolUse"), "input");
		if (!v)
			v = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(d, "reasoningContent"), "text");
		b = v ? text_piece(v, &chars) : cJSON_IsObject(d);
		content_seen(c, ts, b, chars);
	} else if (!strcmp(event, "metadata")) {
		converse_usage(c, cJSON_GetObjectItemCaseSensitive(root, "usage"));
	}
}

/* amazon-bedrock-invocationMetrics, in the last chunk of an invoke stream. */
static void invocation_metrics(struct llm_call *c, const cJSON *m)
{
	struct tokens t;

	if (!cJSON_IsObject(m))
		return;
	tokens_init(&t, true, true);
	t.in = json_count(m, "inputTokenCount");
	t.out = json_count(m, "outputTokenCount");
	t.cache_read = json_count(m, "cacheReadInputTokenCount");
	t.cache_write = json_count(m, "cacheWriteInputTokenCount");
	usage_apply(c, &t);
}

/* Llama, Titan, Mistral, Cohere and Claude v2 text completions. */
static void invoke_other(struct llm_call *c, const cJSON *j, uint64_t ts, bool streamed,
			 bool need_usage)
{
	const cJSON *results = arr(cJSON_GetObjectItemCaseSensitive(j, "results"));
	const cJSON *outputs = arr(cJSON_GetObjectItemCaseSensitive(j, "outputs"));
	const cJSON *gens = arr(cJSON_GetObjectItemCaseSensitive(j, "generations"));
	bool bearing = false, any = false;
	uint64_t chars = 0;
	const cJSON *it;
	struct tokens t;
	int64_t sum = 0;

	bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(j, "generation"), &chars);
	bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(j, "outputText"), &chars);
	bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(j, "completion"), &chars);
	bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(j, "text"), &chars);
	cJSON_ArrayForEach(it, outputs)
		bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(it, "text"), &chars);
	cJSON_ArrayForEach(it, gens)
		bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(it, "text"), &chars);
	cJSON_ArrayForEach(it, results) {
		int64_t n = json_count(it, "tokenCount");

		bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(it, "outputText"), &chars);
		if (n >= 0) {
			sum += n;
			any = true;
		}
	}
	content_seen(c, streamed ? ts : 0, bearing, chars);
	if (!need_usage)
		return;
	/* Llama's counts per streamed chunk run until invocationMetrics */
	tokens_init(&t, true, !streamed);
	t.in = first_count(json_count(j, "prompt_token_count"), json_count(j, "inputTextTokenCount"));
	t.out = json_count(j, "generation_token_count");
	if (t.out < 0 && any && !streamed)
		t.out = sum;
	usage_apply(c, &t);
}

/*
 * The model's native JSON inside InvokeModel: Anthropic Messages, Amazon
 * Nova (Converse-shaped), Meta Llama, Amazon Titan, Mistral, Cohere. The
 * x-amzn-bedrock-*-token-count headers, when present, already hold the
 * usage; the body is used for text, and for usage only without them.
 */
static void invoke_native(struct llm_call *c, const cJSON *j, uint64_t ts, bool streamed)
{
	const char *type = json_str(j, "type");
	bool need_usage = !usage_complete(c);

	if (!cJSON_IsObject(j))
		return;
	error_extract(c, j);
	if (type && streamed) {
		anth_event(c, type, j, ts);
	} else if (type && !strcmp(type, "message")) {
		if (need_usage) {
			anth_body(c, j);
		} else {
			model_set(c->response_model, sizeof(c->response_model),
				  cJSON_GetObjectItemCaseSensitive(j, "model"));
			content_seen(c, 0, false,
				     text_chars(cJSON_GetObjectItemCaseSensitive(j, "content"),
						output_keys, 0));
		}
	} else if (has_key(j, "output") && !streamed) {
		if (need_usage)
			converse_body(c, j);
		else
			content_seen(c, 0, false,
				     text_chars(cJSON_GetObjectItemCaseSensitive(j, "output"),
						output_keys, 0));
	} else {
		bool nova = false;

		for (const char *const *e = converse_events; *e; e++)
			if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, *e))) {
				converse_event(c, *e, j, ts);
				nova = true;
			}
		if (!nova)
			invoke_other(c, j, ts, streamed, need_usage);
	}
	invocation_metrics(c, cJSON_GetObjectItemCaseSensitive(j, "amazon-bedrock-invocationMetrics"));
}

static int b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe base64, padding optional, whitespace skipped. Caller frees. */
static char *b64_decode(const char *s, size_t *out_len)
{
	size_t n = strlen(s), o = 0;
	unsigned acc = 0;
	int bits = 0;
	char *out = malloc(n / 4 * 3 + 4);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int v;

		if (ch == '=')
			break;
		if (isspace(ch))
			continue;
		v = b64val(ch);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* One InvokeModelWithResponseStream "chunk": {"bytes": base64(native JSON)}. */
static void invoke_chunk(struct llm_call *c, const cJSON *root, uint64_t ts)
{
	const char *b64 = json_str(root, "bytes");
	cJSON *inner;
	size_t len;
	char *raw;

	if (!b64) {
		invoke_native(c, root, ts, true); /* already decoded by someone */
		return;
	}
	raw = b64_decode(b64, &len);
	if (!raw) {
		c->response_parse_error = true;
		return;
	}
	inner = json_parse(raw, len, NULL);
	if (inner)
		invoke_native(c, inner, ts, true);
	else
		c->response_parse_error = true;
	cJSON_Delete(inner);
	free(raw);
}

/* ---- Ollama, TGI -------------------------------------------------------- */

/* One NDJSON line of a stream, or a whole non-streamed body: same fields. */
static bool ollama_obj(struct llm_call *c, const cJSON *root, uint64_t ts)
{
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message"), *tc;
	const cJSON *done = cJSON_GetObjectItemCaseSensitive(root, "done");
	bool bearing = false;
	uint64_t chars = 0;

	if (!has_key(root, "model") && !has_key(root, "message") && !has_key(root, "response") &&
	    !has_key(root, "done") && !has_key(root, "embeddings") && !has_key(root, "embedding"))
		return false;
	model_set(c->response_model, sizeof(c->response_model),
		  cJSON_GetObjectItemCaseSensitive(root, "model"));
	bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(root, "response"), &chars);
	bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(root, "thinking"), &chars);
	if (cJSON_IsObject(msg)) {
		bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(msg, "content"), &chars);
		bearing |= text_piece(cJSON_GetObjectItemCaseSensitive(msg, "thinking"), &chars);
		tc = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
		if (cJSON_IsArray(tc) && cJSON_GetArraySize(tc) > 0)
			bearing = true;
	}
	content_seen(c, ts, bearing, chars);
	/* Counts come with the line that says done (and in embed bodies). */
	if (cJSON_IsTrue(done) || c->api->dialect == D_OLLAMA_EMBED) {
		struct tokens t;

		tokens_init(&t, false, true);
		t.in = json_count(root, "prompt_eval_count");
		t.out = json_count(root, "eval_count");
		usage_apply(c, &t);
	}
	return true;
}

static bool tgi_obj(struct llm_call *c, const cJSON *root, uint64_t ts, bool streamed)
{
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "token");
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(root, "details");
	const cJSON *prefill = cJSON_GetObjectItemCaseSensitive(det, "prefill");
	uint64_t chars = 0;
	struct tokens t;
	bool b;

	if (!has_key(root, "generated_text") && !has_key(root, "token") && !has_key(root, "details"))
		return false;
	if (streamed) {
		b = !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tok, "special")) &&
		    text_piece(cJSON_GetObjectItemCaseSensitive(tok, "text"), &chars);
		content_seen(c, ts, b, b ? chars : 0);
	} else {
		text_piece(cJSON_GetObjectItemCaseSensitive(root, "generated_text"), &chars);
		content_seen(c, 0, false, chars);
	}
	tokens_init(&t, false, true);
	t.out = json_count(det, "generated_tokens");
	if (cJSON_IsArray(prefill) && cJSON_GetArraySize(prefill) > 0)
		t.in = cJSON_GetArraySize(prefill);
	usage_apply(c, &t);
	return true;
}

/* ---- dispatch ----------------------------------------------------------- */

/* One streamed event, parsed. */
static void stream_value(struct llm_call *c, const char *event, const cJSON *root, uint64_t ts)
{
	if (!cJSON_IsObject(root)) {
		c->response_parse_error = true;
		return;
	}
	error_extract(c, root);
	switch (c->api->dialect) {
	case D_OAI_CHAT:
	case D_OAI_TEXT:
		oai_chunk(c, root, ts);
		break;
	case D_OAI_RESPONSES:
		responses_event(c, event, root, ts);
		break;
	case D_OAI_EMBED:
		oai_body(c, root);
		break;
	case D_ANTHROPIC:
		anth_event(c, event, root, ts);
		break;
	case D_GEMINI:
		gemini_chunk(c, root, ts, true);
		break;
	case D_GEMINI_EMBED:
		gemini_embed_body(c, root);
		break;
	case D_BR_CONVERSE:
		converse_event(c, event, root, ts);
		break;
	case D_BR_INVOKE:
		invoke_chunk(c, root, ts);
		break;
	case D_OLLAMA:
	case D_OLLAMA_EMBED:
		ollama_obj(c, root, ts);
		break;
	case D_TGI:
		tgi_obj(c, root, ts, true);
		break;
	}
}

static bool sse_event_is_message(const char *event)
{
	return !event || !event[0] || !strcmp(event, "message");
}

/*
 * The service tier a request was billed at: OpenAI's "service_tier"
 * ("default", "flex", "priority", "scale") at the top of a response, a chunk
 * or a Responses event's "response"; Anthropic's usage.service_tier
 * ("standard", "priority", "batch"), in a message_start's "message" too.
 * The request's own "service_tier" is a wish; the response's is the fact.
 */
static void service_tier_note(struct llm_call *c, const cJSON *root)
{
	static const char *const tiers[] = { "batch", "priority", "flex", NULL };
	const cJSON *places[5], *v;
	size_t n = 0;

	if (!cJSON_IsObject(root))
		return;
	places[n++] = root;
	places[n++] = cJSON_GetObjectItemCaseSensitive(root, "usage");
	places[n++] = cJSON_GetObjectItemCaseSensitive(root, "response");
	v = cJSON_GetObjectItemCaseSensitive(root, "message");
	places[n++] = cJSON_GetObjectItemCaseSensitive(v, "usage");
	for (size_t i = 0; i < n; i++) {
		v = cJSON_GetObjectItemCaseSensitive(places[i], "service_tier");
		if (!cJSON_IsString(v))
			continue;
		c->service_tier[0] = '\0'; /* "default", "standard", "auto", "scale" */
		for (const char *const *t = tiers; *t; t++)
			if (!strcmp(v->valuestring, *t))
				snprintf(c->service_tier, sizeof(c->service_tier), "%s", *t);
		return;
	}
}

static void stream_dispatch(struct llm_call *c, const char *event, const char *data, size_t n,
			    uint64_t ts)
{
	const char *p = skip_ws(data, data + n);
	cJSON *root;

	n -= (size_t)(p - data);
	if (n == 0 || (n >= 6 && !strncmp(p, "[DONE]", 6)))
		return;
	if (event && ends_with(event, "Exception")) {
		/* AWS event-stream exception (ThrottlingException, ...) */
		if (!c->error_type[0] || !strcmp(c->error_type, "_OTHER"))
			model_copy(c->error_type, sizeof(c->error_type), event, strlen(event));
		return;
	}
	root = json_parse(p, n, NULL);
	if (!root) {
		c->response_parse_error = true;
		return;
	}
	/* SSE's default "message" type says nothing; the JSON's "type" may. */
	stream_value(c, sse_event_is_message(event) ? NULL : event, root, ts);
	service_tier_note(c, root);
	cJSON_Delete(root);
}

/*
 * A streamed body delivered whole (no streaming content type, or a test):
 * split it the way the SSE parser would. Events get no timestamp.
 */
static bool sse_body(struct llm_call *c, const char *body, size_t n)
{
	const char *p = body, *end = body + n;
	char event[64] = "";
	char *data = malloc(n + 1);
	size_t dlen = 0;
	bool have = false, any = false;

	if (!data)
		return false;
	while (p <= end) {
		const char *eol = p;
		size_t len;

		while (eol < end && *eol != '\n' && *eol != '\r')
			eol++;
		len = (size_t)(eol - p);
		if (len == 0) {
			if (have) {
				data[dlen] = '\0';
				c->stream_events++;
				stream_dispatch(c, event[0] ? event : "message", data, dlen, 0);
				any = true;
			}
			have = false;
			dlen = 0;
			event[0] = '\0';
		} else if (len >= 5 && !strncmp(p, "data:", 5)) {
			const char *v = p + 5;

			if (v < eol && *v == ' ')
				v++;
			if (have)
				data[dlen++] = '\n';
			memcpy(data + dlen, v, (size_t)(eol - v));
			dlen += (size_t)(eol - v);
			have = true;
		} else if (len >= 6 && !strncmp(p, "event:", 6)) {
			const char *v = p + 6;

			if (v < eol && *v == ' ')
				v++;
			model_copy(event, sizeof(event), v, (size_t)(eol - v));
		}
		if (eol >= end)
			break;
		p = eol + 1;
		if (*eol == '\r' && p < end && *p == '\n')
			p++;
	}
	free(data);
	return any;
}

/* A whole body of the API's dialect; false when it is not the shape expected. */
static bool body_value(struct llm_call *c, const cJSON *root)
{
	const cJSON *it;
	bool ok = false;

	if (cJSON_IsArray(root)) {
		/* streamGenerateContent without alt=sse, TGI: an array of objects */
		if (c->api->dialect != D_GEMINI && c->api->dialect != D_TGI)
			return false;
		cJSON_ArrayForEach(it, root) {
			error_extract(c, it);
			if (c->api->dialect == D_GEMINI)
				ok |= gemini_chunk(c, it, 0, c->stream == 1);
			else
				ok |= tgi_obj(c, it, 0, false);
		}
		return ok || cJSON_GetArraySize(root) == 0;
	}
	if (!cJSON_IsObject(root))
		return false;
	switch (c->api->dialect) {
	case D_OAI_CHAT:
	case D_OAI_TEXT:
	case D_OAI_EMBED:
		return oai_body(c, root);
	case D_OAI_RESPONSES:
		return responses_body(c, root);
	case D_ANTHROPIC:
		return anth_body(c, root);
	case D_GEMINI:
		return gemini_chunk(c, root, 0, false);
	case D_GEMINI_EMBED:
		return gemini_embed_body(c, root);
	case D_BR_CONVERSE:
		return converse_body(c, root);
	case D_BR_INVOKE:
		invoke_native(c, root, 0, false);
		return true;
	case D_OLLAMA:
	case D_OLLAMA_EMBED:
		return ollama_obj(c, root, 0);
	case D_TGI:
		return tgi_obj(c, root, 0, false);
	}
	return false;
}

/*
 * Several JSON values one after another (an NDJSON stream delivered whole),
 * or a JSON array cut short (a streamed Gemini array): take every complete
 * value. Returns how many were taken.
 */
static unsigned values_salvage(struct llm_call *c, const char *p, const char *end)
{
	unsigned taken = 0;

	p = skip_ws(p, end);
	if (p < end && *p == '[')
		p++;
	for (;;) {
		const char *stop = NULL;
		cJSON *v;

		while (p < end && (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (p >= end || *p == ']')
			break;
		v = json_parse(p, (size_t)(end - p), &stop);
		if (!v)
			break;
		c->stream_events++;
		stream_value(c, NULL, v, 0);
		cJSON_Delete(v);
		taken++;
		if (!stop || stop <= p)
			break;
		p = stop;
	}
	return taken;
}

/* ---- interface ---------------------------------------------------------- */

void llm_call_init(struct llm_call *c)
{
	if (!c)
		return;
	memset(c, 0, sizeof(*c));
	c->stream = -1;
	c->usage = (struct llm_usage){ -1, -1, -1, -1, -1, -1, -1, -1 };
	c->usage_source = USAGE_MISSING;
}

/* Host without port, brackets or trailing dot, lower case. */
static void host_normalise(char *out, size_t cap, const char *host, size_t len)
{
	const char *h = host, *end = host + len;
	size_t n;

	if (h < end && *h == '[') {
		const char *rb = memchr(h, ']', len);

		h++;
		end = rb ? rb : end;
	} else {
		const char *colon = memchr(h, ':', len);

		/* one colon: host:port; several: a bare IPv6 address */
		if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			end = colon;
	}
	while (end > h && end[-1] == '.')
		end--;
	n = (size_t)(end - h) < cap - 1 ? (size_t)(end - h) : cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)h[i]);
	out[n] = '\0';
}

struct seg {
	const char *p;
	size_t n;
};

/* '/'-separated segments of s[0..len), empty ones skipped; -1 if too many. */
static int segs_split(const char *s, size_t len, struct seg *out, int max)
{
	int n = 0;
	size_t i = 0;

	while (i < len) {
		size_t j = i;

		while (j < len && s[j] != '/')
			j++;
		if (j > i) {
			if (n == max)
				return -1;
			out[n++] = (struct seg){ s + i, j - i };
		}
		i = j + 1;
	}
	return n;
}

/* One pattern segment against one path segment; "{}" captures into *cap. */
static bool seg_match(struct seg pat, struct seg s, struct seg *cap)
{
	const char *brace;

	if (pat.n == 1 && pat.p[0] == '*')
		return s.n > 0;
	brace = memmem(pat.p, pat.n, "{}", 2);
	if (brace) {
		size_t pre = (size_t)(brace - pat.p), suf = pat.n - pre - 2;

		if (s.n <= pre + suf || memcmp(s.p, pat.p, pre) ||
		    memcmp(s.p + s.n - suf, brace + 2, suf))
			return false;
		*cap = (struct seg){ s.p + pre, s.n - pre - suf };
		return true;
	}
	return pat.n == s.n && !memcmp(pat.p, s.p, s.n);
}

static bool path_match(const char *pattern, const struct seg *ps, int np, struct seg *cap)
{
	struct seg pp[PATH_SEGS_MAX];
	int n = segs_split(pattern, strlen(pattern), pp, PATH_SEGS_MAX), off = 0, plus = -1;

	*cap = (struct seg){ NULL, 0 };
	if (n <= 0)
		return false;
	if (pp[0].n == 2 && !memcmp(pp[0].p, "**", 2)) {
		/* any prefix: match the pattern against the last segments */
		if (np < n - 1)
			return false;
		for (int i = 1; i < n; i++)
			if (!seg_match(pp[i], ps[np - (n - 1) + (i - 1)], cap))
				return false;
		return true;
	}
	for (int i = 0; i < n; i++)
		if (pp[i].n == 3 && !memcmp(pp[i].p, "{+}", 3))
			plus = i;
	if (plus < 0 ? np != n : np < n)
		return false;
	for (int i = 0; i < n; i++) {
		if (i == plus) {
			off = np - n;
			*cap = (struct seg){ ps[i].p,
					     (size_t)(ps[i + off].p + ps[i + off].n - ps[i].p) };
			continue;
		}
		if (!seg_match(pp[i], ps[i + off], cap))
			return false;
	}
	return true;
}

static const char *provider_for(const struct llm_api *api, const char *host)
{
	if (host[0])
		for (size_t i = 0; i < sizeof(host_table) / sizeof(host_table[0]); i++)
			if ((host_table[i].families & api->family) &&
			    !fnmatch(host_table[i].glob, host, 0))
				return host_table[i].provider;
	return api->compat;
}

bool llm_classify(struct llm_call *c, const char *method, const char *host, const char *path)
{
	struct seg ps[PATH_SEGS_MAX], cap;
	char hbuf[256] = "";
	const char *hp = NULL;
	size_t plen, hlen = 0;
	int np;

	if (!c)
		return false;
	llm_call_init(c);
	if (!path || (method && strcasecmp(method, "POST")))
		return false;
	if (host) {
		hp = host;
		hlen = strlen(host);
	}
	/* absolute-form request target (through a proxy): http://host/path */
	if (!strncasecmp(path, "http://", 7) || !strncasecmp(path, "https://", 8)) {
		const char *a = strstr(path, "://") + 3, *slash = strchr(a, '/');

		if (!hp || !hlen) {
			hp = a;
			hlen = slash ? (size_t)(slash - a) : strlen(a);
		}
		path = slash ? slash : "/";
	}
	if (hp)
		host_normalise(hbuf, sizeof(hbuf), hp, hlen);
	plen = strcspn(path, "?#");
	np = segs_split(path, plen, ps, PATH_SEGS_MAX);
	if (np <= 0)
		return false;
	for (size_t i = 0; i < sizeof(api_table) / sizeof(api_table[0]); i++) {
		const struct llm_api *api = &api_table[i];

		if (!path_match(api->path, ps, np, &cap))
			continue;
		c->api = api;
		c->provider = provider_for(api, hbuf);
		c->operation = api->operation;
		c->stream = api->stream;
		if (cap.p && cap.n)
			model_from_path(c->request_model, sizeof(c->request_model), cap.p, cap.n);
		/* InvokeModel serves embedding models too (amazon.titan-embed-*, cohere.embed-*) */
		if (api->dialect == D_BR_INVOKE && strstr(c->request_model, "embed"))
			c->operation = OP_EMBED;
		return true;
	}
	return false;
}

void llm_on_request_body(struct llm_call *c, const char *body, size_t n)
{
	const cJSON *v;
	cJSON *root;

	if (!c || !c->api || !body)
		return;
	root = json_parse(body, n, NULL);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root); /* stream stays unknown: nothing we could read */
		return;
	}
	/* The path's model (Azure deployment, Bedrock id, Gemini model) wins. */
	if (!c->request_model[0])
		model_set(c->request_model, sizeof(c->request_model),
			  cJSON_GetObjectItemCaseSensitive(root, "model"));
	service_tier_note(c, root); /* asked for; a response saying otherwise wins */
	if (c->api->stream < 0) {
		v = cJSON_GetObjectItemCaseSensitive(root, "stream");
		c->stream = cJSON_IsBool(v) ? cJSON_IsTrue(v) : c->api->stream_dflt;
	}
	for (const char *const *k = prompt_top_keys; *k; k++)
		c->prompt_chars += text_chars(cJSON_GetObjectItemCaseSensitive(root, *k),
					      prompt_inner_keys, 0);
	cJSON_Delete(root);
}

/* A decimal header value, or -1. */
static int64_t header_count(const char *v)
{
	int64_t n = 0;
	int digits = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v >= '0' && *v <= '9'; v++) {
		if (++digits > 15)
			return -1;
		n = n * 10 + (*v - '0');
	}
	while (*v == ' ' || *v == '\t')
		v++;
	return digits && !*v ? n : -1;
}

void llm_on_response_header(struct llm_call *c, const char *name, const char *value)
{
	static const char pfx[] = "x-amzn-bedrock-";
	struct tokens t;
	int64_t n;

	if (!c || !c->api || !name || !value)
		return;
	if (!strcasecmp(name, "x-amzn-errortype")) {
		/* "ValidationException:http://internal.amazon.com/coral/..." */
		size_t len = strcspn(value, ":");

		if (len && !c->error_type[0])
			model_copy(c->error_type, sizeof(c->error_type), value, len);
		return;
	}
	if (strncasecmp(name, pfx, sizeof(pfx) - 1))
		return;
	name += sizeof(pfx) - 1;
	n = header_count(value);
	if (n < 0)
		return;
	/* Bedrock's input count excludes cache reads and writes, like Converse. */
	tokens_init(&t, true, true);
	if (!strcasecmp(name, "input-token-count"))
		t.in = n;
	else if (!strcasecmp(name, "output-token-count"))
		t.out = n;
	else if (!strcasecmp(name, "cache-read-input-token-count"))
		t.cache_read = n;
	else if (!strcasecmp(name, "cache-write-input-token-count"))
		t.cache_write = n;
	else
		return;
	usage_apply(c, &t);
}

void llm_on_response_body(struct llm_call *c, int status, const char *body, size_t n)
{
	const char *p, *end, *stop = NULL;
	bool is_error = status >= 400;
	cJSON *root;
	int err = 0;

	if (!c || !c->api)
		return;
	if (body && n > 0 && n <= LLM_JSON_MAX) {
		p = body;
		end = body + n;
		if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
			p += 3;
		p = skip_ws(p, end);
		root = p < end ? json_parse(p, (size_t)(end - p), &stop) : NULL;
		if (root && skip_ws(stop, end) == end) {
			err = error_extract(c, root);
			if (!body_value(c, root) && !err && !is_error)
				c->response_parse_error = true;
			service_tier_note(c, root);
		} else if (root) {
			/* more than one value: NDJSON or concatenated JSON */
			cJSON_Delete(root);
			root = NULL;
			values_salvage(c, p, end);
		} else if (p < end && (*p == '[' || *p == '{')) {
			/* cut short: keep what was complete, and say it was broken */
			values_salvage(c, p, end);
			c->response_parse_error = true;
		} else if (p < end && ((end - p >= 5 && !strncmp(p, "data:", 5)) ||
				       (end - p >= 6 && !strncmp(p, "event:", 6)) || *p == ':')) {
			if (!sse_body(c, p, (size_t)(end - p)))
				c->response_parse_error = true;
		} else if (p < end) {
			c->response_parse_error = true;
		}
		cJSON_Delete(root);
	}
	/* An error response that names no type: the status is the type (OTel error.type). */
	if (is_error && (!c->error_type[0] || !strcmp(c->error_type, "_OTHER")))
		snprintf(c->error_type, sizeof(c->error_type), "%d", status);
}

void llm_on_stream_event(struct llm_call *c, const char *event, const char *data, size_t n,
			 uint64_t ts_ns)
{
	if (!c || !c->api || !data)
		return;
	c->stream_events++;
	if (c->stream < 0)
		c->stream = 1;
	if (n > LLM_JSON_MAX)
		return;
	stream_dispatch(c, event, data, n, ts_ns);
}

void llm_finish(struct llm_call *c, uint64_t request_body_bytes, uint64_t response_body_bytes)
{
	struct llm_usage *u;
	int64_t est;

	if (!c || !c->api)
		return;
	u = &c->usage;
	if (usage_complete(c)) {
		c->usage_source = USAGE_PROVIDER;
		return;
	}
	/*
	 * A failed exchange (an error, nothing generated, no provider count) is
	 * not an inference that was billed: estimating from the request would
	 * invent a cost.
	 */
	if (c->error_type[0] && !c->content_chars && !c->first_token_ns &&
	    u->raw_input_tokens < 0 && u->output_tokens < 0) {
		c->usage_source = USAGE_MISSING;
		return;
	}
	/* Estimate what the provider did not report; keep what it did. */
	if (u->raw_input_tokens < 0)
		u->input_tokens = c->prompt_chars ? ceil_div4(c->prompt_chars) :
				  request_body_bytes ? ceil_div4(request_body_bytes) : -1;
	if (u->raw_output_tokens < 0 && !output_not_applicable(c)) {
		if (c->content_chars)
			est = ceil_div4(c->content_chars);
		else if (c->error_type[0])
			est = 0; /* an error body is not generated text */
		else
			est = response_body_bytes ? ceil_div4(response_body_bytes) : -1;
		if (est > u->output_tokens)
			u->output_tokens = est;
	}
	if (u->input_tokens < 0 && u->output_tokens < 0)
		c->usage_source = USAGE_MISSING;
	else
		c->usage_source = USAGE_ESTIMATED;
}

const char *usage_source_name(enum usage_source s)
{
	switch (s) {
	case USAGE_PROVIDER:
		return "provider";
	case USAGE_ESTIMATED:
		return "estimated";
	case USAGE_MISSING:
		break;
	}
	return "missing";
}
