/* SPDX-License-Identifier: MIT */
/*
 * A counting allocator for LD_PRELOAD: forwards malloc, calloc, realloc,
 * posix_memalign, aligned_alloc and free to the C library and counts the
 * calls. SIGUSR1 writes "alloc_count: allocs=N frees=M" to stderr, so a
 * benchmark can read the counters before and after a steady-state window;
 * any difference in allocs means the I/O path allocated.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static atomic_ulong n_alloc, n_free;

void *malloc(size_t size)
{
	atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
	return __libc_realloc(p, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
	p = __libc_memalign(align, size);
	if (!p)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
	atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
	return __libc_memalign(align, size);
}

void free(void *p)
{
	if (p)
		atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
	__libc_free(p);
}

static char *put_u(char *s, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*s++ = tmp[--n];
	return s;
}

static void report(int sig)
{
	char buf[96], *s = buf;

	(void)sig;
	memcpy(s, "alloc_count: allocs=", 20);
	s = put_u(s + 20, atomic_load(&n_alloc));
	memcpy(s, " frees=", 7);
	s = put_u(s + 7, atomic_load(&n_free));
	*s++ = '\n';
	if (write(STDERR_FILENO, buf, (size_t)(s - buf)) < 0)
		return;
}

__attribute__((constructor)) static void init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = report;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
}
