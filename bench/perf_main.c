/* SPDX-License-Identifier: MIT */
/* Stand-alone entry point for the perf sub-command, used by the benchmark suite. */
#include "perf.h"

int main(int argc, char **argv)
{
	return fq_cli_perf(argc, argv);
}
