/* SPDX-License-Identifier: MIT */
/* The thread-local "last error" sentence behind fq_last_error(). */
#include <stdarg.h>
#include <stdio.h>

#include "host/host_int.h"
#include "proto/status.h"

static __thread char last_error[512];

const char *fq_last_error(void)
{
	return last_error;
}

void host_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

void host_clear_error(void)
{
	last_error[0] = 0;
}

const char *fq_cpl_str(const struct fq_cpl *cpl, char *buf, size_t len)
{
	return fq_status_str(cpl->status, buf, len);
}
