/* SPDX-License-Identifier: MIT */
/* fabriq perf: the load generator sub-command. */
#ifndef FQ_TOOLS_PERF_H
#define FQ_TOOLS_PERF_H

#include <stdio.h>

/* Run `fabriq perf` with argv[0] = "perf". Returns the process exit status. */
int fq_cli_perf(int argc, char **argv);
void fq_perf_usage(FILE *f);

#endif
