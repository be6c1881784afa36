/* SPDX-License-Identifier: MIT */
/*
 * Power cuts under a pool, in the manner of dm-log-writes. The test bdev
 * keeps what is durable and logs every write (write zeroes and deallocate as
 * writes of zeroes) since the last completed Flush. A cut keeps an arbitrary
 * subset of the logged writes, some of them torn at a 512-byte boundary:
 * what a volatile cache may have written back when the power went.
 *
 * Each round runs a random mix of writes, trims, copies (shared clusters),
 * flushes, snapshots, clones,
 * rollbacks, flattens, snapshot deletes and resizes against a model of what
 * each volume may hold, then cuts. The pool must pass the offline check and
 * open, hold exactly the volumes of the model, and every block must read back
 * as one of the values the model allows: the value at the last Flush (or
 * management call, which ends with one) or one written since.
 *
 * FQ_CRASH_CUTS sets the number of rounds (default 50; the full run is
 * 1000), FQ_CRASH_SEED the first seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev.h"
#include "vol_test.h"

#define SECT 512u
#define POOL_SIZE (16u << 20)
#define CS (64u << 10)
#define MAX_VOLS 9
#define MAX_PEND 6

/* ---- the power-cut bdev ---- */

struct logw {
	uint64_t off, len;
	uint8_t *data;
};

struct pcut {
	uint8_t *cur;	  /* what reads see */
	uint8_t *durable; /* what survives a cut for sure */
	struct logw *log;
	size_t nlog, cap;
	uint64_t size;
	/* Cut in the middle of an operation: before the armed-th next I/O. */
	bool armed;
	unsigned countdown;
	uint8_t *cut_img;
};

static uint8_t *pcut_cut(struct fq_bdev *b);

static void pcut_log(struct pcut *c, uint64_t off, uint64_t len)
{
	if (c->nlog == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->log = realloc(c->log, c->cap * sizeof(*c->log));
		assert_non_null(c->log);
	}
	c->log[c->nlog].off = off;
	c->log[c->nlog].len = len;
	c->log[c->nlog].data = malloc(len);
	assert_non_null(c->log[c->nlog].data);
	memcpy(c->log[c->nlog].data, c->cur + off, len);
	c->nlog++;
}

static void pcut_drop_log(struct pcut *c)
{
	for (size_t i = 0; i < c->nlog; i++)
		free(c->log[i].data);
	c->nlog = 0;
}

static int pcut_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct pcut *c = bdev->priv;
	uint64_t left = io->length, off = io->offset;

	(void)eng;
	if (c->armed && !c->cut_img && !c->countdown--)
		c->cut_img = pcut_cut(bdev);
	switch (io->type) {
	case FQ_BDEV_IO_READ:
	case FQ_BDEV_IO_WRITE:
		for (int i = 0; i < io->iovcnt && left; i++) {
			uint64_t n = io->iov[i].iov_len < left ? io->iov[i].iov_len : left;

			if (io->type == FQ_BDEV_IO_READ)
				memcpy(io->iov[i].iov_base, c->cur + off, n);
			else
				memcpy(c->cur + off, io->iov[i].iov_base, n);
			off += n;
			left -= n;
		}
		if (io->type == FQ_BDEV_IO_WRITE)
			pcut_log(c, io->offset, io->length);
		break;
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		memset(c->cur + off, 0, left);
		pcut_log(c, io->offset, io->length);
		break;
	case FQ_BDEV_IO_FLUSH:
		/* Everything completed before the Flush is durable now. */
		for (size_t i = 0; i < c->nlog; i++)
			memcpy(c->durable + c->log[i].off, c->log[i].data, c->log[i].len);
		pcut_drop_log(c);
		break;
	default:
		return -EINVAL;
	}
	io->done_bytes = io->type == FQ_BDEV_IO_FLUSH ? 0 : io->length;
	io->cb(io, 0);
	return 0;
}

static void pcut_destroy(struct fq_bdev *bdev)
{
	struct pcut *c = bdev->priv;

	pcut_drop_log(c);
	free(c->log);
	free(c->cut_img);
	free(c->cur);
	free(c->durable);
	free(c);
}

static const struct fq_bdev_ops pcut_ops = {
	.name = "pcut",
	.submit = pcut_submit,
	.destroy = pcut_destroy,
};

/* A bdev whose durable and current contents are @image (copied), or zeroes. */
static struct fq_bdev *pcut_new(const uint8_t *image)
{
	struct fq_bdev *b = calloc(1, sizeof(*b));
	struct pcut *c = calloc(1, sizeof(*c));

	assert_non_null(b);
	assert_non_null(c);
	c->size = POOL_SIZE;
	c->cur = calloc(1, POOL_SIZE);
	c->durable = calloc(1, POOL_SIZE);
	assert_non_null(c->cur);
	assert_non_null(c->durable);
	if (image) {
		memcpy(c->cur, image, POOL_SIZE);
		memcpy(c->durable, image, POOL_SIZE);
	}
	b->ops = &pcut_ops;
	snprintf(b->name, sizeof(b->name), "pcut");
	b->block_size = SECT;
	b->num_blocks = POOL_SIZE / SECT;
	b->volatile_cache = true;
	b->sync_submit = true;
	b->priv = c;
	return b;
}

static uint64_t rng_state;
static bool trace;

#define TRACE(...)                                                                                 \
	do {                                                                                       \
		if (trace)                                                                         \
			fprintf(stderr, __VA_ARGS__);                                              \
	} while (0)

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* The image a cut leaves: durable, plus a random subset of the logged writes, some torn. */
static uint8_t *pcut_cut(struct fq_bdev *b)
{
	struct pcut *c = b->priv;
	uint8_t *img = malloc(POOL_SIZE);
	unsigned mode = (unsigned)rnd_below(4);

	assert_non_null(img);
	memcpy(img, c->durable, POOL_SIZE);
	for (size_t i = 0; i < c->nlog; i++) {
		struct logw *w = &c->log[i];
		uint64_t keep;

		/* Modes: all lost, all kept, half, or mostly kept. */
		if (mode == 0 || (mode == 2 && rnd_below(2)) || (mode == 3 && !rnd_below(5)))
			continue;
		keep = w->len;
		if (mode != 1 && !rnd_below(8))
			keep = rnd_below(w->len / SECT + 1) * SECT; /* torn */
		memcpy(img + w->off, w->data, keep);
	}
	return img;
}

/* ---- the model ---- */

struct msect {
	uint64_t dur;
	uint64_t pend[MAX_PEND];
	uint8_t npend;
	bool overflow; /* more writes since the flush than kept: only the check below */
};

struct mvol {
	char name[FQ_VOL_NAME_MAX];
	bool snap;
	uint64_t nsect;
	struct msect *s;
};

struct model {
	struct mvol v[MAX_VOLS + 4];
	int n;
	uint64_t next_id;
	int nsnap_names;
};

static struct mvol *m_find(struct model *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].name, name))
			return &m->v[i];
	return NULL;
}

static struct mvol *m_add(struct model *m, const char *name, bool snap, uint64_t nsect)
{
	struct mvol *v = &m->v[m->n++];

	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->snap = snap;
	v->nsect = nsect;
	v->s = calloc(nsect ? nsect : 1, sizeof(*v->s));
	assert_non_null(v->s);
	return v;
}

static void m_del(struct model *m, struct mvol *v)
{
	free(v->s);
	*v = m->v[--m->n];
}

static void m_fold(struct model *m)
{
	for (int i = 0; i < m->n; i++)
		for (uint64_t k = 0; k < m->v[i].nsect; k++) {
			struct msect *s = &m->v[i].s[k];

			if (s->npend)
				s->dur = s->pend[s->npend - 1];
			s->npend = 0;
			s->overflow = false;
		}
}

static void m_copy(struct mvol *dst, const struct mvol *src)
{
	free(dst->s);
	dst->nsect = src->nsect;
	dst->s = calloc(src->nsect, sizeof(*dst->s));
	assert_non_null(dst->s);
	memcpy(dst->s, src->s, src->nsect * sizeof(*dst->s));
}

static void m_resize(struct mvol *v, uint64_t nsect)
{
	v->s = realloc(v->s, nsect * sizeof(*v->s));
	assert_non_null(v->s);
	if (nsect > v->nsect)
		memset(v->s + v->nsect, 0, (nsect - v->nsect) * sizeof(*v->s));
	v->nsect = nsect;
}

/*
 * The model keeps, per sector, the word its every 8 bytes hold (see
 * fill_sect; 0 for zeroes): a copy moves words to other sectors.
 */
static void m_put(struct mvol *v, uint64_t k, uint64_t w)
{
	struct msect *s = &v->s[k];

	if (s->npend == MAX_PEND) {
		memmove(s->pend, s->pend + 1, (MAX_PEND - 1) * sizeof(s->pend[0]));
		s->npend--;
		s->overflow = true;
	}
	s->pend[s->npend++] = w;
}

/* What sector @k holds now (live, before any cut). */
static uint64_t m_now(const struct mvol *v, uint64_t k)
{
	const struct msect *s = &v->s[k];

	return s->npend ? s->pend[s->npend - 1] : s->dur;
}

static void m_write(struct mvol *v, uint64_t sect, uint64_t n, uint64_t id)
{
	for (uint64_t k = sect; k < sect + n; k++)
		m_put(v, k, id ? id << 24 | (k & 0xffffff) : 0);
}

/* A sector written by write @id at volume sector @k: every word says so. */
static void fill_sect(uint8_t *p, uint64_t id, uint64_t k)
{
	uint64_t w = id << 24 | (k & 0xffffff);

	for (unsigned i = 0; i < SECT / 8; i++)
		memcpy(p + i * 8, &w, 8);
}

/* The word a sector holds; *ok false for a sector of mixed words (torn). */
static uint64_t sect_word(const uint8_t *p, bool *ok)
{
	uint64_t w;

	memcpy(&w, p, 8);
	*ok = true;
	for (unsigned i = 1; i < SECT / 8; i++)
		if (memcmp(p + i * 8, &w, 8))
			*ok = false;
	return w;
}

/* ---- one round ---- */

#include "volume/vol_internal.h"

/* FQ_CRASH_TRACE: the maps of every volume, for reading a failing seed. */
static void debug_dump(struct fq_pool *p)
{
	for (struct fq_vol *v = p->vols; v; v = v->next) {
		fprintf(stderr, "  %s id %u parent %s limit %u map:", v->name, v->id,
			v->parent ? v->parent->name : "-", v->parent_limit);
		for (uint32_t i = 0; i < v->map_n; i++)
			fprintf(stderr, " %x", v->map[i]);
		fprintf(stderr, "\n");
	}
}

static struct fq_vol *V(struct fq_pool *p, const char *name)
{
	struct fq_vol *v = fq_vol_find(p, name);

	if (!v)
		fail_msg("no volume %s", name);
	return v;
}

static struct mvol *pick(struct model *m, int want_snap)
{
	int cand[MAX_VOLS + 4], n = 0;

	for (int i = 0; i < m->n; i++)
		if (want_snap < 0 || m->v[i].snap == want_snap)
			cand[n++] = i;
	return n ? &m->v[cand[rnd_below((uint64_t)n)]] : NULL;
}

static void op_write(struct fq_pool *p, struct model *m, bool trim)
{
	struct mvol *v = pick(m, 0);
	uint64_t sect, n, id = ++m->next_id;
	uint8_t *buf;
	int type;

	if (!v)
		return;
	sect = rnd_below(v->nsect);
	/* Mostly aligned to 4 KiB, sometimes whole clusters. */
	if (rnd_below(3)) {
		sect &= ~7ull;
		n = 8 * (1 + rnd_below(rnd_below(4) ? 4 : 40));
	} else {
		n = 1 + rnd_below(300);
	}
	if (sect + n > v->nsect)
		n = v->nsect - sect;
	if (trim) {
		type = rnd_below(2) ? FQ_BDEV_IO_DEALLOCATE : FQ_BDEV_IO_WRITE_ZEROES;
		TRACE("trim %s %llu+%llu\n", v->name, (unsigned long long)sect,
		      (unsigned long long)n);
		assert_int_equal(vt_io(V(p, v->name), NULL, type, sect * SECT, NULL, n * SECT), 0);
		m_write(v, sect, n, 0);
		return;
	}
	buf = malloc(n * SECT);
	assert_non_null(buf);
	for (uint64_t k = 0; k < n; k++)
		fill_sect(buf + k * SECT, id, sect + k);
	TRACE("write %s %llu+%llu id %llu\n", v->name, (unsigned long long)sect,
	      (unsigned long long)n, (unsigned long long)id);
	assert_int_equal(vt_io(V(p, v->name), NULL, FQ_BDEV_IO_WRITE, sect * SECT, buf, n * SECT),
			 0);
	m_write(v, sect, n, id);
	free(buf);
}

/*
 * A Copy inside one volume (fq_vol_copy): mostly whole clusters, which are
 * shared (a SHARE record), sometimes a partial range, which is copied.
 * Source and destination never overlap, so each destination sector gets
 * what its source holds now.
 */
static void op_copy(struct fq_pool *p, struct model *m)
{
	struct mvol *v = pick(m, 0);
	uint64_t cl = CS / SECT, src, dst, n;
	struct fq_bdev_copy_range r;
	struct fq_bdev_io io;
	struct vt_done d = {0};

	if (!v)
		return;
	if (rnd_below(4)) {
		n = cl * (1 + rnd_below(3));
		src = rnd_below(v->nsect / cl) * cl;
		dst = rnd_below(v->nsect / cl) * cl;
	} else {
		n = 1 + rnd_below(200);
		src = rnd_below(v->nsect);
		dst = rnd_below(v->nsect);
	}
	if (src + n > v->nsect || dst + n > v->nsect || (src < dst + n && dst < src + n))
		return;
	TRACE("copy %s %llu+%llu to %llu\n", v->name, (unsigned long long)src,
	      (unsigned long long)n, (unsigned long long)dst);
	r = (struct fq_bdev_copy_range){src * SECT, n * SECT};
	memset(&io, 0, sizeof(io));
	io.offset = dst * SECT;
	io.length = n * SECT;
	io.copy_ranges = &r;
	io.copy_nr = 1;
	io.cb = vt_cb;
	io.cb_arg = &d;
	assert_int_equal(fq_vol_copy(V(p, v->name), NULL, &io), 0);
	assert_true(d.done);
	assert_int_equal(d.rc, 0);
	for (uint64_t k = 0; k < n; k++)
		m_put(v, dst + k, m_now(v, src + k));
}

static void op_mgmt(struct fq_pool *p, struct model *m)
{
	struct fq_vol_info info;
	struct mvol *v, *s;
	char name[2 * FQ_VOL_NAME_MAX];
	int rc;

	uint64_t op = rnd_below(7);

	TRACE("mgmt %llu\n", (unsigned long long)op);
	if (trace)
		debug_dump(p);
	switch (op) {
	case 0: /* snapshot */
		v = pick(m, 0);
		if (!v || m->n >= MAX_VOLS)
			return;
		snprintf(name, sizeof(name), "%.40s@s%d", v->name, m->nsnap_names++);
		assert_int_equal(fq_vol_snapshot(p, name), 0);
		m_fold(m);
		s = m_add(m, name, true, 0);
		m_copy(s, v);
		return;
	case 1: /* clone */
		s = pick(m, 1);
		if (!s || m->n >= MAX_VOLS)
			return;
		snprintf(name, sizeof(name), "c%d", m->nsnap_names++);
		assert_int_equal(fq_vol_clone(p, s->name, name), 0);
		m_fold(m);
		v = m_add(m, name, false, 0);
		m_copy(v, m_find(m, s->name));
		return;
	case 2: /* rollback to the latest snapshot */
		v = pick(m, 0);
		if (!v)
			return;
		assert_int_equal(fq_vol_info(V(p, v->name), &info), 0);
		if (!info.parent[0] || strncmp(info.parent, v->name, strlen(v->name)) ||
		    info.parent[strlen(v->name)] != '@')
			return;
		assert_int_equal(fq_vol_rollback(p, info.parent), 0);
		m_fold(m);
		m_copy(v, m_find(m, info.parent));
		return;
	case 3: /* flatten */
		v = pick(m, 0);
		if (!v)
			return;
		assert_int_equal(fq_vol_info(V(p, v->name), &info), 0);
		assert_int_equal(fq_vol_flatten(p, v->name), 0);
		/* Without a parent there is nothing to do, and nothing is flushed. */
		if (info.parent[0])
			m_fold(m);
		return;
	case 4: /* delete a snapshot, or a volume without snapshots */
		v = pick(m, rnd_below(3) ? 1 : 0);
		if (!v || (!v->snap && m->n <= 2))
			return;
		assert_int_equal(fq_vol_info(V(p, v->name), &info), 0);
		rc = fq_vol_delete(p, v->name);
		if (v->snap && info.dependants > 1) {
			assert_int_equal(rc, -EBUSY);
			return;
		}
		if (!v->snap && info.snapshots) {
			assert_int_equal(rc, -EBUSY);
			return;
		}
		assert_int_equal(rc, 0);
		m_fold(m);
		m_del(m, v);
		return;
	default: /* resize by a cluster */
		v = pick(m, 0);
		if (!v)
			return;
		if (rnd_below(2) && v->nsect < 3 * (CS / SECT) * 8) {
			assert_int_equal(fq_vol_resize(p, v->name, v->nsect * SECT + CS, false), 0);
			m_fold(m);
			m_resize(v, v->nsect + CS / SECT);
		} else if (v->nsect > CS / SECT) {
			assert_int_equal(fq_vol_resize(p, v->name, v->nsect * SECT - CS, true), 0);
			m_fold(m);
			m_resize(v, v->nsect - CS / SECT);
		}
		return;
	}
}

static int count_vols(struct fq_vol *v, void *arg)
{
	(void)v;
	(*(int *)arg)++;
	return 0;
}

static void verify(struct fq_pool *p, struct model *m, uint64_t seed)
{
	int n = 0;

	assert_int_equal(fq_vol_list(p, count_vols, &n), 0);
	if (n != m->n)
		fail_msg("seed %llu: %d volumes after the cut, the model has %d",
			 (unsigned long long)seed, n, m->n);
	for (int i = 0; i < m->n; i++) {
		struct mvol *v = &m->v[i];
		struct fq_vol *fv = fq_vol_find(p, v->name);
		uint8_t *buf;

		if (!fv)
			fail_msg("seed %llu: volume %s lost", (unsigned long long)seed, v->name);
		if (fq_vol_size(fv) != v->nsect * SECT)
			fail_msg("seed %llu: %s has %llu bytes, expected %llu",
				 (unsigned long long)seed, v->name,
				 (unsigned long long)fq_vol_size(fv),
				 (unsigned long long)(v->nsect * SECT));
		buf = malloc(v->nsect * SECT);
		assert_non_null(buf);
		assert_int_equal(vt_io(fv, NULL, FQ_BDEV_IO_READ, 0, buf, v->nsect * SECT), 0);
		for (uint64_t k = 0; k < v->nsect; k++) {
			struct msect *s = &v->s[k];
			bool ok, allowed = false;
			uint64_t w = sect_word(buf + k * SECT, &ok), id = w >> 24;

			allowed = ok && w == s->dur;
			for (int j = 0; j < s->npend && !allowed; j++)
				allowed = ok && w == s->pend[j];
			if (s->overflow && ok)
				allowed = true;
			if (!allowed)
				fail_msg("seed %llu: %s sector %llu reads write %llu (%s), "
					 "flushed %llu, %d since",
					 (unsigned long long)seed, v->name, (unsigned long long)k,
					 (unsigned long long)id, ok ? "whole" : "mixed",
					 (unsigned long long)(s->dur >> 24), s->npend);
		}
		free(buf);
	}
}

static void one_round(uint64_t seed)
{
	struct fq_pool_opts o = {
		.name = "crash", .cluster_size = CS, .journal_size = 64u << 10, .max_volumes = 16};
	struct fq_bdev *b = pcut_new(NULL), *b2;
	struct fq_pool_check_report rep;
	struct model m = {0};
	struct fq_pool *p;
	uint64_t steps, cut_step;
	uint8_t *img;

	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	assert_int_equal(fq_pool_create(b, NULL, &o), 0);
	assert_int_equal(fq_pool_open(b, NULL, &p), 0);
	assert_int_equal(fq_vol_create(p, "a", 1u << 20, false), 0);
	assert_int_equal(fq_vol_create(p, "b", 512u << 10, rnd_below(2)), 0);
	m_add(&m, "a", false, (1u << 20) / SECT);
	m_add(&m, "b", false, (512u << 10) / SECT);
	steps = 5 + rnd_below(120);
	/* Half the rounds are cut inside a write or trim, between two of its I/Os. */
	cut_step = rnd_below(2) ? rnd_below(steps) : UINT64_MAX;
	for (uint64_t i = 0; i < steps; i++) {
		uint64_t r = rnd_below(100);
		struct pcut *pc = b->priv;

		if (r < 70 || r >= 92) {
			if (i >= cut_step) {
				pc->armed = true;
				pc->countdown = (unsigned)rnd_below(6);
			}
			if (r < 70)
				op_write(p, &m, r >= 55);
			else
				op_copy(p, &m);
			if (pc->armed) {
				if (!pc->cut_img)
					pc->cut_img = pcut_cut(b);
				break;
			}
		} else if (r < 80) {
			struct mvol *v = pick(&m, -1);

			assert_int_equal(vt_io(V(p, v->name), NULL, FQ_BDEV_IO_FLUSH, 0, NULL, 0),
					 0);
			m_fold(&m);
		} else {
			op_mgmt(p, &m);
		}
	}
	/* Power cut. */
	if (trace)
		debug_dump(p);
	if (((struct pcut *)b->priv)->cut_img) {
		img = ((struct pcut *)b->priv)->cut_img;
		((struct pcut *)b->priv)->cut_img = NULL;
	} else {
		img = pcut_cut(b);
	}
	fq_pool_abandon(p);
	fq_bdev_close(b);
	b2 = pcut_new(img);
	free(img);
	assert_int_equal(fq_pool_check(b2, NULL, &rep), 0);
	if (rep.errors)
		fail_msg("seed %llu: check after the cut: %s", (unsigned long long)seed,
			 rep.first_error);
	assert_int_equal(fq_pool_open(b2, NULL, &p), 0);
	if (trace)
		debug_dump(p);
	verify(p, &m, seed);
	/* The pool goes on: a write, a clean close, a clean check. */
	{
		struct mvol *v = pick(&m, 0);

		if (v) {
			uint8_t buf[SECT];

			fill_sect(buf, ++m.next_id, 0);
			assert_int_equal(vt_io(V(p, v->name), NULL, FQ_BDEV_IO_WRITE, 0, buf, SECT),
					 0);
		}
	}
	assert_int_equal(fq_pool_close(p), 0);
	assert_int_equal(fq_pool_check(b2, NULL, &rep), 0);
	if (rep.errors)
		fail_msg("seed %llu: check after close: %s", (unsigned long long)seed,
			 rep.first_error);
	fq_bdev_close(b2);
	while (m.n)
		m_del(&m, &m.v[0]);
}

static void test_power_cuts(void **state)
{
	const char *e = getenv("FQ_CRASH_CUTS"), *s = getenv("FQ_CRASH_SEED");
	uint64_t cuts = e ? strtoull(e, NULL, 0) : 50, seed = s ? strtoull(s, NULL, 0) : 1;

	(void)state;
	trace = getenv("FQ_CRASH_TRACE") != NULL;
	for (uint64_t i = 0; i < cuts; i++)
		one_round(seed + i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_cuts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
