// SPDX-License-Identifier: MIT
/*
 * `infertrace prices check FILE...` and `infertrace prices show [MODEL]`:
 * the operator's view of the same tables and lookups the agent uses, so
 * that what `show` answers is what the agent will bill.
 */
#include "cost/prices.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static void usage_main(FILE *f)
{
	fprintf(f,
		"Usage: infertrace prices check [-j] FILE...\n"
		"       infertrace prices show [MODEL] [OPTIONS]\n"
		"\n"
		"Check price tables and show what a model or an accelerator is billed at.\n"
		"Format and sources: docs/prices.md.\n"
		"\n"
		"  check   validate FILEs, layered in the order given; print every problem\n"
		"  show    resolve MODEL and/or --accelerator NAME, or list every entry\n"
		"\n"
		"'infertrace prices COMMAND --help' describes a command's options.\n");
}

static void usage_check(FILE *f)
{
	fprintf(f,
		"Usage: infertrace prices check [-j] FILE...\n"
		"\n"
		"Validate price tables, layered in the order given (a later file wins).\n"
		"Prints every problem as 'file:line: field: message' and exits 1, or a\n"
		"one-line summary and exits 0.\n"
		"\n"
		"  -j, --json   print the result as one JSON object\n"
		"  -h, --help   show this help\n");
}

static void usage_show(FILE *f)
{
	fprintf(f,
		"Usage: infertrace prices show [MODEL] [OPTIONS]\n"
		"\n"
		"With MODEL, print the entry it resolves to and its USD per million tokens;\n"
		"with --accelerator, the hourly price of that accelerator; with neither,\n"
		"list every entry. The default table comes first, --prices files over it.\n"
		"\n"
		"      --provider P          gen_ai.provider.name: openai, anthropic,\n"
		"                            gcp.gemini, gcp.vertex_ai, aws.bedrock,\n"
		"                            azure.ai.openai, ... (default: any)\n"
		"      --prompt-tokens N     the request's input tokens, cache included\n"
		"                            (picks the long-context tier)\n"
		"      --service-tier T      standard, batch, priority or flex\n"
		"      --accelerator NAME    an accelerator as NVML names it,\n"
		"                            e.g. \"NVIDIA H100 80GB HBM3\"\n"
		"      --host H              hostname, for per-host accelerator prices\n"
		"      --prices FILE         layer FILE over the default table (repeatable)\n"
		"      --no-default          do not load the default table\n"
		"  -j, --json                print JSON\n"
		"  -h, --help                show this help\n");
}

/* USD amounts: at least two decimals, up to six, no trailing zeros beyond. */
static const char *usd(double v, char *buf, size_t n)
{
	size_t k;

	snprintf(buf, n, "%.6f", v);
	k = strlen(buf);
	while (k > 0 && buf[k - 1] == '0' && strchr(buf, '.') && k > (size_t)(strchr(buf, '.') - buf) + 3)
		buf[--k] = '\0';
	return buf;
}

/* Per-token rates back to the per-million figures people read, without
 * the float noise of the division. */
static double per_mtok(double per_token)
{
	double v = per_token * 1e6 * 1e9;

	/* rates are >= 0 and far below 2^63 / 1e9; no libm in the link */
	return v < 9e18 ? (double)(long long)(v + 0.5) / 1e9 : per_token * 1e6;
}

static int print_json(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	if (!s) {
		cJSON_Delete(o);
		fprintf(stderr, "infertrace prices: out of memory\n");
		return 1;
	}
	printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
	return 0;
}

static cJSON *problems_json(const struct price_problems *p)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < p->n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "path", p->v[i].path);
		cJSON_AddNumberToObject(o, "line", p->v[i].line);
		cJSON_AddStringToObject(o, "field", p->v[i].field);
		cJSON_AddStringToObject(o, "message", p->v[i].message);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

/* An error the operator must see: JSON on stdout with -j, else stderr. */
static int fail(bool json, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(bool json, int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "error", msg);
		print_json(o);
	} else {
		fprintf(stderr, "infertrace prices: %s\n", msg);
	}
	return rc;
}

static int bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		fprintf(stderr, "infertrace prices %s: option '%s' needs an argument\n", cmd,
			argv[optind - 1]);
	else if (optopt && optopt < 256)
		fprintf(stderr, "infertrace prices %s: unknown option '-%c'\n", cmd, optopt);
	else
		fprintf(stderr, "infertrace prices %s: unknown option '%s'\n", cmd, argv[optind - 1]);
	fprintf(stderr, "Try 'infertrace prices %s --help'.\n", cmd);
	return 2;
}

static void summary_files(const struct price_table *t, char *buf, size_t n)
{
	size_t k = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < prices_count_files(t) && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%s (version %s)", i ? ", " : "",
				      prices_file_path(t, i), prices_file_version(t, i));
}

static cJSON *files_json(const struct price_table *t)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < prices_count_files(t); i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "path", prices_file_path(t, i));
		cJSON_AddStringToObject(o, "version", prices_file_version(t, i));
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static int prices_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct price_problems probs = { 0 };
	struct price_table *t;
	bool json = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage_check(stdout);
			return 0;
		default:
			return bad_option("check", c, argv);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "infertrace prices check: give one or more FILEs\n"
				"Try 'infertrace prices check --help'.\n");
		return 2;
	}
	t = prices_load((const char *const *)argv + optind, (size_t)(argc - optind), &probs);
	if (!t) {
		if (json) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddBoolToObject(o, "ok", false);
			cJSON_AddItemToObject(o, "problems", problems_json(&probs));
			print_json(o);
		} else {
			price_problems_print(&probs, stdout);
			fprintf(stderr, "infertrace prices check: %zu problem%s\n", probs.n,
				probs.n == 1 ? "" : "s");
		}
		price_problems_free(&probs);
		return 1;
	}
	if (json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddBoolToObject(o, "ok", true);
		cJSON_AddNumberToObject(o, "models", (double)prices_count_models(t));
		cJSON_AddNumberToObject(o, "accelerators", (double)prices_count_accels(t));
		cJSON_AddItemToObject(o, "files", files_json(t));
		print_json(o);
	} else {
		char files[2048];

		summary_files(t, files, sizeof(files));
		printf("ok: %zu models, %zu accelerators: %s\n", prices_count_models(t),
		       prices_count_accels(t), files);
	}
	prices_free(t);
	return 0;
}

static const char *const rate_names[6] = {
	"input", "output", "cache_read", "cache_write_5m", "cache_write_1h", "reasoning",
};

static int show_model(const struct price_table *t, const char *model, const char *provider,
		      int64_t prompt, const char *tier, bool json, cJSON *out)
{
	struct token_price p;
	double r[6];
	char b[32];

	if (prices_token(t, provider, model, prompt, tier, &p)) {
		if (provider)
			return fail(json, 1,
				    "no price for model '%s' from provider '%s'; the agent records such "
				    "requests with price_source \"missing\" (to price it, add an entry: "
				    "docs/prices.md)", model, provider);
		return fail(json, 1,
			    "no price for model '%s'; the agent records such requests with "
			    "price_source \"missing\" (to price it, add an entry: docs/prices.md)",
			    model);
	}
	r[0] = per_mtok(p.input);
	r[1] = per_mtok(p.output);
	r[2] = per_mtok(p.cache_read);
	r[3] = per_mtok(p.cache_write_5m);
	r[4] = per_mtok(p.cache_write_1h);
	r[5] = per_mtok(p.reasoning);
	if (json) {
		cJSON *o = cJSON_CreateObject(), *u = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "model", model);
		if (provider)
			cJSON_AddStringToObject(o, "provider", provider);
		else
			cJSON_AddNullToObject(o, "provider");
		cJSON_AddStringToObject(o, "entry", p.ref.key);
		cJSON_AddStringToObject(o, "table", p.ref.table);
		cJSON_AddStringToObject(o, "version", p.ref.version);
		cJSON_AddStringToObject(o, "source", p.ref.source);
		cJSON_AddStringToObject(o, "currency", p.ref.currency);
		if (prompt >= 0)
			cJSON_AddNumberToObject(o, "prompt_tokens", (double)prompt);
		cJSON_AddStringToObject(o, "tier", p.tier);
		cJSON_AddStringToObject(o, "service_tier", p.service_tier);
		for (int i = 0; i < 6; i++)
			cJSON_AddNumberToObject(u, rate_names[i], r[i]);
		cJSON_AddItemToObject(o, "usd_per_mtok", u);
		cJSON_AddItemToObject(out, "model", o);
		return 0;
	}
	printf("model:         %s\n", model);
	printf("provider:      %s\n", provider ? provider : "(any)");
	printf("entry:         %s\n", p.ref.key);
	printf("table:         %s (version %s)\n", p.ref.table, p.ref.version);
	printf("source:        %s\n", p.ref.source);
	if (prompt >= 0)
		printf("tier:          %s (prompt tokens %" PRId64 ")\n", p.tier, prompt);
	else
		printf("tier:          %s\n", p.tier);
	if (tier && strcmp(tier, "standard") && !strcmp(p.service_tier, "standard"))
		printf("service tier:  standard (the entry has no %s rates)\n", tier);
	else
		printf("service tier:  %s\n", p.service_tier);
	printf("%s per million tokens:\n", p.ref.currency);
	printf("  input            %10s\n", usd(r[0], b, sizeof(b)));
	printf("  output           %10s\n", usd(r[1], b, sizeof(b)));
	printf("  cache read       %10s\n", usd(r[2], b, sizeof(b)));
	printf("  cache write 5m   %10s\n", usd(r[3], b, sizeof(b)));
	printf("  cache write 1h   %10s\n", usd(r[4], b, sizeof(b)));
	printf("  reasoning        %10s\n", usd(r[5], b, sizeof(b)));
	return 0;
}

static int show_accel(const struct price_table *t, const char *name, const char *host, bool json,
		      cJSON *out)
{
	struct accel_price a;
	char b[32];

	if (prices_accel(t, name, host, &a))
		return fail(json, 1,
			    "no price for accelerator '%s' and no \"default\" row; the agent leaves "
			    "its time unpriced (add an accelerator entry: docs/prices.md)", name);
	if (json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "accelerator", name);
		if (host)
			cJSON_AddStringToObject(o, "host", host);
		cJSON_AddStringToObject(o, "entry", a.ref.key);
		cJSON_AddBoolToObject(o, "default", a.is_default);
		cJSON_AddStringToObject(o, "table", a.ref.table);
		cJSON_AddStringToObject(o, "version", a.ref.version);
		cJSON_AddStringToObject(o, "source", a.ref.source);
		cJSON_AddStringToObject(o, "currency", a.ref.currency);
		cJSON_AddNumberToObject(o, "usd_per_hour", a.usd_per_hour);
		cJSON_AddItemToObject(out, "accelerator", o);
		return 0;
	}
	printf("accelerator:   %s\n", name);
	if (host)
		printf("host:          %s\n", host);
	if (a.is_default)
		printf("entry:         %s (nothing named it: the default row)\n", a.ref.key);
	else
		printf("entry:         %s\n", a.ref.key);
	printf("table:         %s (version %s)\n", a.ref.table, a.ref.version);
	printf("source:        %s\n", a.ref.source);
	printf("%s per hour:  %s\n", a.ref.currency, usd(a.usd_per_hour, b, sizeof(b)));
	return 0;
}

static int width(int w, const char *s)
{
	int n = s ? (int)strlen(s) : 0;

	return n > w ? n : w;
}

static int show_all(const struct price_table *t, bool json)
{
	struct price_entry_info e;
	size_t nm = prices_count_models(t), na = prices_count_accels(t);
	int wi = 5, wp = 9, wt = 5, wv = 8, wa = 5, wh = 4;
	char b1[32], b2[32];

	if (json) {
		cJSON *o = cJSON_CreateObject(), *ms = cJSON_CreateArray(), *as = cJSON_CreateArray();

		cJSON_AddItemToObject(o, "files", files_json(t));
		for (size_t i = 0; !prices_model_info(t, i, &e); i++) {
			cJSON *m = cJSON_CreateObject();

			cJSON_AddStringToObject(m, "id", e.ref.key);
			cJSON_AddStringToObject(m, "providers", e.providers);
			cJSON_AddStringToObject(m, "match", e.match);
			cJSON_AddNumberToObject(m, "input_per_mtok", e.input_per_mtok);
			cJSON_AddNumberToObject(m, "output_per_mtok", e.output_per_mtok);
			cJSON_AddNumberToObject(m, "cache_read_per_mtok", e.cache_read_per_mtok);
			cJSON_AddStringToObject(m, "tiers", e.tiers);
			cJSON_AddStringToObject(m, "variants", e.variants);
			cJSON_AddStringToObject(m, "table", e.ref.table);
			cJSON_AddStringToObject(m, "source", e.ref.source);
			cJSON_AddItemToArray(ms, m);
		}
		for (size_t i = 0; !prices_accel_info(t, i, &e); i++) {
			cJSON *a = cJSON_CreateObject();

			cJSON_AddStringToObject(a, "id", e.ref.key);
			if (e.host)
				cJSON_AddStringToObject(a, "host", e.host);
			else
				cJSON_AddNullToObject(a, "host");
			cJSON_AddStringToObject(a, "match", e.match);
			cJSON_AddBoolToObject(a, "default", e.is_default);
			cJSON_AddNumberToObject(a, "usd_per_hour", e.usd_per_hour);
			cJSON_AddStringToObject(a, "table", e.ref.table);
			cJSON_AddStringToObject(a, "source", e.ref.source);
			cJSON_AddItemToArray(as, a);
		}
		cJSON_AddItemToObject(o, "models", ms);
		cJSON_AddItemToObject(o, "accelerators", as);
		return print_json(o);
	}
	for (size_t i = 0; !prices_model_info(t, i, &e); i++) {
		wi = width(wi, e.ref.key);
		wp = width(wp, e.providers);
		wt = width(wt, e.tiers);
		wv = width(wv, e.variants);
	}
	for (size_t i = 0; !prices_accel_info(t, i, &e); i++) {
		wa = width(wa, e.ref.key);
		wh = width(wh, e.host ? e.host : "-");
	}
	for (size_t i = 0; i < prices_count_files(t); i++)
		printf("%s %s (version %s)\n", i ? "over " : "table", prices_file_path(t, i),
		       prices_file_version(t, i));
	printf("\n%zu models, USD per million tokens (base tier, standard service):\n", nm);
	printf("%-*s  %-*s  %9s  %9s  %-*s  %-*s  %s\n", wi, "ENTRY", wp, "PROVIDERS", "INPUT",
	       "OUTPUT", wt, "TIERS", wv, "VARIANTS", "MATCH");
	for (size_t i = 0; !prices_model_info(t, i, &e); i++)
		printf("%-*s  %-*s  %9s  %9s  %-*s  %-*s  %s\n", wi, e.ref.key, wp, e.providers,
		       usd(e.input_per_mtok, b1, sizeof(b1)), usd(e.output_per_mtok, b2, sizeof(b2)),
		       wt, e.tiers[0] ? e.tiers : "-", wv, e.variants[0] ? e.variants : "-", e.match);
	printf("\n%zu accelerators, USD per accelerator-hour:\n", na);
	printf("%-*s  %-*s  %9s  %s\n", wa, "ENTRY", wh, "HOST", "PER HOUR", "MATCH");
	for (size_t i = 0; !prices_accel_info(t, i, &e); i++)
		printf("%-*s  %-*s  %9s  %s\n", wa, e.ref.key, wh, e.host ? e.host : "-",
		       usd(e.usd_per_hour, b1, sizeof(b1)), e.match);
	return 0;
}

enum {
	OPT_PROVIDER = 1000,
	OPT_PROMPT,
	OPT_TIER,
	OPT_ACCEL,
	OPT_HOST,
	OPT_PRICES,
	OPT_NO_DEFAULT,
};

static int prices_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "provider", required_argument, NULL, OPT_PROVIDER },
		{ "prompt-tokens", required_argument, NULL, OPT_PROMPT },
		{ "service-tier", required_argument, NULL, OPT_TIER },
		{ "accelerator", required_argument, NULL, OPT_ACCEL },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "prices", required_argument, NULL, OPT_PRICES },
		{ "no-default", no_argument, NULL, OPT_NO_DEFAULT },
		{ "no-default-prices", no_argument, NULL, OPT_NO_DEFAULT }, /* as `agent` spells it */
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *provider = NULL, *tier = NULL, *accel = NULL, *host = NULL, *model = NULL;
	const char **paths = calloc((size_t)argc + 1, sizeof(*paths));
	struct price_problems probs = { 0 };
	struct price_table *t = NULL;
	bool json = false, no_default = false;
	int64_t prompt = -1;
	size_t np = 0, nextra = 0;
	int c, rc = 0;

	if (!paths)
		return fail(false, 1, "out of memory");
	paths[np++] = NULL; /* the default table's slot */
	optind = 0;
	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_PROVIDER:
			provider = optarg;
			break;
		case OPT_PROMPT: {
			char *end;
			long long v;

			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 0) {
				fprintf(stderr, "infertrace prices show: --prompt-tokens wants a whole "
						"number of tokens >= 0, not '%s'\n", optarg);
				free(paths);
				return 2;
			}
			prompt = v;
			break;
		}
		case OPT_TIER:
			if (strcmp(optarg, "standard") && strcmp(optarg, "batch") &&
			    strcmp(optarg, "priority") && strcmp(optarg, "flex")) {
				fprintf(stderr, "infertrace prices show: --service-tier is one of standard, "
						"batch, priority, flex; not '%s'\n", optarg);
				free(paths);
				return 2;
			}
			tier = optarg;
			break;
		case OPT_ACCEL:
			accel = optarg;
			break;
		case OPT_HOST:
			host = optarg;
			break;
		case OPT_PRICES:
			paths[np++] = optarg;
			break;
		case OPT_NO_DEFAULT:
			no_default = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage_show(stdout);
			free(paths);
			return 0;
		default:
			free(paths);
			return bad_option("show", c, argv);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (!model)
			model = argv[i];
		else
			nextra++;
	}
	if (nextra) {
		fprintf(stderr, "infertrace prices show: one MODEL at a time ('%s' and '%s' given)\n"
				"Try 'infertrace prices show --help'.\n", argv[optind], argv[optind + 1]);
		free(paths);
		return 2;
	}
	if (host && !accel) {
		fprintf(stderr, "infertrace prices show: --host goes with --accelerator\n");
		free(paths);
		return 2;
	}
	if (!no_default) {
		paths[0] = prices_default_path();
		if (!paths[0]) {
			free(paths);
			return fail(json, 1,
				    "no default price table found (looked next to the binary for "
				    "../prices/default.json and in /usr/local/share/infertrace and "
				    "/usr/share/infertrace); set INFERTRACE_PRICES, or use --prices FILE "
				    "--no-default");
		}
	}
	if (no_default && np == 1) {
		free(paths);
		return fail(json, 2, "--no-default needs at least one --prices FILE");
	}
	t = prices_load(no_default ? paths + 1 : paths, no_default ? np - 1 : np, &probs);
	if (!t) {
		if (json) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "error", "the price tables have problems");
			cJSON_AddItemToObject(o, "problems", problems_json(&probs));
			print_json(o);
		} else {
			fprintf(stderr, "infertrace prices show: the price tables have problems:\n");
			price_problems_print(&probs, stderr);
		}
		price_problems_free(&probs);
		free(paths);
		return 1;
	}
	if (!model && !accel) {
		rc = show_all(t, json);
	} else {
		cJSON *out = json ? cJSON_CreateObject() : NULL;

		if (model)
			rc = show_model(t, model, provider, prompt, tier, json, out);
		if (!rc && model && accel && !json)
			printf("\n");
		if (!rc && accel)
			rc = show_accel(t, accel, host, json, out);
		if (json && !rc)
			print_json(out);
		else
			cJSON_Delete(out);
	}
	prices_free(t);
	free(paths);
	return rc;
}

int cmd_prices(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage_main(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "check"))
		return prices_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return prices_show(argc - 1, argv + 1);
	fprintf(stderr, "infertrace prices: unknown command '%s'\nTry 'infertrace prices --help'.\n",
		argv[1]);
	return 2;
}
