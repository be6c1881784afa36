/* SPDX-License-Identifier: MIT */
/*
 * The I/O engine's socket operations over a socketpair, in both modes: a
 * sleeping engine (armed io_uring operations) and a busy-poll engine that
 * spins (non-blocking attempts each turn) and then sleeps again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "xport/engine.h"

struct probe {
	struct fq_uop op;
	int calls;
	int res;
};

static void probe_done(struct fq_uop *op, int res, uint32_t flags)
{
	struct probe *p = (struct probe *)op;

	(void)flags;
	p->calls++;
	p->res = res;
}

struct fixture {
	struct fq_engine e;
	int fd[2];
};

static void setup(struct fixture *f, bool busy)
{
	assert_int_equal(fq_engine_init_poll(&f->e, 32, busy), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->fd), 0);
}

static void teardown(struct fixture *f)
{
	close(f->fd[0]);
	close(f->fd[1]);
	fq_engine_fini(&f->e);
}

/* Spin until @p completes, at most @turns turns. */
static void spin_until(struct fixture *f, struct probe *p, int turns)
{
	while (!p->calls && turns-- > 0)
		assert_true(fq_engine_run(&f->e, 0, 0) >= 0);
}

/* A sleeping engine: the receive waits in the kernel and completes once. */
static void sleeping_recv_and_send(void **state)
{
	struct fixture f;
	struct probe rx = {.op.done = probe_done}, tx = {.op.done = probe_done};
	char buf[16] = {0};
	struct iovec iov = {.iov_base = "hello", .iov_len = 5};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	(void)state;
	setup(&f, false);
	fq_engine_recv(&f.e, &rx.op, f.fd[0], buf, sizeof(buf));
	assert_int_equal(fq_engine_run(&f.e, 1, 20 * 1000 * 1000), 0); /* times out */
	assert_int_equal(rx.calls, 0);
	fq_engine_sendmsg(&f.e, &tx.op, f.fd[1], &msg, MSG_NOSIGNAL);
	assert_int_equal(tx.calls, 0); /* completions come from fq_engine_run only */
	while (rx.calls == 0 || tx.calls == 0)
		assert_true(fq_engine_run(&f.e, 1, 1000 * 1000 * 1000) > 0);
	assert_int_equal(tx.res, 5);
	assert_int_equal(rx.res, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(f.e.inflight, 0);
	teardown(&f);
}

/*
 * A spinning busy-poll engine: an empty socket is not an event (the receive
 * stays pending and run() reports no completion); data written later is
 * picked up on a following turn; a send completes on the next run, never
 * inside the call that made it.
 */
static void spinning_recv_and_send(void **state)
{
	struct fixture f;
	struct probe rx = {.op.done = probe_done}, tx = {.op.done = probe_done};
	char buf[16] = {0};
	struct iovec iov = {.iov_base = "ping", .iov_len = 4};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	(void)state;
	setup(&f, true);
	assert_int_equal(fq_engine_run(&f.e, 0, 0), 0); /* now spinning */
	fq_engine_recv(&f.e, &rx.op, f.fd[0], buf, sizeof(buf));
	for (int i = 0; i < 100; i++)
		assert_int_equal(fq_engine_run(&f.e, 0, 0), 0);
	assert_int_equal(rx.calls, 0);
	assert_int_equal(f.e.inflight, 1);

	fq_engine_sendmsg(&f.e, &tx.op, f.fd[1], &msg, MSG_NOSIGNAL);
	assert_int_equal(tx.calls, 0);
	spin_until(&f, &rx, 1000);
	spin_until(&f, &tx, 1000);
	assert_int_equal(tx.res, 4);
	assert_int_equal(rx.res, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(f.e.inflight, 0);
	teardown(&f);
}

/*
 * A receive posted while spinning must still complete after the engine goes
 * to sleep: the data arrives while the thread waits in the kernel.
 */
static void spinning_recv_survives_sleep(void **state)
{
	struct fixture f;
	struct probe rx = {.op.done = probe_done};
	char buf[16] = {0};

	(void)state;
	setup(&f, true);
	assert_int_equal(fq_engine_run(&f.e, 0, 0), 0);
	fq_engine_recv(&f.e, &rx.op, f.fd[0], buf, sizeof(buf));
	assert_int_equal(fq_engine_run(&f.e, 0, 0), 0);
	/* Sleep: nothing to read, so this times out with the receive armed. */
	assert_int_equal(fq_engine_run(&f.e, 1, 20 * 1000 * 1000), 0);
	assert_int_equal(rx.calls, 0);
	assert_int_equal(write(f.fd[1], "wake", 4), 4);
	while (rx.calls == 0)
		assert_true(fq_engine_run(&f.e, 1, 1000 * 1000 * 1000) >= 0);
	assert_int_equal(rx.res, 4);
	assert_memory_equal(buf, "wake", 4);
	assert_int_equal(f.e.inflight, 0);
	teardown(&f);
}

/* End of stream and errors reach the owner of a polled receive. */
static void spinning_recv_sees_shutdown(void **state)
{
	struct fixture f;
	struct probe rx = {.op.done = probe_done};
	char buf[16];

	(void)state;
	setup(&f, true);
	assert_int_equal(fq_engine_run(&f.e, 0, 0), 0);
	fq_engine_recv(&f.e, &rx.op, f.fd[0], buf, sizeof(buf));
	shutdown(f.fd[0], SHUT_RDWR);
	spin_until(&f, &rx, 1000);
	assert_int_equal(rx.calls, 1);
	assert_int_equal(rx.res, 0);
	teardown(&f);
}

/*
 * A send that finds the socket full falls back to an io_uring send, which
 * completes once the peer drains, while the engine sleeps; the bytes arrive
 * after what was queued before, in order, none lost or doubled.
 */
static void spinning_send_on_full_socket(void **state)
{
	enum { CHUNK = 64 * 1024, CAP = 16 << 20 };
	static uint8_t out[CHUNK], in[CAP];
	struct fixture f;
	struct probe tx = {.op.done = probe_done};
	struct iovec iov = {.iov_base = out, .iov_len = CHUNK};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	size_t filled = 0, got = 0;
	ssize_t n;

	(void)state;
	setup(&f, true);
	/* Fill the pair with zeroes until a non-blocking send would block. */
	while ((n = send(f.fd[1], in, CHUNK, MSG_DONTWAIT)) > 0)
		filled += (size_t)n;
	assert_int_equal(errno, EAGAIN);
	assert_true(filled + CHUNK <= CAP);
	for (size_t i = 0; i < CHUNK; i++)
		out[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(fq_engine_run(&f.e, 0, 0), 0); /* spinning */
	fq_engine_sendmsg(&f.e, &tx.op, f.fd[1], &msg, MSG_NOSIGNAL);
	for (int i = 0; i < 10; i++)
		assert_int_equal(fq_engine_run(&f.e, 0, 0), 0);
	assert_int_equal(tx.calls, 0); /* waiting for room, not failed */
	while (!tx.calls || got < filled + (size_t)tx.res) {
		(void)fq_engine_run(&f.e, 1, 1000 * 1000); /* sleeping */
		n = recv(f.fd[0], in + got, CAP - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
	}
	assert_int_equal(tx.calls, 1);
	assert_true(tx.res > 0 && tx.res <= CHUNK);
	assert_int_equal(got, filled + (size_t)tx.res);
	assert_memory_equal(in + filled, out, (size_t)tx.res);
	assert_int_equal(f.e.inflight, 0);
	teardown(&f);
}

/*
 * fq_engine_flush_sends() submits only when a send is pending: a receive
 * alone stays in the submission queue (the next run submits it with its
 * wait, one system call instead of two); a send goes at once, with the
 * receive prepared before it, and the receive still completes.
 */
static void flush_sends_leaves_lone_receives(void **state)
{
	struct fixture f;
	struct probe rx = {.op.done = probe_done}, tx = {.op.done = probe_done};
	char buf[16] = {0};
	struct iovec iov = {.iov_base = "abc", .iov_len = 3};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	(void)state;
	setup(&f, false);
	fq_engine_recv(&f.e, &rx.op, f.fd[0], buf, sizeof(buf));
	assert_int_equal(fq_engine_flush_sends(&f.e), 0);
	assert_int_equal(io_uring_sq_ready(&f.e.ring), 1);
	assert_int_equal(f.e.pending, 1);

	fq_engine_sendmsg(&f.e, &tx.op, f.fd[1], &msg, MSG_NOSIGNAL);
	assert_int_equal(f.e.pending_sends, 1);
	assert_int_equal(fq_engine_flush_sends(&f.e), 0);
	assert_int_equal(io_uring_sq_ready(&f.e.ring), 0);
	assert_int_equal(f.e.pending, 0);
	assert_int_equal(f.e.pending_sends, 0);
	while (rx.calls == 0 || tx.calls == 0)
		assert_true(fq_engine_run(&f.e, 1, 1000 * 1000 * 1000) > 0);
	assert_int_equal(tx.res, 3);
	assert_int_equal(rx.res, 3);
	assert_memory_equal(buf, "abc", 3);

	/* Nothing pending: nothing to do. */
	assert_int_equal(fq_engine_flush_sends(&f.e), 0);
	assert_int_equal(f.e.inflight, 0);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sleeping_recv_and_send),
		cmocka_unit_test(spinning_recv_and_send),
		cmocka_unit_test(spinning_recv_survives_sleep),
		cmocka_unit_test(spinning_recv_sees_shutdown),
		cmocka_unit_test(spinning_send_on_full_socket),
		cmocka_unit_test(flush_sends_leaves_lone_receives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
