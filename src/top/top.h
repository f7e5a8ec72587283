/* SPDX-License-Identifier: MIT */
/*
 * `infertrace top`: the live view of processes, workloads, models and GPUs,
 * read from the agent's query socket (out/query.h); --once prints one
 * snapshot as a plain table (or, with --json, the snapshot itself).
 */
#ifndef INFERTRACE_TOP_H
#define INFERTRACE_TOP_H

int cmd_top(int argc, char **argv);

#endif
