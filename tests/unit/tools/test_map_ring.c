/* SPDX-License-Identifier: MIT */
/*
 * map_ring_amend_init (tools/fabriq/map_ring.c): the INIT reply libfuse
 * writes gets FUSE_INIT_EXT and FUSE_OVER_IO_URING (bit 41, bit 9 of
 * flags2), and the payload size the kernel will require of every ring
 * entry (fs/fuse/dev_uring.c, fuse_uring_create) follows from it; any
 * other reply is left as it is.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "map_ring.h"

#define OVER_IO_URING_FLAG2 (1u << 9)

struct reply {
	struct fuse_out_header oh;
	struct fuse_init_out io;
	struct iovec iov[2];
};

static void init_reply(struct reply *r, uint32_t flags, uint32_t max_write, uint16_t max_pages)
{
	memset(r, 0, sizeof(*r));
	r->oh.len = sizeof(r->oh) + sizeof(r->io);
	r->oh.unique = 2;
	r->io.major = FUSE_KERNEL_VERSION;
	r->io.minor = FUSE_KERNEL_MINOR_VERSION;
	r->io.flags = flags;
	r->io.max_write = max_write;
	r->io.max_pages = max_pages;
	r->iov[0] = (struct iovec){&r->oh, sizeof(r->oh)};
	r->iov[1] = (struct iovec){&r->io, sizeof(r->io)};
}

static void offers_the_ring(void **state)
{
	struct reply r;

	(void)state;
	init_reply(&r, FUSE_MAX_PAGES | FUSE_ASYNC_DIO, 128 << 10, 32);
	assert_true(map_ring_amend_init(r.iov, 2));
	assert_int_equal(r.io.flags, FUSE_MAX_PAGES | FUSE_ASYNC_DIO | FUSE_INIT_EXT);
	assert_int_equal(r.io.flags2, OVER_IO_URING_FLAG2);
	/* Nothing else of the reply changes. */
	assert_int_equal(r.io.max_write, 128 << 10);
	assert_int_equal(r.io.max_pages, 32);
	assert_int_equal(r.oh.error, 0);
	assert_int_equal(map_ring_payload_size(), 128 << 10);
}

/* The payload holds the largest request either way: max_write or max_pages pages. */
static void payload_is_the_largest_request(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct reply r;

	(void)state;
	init_reply(&r, FUSE_MAX_PAGES, 64 << 10, 256);
	assert_true(map_ring_amend_init(r.iov, 2));
	assert_int_equal(map_ring_payload_size(), 256 * page);
	init_reply(&r, FUSE_MAX_PAGES, 1 << 20, 32);
	assert_true(map_ring_amend_init(r.iov, 2));
	assert_int_equal(map_ring_payload_size(), 1 << 20);
	/* Without FUSE_MAX_PAGES the kernel keeps its default of 32 pages. */
	init_reply(&r, 0, 4096, 0);
	assert_true(map_ring_amend_init(r.iov, 2));
	assert_int_equal(map_ring_payload_size(), 32 * page);
	/* And never less than the kernel's floor of 8 KiB. */
	init_reply(&r, FUSE_MAX_PAGES, 4096, 1);
	assert_true(map_ring_amend_init(r.iov, 2));
	assert_int_equal(map_ring_payload_size(), 8192);
}

static void keeps_flags2_bits(void **state)
{
	struct reply r;

	(void)state;
	init_reply(&r, FUSE_INIT_EXT, 128 << 10, 32);
	r.io.flags2 = 1u << 3;
	assert_true(map_ring_amend_init(r.iov, 2));
	assert_int_equal(r.io.flags2, (1u << 3) | OVER_IO_URING_FLAG2);
	assert_int_equal(r.io.flags, FUSE_INIT_EXT);
}

/* An error reply, a reply without a full fuse_init_out, another protocol: untouched. */
static void other_replies_untouched(void **state)
{
	struct reply r, before;

	(void)state;
	init_reply(&r, FUSE_MAX_PAGES, 128 << 10, 32);
	r.oh.error = -EPROTO;
	before = r;
	assert_false(map_ring_amend_init(r.iov, 2));
	assert_memory_equal(&r.io, &before.io, sizeof(r.io));

	init_reply(&r, FUSE_MAX_PAGES, 128 << 10, 32);
	before = r;
	assert_false(map_ring_amend_init(r.iov, 1));
	r.iov[1].iov_len = offsetof(struct fuse_init_out, flags2);
	assert_false(map_ring_amend_init(r.iov, 2));
	assert_memory_equal(&r.io, &before.io, sizeof(r.io));

	init_reply(&r, FUSE_MAX_PAGES, 128 << 10, 32);
	r.io.major = FUSE_KERNEL_VERSION + 1;
	before = r;
	assert_false(map_ring_amend_init(r.iov, 2));
	assert_memory_equal(&r.io, &before.io, sizeof(r.io));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(offers_the_ring),
		cmocka_unit_test(payload_is_the_largest_request),
		cmocka_unit_test(keeps_flags2_bits),
		cmocka_unit_test(other_replies_untouched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
