// SPDX-License-Identifier: MIT
/* infertrace: one binary, subcommands in the style of bpftool and git. */
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "cost/prices.h"
#include "top/top.h"
#include "report/report.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct command commands[] = {
	{ "agent", cmd_agent, "trace TLS and plain-HTTP traffic per process (root)" },
	{ "prices", cmd_prices, "check and show price tables" },
	{ "top", cmd_top, "live view of processes, workloads, models and GPUs (reads the agent's socket)" },
	{ "report", cmd_report, "totals from JSON lines: by workload, process, model, day..." },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "show this help" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: infertrace COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'infertrace COMMAND --help' describes a command's options.\n");
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("infertrace %s\n", INFERTRACE_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_help(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "infertrace: unknown command '%s'\nTry 'infertrace --help'.\n", argv[1]);
	return 2;
}
