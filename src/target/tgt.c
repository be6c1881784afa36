/* SPDX-License-Identifier: MIT */
/*
 * Target lifecycle: subsystems and namespaces from the configuration,
 * listening ports, reactors (one fq_loop each, on a thread of their own or
 * on the caller's loop), connection placement and orderly shutdown.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "target/tgt.h"
#include "util/log.h"
#include "volume/volume.h"

#define container_of(p, T, m) ((T *)((char *)(p)-offsetof(T, m)))
#define TICK_NS 250000000ll
/* Connect within 10 s of the transport's handshake (ICReq on TCP: its own deadline). */
#define CONNECT_TIMEOUT_NS 10000000000ull
#define DRAIN_TIMEOUT_NS 5000000000ull

uint64_t fq_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- subsystems ---------------------------------------------------------- */

struct fq_subsys *fq_tgt_find_subsys(struct fq_tgt *t, const char *nqn)
{
	if (!strcmp(nqn, FQ_DISCOVERY_NQN))
		return &t->disc;
	for (int i = 0; i < t->nsubsys; i++)
		if (!strcmp(t->subsys[i]->nqn, nqn))
			return t->subsys[i];
	return NULL;
}

bool fq_subsys_host_allowed(const struct fq_subsys *s, const char *hostnqn)
{
	if (s->allow_any_host)
		return true;
	for (int i = 0; i < s->nhosts; i++)
		if (!strcmp(s->hosts[i], hostnqn))
			return true;
	return false;
}

struct fq_tgt_ns *fq_subsys_find_ns(const struct fq_subsys *s, uint32_t nsid)
{
	const struct fq_tgt_ns_table *tab = fq_subsys_ns(s);
	int lo = 0, hi = (int)tab->n - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (tab->ns[mid]->nsid == nsid)
			return tab->ns[mid];
		if (tab->ns[mid]->nsid < nsid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

bool fq_subsys_on_port(const struct fq_subsys *s, const struct fq_port *p)
{
	return s->discovery || (s->port_mask & (1u << p->idx));
}

static int cmp_ns(const void *a, const void *b)
{
	const struct fq_tgt_ns *x = *(struct fq_tgt_ns *const *)a,
			       *y = *(struct fq_tgt_ns *const *)b;

	return x->nsid < y->nsid ? -1 : x->nsid > y->nsid;
}

int fq_tgt_open_stack(const struct fq_ns_conf *nc, struct fq_bdev **out, char *err, size_t errlen)
{
	struct fq_bdev_opts chain[FQ_CONF_MAX_LAYERS];
	const struct fq_bdev_opts *top = &nc->bdev;

	/* Link the layers, bottom up: each sits on the one after it. */
	for (int i = nc->nlayers - 1; i >= 0; i--) {
		chain[i] = nc->layers[i];
		chain[i].base = top;
		top = &chain[i];
	}
	return fq_bdev_open(top, out, err, errlen);
}

/* Borrow named bdev nc->path for @ns (the caller holds cfg_lock, or the target is starting). */
static int borrow(struct fq_tgt *t, const char *nqn, const struct fq_ns_conf *nc,
		  struct fq_tgt_ns *ns, char *err, size_t errlen)
{
	struct fq_tgt_bdev *b = fq_tgt_bdev_find(t, nc->path);

	if (!b) {
		snprintf(err, errlen, "namespace %u: no bdev named '%s'", nc->nsid, nc->path);
		return -ENOENT;
	}
	if (b->user) {
		snprintf(err, errlen, "namespace %u: bdev '%s' is used by namespace %u of %s",
			 nc->nsid, nc->path, b->user->nsid, b->user_nqn);
		return -EBUSY;
	}
	b->user = ns;
	b->lent = true;
	snprintf(b->user_nqn, sizeof(b->user_nqn), "%s", nqn);
	ns->bdev = b->bdev;
	ns->lender = b;
	return 0;
}

void fq_tgt_ns_release(struct fq_tgt_ns *ns)
{
	if (ns->lender && ns->lender->user == ns)
		ns->lender->user = NULL;
}

struct fq_tgt_ns *fq_tgt_ns_create(struct fq_tgt *t, const char *nqn, const struct fq_ns_conf *nc,
				   char *err, size_t errlen)
{
	struct fq_tgt_ns *ns = calloc(1, sizeof(*ns));
	char berr[256];
	int rc;

	if (!ns) {
		snprintf(err, errlen, "namespace %u: out of memory", nc->nsid);
		return NULL;
	}
	if (nc->named) {
		rc = borrow(t, nqn, nc, ns, err, errlen);
	} else {
		rc = fq_tgt_open_stack(nc, &ns->bdev, berr, sizeof(berr));
		if (rc)
			snprintf(err, errlen, "namespace %u: %s", nc->nsid, berr);
	}
	if (rc) {
		free(ns);
		return NULL;
	}
	if (fq_conf_ns_copy(&ns->conf, nc)) {
		snprintf(err, errlen, "namespace %u: out of memory", nc->nsid);
		if (ns->lender)
			fq_tgt_ns_release(ns);
		else
			fq_bdev_close(ns->bdev);
		free(ns);
		return NULL;
	}
	ns->nsid = nc->nsid;
	memcpy(ns->nguid, nc->nguid, 16);
	memcpy(ns->uuid, nc->uuid, 16);
	ns->lbads = (uint8_t)__builtin_ctz(ns->bdev->block_size);
	return ns;
}

void fq_tgt_ns_destroy(struct fq_tgt_ns *ns)
{
	struct fq_bdev *b = ns->bdev;

	if (ns->lender) {
		/* The registry closes it (fq_tgt_bdevs_close). */
		fq_tgt_ns_release(ns);
	} else {
		if (b->ops->sync)
			b->ops->sync(b); /* durable before the backend goes away */
		fq_bdev_close(b);
	}
	fq_conf_ns_free(&ns->conf);
	free(ns);
}

/* A start that fails leaves no file behind that it created (never an older one). */
static void ns_discard(struct fq_tgt_ns *ns)
{
	if (ns->lender)
		fq_tgt_ns_release(ns);
	else
		fq_bdev_close_discard(ns->bdev);
	fq_conf_ns_free(&ns->conf);
	free(ns);
}

/* Publish a new sorted snapshot; the old one is retired, not freed. */
int fq_tgt_ns_table_set(struct fq_subsys *s, struct fq_tgt_ns **ns, uint32_t n)
{
	struct fq_tgt_ns_table *tab = calloc(1, sizeof(*tab) + (n + 1) * sizeof(tab->ns[0])), *old;

	if (!tab)
		return -ENOMEM;
	if (n)
		memcpy(tab->ns, ns, n * sizeof(tab->ns[0]));
	tab->n = n;
	qsort(tab->ns, n, sizeof(tab->ns[0]), cmp_ns);
	for (uint32_t i = 0; i < n; i++)
		if (tab->ns[i]->nsid > tab->max_nsid)
			tab->max_nsid = tab->ns[i]->nsid;
	old = atomic_exchange_explicit(&s->nstab, tab, memory_order_acq_rel);
	if (old) {
		old->next_retired = s->retired;
		s->retired = old;
	}
	return 0;
}

struct fq_subsys *fq_subsys_new(struct fq_tgt *t, const struct fq_subsys_conf *sc, char *err,
				size_t errlen)
{
	struct fq_subsys *s = calloc(1, sizeof(*s));
	struct fq_tgt_ns **ns;
	uint32_t n = 0;
	int rc;

	if (!s)
		return NULL;
	snprintf(s->nqn, sizeof(s->nqn), "%s", sc->nqn);
	snprintf(s->serial, sizeof(s->serial), "%s", sc->serial);
	snprintf(s->model, sizeof(s->model), "%s", sc->model[0] ? sc->model : "Fabriq");
	s->allow_any_host = sc->allow_any_host || (sc->nhosts == 0 && !sc->closed);
	s->nhosts = sc->nhosts;
	/* Room for the limit: hosts added at run time never move the array. */
	s->hosts = calloc(FQ_CONF_MAX_HOSTS, sizeof(*s->hosts));
	if (!s->hosts) {
		free(s);
		return NULL;
	}
	memcpy(s->hosts, sc->hosts, (size_t)sc->nhosts * sizeof(*s->hosts));
	if (sc->no_ports) {
		s->port_mask = 0;
	} else if (sc->nports == 0) {
		for (int p = 0; p < t->nports; p++)
			if (!t->ports[p].conf.discovery_only)
				s->port_mask |= 1u << p;
	} else {
		for (int p = 0; p < sc->nports; p++)
			s->port_mask |= 1u << sc->ports[p];
	}
	ns = calloc((size_t)sc->nns + 1, sizeof(*ns));
	if (!ns) {
		free(s->hosts);
		free(s);
		return NULL;
	}
	for (int i = 0; i < sc->nns; i++) {
		char nerr[384];

		ns[n] = fq_tgt_ns_create(t, sc->nqn, &sc->ns[i], nerr, sizeof(nerr));
		if (!ns[n]) {
			snprintf(err, errlen, "subsystem %s %s", sc->nqn, nerr);
			goto fail;
		}
		n++;
	}
	rc = fq_tgt_ns_table_set(s, ns, n);
	if (!rc) {
		free(ns);
		return s;
	}
	snprintf(err, errlen, "subsystem %s: out of memory", sc->nqn);
fail:
	while (n)
		ns_discard(ns[--n]);
	free(ns);
	free(s->hosts);
	free(s);
	return NULL;
}

static int subsys_create(struct fq_tgt *t, const struct fq_subsys_conf *sc, char *err,
			 size_t errlen)
{
	struct fq_subsys *s = fq_subsys_new(t, sc, err, errlen);

	if (!s)
		return err[0] ? -EINVAL : -ENOMEM;
	t->subsys[t->nsubsys++] = s;
	return 0;
}

void fq_subsys_free(struct fq_subsys *s, bool discard)
{
	struct fq_tgt_ns_table *tab = atomic_load(&s->nstab);

	for (uint32_t i = 0; tab && i < tab->n; i++) {
		if (discard)
			ns_discard(tab->ns[i]);
		else
			fq_tgt_ns_destroy(tab->ns[i]);
	}
	free(tab);
	while (s->retired) {
		struct fq_tgt_ns_table *r = s->retired;

		s->retired = r->next_retired;
		free(r);
	}
	while (s->removed) {
		struct fq_tgt_ns *ns = s->removed;

		s->removed = ns->next_removed;
		fq_tgt_ns_destroy(ns);
	}
	free(s->hosts);
	free(s);
}

/* ---- memory for RAM namespaces ------------------------------------------------ */

/* "64 TiB", "1.5 GiB": sizes in error messages. */
static void fmt_size(char *buf, size_t len, uint64_t v)
{
	static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu bytes", (unsigned long long)v);
	else if (d == (double)(uint64_t)d)
		snprintf(buf, len, "%llu %s", (unsigned long long)d, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
}

/* MemAvailable from /proc/meminfo in bytes, or 0 if the kernel does not say. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[128];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return (uint64_t)kib * 1024;
}

/*
 * A RAM namespace is a MAP_NORESERVE mapping: mapping 64 TiB succeeds and the
 * process is killed much later, when hosts have written more than the
 * machine holds. Refuse at start what cannot fit: the RAM namespaces of all
 * subsystems together must fit in the memory available now and in the
 * address-space limit.
 */
static int ram_fits(const struct fq_target_conf *conf, char *err, size_t errlen)
{
	uint64_t avail = mem_available(), limit = avail, total = 0;
	const char *what = "memory available (MemAvailable in /proc/meminfo)";
	struct rlimit rl;

	if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    (!limit || (uint64_t)rl.rlim_cur < limit)) {
		limit = (uint64_t)rl.rlim_cur;
		what = "address-space limit (ulimit -v)";
	}
	if (!limit)
		return 0;
	for (int i = 0; i < conf->nsubsys; i++) {
		const struct fq_subsys_conf *sc = &conf->subsys[i];

		for (int n = 0; n < sc->nns; n++) {
			char sz[32], tot[32], lim[32];

			if (sc->ns[n].bdev.kind != FQ_BDEV_RAM)
				continue;
			total += sc->ns[n].bdev.size;
			if (total <= limit)
				continue;
			fmt_size(sz, sizeof(sz), sc->ns[n].bdev.size);
			fmt_size(tot, sizeof(tot), total);
			fmt_size(lim, sizeof(lim), limit);
			snprintf(err, errlen,
				 "subsystem %s namespace %u (ram, %s): the RAM namespaces would "
				 "need "
				 "%s in total, more than the %s of %s; use smaller RAM namespaces "
				 "or "
				 "file namespaces",
				 sc->nqn, sc->ns[n].nsid, sz, tot, lim, what);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- ports ---------------------------------------------------------------- */

int fq_port_listen(struct fq_port *p, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, p->conf.addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(p->conf.port);
		sl = sizeof(*a);
	} else if (inet_pton(AF_INET6, p->conf.addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) ==
		   1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(p->conf.port);
		sl = sizeof(*a);
	} else {
		snprintf(err, errlen, "port %s: '%s' is not a numeric IP address", p->conf.name,
			 p->conf.addr);
		return -EINVAL;
	}
	p->family = ss.ss_family;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 1024))
		goto fail;
	/* Port 0 (target.h): the kernel picked one; discovery reports it. */
	if (!p->conf.port) {
		if (getsockname(fd, (struct sockaddr *)&ss, &sl))
			goto fail;
		p->conf.port =
			ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	p->fd = fd;
	return 0;
fail:
	snprintf(err, errlen, "port %s (%s:%u): %s", p->conf.name, p->conf.addr, p->conf.port,
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return -errno;
}

/* ---- reactor -------------------------------------------------------------- */

static void arm_accept(struct fq_reactor *r, struct fq_port *p);
static void arm_tick(struct fq_reactor *r);

static struct fq_reactor *least_loaded(struct fq_tgt *t)
{
	struct fq_reactor *best = &t->reactors[0];

	for (int i = 1; i < t->nreactors; i++)
		if (atomic_load(&t->reactors[i].nqueues) < atomic_load(&best->nqueues))
			best = &t->reactors[i];
	return best;
}

/* A socket the acceptor hands to another reactor. */
struct conn_msg {
	struct fq_msg m;
	struct fq_reactor *r;
	struct fq_port *port;
	int fd;
};

static void on_conn_msg(struct fq_loop *l, struct fq_msg *m)
{
	struct conn_msg *cm = container_of(m, struct conn_msg, m);
	struct fq_reactor *r = cm->r;

	r->now_ns = l->now_ns;
	atomic_fetch_sub(&r->nqueues, 1); /* the transport's accept counts it again */
	if (atomic_load(&r->tgt->stopping)) {
		atomic_fetch_sub(&r->tgt->nconns, 1);
		close(cm->fd);
	} else {
		cm->port->xprt->accept(r, cm->fd, cm->port);
	}
	free(cm);
}

static void hand_over(struct fq_reactor *self, int fd, struct fq_port *p)
{
	struct fq_tgt *t = self->tgt;
	struct fq_reactor *r = least_loaded(t);
	struct conn_msg *cm;

	atomic_fetch_add(&t->nconns, 1);
	if (r == self) {
		p->xprt->accept(r, fd, p);
		return;
	}
	cm = malloc(sizeof(*cm));
	if (!cm) {
		atomic_fetch_sub(&t->nconns, 1);
		fq_warn("reactor %d: out of memory: dropping a connection", r->idx);
		close(fd);
		return;
	}
	/* Count it now so the next placement sees the load. */
	atomic_fetch_add(&r->nqueues, 1);
	cm->m.fn = on_conn_msg;
	cm->r = r;
	cm->port = p;
	cm->fd = fd;
	fq_loop_post(r->loop, &cm->m);
}

static void on_accept(struct fq_uop *op, int res, uint32_t flags)
{
	struct fq_port *p = container_of(op, struct fq_port, accept_uop);
	struct fq_tgt *t;
	struct fq_reactor *r;

	(void)flags;
	p->accept_armed = false;
	r = p->reactor;
	t = r->tgt;
	if (atomic_load(&t->stopping)) {
		if (res >= 0)
			close(res);
		return;
	}
	if (res >= 0) {
		if ((uint32_t)atomic_load(&t->nconns) >= t->conf->max_connections) {
			fq_warn("port %s: connection limit %u reached, refusing a connection",
				p->conf.name, t->conf->max_connections);
			close(res);
		} else {
			hand_over(r, res, p);
		}
	} else if (res != -EAGAIN && res != -EINTR && res != -ECONNABORTED) {
		fq_warn("port %s: accept failed: %s", p->conf.name, strerror(-res));
	}
	arm_accept(r, p);
}

static void arm_accept(struct fq_reactor *r, struct fq_port *p)
{
	struct io_uring_sqe *sqe;

	if (p->accept_armed || p->fd < 0 || atomic_load(&r->tgt->hold_accept))
		return;
	p->reactor = r;
	p->accept_uop.done = on_accept;
	sqe = fq_engine_sqe(&r->loop->eng, &p->accept_uop);
	io_uring_prep_accept(sqe, p->fd, NULL, NULL, SOCK_CLOEXEC);
	p->accept_armed = true;
}

/*
 * A management call posted by fq_tgt_run_on_reactor: it runs here, on the
 * reactor's loop, so it may touch what only this thread touches (a volume
 * pool's state) while no command of this reactor is in progress. The
 * message lives on the caller's stack; the caller waits on its condition.
 */
struct call_msg {
	struct fq_msg m;
	int (*fn)(void *arg);
	void *arg;
	int rc;
	bool done;
	pthread_mutex_t mu;
	pthread_cond_t cond;
};

static void on_call_msg(struct fq_loop *l, struct fq_msg *m)
{
	struct call_msg *cm = container_of(m, struct call_msg, m);
	int rc;

	(void)l;
	rc = cm->fn(cm->arg);
	pthread_mutex_lock(&cm->mu);
	cm->rc = rc;
	cm->done = true;
	pthread_cond_signal(&cm->cond);
	pthread_mutex_unlock(&cm->mu);
}

int fq_tgt_run_on_reactor(struct fq_tgt *t, int idx, int (*fn)(void *arg), void *arg)
{
	struct call_msg cm = {.m.fn = on_call_msg, .fn = fn, .arg = arg};
	struct fq_reactor *r;

	if (idx < 0 || idx >= t->nreactors || !fn)
		return -EINVAL;
	r = &t->reactors[idx];
	if (!r->started || atomic_load(&t->stopping))
		return -ESHUTDOWN;
	/* On a caller's loop, from its own thread: waiting would never end. */
	if (!r->own && pthread_equal(r->thread, pthread_self()))
		return fn(arg);
	pthread_mutex_init(&cm.mu, NULL);
	pthread_cond_init(&cm.cond, NULL);
	fq_loop_post(r->loop, &cm.m);
	pthread_mutex_lock(&cm.mu);
	while (!cm.done)
		pthread_cond_wait(&cm.cond, &cm.mu);
	pthread_mutex_unlock(&cm.mu);
	pthread_cond_destroy(&cm.cond);
	pthread_mutex_destroy(&cm.mu);
	return cm.rc;
}

/*
 * "Look again", posted by fq_reactor_kick: namespace changes a reload or a
 * live change posted to this reactor's controllers, ports added at run
 * time or released from the hold (the acceptor arms them), the stop (the
 * turn returns and the reactor sees the flag).
 */
static void on_kick(struct fq_loop *l, struct fq_msg *m)
{
	struct fq_reactor *r = container_of(m, struct fq_reactor, kick_msg);

	/* Cleared first: a kick posted while this runs is run again, not lost. */
	atomic_store(&r->kick_posted, false);
	r->now_ns = l->now_ns;
	for (struct fq_queue *q = r->queues; q; q = q->next)
		if (q->ctrl && q->qid == 0 && q->state != FQ_CONN_CLOSING)
			fq_ctrl_take_posted(q->ctrl, r->tgt);
	if (r->acceptor && !atomic_load(&r->tgt->stopping)) {
		int nports;

		pthread_mutex_lock(&r->tgt->lock);
		nports = r->tgt->nports;
		pthread_mutex_unlock(&r->tgt->lock);
		for (int i = 0; i < nports; i++)
			arm_accept(r, &r->tgt->ports[i]);
	}
}

/* Periodic work: keep-alive expiry, dead controllers, idle handshakes. */
static void on_tick(struct fq_loop *l, struct fq_timer *tm)
{
	struct fq_reactor *r = container_of(tm, struct fq_reactor, tick);
	struct fq_tgt *t = r->tgt;
	struct fq_queue *q, *next;

	r->now_ns = l->now_ns;
	for (q = r->queues; q; q = next) {
		next = q->next;
		/*
		 * Before its handshake is done and once it closes, a queue's
		 * deadlines are its transport's (which may free it).
		 */
		if (q->state != FQ_CONN_LIVE) {
			q->xprt->tick(q);
			continue;
		}
		if (!q->ctrl && r->now_ns - q->last_activity_ns > CONNECT_TIMEOUT_NS) {
			fq_warn("connection from %s sent no Connect within 10 s", q->peer);
			q->xprt->close(q, "no Fabrics Connect");
		} else if (q->ctrl && q->qid == 0) {
			fq_ctrl_take_posted(q->ctrl, t);
			fq_ctrl_check_kato(q->ctrl, r->now_ns);
			fq_ctrl_check_disconnect(q->ctrl);
		} else if (q->ctrl && atomic_load(&q->ctrl->dead)) {
			q->xprt->close(q, "controller was torn down");
		}
	}
	if (!r->stopped)
		arm_tick(r);
}

static void arm_tick(struct fq_reactor *r)
{
	r->tick.fn = on_tick;
	/* Fails only when the loop's timer heap cannot grow. */
	if (fq_timer_arm(r->loop, &r->tick, TICK_NS))
		fq_err("reactor %d: cannot arm its tick: out of memory", r->idx);
}

/*
 * Every turn, before the loop goes to the ring, each transport's per-turn
 * work (on TCP: the sends batched during the turn leave as one vectored
 * send per connection, receives held back by the budget resume, returned
 * buffers go to waiting requests). Non-zero while a transport still has
 * received bytes waiting, so the loop does not sleep on them.
 */
static int reactor_poll(struct fq_loop *l, struct fq_poller *p)
{
	struct fq_reactor *r = container_of(p, struct fq_reactor, poller);
	int busy = 0;

	r->now_ns = l->now_ns;
	for (int i = 0; fq_tgt_xprts[i]; i++)
		busy |= fq_tgt_xprts[i]->poll(r);
	return busy;
}

/* Commands still being worked on (held AERs and idle queues do not count). */
static bool reactor_busy(struct fq_reactor *r)
{
	for (struct fq_queue *q = r->queues; q; q = q->next)
		for (uint32_t i = 0; i < q->nreqs && q->state != FQ_CONN_CLOSING; i++)
			if (q->reqs[i].state == FQ_REQ_EXEC || q->reqs[i].state == FQ_REQ_TX ||
			    q->reqs[i].state == FQ_REQ_NEED_BUF)
				return true;
	return false;
}

/*
 * Ask every namespace's stack for the I/O of this reactor it holds and would
 * never complete (the error module's dropped commands): they come back
 * aborted, so their connections can close and be freed.
 */
static int reactor_abort_held(struct fq_reactor *r)
{
	struct fq_tgt *t = r->tgt;
	int n = 0;

	for (int i = 0; i < t->nsubsys; i++) {
		struct fq_subsys *s = t->subsys[i];
		struct fq_tgt_ns_table *tab = fq_subsys_ns(s);

		for (uint32_t j = 0; tab && j < tab->n; j++)
			n += fq_bdev_abort_held(tab->ns[j]->bdev, &r->loop->eng);
		for (struct fq_tgt_ns *ns = s->removed; ns; ns = ns->next_removed)
			n += fq_bdev_abort_held(ns->bdev, &r->loop->eng);
	}
	return n;
}

static void reactor_drain(struct fq_reactor *r)
{
	uint64_t deadline = fq_now_ns() + DRAIN_TIMEOUT_NS;
	int aborted = 0;

	/*
	 * Finish in-flight commands, then close every connection. Commands a
	 * layer holds forever are aborted on each turn of both waits: one may
	 * be received while the others finish, and a connection its host
	 * already closed waits for its commands like an open one.
	 */
	while (reactor_busy(r) && fq_now_ns() < deadline) {
		aborted += reactor_abort_held(r);
		fq_loop_turn(r->loop, 50000000);
	}
	for (struct fq_queue *q = r->queues, *n; q; q = n) {
		n = q->next;
		q->xprt->close(q, "target shutting down");
	}
	deadline = fq_now_ns() + DRAIN_TIMEOUT_NS;
	while (r->queues && fq_now_ns() < deadline) {
		aborted += reactor_abort_held(r);
		fq_loop_turn(r->loop, 50000000);
	}
	if (aborted)
		fq_info("reactor %d: %d held command(s) aborted at exit", r->idx, aborted);
	if (r->queues)
		fq_warn("reactor %d: connections still busy at exit", r->idx);
}

/* On the loop's thread, before the reactor serves anything. */
static void reactor_begin(struct fq_reactor *r)
{
	struct fq_tgt *t = r->tgt;

	r->now_ns = fq_now_ns();
	__atomic_store_n(&r->start_ns, r->now_ns, __ATOMIC_RELAXED);
	r->poller.fn = reactor_poll;
	fq_loop_poller_add(r->loop, &r->poller);
	arm_tick(r);
	if (r->acceptor)
		for (int i = 0; i < t->nports; i++)
			arm_accept(r, &t->ports[i]);
}

/* On the loop's thread once the target stops: drain, then leave the loop. */
static void reactor_end(struct fq_reactor *r)
{
	struct fq_tgt *t = r->tgt;

	if (r->acceptor)
		for (int i = 0; i < t->nports; i++)
			if (t->ports[i].fd >= 0)
				shutdown(t->ports[i].fd, SHUT_RDWR);
	reactor_drain(r);
	__atomic_store_n(&r->drained, true, __ATOMIC_RELEASE);
	/*
	 * Each pool is served by its home reactor (fq_vol_set_homes), which
	 * other reactors' commands on its volumes reach as messages: every
	 * reactor keeps turning until all the others have drained their
	 * connections too, so a home is never gone while a command is on its
	 * way to it, and no reactor waits for one that waits for it.
	 */
	if (t->nreactors > 1) {
		uint64_t deadline = fq_now_ns() + DRAIN_TIMEOUT_NS;

		for (int i = 0; i < t->nreactors && fq_now_ns() < deadline; i++)
			while (i != r->idx && t->reactors[i].started &&
			       !__atomic_load_n(&t->reactors[i].drained, __ATOMIC_ACQUIRE) &&
			       fq_now_ns() < deadline) {
				/* Their commands held by a volume (suspended) are held here. */
				reactor_abort_held(r);
				fq_loop_turn(r->loop, 10000000);
			}
	}
	__atomic_store_n(&r->stopped, true, __ATOMIC_RELEASE);
	fq_timer_cancel(r->loop, &r->tick);
	fq_loop_poller_remove(r->loop, &r->poller);
}

/* The acceptor's accepts still armed on the loop's ring. */
static bool accepts_armed(struct fq_reactor *r)
{
	for (int i = 0; r->acceptor && i < r->tgt->nports; i++)
		if (r->tgt->ports[i].accept_armed)
			return true;
	return false;
}

/*
 * A reactor on a caller's loop stops on the caller's thread: the loop
 * outlives the target, so nothing of the reactor may stay on it. The
 * accepts the listening sockets' shutdown failed come back, a kick posted
 * by a last live call runs; then the tick and the poller leave.
 */
static void reactor_end_embedded(struct fq_reactor *r)
{
	uint64_t deadline;

	reactor_end(r);
	deadline = fq_now_ns() + DRAIN_TIMEOUT_NS;
	while ((accepts_armed(r) || atomic_load(&r->kick_posted)) && fq_now_ns() < deadline)
		fq_loop_turn(r->loop, 10000000);
	for (int i = 0; r->acceptor && i < r->tgt->nports; i++) {
		struct fq_port *p = &r->tgt->ports[i];

		if (!p->accept_armed)
			continue;
		/* Not seen to end: cancel it, so its completion cannot come later. */
		io_uring_prep_cancel(fq_engine_sqe_noop(&r->loop->eng), &p->accept_uop, 0);
		while (p->accept_armed)
			fq_loop_turn(r->loop, 10000000);
	}
	fq_timer_cancel(r->loop, &r->tick); /* a kick's turn may have run the tick */
}

static void *reactor_main(void *arg)
{
	struct fq_reactor *r = arg;
	struct fq_tgt *t = r->tgt;
	struct fq_loop *l = r->loop;
	uint64_t busy_ns = (uint64_t)t->conf->busy_poll_us * 1000ull;
	uint64_t last_work = 0;
	char name[16];

	snprintf(name, sizeof(name), "fq-reactor-%d", r->idx);
	pthread_setname_np(pthread_self(), name);
	reactor_begin(r);
	while (!atomic_load(&t->stopping)) {
		/*
		 * Busy-poll window: for busy_poll_us after the last turn that
		 * had work, turn without sleeping; then sleep until a
		 * completion, a message or the tick.
		 */
		int n = fq_loop_turn(l, busy_ns && l->now_ns - last_work < busy_ns ? 0 : -1);

		if (n > 0)
			last_work = l->now_ns;
		else if (n < 0 && n != -EINTR)
			fq_err("reactor %d: io_uring: %s", r->idx, strerror(-n));
	}
	reactor_end(r);
	return NULL;
}

/* ---- lifecycle --------------------------------------------------------------- */

/*
 * Half the CPUs this process may use, and one on machines with up to two.
 * The hosts that load a target usually run on the same machine or need CPU
 * of their own: a reactor per CPU left none for them, and on two CPUs
 * fabriqd with two reactors beside a polling fabriq perf measured about half
 * the IOPS of one reactor (docs/performance.md, "Defaults and pinning").
 */
int fq_tgt_default_reactors(void)
{
	cpu_set_t set;
	long ncpu = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		ncpu = CPU_COUNT(&set);
	if (ncpu <= 0)
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	return ncpu > 2 ? (int)(ncpu / 2) : 1;
}

/*
 * The reactor's own loop: 1024 SQEs (many connections, each with a receive
 * and a send in flight), and for busy_poll_us an engine tuned for polling.
 * The loop itself does not spin: reactor_main keeps the busy-poll window,
 * which ends busy_poll_us after the last work and lets the thread sleep.
 */
static int reactor_loop_init(struct fq_reactor *r, const struct fq_target_conf *c)
{
	struct fq_loop_opts o = {.opts_size = sizeof(o), .ring_entries = 1024};
	int rc;

	o.busy_poll = c->busy_poll_us > 0;
	rc = fq_loop_init(&r->own_loop, &o);
	if (rc)
		return rc;
	r->own = true;
	r->own_loop.busy_poll = false;
	return 0;
}

/* How many reactors @c gets (on a caller's @loop: one; api.c checks the configuration). */
static int reactors_wanted(const struct fq_target_conf *c, const struct fq_loop *loop)
{
	if (loop)
		return 1;
	return c->reactors > 0 ? c->reactors : fq_tgt_default_reactors();
}

static int reactors_create(struct fq_tgt *t, char *err, size_t errlen)
{
	struct fq_target_conf *c = t->conf;
	int rc;

	t->nreactors = reactors_wanted(c, t->loop);
	t->reactors = calloc((size_t)t->nreactors, sizeof(*t->reactors));
	if (!t->reactors)
		return -ENOMEM;
	for (int i = 0; i < t->nreactors; i++) {
		struct fq_reactor *r = &t->reactors[i];

		r->idx = i;
		r->tgt = t;
		r->acceptor = i == 0;
		r->kick_msg.fn = on_kick;
		atomic_init(&r->kick_posted, false);
		if (t->loop) {
			r->loop = t->loop;
			rc = 0;
		} else {
			r->loop = &r->own_loop;
			rc = reactor_loop_init(r, c);
		}
		if (rc == 0)
			rc = fq_bufpool_init(&r->pool, FQ_TGT_SMALL_BUF, 1024, c->max_transfer,
					     c->buffers_per_reactor);
		if (rc) {
			snprintf(err, errlen, "reactor %d: %s", i, strerror(-rc));
			return rc;
		}
	}
	/* Each volume pool gets a home reactor; management calls on it run there. */
	{
		struct fq_engine **engs = calloc((size_t)t->nreactors, sizeof(*engs));

		if (!engs)
			return -ENOMEM;
		for (int i = 0; i < t->nreactors; i++)
			engs[i] = &t->reactors[i].loop->eng;
		rc = fq_vol_set_homes(engs, t->nreactors < FQ_VOL_MAX_HOMES ? t->nreactors
									    : FQ_VOL_MAX_HOMES);
		free(engs);
		if (rc) {
			snprintf(err, errlen, "volume homes: %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/*
 * After a kill -9 the connections of the previous instance stay in FIN-WAIT-2
 * until their hosts notice (an idle host: at its next keep-alive), and Linux
 * refuses listen() on the port while they exist, SO_REUSEADDR or not. A
 * restart waits for them, up to LISTEN_RETRY_MS, instead of failing; another
 * live daemon on the port still fails the start, after that wait.
 */
#define LISTEN_RETRY_MS 15000

static int listen_at_start(struct fq_port *p, char *err, size_t errlen)
{
	int rc = fq_port_listen(p, err, errlen);

	if (rc != -EADDRINUSE || !p->conf.port)
		return rc;
	fq_warn("%s; waiting up to %d s for the connections of a previous instance to close", err,
		LISTEN_RETRY_MS / 1000);
	for (int waited = 0; rc == -EADDRINUSE && waited < LISTEN_RETRY_MS; waited += 100) {
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
		rc = fq_port_listen(p, err, errlen);
	}
	return rc;
}

static int tgt_create(struct fq_target_conf *conf, struct fq_loop *loop, struct fq_tgt **out,
		      char *err, size_t errlen)
{
	struct fq_tgt *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	*out = t;
	t->conf = conf;
	t->loop = loop;
	t->genctr = 1;
	t->mdts = (uint32_t)__builtin_ctz(conf->max_transfer / 4096);
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->cfg_lock, NULL);
	snprintf(t->disc.nqn, sizeof(t->disc.nqn), "%s", FQ_DISCOVERY_NQN);
	snprintf(t->disc.serial, sizeof(t->disc.serial), "discovery");
	snprintf(t->disc.model, sizeof(t->disc.model), "Fabriq discovery");
	t->disc.discovery = true;
	t->disc.allow_any_host = true;
	if (fq_tgt_ns_table_set(&t->disc, NULL, 0))
		return -ENOMEM;
	t->nports = conf->nports;
	/* Room for the limits: live changes (live.c) never move these arrays. */
	t->ports = calloc(FQ_CONF_MAX_PORTS, sizeof(*t->ports));
	t->subsys_cap = FQ_CONF_MAX_SUBSYS + 1;
	t->subsys = calloc((size_t)t->subsys_cap, sizeof(*t->subsys));
	if (!t->ports || !t->subsys)
		return -ENOMEM;
	for (int i = 0; i < t->nports; i++) {
		t->ports[i].idx = i;
		t->ports[i].fd = -1;
		t->ports[i].xprt = fq_tgt_xprts[0]; /* NVMe/TCP */
		t->ports[i].conf = conf->ports[i];
	}
	rc = ram_fits(conf, err, errlen);
	if (rc)
		return rc;
	/*
	 * Pools before the namespaces on their volumes (docs/volumes.md); a
	 * home reactor a [pool] section asks for must be one of ours.
	 */
	rc = fq_pool_conf_check_reactors(reactors_wanted(conf, loop), err, errlen);
	if (rc)
		return rc;
	rc = fq_pool_conf_open_all(err, errlen);
	if (rc)
		return rc;
	/* Named bdevs before the namespaces that use them. */
	rc = fq_tgt_bdevs_open(t, err, errlen);
	if (rc)
		return rc;
	for (int i = 0; i < conf->nsubsys; i++) {
		rc = subsys_create(t, &conf->subsys[i], err, errlen);
		if (rc)
			return rc;
	}
	for (int i = 0; i < t->nports; i++) {
		rc = listen_at_start(&t->ports[i], err, errlen);
		if (rc)
			return rc;
	}
	return reactors_create(t, err, errlen);
}

int fq_tgt_create(struct fq_target_conf *conf, struct fq_tgt **out, char *err, size_t errlen)
{
	return fq_tgt_create_on(conf, NULL, out, err, errlen);
}

int fq_tgt_create_on(struct fq_target_conf *conf, struct fq_loop *loop, struct fq_tgt **out,
		     char *err, size_t errlen)
{
	int rc;

	*out = NULL;
	rc = tgt_create(conf, loop, out, err, errlen);
	if (rc && *out)
		(*out)->start_failed = true;
	return rc;
}

int fq_tgt_run(struct fq_tgt *t)
{
	if (t->loop) {
		/* On the caller's loop: no thread; its turns serve the target. */
		struct fq_reactor *r = &t->reactors[0];

		r->thread = pthread_self();
		reactor_begin(r);
		r->started = true;
		return 0;
	}
	for (int i = 0; i < t->nreactors; i++) {
		int rc =
			pthread_create(&t->reactors[i].thread, NULL, reactor_main, &t->reactors[i]);

		if (rc) {
			t->start_failed = true;
			return -rc;
		}
		t->reactors[i].started = true;
	}
	return 0;
}

void fq_tgt_hold_accept(struct fq_tgt *t)
{
	atomic_store(&t->hold_accept, true);
}

void fq_tgt_release_accept(struct fq_tgt *t)
{
	atomic_store(&t->hold_accept, false);
	/* The acceptor arms the ports when it runs the kick message. */
	for (int i = 0; i < t->nreactors; i++)
		if (t->reactors[i].acceptor)
			fq_reactor_kick(&t->reactors[i]);
}

void fq_reactor_kick(struct fq_reactor *r)
{
	if (r->loop && !atomic_exchange(&r->kick_posted, true))
		fq_loop_post(r->loop, &r->kick_msg);
}

void fq_tgt_stop(struct fq_tgt *t)
{
	atomic_store(&t->stopping, true);
	if (t->loop) {
		struct fq_reactor *r = &t->reactors[0];

		if (r->started && !r->stopped)
			reactor_end_embedded(r);
		return;
	}
	for (int i = 0; i < t->nreactors; i++)
		fq_reactor_kick(&t->reactors[i]);
}

void fq_tgt_destroy(struct fq_tgt *t)
{
	if (!t)
		return;
	for (int i = 0; t->reactors && i < t->nreactors; i++) {
		struct fq_reactor *r = &t->reactors[i];

		if (r->started && r->own)
			pthread_join(r->thread, NULL);
		if (r->own)
			fq_loop_fini(&r->own_loop);
		fq_bufpool_fini(&r->pool);
	}
	free(t->reactors);
	for (int i = 0; i < t->nports; i++)
		if (t->ports[i].fd >= 0)
			close(t->ports[i].fd);
	free(t->ports);
	for (int i = 0; i < t->nsubsys; i++)
		fq_subsys_free(t->subsys[i], t->start_failed);
	while (t->dead_subsys) {
		struct fq_subsys *s = t->dead_subsys;

		t->dead_subsys = s->next_dead;
		fq_subsys_free(s, false);
	}
	free(t->subsys);
	fq_tgt_bdevs_close(t); /* after the namespaces that borrowed them */
	fq_vol_set_homes(NULL, 0);
	fq_pool_conf_close_all(); /* after the last namespace on a volume */
	free(atomic_load(&t->disc.nstab));
	while (t->ctrls) {
		struct fq_ctrl *c = t->ctrls;

		t->ctrls = c->next;
		free(c);
	}
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->cfg_lock);
	free(t);
}
