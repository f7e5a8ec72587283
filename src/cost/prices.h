/* SPDX-License-Identifier: MIT */
/*
 * Price tables: USD per token for inference APIs, USD per GPU-hour for
 * accelerators. JSON files (format: docs/prices.md), layered: the default
 * table first, operators' files over it (--prices, repeatable; a later file
 * wins over an earlier one for the same model or accelerator).
 *
 * Lookups never invent a price: no match returns -ENOENT, and the caller
 * marks the record `price_source: "missing"`.
 */
#ifndef INFERTRACE_PRICES_H
#define INFERTRACE_PRICES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct price_table;

/* Where an answer came from: pointers into the table, valid while it lives. */
struct price_ref {
	const char *table;      /* file path the entry came from */
	const char *key;        /* the entry's id, e.g. "openai/gpt-4o" */
	const char *version;    /* the file's "version" date, e.g. "2026-11-20" */
	const char *source;     /* the entry's public source (URL and date) */
	const char *currency;   /* "USD" */
};

/*
 * Resolved USD-per-token rates of one request. Defaults are filled in:
 * cache_read and cache_write_* fall back to input, reasoning to output, and
 * the batch/priority variant and long-context tier are already applied.
 */
struct token_price {
	struct price_ref ref;
	double input;
	double output;
	double cache_read;
	double cache_write_5m;
	double cache_write_1h;
	double reasoning;
	const char *tier;          /* "base", or the tier's name (e.g. ">200000") */
	const char *service_tier;  /* "standard", "batch", "priority", "flex" as applied */
};

struct accel_price {
	struct price_ref ref;
	double usd_per_hour;       /* one accelerator, one hour */
	bool is_default;           /* the table's "default" row matched */
};

/* One problem found in a table: printed as "path:line: field: message". */
struct price_problem {
	char path[256];
	int line;                  /* 1-based; 0 when unknown */
	char field[96];            /* e.g. "models[3].input_per_mtok" */
	char message[160];
};

/* Start from {0}; prices_load appends to it. */
struct price_problems {
	struct price_problem *v;
	size_t n, cap;
};
void price_problems_free(struct price_problems *p);
/* One problem a line; "path: field: message" when the line is unknown. */
void price_problems_print(const struct price_problems *p, FILE *f);

/*
 * Load and layer files (paths[0] lowest). On any problem in any file,
 * returns NULL and lists every problem found in *probs (when not NULL);
 * nothing is half-loaded.
 */
struct price_table *prices_load(const char *const *paths, size_t n, struct price_problems *probs);
void prices_free(struct price_table *t);

/*
 * The rates for a request. provider: gen_ai.provider.name ("openai",
 * "anthropic", "gcp.gemini", "gcp.vertex_ai", "aws.bedrock",
 * "azure.ai.openai", ...), NULL or "" to match entries of any provider
 * (`prices show` without --provider); model: the response model if known, else the
 * request model (dated names such as "gpt-4o-2024-08-06" match by prefix or
 * regex rules); prompt_tokens: the request's input tokens (cache included),
 * which picks the long-context tier (above the threshold the WHOLE request
 * is billed at the tier's rates); service_tier: NULL or "" for standard,
 * else "batch", "priority", "flex" (a variant the entry lacks: standard
 * rates, and out->service_tier says "standard").
 * Returns 0, or -ENOENT when no entry matches.
 */
int prices_token(const struct price_table *t, const char *provider, const char *model,
		 int64_t prompt_tokens, const char *service_tier, struct token_price *out);

/*
 * The hourly price of an accelerator by its name as NVML or the CUDA driver
 * gives it ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB", "cuda:0"),
 * for this host (per-host overrides), else the "default" row. Returns 0, or
 * -ENOENT when neither matches.
 */
int prices_accel(const struct price_table *t, const char *accel_name, const char *hostname,
		 struct accel_price *out);

/* Number of model and accelerator entries after layering (for the agent
 * record). Accelerators count the general rows, "default" included, and the
 * per-host rows. */
size_t prices_count_models(const struct price_table *t);
size_t prices_count_accels(const struct price_table *t);

/*
 * One entry of the layered table, for listings (`infertrace prices show`).
 * Strings point into the table. Rates are USD per million tokens as the
 * file wrote them (defaults filled in), of the base tier at standard
 * service; usd_per_hour is for accelerators.
 */
struct price_entry_info {
	struct price_ref ref;
	const char *providers;     /* "openai,azure.ai.openai", "*"; NULL for accelerators */
	const char *match;         /* the rules: "regex gpt-4o(-[0-9]{4}...)?", "(none)" */
	const char *host;          /* rows of a host override: "gpu-node-1", or
				      "~gpu-node-[0-9]+" for a hostname_regex;
				      NULL for the general rows */
	const char *tiers;         /* "", or ">200k,>1M" (models) */
	const char *variants;      /* "", or "batch,priority" (models) */
	double input_per_mtok, output_per_mtok, cache_read_per_mtok;
	double usd_per_hour;
	bool is_default;           /* the accelerator row "default" */
};
/* Entry i (0 <= i < count), in file order; 0, or -ENOENT past the end. */
int prices_model_info(const struct price_table *t, size_t i, struct price_entry_info *out);
int prices_accel_info(const struct price_table *t, size_t i, struct price_entry_info *out);

/* The files the table was loaded from, lowest first, with their versions. */
size_t prices_count_files(const struct price_table *t);
const char *prices_file_path(const struct price_table *t, size_t i);
const char *prices_file_version(const struct price_table *t, size_t i);

/*
 * The default table's path: $INFERTRACE_PRICES (a file) if set, else
 * prices/default.json next to the binary's build tree (../prices/ from
 * build/infertrace), else $(PREFIX)/share/infertrace/default.json
 * (/usr/local, then /usr). NULL when none exists. $INFERTRACE_PRICES is
 * returned even when missing, so that loading it reports the error.
 */
const char *prices_default_path(void);

/* `infertrace prices check FILE...` and `infertrace prices show [MODEL]`. */
int cmd_prices(int argc, char **argv);

#endif
