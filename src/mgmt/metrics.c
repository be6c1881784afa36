/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus endpoint (docs/management.md): one thread, one client at a
 * time, HTTP/1.0 with the connection closed after each response. A request
 * is at most METRICS_MAX_REQUEST bytes and must arrive within
 * METRICS_IO_TIMEOUT_MS, and the response must be taken within as long, so
 * a slow or stalled scraper costs this thread a few seconds and nothing
 * else: the text is built from the target's getters, which take the
 * registry lock only for a copy, and from relaxed atomic counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mgmt/metrics.h"
#include "util/log.h"

#define METRICS_MAX_REQUEST 8192
#define METRICS_IO_TIMEOUT_MS 5000

struct fq_metrics {
	int lfd;
	int wake[2]; /* a byte on wake[1] stops the thread */
	pthread_t thread;
	bool running;
	struct fq_target *t;
	const char *version;
	char listen[128];
};

/* ---- the text ------------------------------------------------------------ */

/* A label value: backslash, double quote and newline escaped (exposition format). */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void put_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Each namespace of each subsystem, in order: @fn writes its sample lines. */
typedef void (*ns_fn)(FILE *f, struct fq_target *t, int si, uint32_t ni, const char *nqn,
		      uint32_t nsid, const void *arg);

static void each_ns(FILE *f, struct fq_target *t, ns_fn fn, const void *arg)
{
	struct fq_target_subsys_info s;
	struct fq_target_ns_info ns;

	for (int si = 0; fq_target_get_subsystem(t, si, &s) == 0; si++)
		for (uint32_t ni = 0; fq_target_get_ns(t, si, ni, &ns) == 0; ni++)
			fn(f, t, si, ni, s.nqn, ns.nsid, arg);
}

static void labels(FILE *f, const char *name, const char *nqn, uint32_t nsid)
{
	fprintf(f, "%s{nqn=\"", name);
	put_label(f, nqn);
	fprintf(f, "\",nsid=\"%u\"", nsid);
}

enum counter { C_READS, C_WRITES, C_BYTES_READ, C_BYTES_WRITTEN };

static void ns_counter(FILE *f, struct fq_target *t, int si, uint32_t ni, const char *nqn,
		       uint32_t nsid, const void *arg)
{
	static const char *const names[] = {
		"fabriq_namespace_read_ops_total", "fabriq_namespace_write_ops_total",
		"fabriq_namespace_read_bytes_total", "fabriq_namespace_written_bytes_total"};
	enum counter c = *(const enum counter *)arg;
	struct fq_target_ns_stats st;
	uint64_t v;

	if (fq_target_get_ns_stats(t, si, ni, &st))
		return;
	v = c == C_READS	? st.reads
	    : c == C_WRITES	? st.writes
	    : c == C_BYTES_READ ? st.bytes_read
				: st.bytes_written;
	labels(f, names[c], nqn, nsid);
	fprintf(f, "} %llu\n", (unsigned long long)v);
}

static void ns_errors(FILE *f, struct fq_target *t, int si, uint32_t ni, const char *nqn,
		      uint32_t nsid, const void *arg)
{
	static const char *const types[] = {"generic", "command_specific", "media", "other"};
	struct fq_target_ns_latency lat;

	(void)arg;
	if (fq_target_get_ns_latency(t, si, ni, &lat))
		return;
	for (int i = 0; i < 4; i++) {
		labels(f, "fabriq_namespace_errors_total", nqn, nsid);
		fprintf(f, ",status_type=\"%s\"} %llu\n", types[i],
			(unsigned long long)lat.errors_by_type[i]);
	}
}

static void ns_hist(FILE *f, struct fq_target *t, int si, uint32_t ni, const char *nqn,
		    uint32_t nsid, const void *arg)
{
	bool write = *(const bool *)arg;
	const char *base = write ? "fabriq_namespace_write_latency_seconds"
				 : "fabriq_namespace_read_latency_seconds";
	struct fq_target_ns_latency lat;
	const uint64_t *b;
	uint64_t cum = 0;
	char name[64];

	if (fq_target_get_ns_latency(t, si, ni, &lat))
		return;
	b = write ? lat.write : lat.read;
	snprintf(name, sizeof(name), "%s_bucket", base);
	/* Bucket i: under 2^i us; the last one only goes into +Inf. */
	for (int i = 0; i < FQ_TARGET_LAT_BUCKETS - 1; i++) {
		cum += b[i];
		labels(f, name, nqn, nsid);
		fprintf(f, ",le=\"%.9g\"} %llu\n", (double)(1ull << i) * 1e-6,
			(unsigned long long)cum);
	}
	cum += b[FQ_TARGET_LAT_BUCKETS - 1];
	labels(f, name, nqn, nsid);
	fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	snprintf(name, sizeof(name), "%s_sum", base);
	labels(f, name, nqn, nsid);
	fprintf(f, "} %.9f\n", (double)(write ? lat.write_sum_ns : lat.read_sum_ns) * 1e-9);
	snprintf(name, sizeof(name), "%s_count", base);
	labels(f, name, nqn, nsid);
	fprintf(f, "} %llu\n", (unsigned long long)cum);
}

int fq_metrics_render(struct fq_target *t, const char *version, FILE *f)
{
	static const struct {
		const char *name, *help;
	} counters[] = {
		{"fabriq_namespace_read_ops_total", "Read commands started, per namespace."},
		{"fabriq_namespace_write_ops_total", "Write commands started, per namespace."},
		{"fabriq_namespace_read_bytes_total", "Bytes read, per namespace."},
		{"fabriq_namespace_written_bytes_total", "Bytes written, per namespace."},
	};
	struct fq_target_subsys_info s;
	struct fq_target_ctrl_info c;
	struct fq_target_reactor_stats rs;
	bool dir;

	put_head(f, "fabriq_build_info", "gauge", "The running fabriqd's version (always 1).");
	fputs("fabriq_build_info{version=\"", f);
	put_label(f, version);
	fputs("\"} 1\n", f);
	put_head(f, "fabriq_connections", "gauge",
		 "TCP connections open now (admin and I/O queues).");
	fprintf(f, "fabriq_connections %d\n", fq_target_get_num_connections(t));
	put_head(f, "fabriq_subsystem_controllers", "gauge",
		 "Controllers (host associations) connected, per subsystem.");
	for (int si = 0; fq_target_get_subsystem(t, si, &s) == 0; si++) {
		int n = 0;

		for (int ci = 0; fq_target_get_controller(t, ci, &c) == 0; ci++)
			n += !strcmp(c.subnqn, s.nqn);
		fputs("fabriq_subsystem_controllers{nqn=\"", f);
		put_label(f, s.nqn);
		fprintf(f, "\"} %d\n", n);
	}
	for (enum counter k = C_READS; k <= C_BYTES_WRITTEN; k++) {
		put_head(f, counters[k].name, "counter", counters[k].help);
		each_ns(f, t, ns_counter, &k);
	}
	put_head(f, "fabriq_namespace_errors_total", "counter",
		 "I/O commands completed with an error status, per namespace and status code "
		 "type.");
	each_ns(f, t, ns_errors, NULL);
	dir = false;
	put_head(f, "fabriq_namespace_read_latency_seconds", "histogram",
		 "Read latency from command arrival to response, per namespace.");
	each_ns(f, t, ns_hist, &dir);
	dir = true;
	put_head(f, "fabriq_namespace_write_latency_seconds", "histogram",
		 "Write latency from command arrival to response, per namespace.");
	each_ns(f, t, ns_hist, &dir);
	put_head(f, "fabriq_reactor_busy_seconds_total", "counter",
		 "Time a reactor thread spent working (not asleep waiting for events).");
	for (int i = 0; fq_target_get_reactor_stats(t, i, &rs) == 0; i++)
		fprintf(f, "fabriq_reactor_busy_seconds_total{reactor=\"%d\"} %.6f\n", i,
			(double)rs.busy_ns * 1e-9);
	put_head(f, "fabriq_reactor_idle_seconds_total", "counter",
		 "Time a reactor thread spent asleep waiting for events.");
	for (int i = 0; fq_target_get_reactor_stats(t, i, &rs) == 0; i++)
		fprintf(f, "fabriq_reactor_idle_seconds_total{reactor=\"%d\"} %.6f\n", i,
			(double)rs.idle_ns * 1e-9);
	return ferror(f) ? -EIO : 0;
}

/* ---- HTTP ----------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events on @fd until @deadline (ms); 0, or -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int64_t left = deadline - now_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n ? 0 : -ETIMEDOUT;
}

static void send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline))
				return;
			continue;
		}
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void reply(int fd, const char *status, const char *type, const char *body, size_t len,
		  int64_t deadline)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, len);

	send_all(fd, head, (size_t)n, deadline);
	send_all(fd, body, len, deadline);
}

static void serve_client(struct fq_metrics *m, int fd)
{
	int64_t deadline = now_ms() + METRICS_IO_TIMEOUT_MS;
	char req[METRICS_MAX_REQUEST + 1];
	size_t len = 0;
	char *text = NULL, *eol;
	size_t tlen = 0;
	FILE *f;

	/* Read up to the end of the headers (or at least the request line). */
	while (len < METRICS_MAX_REQUEST) {
		ssize_t n = recv(fd, req + len, METRICS_MAX_REQUEST - len, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLIN, deadline))
				return;
			continue;
		}
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	eol = strpbrk(req, "\r\n");
	if (!eol) {
		static const char msg[] = "request too long or incomplete\n";

		reply(fd, "400 Bad Request", "text/plain", msg, sizeof(msg) - 1, deadline);
		return;
	}
	*eol = '\0';
	if (strncmp(req, "GET ", 4)) {
		static const char msg[] = "only GET\n";

		reply(fd, "405 Method Not Allowed", "text/plain", msg, sizeof(msg) - 1, deadline);
		return;
	}
	if (strncmp(req + 4, "/metrics ", 9) && strcmp(req + 4, "/metrics")) {
		static const char msg[] = "see /metrics\n";

		reply(fd, "404 Not Found", "text/plain", msg, sizeof(msg) - 1, deadline);
		return;
	}
	f = open_memstream(&text, &tlen);
	if (!f || fq_metrics_render(m->t, m->version, f)) {
		static const char msg[] = "could not build the metrics\n";

		if (f)
			fclose(f);
		free(text);
		reply(fd, "500 Internal Server Error", "text/plain", msg, sizeof(msg) - 1,
		      deadline);
		return;
	}
	fclose(f);
	reply(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text, tlen, deadline);
	free(text);
}

static void *metrics_main(void *arg)
{
	struct fq_metrics *m = arg;

	pthread_setname_np(pthread_self(), "fq-metrics");
	for (;;) {
		struct pollfd p[2] = {{.fd = m->lfd, .events = POLLIN},
				      {.fd = m->wake[0], .events = POLLIN}};
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_client(m, fd);
		close(fd);
	}
	return NULL;
}

int fq_metrics_open(const char *listen_at, struct fq_metrics **out, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	struct fq_metrics *m;
	char host[96];
	const char *colon = strrchr(listen_at, ':');
	size_t hl;
	int rc, one = 1;

	*out = NULL;
	if (!colon || colon == listen_at || !colon[1]) {
		snprintf(err, errlen, "--metrics-listen: expected ADDR:PORT, got '%s'", listen_at);
		return -EINVAL;
	}
	hl = (size_t)(colon - listen_at);
	if (listen_at[0] == '[' && colon[-1] == ']') {
		listen_at++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "--metrics-listen: address too long");
		return -EINVAL;
	}
	memcpy(host, listen_at, hl);
	host[hl] = '\0';
	rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "--metrics-listen: bad address '%s:%s': %s", host, colon + 1,
			 gai_strerror(rc));
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	m->wake[0] = m->wake[1] = -1;
	snprintf(m->listen, sizeof(m->listen), "%s", colon + 1);
	m->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->lfd, ai->ai_addr, ai->ai_addrlen) || listen(m->lfd, 16) ||
	    pipe2(m->wake, O_CLOEXEC)) {
		rc = -errno;
		snprintf(err, errlen, "--metrics-listen %s:%s: %s", host, colon + 1,
			 strerror(errno));
		freeaddrinfo(ai);
		fq_metrics_stop(m);
		return rc;
	}
	freeaddrinfo(ai);
	*out = m;
	return 0;
}

int fq_metrics_run(struct fq_metrics *m, struct fq_target *t, const char *version, char *err,
		   size_t errlen)
{
	int rc;

	m->t = t;
	m->version = version;
	rc = pthread_create(&m->thread, NULL, metrics_main, m);
	if (rc) {
		snprintf(err, errlen, "metrics: cannot start its thread: %s", strerror(rc));
		return -rc;
	}
	m->running = true;
	return 0;
}

void fq_metrics_stop(struct fq_metrics *m)
{
	if (!m)
		return;
	if (m->running) {
		/* The thread is in poll() or serving one client with a deadline. */
		if (write(m->wake[1], "x", 1) < 0)
			fq_warn("metrics: could not wake its thread: %s", strerror(errno));
		pthread_join(m->thread, NULL);
	}
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->wake[0] >= 0)
		close(m->wake[0]);
	if (m->wake[1] >= 0)
		close(m->wake[1]);
	free(m);
}
