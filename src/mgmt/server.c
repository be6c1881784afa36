/* SPDX-License-Identifier: MIT */
/*
 * The management socket: one thread polls the listening socket and every
 * client. Requests are lines; each complete line is handled (rpc_proto.c)
 * and its response queued. Nothing a client does can block the thread: all
 * sockets are non-blocking, a request line is capped (FQ_RPC_MAX_REQUEST;
 * the rest of an overlong line is skipped), a client that does not read its
 * responses stops being read and is dropped past a limit, clients are
 * capped in number and idle ones are closed. The target's reactors are
 * never involved except through the target API's live calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mgmt/mgmt.h"
#include "mgmt/vol_methods.h"
#include "util/log.h"

#define MAX_CLIENTS 256
#define READ_CHUNK 65536
#define OUT_PAUSE (1024 * 1024)	      /* stop reading a client with this much unsent */
#define OUT_LIMIT (64u * 1024 * 1024) /* ... and drop it past this much */
#define IDLE_NS (60ull * 1000000000ull)

struct client {
	int fd;
	char *in;
	size_t inlen, incap;
	bool skipping; /* inside an overlong line: drop up to its newline */
	char *out;
	size_t outlen, outoff, outcap;
	bool eof; /* the peer finished sending: close once the output is out */
	uint64_t last_ns;
};

struct fq_mgmt {
	struct fq_mgmt_ctx ctx;
	struct fq_rpc_table tab;
	int lfd;
	int wake[2];
	pthread_t thread;
	bool running;
	/* Held around each request: target calls and their last_error() pair up. */
	pthread_mutex_t call_lock;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	struct client *cl[MAX_CLIENTS];
	int ncl;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void client_free(struct client *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static int out_append(struct client *c, const char *s, size_t n)
{
	if (c->outoff && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		char *p;

		while (cap < c->outlen + n)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
	return 0;
}

static int reply(struct client *c, char *line)
{
	int rc = line ? out_append(c, line, strlen(line)) : 0;

	free(line);
	return rc;
}

static int handle_line(struct fq_mgmt *m, struct client *c, const char *line, size_t len)
{
	/* A blank line (a stray newline) is no request: skip it quietly. */
	size_t i = 0;

	while (i < len && strchr(" \t\r", line[i]) && line[i])
		i++;
	if (i == len)
		return 0;
	char *out;

	pthread_mutex_lock(&m->call_lock);
	out = fq_rpc_handle(&m->tab, line, len);
	pthread_mutex_unlock(&m->call_lock);
	return reply(c, out);
}

/* Take every complete line out of c->in; returns -errno to drop the client. */
static int process_input(struct fq_mgmt *m, struct client *c)
{
	size_t start = 0;
	int rc = 0;

	while (!rc && start < c->inlen) {
		char *nl = memchr(c->in + start, '\n', c->inlen - start);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - (c->in + start));
		if (c->skipping)
			c->skipping = false;
		else
			rc = handle_line(m, c, c->in + start, len);
		start += len + 1;
	}
	memmove(c->in, c->in + start, c->inlen - start);
	c->inlen -= start;
	if (!rc && c->inlen > FQ_RPC_MAX_REQUEST) {
		if (!c->skipping) {
			char msg[80];

			snprintf(msg, sizeof(msg), "request larger than %d bytes",
				 FQ_RPC_MAX_REQUEST);
			rc = reply(c, fq_rpc_error_line(FQ_RPC_INVALID_REQUEST, msg));
			fq_warn("rpc: a request larger than %d bytes was rejected",
				FQ_RPC_MAX_REQUEST);
		}
		c->skipping = true;
		c->inlen = 0;
	}
	return rc;
}

static int client_read(struct fq_mgmt *m, struct client *c)
{
	ssize_t n;

	if (c->inlen + READ_CHUNK > c->incap) {
		size_t cap = c->inlen + READ_CHUNK;
		char *p = realloc(c->in, cap);

		if (!p)
			return -ENOMEM;
		c->in = p;
		c->incap = cap;
	}
	n = recv(c->fd, c->in + c->inlen, READ_CHUNK, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0) {
		/* A last request without its newline still counts. */
		int rc = 0;

		if (c->inlen && !c->skipping)
			rc = handle_line(m, c, c->in, c->inlen);
		c->inlen = 0;
		c->eof = true;
		return rc;
	}
	c->inlen += (size_t)n;
	return process_input(m, c);
}

static int client_write(struct client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->outoff += (size_t)n;
	}
	return 0;
}

static void accept_clients(struct fq_mgmt *m)
{
	for (;;) {
		int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c;

		if (fd < 0)
			return;
		if (m->ncl == MAX_CLIENTS) {
			static const char busy[] =
				"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":"
				"\"too many clients\"},\"id\":null}\n";

			if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				fq_dbg("rpc: refusing a client: %s", strerror(errno));
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->last_ns = now_ns();
		m->cl[m->ncl++] = c;
	}
}

static void *mgmt_main(void *arg)
{
	struct fq_mgmt *m = arg;
	struct pollfd pfd[MAX_CLIENTS + 2];

	pthread_setname_np(pthread_self(), "fq-rpc");
	for (;;) {
		int n = 2, rc;
		uint64_t now;

		pfd[0] = (struct pollfd){.fd = m->wake[0], .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = m->lfd, .events = POLLIN};
		for (int i = 0; i < m->ncl; i++) {
			struct client *c = m->cl[i];
			size_t pending = c->outlen - c->outoff;

			pfd[n].fd = c->fd;
			pfd[n].events = (short)((!c->eof && pending < OUT_PAUSE ? POLLIN : 0) |
						(pending ? POLLOUT : 0));
			pfd[n++].revents = 0;
		}
		rc = poll(pfd, (nfds_t)n, 1000);
		if (rc < 0 && errno != EINTR) {
			fq_err("rpc: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		now = now_ns();
		/* Slot k + 2 of pfd is client k as it was when poll started. */
		for (int k = 0; k < n - 2; k++) {
			struct client *c = m->cl[k];
			short ev = rc > 0 ? pfd[k + 2].revents : 0;
			int err = 0;

			if (ev & (POLLIN | POLLHUP | POLLERR))
				err = client_read(m, c);
			if (!err && (ev & POLLOUT || c->outlen > c->outoff))
				err = client_write(c);
			if (ev)
				c->last_ns = now;
			if (!err && c->outlen - c->outoff > OUT_LIMIT) {
				fq_warn("rpc: dropping a client that does not read its responses");
				err = -ENOBUFS;
			}
			if (!err && now - c->last_ns > IDLE_NS)
				err = -ETIMEDOUT;
			if (err || (c->eof && c->outoff == c->outlen)) {
				client_free(c);
				m->cl[k] = NULL;
			}
		}
		for (int i = 0, j = 0, was = m->ncl; i < was; i++) {
			if (m->cl[i])
				m->cl[j++] = m->cl[i];
			if (i == was - 1)
				m->ncl = j;
		}
		if (rc > 0 && pfd[1].revents)
			accept_clients(m);
	}
	return NULL;
}

/* Is a process accepting on the socket file @path? */
static bool socket_live(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool live;

	if (fd < 0)
		return true; /* cannot tell: do not take it away */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	live = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EAGAIN ||
	       errno == EINPROGRESS;
	close(fd);
	return live;
}

static int open_socket(struct fq_mgmt *m, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(a.sun_path) || !path[0]) {
		snprintf(err, errlen, "rpc socket path '%s' is empty or longer than %zu bytes",
			 path, sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "rpc socket %s: a file that is not a socket is there",
				 path);
			return -EEXIST;
		}
		if (socket_live(path)) {
			snprintf(err, errlen, "rpc socket %s: another process is listening on it",
				 path);
			return -EADDRINUSE;
		}
		fq_info("rpc socket %s: replacing a stale socket file", path);
		if (unlink(path) && errno != ENOENT) {
			rc = -errno;
			snprintf(err, errlen, "rpc socket %s: cannot remove it: %s", path,
				 strerror(errno));
			return rc;
		}
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	m->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->lfd < 0)
		goto fail;
	/* Born 0600: no moment at which another user could connect. */
	old = umask(0177);
	rc = bind(m->lfd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc || chmod(path, 0600) || listen(m->lfd, 128) || lstat(path, &st))
		goto fail;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	snprintf(m->path, sizeof(m->path), "%s", path);
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "rpc socket %s: %s", path, strerror(errno));
	return rc;
}

/* The target's methods, the bdev ones, then the pool and volume ones: one table, built once. */
static const struct fq_rpc_method *all_methods(void)
{
	static const struct fq_rpc_method *const parts[] = {fq_mgmt_methods, fq_mgmt_bdev_methods,
							    fq_mgmt_vol_methods};
	static struct fq_rpc_method *tab;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	size_t n[3] = {0}, off = 0;

	pthread_mutex_lock(&lock);
	if (!tab) {
		for (int p = 0; p < 3; p++)
			while (parts[p][n[p]].name)
				n[p]++;
		tab = calloc(n[0] + n[1] + n[2] + 1, sizeof(*tab));
		for (int p = 0; tab && p < 3; p++) {
			memcpy(tab + off, parts[p], n[p] * sizeof(*tab));
			off += n[p];
		}
	}
	pthread_mutex_unlock(&lock);
	return tab;
}

int fq_mgmt_open(const char *path, const char *version, struct fq_mgmt **out, char *err,
		 size_t errlen)
{
	struct fq_mgmt *m = calloc(1, sizeof(*m));
	int rc;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->ctx.version = version;
	m->tab.methods = all_methods();
	if (!m->tab.methods) {
		free(m);
		return -ENOMEM;
	}
	m->tab.ctx = &m->ctx;
	m->lfd = m->wake[0] = m->wake[1] = -1;
	pthread_mutex_init(&m->call_lock, NULL);
	rc = open_socket(m, path, err, errlen);
	if (!rc && pipe2(m->wake, O_CLOEXEC)) {
		rc = -errno;
		snprintf(err, errlen, "rpc: pipe: %s", strerror(errno));
	}
	if (rc) {
		m->running = false;
		fq_mgmt_stop(m);
		return rc;
	}
	*out = m;
	return 0;
}

int fq_mgmt_run(struct fq_mgmt *m, struct fq_target *t, char *err, size_t errlen)
{
	int rc;

	m->ctx.t = t;
	rc = pthread_create(&m->thread, NULL, mgmt_main, m);
	if (rc) {
		snprintf(err, errlen, "rpc: cannot start its thread: %s", strerror(rc));
		return -rc;
	}
	m->running = true;
	return 0;
}

void fq_mgmt_stop(struct fq_mgmt *m)
{
	struct stat st;
	char one = 1;

	if (!m)
		return;
	if (m->running) {
		if (write(m->wake[1], &one, 1) != 1)
			fq_warn("rpc: cannot wake its thread: %s", strerror(errno));
		pthread_join(m->thread, NULL);
	}
	for (int i = 0; i < m->ncl; i++)
		client_free(m->cl[i]);
	if (m->lfd >= 0)
		close(m->lfd);
	/* Remove the socket file only if it is still ours. */
	if (m->path[0] && lstat(m->path, &st) == 0 && st.st_dev == m->dev && st.st_ino == m->ino)
		unlink(m->path);
	if (m->wake[0] >= 0) {
		close(m->wake[0]);
		close(m->wake[1]);
	}
	pthread_mutex_destroy(&m->call_lock);
	free(m);
}

void fq_mgmt_set_state(struct fq_mgmt *m, const char *path)
{
	snprintf(m->ctx.state, sizeof(m->ctx.state), "%s", path);
}

void fq_mgmt_lock(struct fq_mgmt *m)
{
	if (m)
		pthread_mutex_lock(&m->call_lock);
}

void fq_mgmt_unlock(struct fq_mgmt *m)
{
	if (m)
		pthread_mutex_unlock(&m->call_lock);
}
