/* SPDX-License-Identifier: MIT */
/* `infertrace report`: totals from the agent's JSON lines (docs/report.md). */
#ifndef INFERTRACE_REPORT_H
#define INFERTRACE_REPORT_H

/* argv[0] is "report". Returns 0 when some input was read, 1 when none
 * could be (or the output could not be written), 2 on a usage error. */
int cmd_report(int argc, char **argv);

#endif
