/* SPDX-License-Identifier: MIT */
/*
 * How a waiting caller spends its time, and how submissions are grouped.
 *
 * Waiting. Busy polling finds a completion the moment it lands but burns
 * the core; sleeping in the kernel costs nothing while idle but adds a
 * wake-up (several microseconds, far more on a loaded machine). The
 * adaptive mode busy-polls for a window and then sleeps. The window
 * follows the expected time to the next completion, which is the measured
 * completion latency divided by the operations in flight (the load):
 * when that gap is short (<= poll_spin_max_us) the waiter spins for twice
 * the gap, otherwise it sleeps at once. Nothing in flight: it sleeps. If
 * more than half of the last 32 windows ended asleep anyway, spinning is
 * switched off for the next 32 waits, then tried again.
 *
 * Batching. A submission is handed to the kernel once `batch` of them are
 * queued (and always when the caller polls or waits). `batch` follows the
 * request rate: about the submissions arriving in 20 us, from 1 (every
 * submission goes out at once: lowest latency at low rates) up to
 * max_batch_size (one system call per many commands at high rates).
 * adaptive_batching = false pins it to max_batch_size.
 */
#include <time.h>

#include "storage_int.h"

#define MISS_WINDOW 32
#define RATE_WINDOW_NS 1000000ull
#define BATCH_HOLD_NS 20000ull

void sto_poller_init(struct sto_poller *p, const struct sto_config *c)
{
	*p = (struct sto_poller){0};
	p->mode = c->polling_mode;
	p->spin_max_us = c->poll_spin_max_us;
	p->pause_us = c->poll_interval_us;
	p->spin_us = c->poll_spin_max_us;
	p->adaptive_batch = c->adaptive_batching;
	p->batch_max = c->max_batch_size;
	p->batch = p->adaptive_batch ? 1 : p->batch_max;
}

void sto_poller_note_latency(struct sto_poller *p, uint64_t lat_ns)
{
	p->lat_ewma_ns = p->lat_ewma_ns ? (p->lat_ewma_ns * 7 + lat_ns) / 8 : lat_ns;
}

static void rate_update(struct sto_poller *p, uint64_t now)
{
	uint64_t dt = now - p->rate_t0, rate;

	if (dt < RATE_WINDOW_NS)
		return;
	rate = (uint64_t)p->rate_n * 1000000000ull / dt;
	/* A long pause counts as idle: start over from the new rate. */
	p->rate_ewma = dt > 100 * RATE_WINDOW_NS ? rate : (p->rate_ewma * 3 + rate) / 4;
	p->rate_t0 = now;
	p->rate_n = 0;
	if (p->adaptive_batch) {
		uint64_t b = p->rate_ewma * BATCH_HOLD_NS / 1000000000ull;

		p->batch = b < 1 ? 1 : b > p->batch_max ? p->batch_max : (uint32_t)b;
	}
}

bool sto_poller_note_submit(struct sto_poller *p, uint64_t now)
{
	p->unkicked++;
	p->rate_n++;
	rate_update(p, now);
	if (p->holding)
		return p->unkicked >= p->batch_max;
	return p->unkicked >= p->batch;
}

uint32_t sto_poller_spin_us(const struct sto_poller *p)
{
	switch (p->mode) {
	case STO_POLL_BUSY:
		return UINT32_MAX;
	case STO_POLL_SLEEP:
		return 0;
	default:
		return p->spin_us;
	}
}

/* Re-derive the adaptive window from latency, load and recent misses. */
static void spin_update(struct sto_poller *p, uint32_t outstanding, bool missed)
{
	uint64_t gap_us;

	if (p->cooldown) {
		p->cooldown--;
		p->spin_us = 0;
		return;
	}
	p->window++;
	p->misses += missed;
	if (p->window >= MISS_WINDOW) {
		bool back_off = p->misses * 2 > p->window;

		p->window = p->misses = 0;
		if (back_off) {
			p->spin_us = 0;
			p->cooldown = MISS_WINDOW;
			return;
		}
	}
	gap_us = p->lat_ewma_ns / 1000 / (outstanding ? outstanding : 1);
	if (gap_us > p->spin_max_us)
		p->spin_us = 0;
	else
		p->spin_us =
			gap_us * 2 + 1 < p->spin_max_us ? (uint32_t)gap_us * 2 + 1 : p->spin_max_us;
}

int sto_kick(struct fq_storage *st)
{
	int rc;

	if (!st->poller.unkicked || st->in_poll)
		return 0;
	st->poller.unkicked = 0;
	st->in_poll = true;
	rc = st->be->kick(st->be_ctx);
	st->in_poll = false;
	return rc;
}

static int turn_wait(struct fq_storage *st, int64_t wait_ns)
{
	int rc;

	st->poller.unkicked = 0;
	st->in_poll = true;
	rc = st->be->poll(st->be_ctx, wait_ns);
	st->in_poll = false;
	if (rc < 0)
		return rc;
	return sto_req_turn(st);
}

int sto_turn(struct fq_storage *st)
{
	return turn_wait(st, 0);
}

static void pause_us(uint32_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

/* Poll without sleeping until a callback ran, @until, or @deadline. */
static int spin(struct fq_storage *st, uint64_t until, uint32_t pause)
{
	for (;;) {
		int n = turn_wait(st, 0);

		if (n || !st->outstanding)
			return n;
		if (sto_now_ns() >= until)
			return 0;
		if (pause)
			pause_us(pause);
	}
}

static int sleep_until(struct fq_storage *st, uint64_t deadline)
{
	for (;;) {
		uint64_t now = sto_now_ns();
		int64_t wait = 100000000; /* re-check retries and deadlines every 100 ms */
		int n;

		if (deadline && now >= deadline)
			return 0;
		if (deadline && (int64_t)(deadline - now) < wait)
			wait = (int64_t)(deadline - now);
		n = turn_wait(st, wait);
		if (n || !st->outstanding)
			return n;
	}
}

int sto_wait_until(struct fq_storage *st, uint64_t deadline)
{
	struct sto_poller *p = &st->poller;
	uint64_t until;
	int n = sto_turn(st);

	if (n || !st->outstanding)
		return n;
	switch (p->mode) {
	case STO_POLL_BUSY:
		st->stats.waits_spun++;
		return spin(st, deadline ? deadline : UINT64_MAX, p->pause_us);
	case STO_POLL_SLEEP:
		st->stats.waits_slept++;
		return sleep_until(st, deadline);
	default:
		break;
	}
	until = sto_now_ns() + (uint64_t)p->spin_us * 1000;
	if (deadline && until > deadline)
		until = deadline;
	n = p->spin_us ? spin(st, until, 0) : 0;
	spin_update(p, st->outstanding + (uint32_t)(n > 0), p->spin_us && !n && st->outstanding);
	if (n || !st->outstanding) {
		st->stats.waits_spun++;
		return n;
	}
	st->stats.waits_slept++;
	return sleep_until(st, deadline);
}
