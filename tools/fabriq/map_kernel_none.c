/* SPDX-License-Identifier: MIT */
/*
 * The kernel mode of `fabriq map` in a build without libnvme: it answers with
 * an error, so that the rest of `fabriq` (and the user mode) builds and works
 * on machines that lack the library.
 */
#include <errno.h>
#include <stdio.h>

#include "map.h"

const bool map_kernel_built = false;

int map_kernel_connect(const char *subnqn, const struct map_kpath *paths, int n,
		       const struct map_kopts *o, char *ctrls, size_t len)
{
	(void)subnqn, (void)paths, (void)n, (void)o, (void)len;
	ctrls[0] = 0;
	fprintf(stderr, "fabriq map: kernel NVMe/TCP host support not built (fabriq was built "
			"without libnvme); --via user maps without it\n");
	return -ENOTSUP;
}

int map_kernel_disconnect(const char *subnqn)
{
	(void)subnqn;
	fprintf(stderr, "fabriq unmap: kernel NVMe/TCP host support not built (fabriq was built "
			"without libnvme)\n");
	return -ENOTSUP;
}
