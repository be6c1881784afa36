/* SPDX-License-Identifier: MIT */
/*
 * bound: the fastest request/reply exchange this machine's TCP stack allows,
 * with the same message sizes an NVMe/TCP 4 KiB read or write moves. It is
 * the yardstick the benchmark suite compares Fabriq against, measured in the
 * same run with the same CPU pinning.
 *
 *   4 KiB read:  72-byte request (CapsuleCmd) -> 4120-byte reply (C2HData 24 + 4096)
 *   4 KiB write: 4168-byte request (CapsuleCmd 72 + 4096) -> 24-byte reply (CapsuleResp)
 *
 *   bound server --port P [--cpu N] [--poll] [--mem SIZE]
 *   bound client --port P --req B --rsp B --qd N --seconds S [--cpu N] [--poll] [--json]
 *
 * The server answers every complete request with one reply, batching all
 * replies of one receive into one writev. The client keeps --qd requests
 * outstanding. Blocking mode sleeps in recv/send; --poll busy-polls with
 * non-blocking calls (MSG_DONTWAIT), on both sides.
 *
 * --mem SIZE gives the server a SIZE-byte memory that stands in for a RAM
 * namespace: the data part of each reply (beyond a 24-byte header) is sent
 * straight from a random aligned slot of it, and the data part of each
 * request (beyond a 72-byte header) is copied into one. That is the memory
 * traffic fabriqd's RAM backend has on top of the socket work, so the
 * difference between the two bounds is what DRAM costs on this machine.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_QD 1024
#define HDR 8	   /* every message starts with: u32 request size, u32 reply size */
#define REQ_HDR 72 /* a CapsuleCmd; anything beyond it is write data */
#define RSP_HDR 24 /* a C2HData or CapsuleResp header; beyond it is read data */

struct opts {
	bool server;
	int port;
	int cpu;
	bool poll;
	uint32_t req, rsp;
	int qd;
	double seconds;
	bool json;
	size_t mem;
};

/* The --mem stand-in for a namespace, and a cheap random slot picker. */
struct memory {
	uint8_t *base;
	size_t size;
	uint64_t rng;
};

static uint8_t *mem_slot(struct memory *m, size_t len)
{
	size_t slots = m->size / len;

	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->base + (m->rng % slots) * len;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "bound: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

static ssize_t xrecv(int fd, void *buf, size_t len, bool poll)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, poll ? MSG_DONTWAIT : 0);

		if (n >= 0)
			return n;
		if (errno == EINTR || (poll && (errno == EAGAIN || errno == EWOULDBLOCK)))
			continue;
		return -1;
	}
}

/* Send everything in @iov, spinning or blocking as configured. */
static int xsendv(int fd, struct iovec *iov, int cnt, bool poll)
{
	while (cnt > 0) {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
		ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL | (poll ? MSG_DONTWAIT : 0));

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -1;
		}
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static void serve(int fd, bool poll, struct memory *mem)
{
	static uint8_t in[4 << 20], out[1 << 20];
	struct iovec iov[2 * MAX_QD];
	size_t have = 0;
	uint32_t req = 0, rsp = 0;

	for (;;) {
		ssize_t n = xrecv(fd, in + have, sizeof(in) - have, poll);
		size_t off = 0;
		int cnt = 0;

		if (n <= 0)
			return;
		have += (size_t)n;
		/* Answer every complete request that arrived, in one writev. */
		while (have - off >= HDR) {
			memcpy(&req, in + off, 4);
			memcpy(&rsp, in + off + 4, 4);
			if (req < HDR || rsp > sizeof(out) || req > sizeof(in))
				return;
			if (have - off < req || cnt >= 2 * MAX_QD - 1)
				break;
			if (mem && req > REQ_HDR && req - REQ_HDR <= mem->size)
				memcpy(mem_slot(mem, req - REQ_HDR), in + off + REQ_HDR,
				       req - REQ_HDR);
			off += req;
			iov[cnt].iov_base = out;
			if (mem && rsp > RSP_HDR && rsp - RSP_HDR <= mem->size) {
				iov[cnt++].iov_len = RSP_HDR;
				iov[cnt].iov_base = mem_slot(mem, rsp - RSP_HDR);
				iov[cnt++].iov_len = rsp - RSP_HDR;
			} else {
				iov[cnt++].iov_len = rsp;
			}
		}
		if (cnt && xsendv(fd, iov, cnt, poll))
			return;
		memmove(in, in + off, have - off);
		have -= off;
	}
}

static int run_server(const struct opts *o)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
	struct memory mem = {.size = o->mem, .rng = 88172645463325252ull};

	if (o->mem) {
		/* Mapped and touched like fabriqd's RAM backend after the prefill. */
		mem.base = mmap(NULL, o->mem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
		if (mem.base == MAP_FAILED) {
			perror("bound: mmap");
			return 1;
		}
		(void)madvise(mem.base, o->mem, MADV_HUGEPAGE);
		memset(mem.base, 0x5a, o->mem);
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 16)) {
		perror("bound: listen");
		return 1;
	}
	pin(o->cpu);
	for (;;) {
		int fd = accept(ls, NULL, NULL);

		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		serve(fd, o->poll, o->mem ? &mem : NULL);
		close(fd);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int run_client(const struct opts *o)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	uint8_t *reqbuf = calloc(1, o->req), *in = malloc(4 << 20);
	uint64_t sent_at[MAX_QD], *lat, nlat = 0, maxlat = 1 << 24, ops = 0, start, end, deadline;
	struct iovec iov[MAX_QD];
	size_t have = 0;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0), head = 0, tail = 0;
	double sum = 0;

	lat = malloc(maxlat * sizeof(*lat));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!reqbuf || !in || !lat) {
		perror("bound: malloc");
		return 1;
	}
	/* A server with --mem listens once its memory is touched: give it time. */
	for (int tries = 0; connect(fd, (struct sockaddr *)&a, sizeof(a)); tries++) {
		if (errno != ECONNREFUSED || tries == 300) {
			perror("bound: connect");
			return 1;
		}
		usleep(100000);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memcpy(reqbuf, &o->req, 4);
	memcpy(reqbuf + 4, &o->rsp, 4);
	pin(o->cpu);
	start = now_ns();
	deadline = start + (uint64_t)(o->seconds * 1e9);
	for (int i = 0; i < o->qd; i++) {
		iov[i].iov_base = reqbuf;
		iov[i].iov_len = o->req;
		sent_at[tail++ % MAX_QD] = start;
	}
	if (xsendv(fd, iov, o->qd, o->poll))
		return 1;
	for (;;) {
		ssize_t n = xrecv(fd, in + have, (4 << 20) - have, o->poll);
		uint64_t t = now_ns();
		int cnt = 0;

		if (n <= 0)
			return 1;
		have += (size_t)n;
		while (have >= o->rsp) {
			uint64_t l = t - sent_at[head++ % MAX_QD];

			have -= o->rsp;
			ops++;
			sum += (double)l;
			if (nlat < maxlat)
				lat[nlat++] = l;
			if (t < deadline) {
				iov[cnt].iov_base = reqbuf;
				iov[cnt++].iov_len = o->req;
				sent_at[tail++ % MAX_QD] = t;
			}
		}
		/* The remainder is a partial reply; keep its byte count only. */
		if (cnt && xsendv(fd, iov, cnt, o->poll))
			return 1;
		if (head == tail)
			break;
	}
	end = now_ns();
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	{
		double secs = (double)(end - start) / 1e9;
		double p50 = nlat ? (double)lat[nlat / 2] / 1e3 : 0;
		double p99 = nlat ? (double)lat[nlat * 99 / 100] / 1e3 : 0;

		if (o->json)
			printf("{\"req\":%u,\"rsp\":%u,\"qd\":%d,\"poll\":%s,\"ops\":%llu,"
			       "\"seconds\":%.3f,\"iops\":%.0f,\"mean_us\":%.2f,\"p50_us\":%.2f,"
			       "\"p99_us\":%.2f}\n",
			       o->req, o->rsp, o->qd, o->poll ? "true" : "false",
			       (unsigned long long)ops, secs, (double)ops / secs,
			       sum / (double)ops / 1e3, p50, p99);
		else
			printf("req %u rsp %u qd %d %s: %.0f ops/s, mean %.2f us, p50 %.2f us, p99 "
			       "%.2f us\n",
			       o->req, o->rsp, o->qd, o->poll ? "poll" : "blocking",
			       (double)ops / secs, sum / (double)ops / 1e3, p50, p99);
	}
	close(fd);
	free(lat);
	free(in);
	free(reqbuf);
	return 0;
}

/* "64M", "1G", "4096": a byte count with an optional K/M/G suffix. */
static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;

	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (end == s || (*end && end[1]) || v == 0 || v > (SIZE_MAX >> 30))
		return -1;
	*out = (size_t)v << shift;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"port", required_argument, NULL, 'p'},	   {"cpu", required_argument, NULL, 'c'},
		{"poll", no_argument, NULL, 'P'},	   {"req", required_argument, NULL, 'r'},
		{"rsp", required_argument, NULL, 's'},	   {"qd", required_argument, NULL, 'q'},
		{"seconds", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
		{"mem", required_argument, NULL, 'm'},	   {NULL, 0, NULL, 0},
	};
	struct opts o = {.cpu = -1, .req = 72, .rsp = 4120, .qd = 1, .seconds = 5};
	int c;

	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: bound server|client --port P [options]\n");
		return 2;
	}
	o.server = !strcmp(argv[1], "server");
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.port = atoi(optarg);
			break;
		case 'c':
			o.cpu = atoi(optarg);
			break;
		case 'P':
			o.poll = true;
			break;
		case 'r':
			o.req = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o.rsp = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			o.qd = atoi(optarg);
			break;
		case 't':
			o.seconds = atof(optarg);
			break;
		case 'j':
			o.json = true;
			break;
		case 'm':
			if (parse_size(optarg, &o.mem)) {
				fprintf(stderr, "bound: bad --mem size '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (o.port <= 0 || o.qd < 1 || o.qd > MAX_QD || o.req < HDR || o.rsp < 1 ||
	    o.rsp > (1u << 20) || o.req > (4u << 20)) {
		fprintf(stderr, "bound: bad arguments\n");
		return 2;
	}
	return o.server ? run_server(&o) : run_client(&o);
}
