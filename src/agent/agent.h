/* SPDX-License-Identifier: MIT */
#ifndef INFERTRACE_AGENT_H
#define INFERTRACE_AGENT_H

/* `infertrace agent ...`; argv[0] is "agent". Returns the exit status. */
int cmd_agent(int argc, char **argv);

#endif
