/* SPDX-License-Identifier: MIT */
/*
 * Error module: a layer that fails, drops or tears chosen I/O, for testing
 * what hosts and the layers above do about it. Rules live in fixed slots
 * (struct fq_bdev_error_rule); the configuration can install one, and
 * fq_bdev_error_set changes them while I/O runs. Each slot is switched off
 * while it changes, and its remaining count is an atomic, so reactors
 * sharing the bdev never lock. What matches no rule passes to the base.
 *
 * A dropped I/O is kept on a list (the only lock here, taken only when a
 * drop rule matches) so that shutdown can hand it back with an abort status
 * (fq_bdev_abort_held) and the connection waiting for it can close.
 */
#include "bdev/bdev.h"
#include "bdev/backend.h"
#include "util/parse.h"
#include "proto/nvme.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct err_slot {
	_Atomic bool active;
	struct fq_bdev_error_rule rule;
	_Atomic uint32_t left; /* I/Os still to affect when rule.count is set */
	_Atomic uint64_t hits;
};

struct error_bdev {
	struct err_slot slot[FQ_BDEV_ERROR_RULES];
	pthread_mutex_t held_lock;
	struct fq_bdev_io *held; /* dropped I/Os, linked through their frame */
};

/* The configured rule (opts->params). */
struct error_params {
	struct fq_bdev_error_rule rule;
	uint8_t sct, sc;
	bool dnr;
	bool has_rule;	 /* any rule key was given */
	bool has_status; /* sct or sc was given */
};

_Static_assert(sizeof(struct error_params) <= FQ_BDEV_PARAMS_SIZE, "error params");

/*
 * Frame scratch of a torn write: the length asked for, and the status to
 * fail with; of a dropped I/O: the next one on the held list.
 */
enum { SCR_LEN, SCR_STATUS };
enum { SCR_NEXT };

#define RW_OPS ((1u << FQ_BDEV_IO_READ) | (1u << FQ_BDEV_IO_WRITE))

/* Per thread, so reactors never share a cache line for it. */
static __thread uint64_t rng_state;

static uint32_t rng_percent(void)
{
	uint64_t x = rng_state;

	if (!x)
		x = (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)(x % 100u);
}

static bool overlaps(const struct fq_bdev_error_rule *r, const struct fq_bdev_io *io, uint32_t bs)
{
	uint64_t slba = io->offset / bs, nlb = io->length / bs;

	if (io->type == FQ_BDEV_IO_FLUSH)
		return true; /* a flush has no range */
	if (slba + nlb <= r->lba)
		return false;
	return !r->nlb || slba < r->lba + r->nlb;
}

/* Take one use of slot @s if it applies to @io. */
static bool slot_take(struct err_slot *s, const struct fq_bdev_io *io, uint32_t bs,
		      struct fq_bdev_error_rule *out)
{
	uint32_t left;

	if (!atomic_load_explicit(&s->active, memory_order_acquire))
		return false;
	*out = s->rule;
	if (!((out->ops ? out->ops : RW_OPS) & (1u << io->type)) || !overlaps(out, io, bs))
		return false;
	if (out->percent && out->percent < 100 && rng_percent() >= out->percent)
		return false;
	if (out->count) {
		left = atomic_load_explicit(&s->left, memory_order_relaxed);
		do {
			if (!left)
				return false;
		} while (!atomic_compare_exchange_weak_explicit(
			&s->left, &left, left - 1, memory_order_relaxed, memory_order_relaxed));
	}
	atomic_fetch_add_explicit(&s->hits, 1, memory_order_relaxed);
	return true;
}

static uint16_t fail_status(const struct fq_bdev_error_rule *r, const struct fq_bdev_io *io)
{
	if (r->status)
		return r->status;
	if (io->type == FQ_BDEV_IO_READ)
		return FQ_STATUS(FQ_SCT_MEDIA, FQ_SC_READ_ERROR);
	return FQ_STATUS(FQ_SCT_MEDIA, FQ_SC_WRITE_FAULT);
}

static void error_pass_done(struct fq_bdev_io *io, int result)
{
	fq_bdev_complete_up(io, result);
}

static void error_tear_done(struct fq_bdev_io *io, int result)
{
	struct fq_bdev_frame *f = fq_bdev_frame_top(io);

	io->length = f->scratch[SCR_LEN];
	if (!result) {
		io->nvme_status = (uint16_t)f->scratch[SCR_STATUS];
		result = -EIO;
	}
	fq_bdev_complete_up(io, result);
}

static int error_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct error_bdev *e = bdev->priv;
	struct fq_bdev_error_rule r;
	struct fq_bdev_frame *f;
	uint64_t tear;
	int i;

	(void)eng;
	for (i = 0; i < FQ_BDEV_ERROR_RULES; i++)
		if (slot_take(&e->slot[i], io, bdev->block_size, &r))
			break;
	if (i == FQ_BDEV_ERROR_RULES) {
		if (!fq_bdev_push(bdev, io, error_pass_done))
			return -E2BIG;
		return fq_bdev_submit_down(bdev, io);
	}
	if (r.action == FQ_BDEV_ERR_DROP) {
		/* Never completed, unless shutdown asks for it back. */
		f = fq_bdev_push(bdev, io, error_pass_done);
		if (!f)
			return -E2BIG;
		pthread_mutex_lock(&e->held_lock);
		f->scratch[SCR_NEXT] = (uint64_t)(uintptr_t)e->held;
		e->held = io;
		pthread_mutex_unlock(&e->held_lock);
		return 0;
	}
	tear = (uint64_t)r.tear_blocks * bdev->block_size;
	if (r.action == FQ_BDEV_ERR_TEAR && io->type == FQ_BDEV_IO_WRITE && tear) {
		f = fq_bdev_push(bdev, io, error_tear_done);
		if (!f)
			return -E2BIG;
		f->scratch[SCR_LEN] = io->length;
		f->scratch[SCR_STATUS] = fail_status(&r, io);
		if (tear < io->length)
			io->length = tear;
		return fq_bdev_submit_down(bdev, io);
	}
	io->nvme_status = fail_status(&r, io);
	io->cb(io, -EIO);
	return 0;
}

/* Complete @eng's dropped I/Os as aborted by the deletion of their queue. */
static int error_abort_held(struct fq_bdev *bdev, struct fq_engine *eng)
{
	struct error_bdev *e = bdev->priv;
	struct fq_bdev_io *mine = NULL, **pp, *io;
	int n = 0;

	pthread_mutex_lock(&e->held_lock);
	for (pp = &e->held; (io = *pp);) {
		struct fq_bdev_frame *f = fq_bdev_frame_top(io);
		struct fq_bdev_io *next = (struct fq_bdev_io *)(uintptr_t)f->scratch[SCR_NEXT];

		if (io->eng != eng) {
			pp = (struct fq_bdev_io **)&f->scratch[SCR_NEXT];
			continue;
		}
		*pp = next;
		f->scratch[SCR_NEXT] = (uint64_t)(uintptr_t)mine;
		mine = io;
	}
	pthread_mutex_unlock(&e->held_lock);
	while ((io = mine)) {
		mine = (struct fq_bdev_io *)(uintptr_t)fq_bdev_frame_top(io)->scratch[SCR_NEXT];
		io->nvme_status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_ABORT_SQ_DEL);
		fq_bdev_complete_up(io, -ECANCELED);
		n++;
	}
	return n;
}

static void error_destroy(struct fq_bdev *bdev)
{
	pthread_mutex_destroy(&((struct error_bdev *)bdev->priv)->held_lock);
}

static const struct fq_bdev_ops error_ops = {
	.name = "error",
	.submit = error_submit,
	.map_read = NULL, /* every read must pass the rules */
	.sync = fq_bdev_sync_base,
	.destroy = error_destroy,
	.abort_held = error_abort_held,
};

int fq_bdev_error_set(struct fq_bdev *bdev, int idx, const struct fq_bdev_error_rule *rule)
{
	struct err_slot *s;

	if (!bdev || bdev->ops != &error_ops || idx < 0 || idx >= FQ_BDEV_ERROR_RULES)
		return -EINVAL;
	if (rule && ((unsigned)rule->action > FQ_BDEV_ERR_TEAR || rule->percent > 100 ||
		     (rule->ops & ~((1u << FQ_BDEV_IO_NUM_TYPES) - 1))))
		return -EINVAL;
	s = &((struct error_bdev *)bdev->priv)->slot[idx];
	atomic_store_explicit(&s->active, false, memory_order_release);
	if (!rule)
		return 0;
	s->rule = *rule;
	atomic_store_explicit(&s->left, rule->count, memory_order_relaxed);
	atomic_store_explicit(&s->hits, 0, memory_order_relaxed);
	atomic_store_explicit(&s->active, true, memory_order_release);
	return 0;
}

int64_t fq_bdev_error_hits(struct fq_bdev *bdev, int idx)
{
	if (!bdev || bdev->ops != &error_ops || idx < 0 || idx >= FQ_BDEV_ERROR_RULES)
		return -EINVAL;
	return (int64_t)atomic_load_explicit(&((struct error_bdev *)bdev->priv)->slot[idx].hits,
					     memory_order_relaxed);
}

/* "read", "write", "rw", or several joined with '|'... kept simple: one word. */
static int parse_ops(const char *val, unsigned *ops)
{
	static const struct {
		const char *name;
		unsigned ops;
	} names[] = {
		{"read", 1u << FQ_BDEV_IO_READ},
		{"write", 1u << FQ_BDEV_IO_WRITE},
		{"rw", RW_OPS},
		{"flush", 1u << FQ_BDEV_IO_FLUSH},
		{"zeroes", 1u << FQ_BDEV_IO_WRITE_ZEROES},
		{"dealloc", 1u << FQ_BDEV_IO_DEALLOCATE},
		{"all", (1u << FQ_BDEV_IO_NUM_TYPES) - 1},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(val, names[i].name)) {
			*ops = names[i].ops;
			return 0;
		}
	}
	return -EINVAL;
}

/* "START" (one block) or "START-END" (inclusive). */
static int parse_lba(const char *val, uint64_t *lba, uint64_t *nlb)
{
	char buf[64], *dash;
	uint64_t end;

	if (strlen(val) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, val);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	if (fq_parse_u64(buf, lba))
		return -EINVAL;
	end = *lba;
	if (dash && (fq_parse_u64(dash, &end) || end < *lba))
		return -EINVAL;
	if (end == UINT64_MAX)
		return -EINVAL;
	*nlb = end - *lba + 1;
	return 0;
}

static int error_parse(struct fq_bdev_opts *opts, const char *key, const char *val, char *err,
		       size_t errlen)
{
	struct error_params *p = (struct error_params *)opts->params;
	struct fq_bdev_error_rule *r = &p->rule;
	const char *hint;
	uint64_t v;

	if (!strcmp(key, "op")) {
		hint = "read, write, rw, flush, zeroes, dealloc or all";
		if (parse_ops(val, &r->ops))
			goto bad;
	} else if (!strcmp(key, "lba")) {
		hint = "START or START-END, in blocks";
		if (parse_lba(val, &r->lba, &r->nlb))
			goto bad;
	} else if (!strcmp(key, "count")) {
		hint = "0..4294967295, 0 = no limit";
		if (fq_parse_u64(val, &v) || v > UINT32_MAX)
			goto bad;
		r->count = (uint32_t)v;
	} else if (!strcmp(key, "percent")) {
		hint = "1..100";
		if (fq_parse_u64(val, &v) || v < 1 || v > 100)
			goto bad;
		r->percent = (uint32_t)v;
	} else if (!strcmp(key, "action")) {
		hint = "fail, drop or tear";
		if (!strcmp(val, "fail"))
			r->action = FQ_BDEV_ERR_FAIL;
		else if (!strcmp(val, "drop"))
			r->action = FQ_BDEV_ERR_DROP;
		else if (!strcmp(val, "tear"))
			r->action = FQ_BDEV_ERR_TEAR;
		else
			goto bad;
	} else if (!strcmp(key, "sct") || !strcmp(key, "sc")) {
		hint = key[2] == 't' ? "0..7" : "0..255";
		if (fq_parse_u64(val, &v) || v > (key[2] == 't' ? 7u : 255u))
			goto bad;
		if (key[2] == 't')
			p->sct = (uint8_t)v;
		else
			p->sc = (uint8_t)v;
		p->has_status = true;
	} else if (!strcmp(key, "dnr")) {
		hint = "0 or 1";
		if (strcmp(val, "0") && strcmp(val, "1"))
			goto bad;
		p->dnr = val[0] == '1';
	} else if (!strcmp(key, "tear")) {
		hint = "blocks written before the failure, 1..4294967295";
		if (fq_parse_u64(val, &v) || !v || v > UINT32_MAX)
			goto bad;
		r->tear_blocks = (uint32_t)v;
	} else {
		return -ENOENT;
	}
	p->has_rule = true;
	return 0;
bad:
	fq_bdev_errf(err, errlen, "bad %s '%s' (%s)", key, val, hint);
	return -EINVAL;
}

/* The rule of the options (the spec's, or a run-time change) into slot 0. */
static int install(struct fq_bdev *bdev, const struct error_params *p, char *err, size_t errlen)
{
	struct fq_bdev_error_rule r = p->rule;

	if (r.action == FQ_BDEV_ERR_TEAR && !r.tear_blocks) {
		fq_bdev_errf(err, errlen, "error: action=tear needs tear=BLOCKS");
		return -EINVAL;
	}
	r.status = 0;
	if (p->has_status || p->dnr)
		r.status = (uint16_t)(FQ_STATUS(p->sct, p->sc) | (p->dnr ? FQ_STATUS_DNR : 0));
	if (fq_bdev_error_set(bdev, 0, &r)) {
		fq_bdev_errf(err, errlen, "error: bad rule");
		return -EINVAL;
	}
	return 0;
}

static int error_init(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
		      size_t errlen)
{
	const struct error_params *p = (const struct error_params *)opts->params;
	struct error_bdev *e = bdev->priv;

	for (int i = 0; i < FQ_BDEV_ERROR_RULES; i++) {
		atomic_init(&e->slot[i].active, false);
		atomic_init(&e->slot[i].left, 0);
		atomic_init(&e->slot[i].hits, 0);
	}
	pthread_mutex_init(&e->held_lock, NULL);
	e->held = NULL;
	bdev->ops = &error_ops;
	bdev->sync_submit = false;
	return p->has_rule ? install(bdev, p, err, errlen) : 0;
}

/*
 * Run-time parameters: the rule in slot 0, the one a spec installs (the
 * other slots belong to fq_bdev_error_set callers). Its counters start
 * over when it changes.
 */
static int error_get_params(struct fq_bdev *bdev, struct fq_bdev_opts *opts)
{
	struct error_params *p = (struct error_params *)opts->params;
	const struct err_slot *s = &((struct error_bdev *)bdev->priv)->slot[0];
	uint16_t st;

	if (!atomic_load_explicit(&s->active, memory_order_acquire))
		return 0;
	p->rule = s->rule;
	st = s->rule.status;
	p->has_rule = true;
	p->has_status = st != 0;
	p->sct = (uint8_t)((st >> 9) & 7);
	p->sc = (uint8_t)(st >> 1);
	p->dnr = st & FQ_STATUS_DNR;
	p->rule.status = 0;
	return 0;
}

static int error_set_params(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
			    size_t errlen)
{
	return install(bdev, (const struct error_params *)opts->params, err, errlen);
}

/* The inverse of parse_ops (0 means reads and writes too); NULL for a set no word names. */
static const char *ops_name(unsigned ops)
{
	static const struct {
		const char *name;
		unsigned ops;
	} names[] = {
		{"rw", 0},
		{"read", 1u << FQ_BDEV_IO_READ},
		{"write", 1u << FQ_BDEV_IO_WRITE},
		{"rw", RW_OPS},
		{"flush", 1u << FQ_BDEV_IO_FLUSH},
		{"zeroes", 1u << FQ_BDEV_IO_WRITE_ZEROES},
		{"dealloc", 1u << FQ_BDEV_IO_DEALLOCATE},
		{"all", (1u << FQ_BDEV_IO_NUM_TYPES) - 1},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].ops == ops)
			return names[i].name;
	return NULL;
}

/* printf at @off into @buf; false once it does not fit. */
static bool append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off)
		return false;
	*off += (size_t)n;
	return true;
}

static int error_format_params(const struct fq_bdev_opts *opts, char *buf, size_t len)
{
	static const char *const actions[] = {"fail", "drop", "tear"};
	const struct error_params *p = (const struct error_params *)opts->params;
	const struct fq_bdev_error_rule *r = &p->rule;
	const char *ops = ops_name(r->ops);
	size_t off = 0;
	bool ok;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	if (!p->has_rule)
		return 0; /* no rule: nothing to show */
	if (!ops || (unsigned)r->action > FQ_BDEV_ERR_TEAR)
		return -EINVAL; /* only fq_bdev_error_set makes such a rule */
	ok = append(buf, len, &off, "op=%s,action=%s", ops, actions[r->action]);
	if (ok && r->nlb)
		ok = append(buf, len, &off, ",lba=%llu-%llu", (unsigned long long)r->lba,
			    (unsigned long long)(r->lba + r->nlb - 1));
	if (ok)
		ok = append(buf, len, &off, ",count=%u", r->count);
	if (ok && r->percent)
		ok = append(buf, len, &off, ",percent=%u", r->percent);
	if (ok && p->has_status)
		ok = append(buf, len, &off, ",sct=%u,sc=%u", p->sct, p->sc);
	if (ok)
		ok = append(buf, len, &off, ",dnr=%d", p->dnr ? 1 : 0);
	if (ok && r->tear_blocks)
		ok = append(buf, len, &off, ",tear=%u", r->tear_blocks);
	return ok ? 0 : -ENOSPC;
}

const struct fq_bdev_module fq_bdev_error_module = {
	.name = "error",
	.kind = FQ_BDEV_ERROR,
	.ctx_size = sizeof(struct error_bdev),
	.stacks = true,
	.parse = error_parse,
	.keys = "op, lba, count, percent, action, sct, sc, dnr, tear",
	.init = error_init,
	.get_params = error_get_params,
	.set_params = error_set_params,
	.format_params = error_format_params,
};
