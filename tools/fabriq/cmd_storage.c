/* SPDX-License-Identifier: MIT */
/*
 * fabriq storage: run a workload through the storage interface and print
 * its statistics.
 *
 *   fabriq storage -c storage.ini [--workload W] [--size N] [--ops N]
 *                  [--depth N] [--name NAME] [--span N] [--mix PCT]
 *                  [--seed N] [--json]
 *
 * W is read, write, randread, randwrite or randrw (default randrw, --mix
 * percent reads, default 50). Sizes take K/M/G suffixes and need not be
 * block multiples (unaligned I/O is part of what can be measured).
 * Exit status: 0, 1 an I/O error, 2 bad arguments or configuration, 3 the
 * target could not be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fabriq/storage.h"

int cmd_storage(int argc, char **argv);

struct wl {
	const char *config;
	const char *name;
	const char *workload;
	uint64_t size, ops, span, seed;
	unsigned depth, mix;
	bool json, seq, rand_rw, writes;
};

struct run {
	struct fq_storage *st;
	struct wl *w;
	uint8_t *bufs;
	uint64_t issued, done, next_off, rng, errors;
	unsigned inflight;
	int first_err;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: fabriq storage -c CONFIG [--workload "
		   "read|write|randread|randwrite|randrw]\n"
		   "                      [--size 4k] [--ops 10000] [--depth 32] [--name NAME]\n"
		   "                      [--span BYTES] [--mix READ_PCT] [--seed N] [--json]\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end || !v)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct wl *w)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"workload", required_argument, NULL, 'w'},
		{"size", required_argument, NULL, 's'},
		{"ops", required_argument, NULL, 'n'},
		{"depth", required_argument, NULL, 'd'},
		{"name", required_argument, NULL, 'N'},
		{"span", required_argument, NULL, 'p'},
		{"mix", required_argument, NULL, 'm'},
		{"seed", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	*w = (struct wl){.name = "data",
			 .workload = "randrw",
			 .size = 4096,
			 .ops = 10000,
			 .depth = 32,
			 .mix = 50,
			 .seed = 1};
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:w:s:n:d:N:p:m:r:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			w->config = optarg;
			break;
		case 'w':
			w->workload = optarg;
			break;
		case 'N':
			w->name = optarg;
			break;
		case 'j':
			w->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 's':
		case 'n':
		case 'd':
		case 'p':
		case 'm':
		case 'r':
			if (parse_size(optarg, &v)) {
				fprintf(stderr, "fabriq storage: bad number '%s'\n", optarg);
				return -EINVAL;
			}
			if (c == 's')
				w->size = v;
			else if (c == 'n')
				w->ops = v;
			else if (c == 'd')
				w->depth = v > 1024 ? 1024 : (unsigned)v;
			else if (c == 'p')
				w->span = v;
			else if (c == 'm')
				w->mix = v > 100 ? 100 : (unsigned)v;
			else
				w->seed = v;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!w->config) {
		usage(stderr);
		return -EINVAL;
	}
	w->seq = !strcmp(w->workload, "read") || !strcmp(w->workload, "write");
	w->rand_rw = !strcmp(w->workload, "randrw");
	w->writes = !strcmp(w->workload, "write") || !strcmp(w->workload, "randwrite");
	if (!w->seq && !w->rand_rw && strcmp(w->workload, "randread") &&
	    strcmp(w->workload, "randwrite")) {
		fprintf(stderr, "fabriq storage: unknown workload '%s'\n", w->workload);
		return -EINVAL;
	}
	if (!strcmp(w->workload, "randread"))
		w->mix = 100;
	else if (!w->rand_rw)
		w->mix = w->writes ? 0 : 100;
	return 0;
}

static uint64_t rnd(struct run *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return r->rng;
}

static void on_done(void *arg, int result);

static int issue(struct run *r, unsigned slot)
{
	struct wl *w = r->w;
	uint64_t slots = w->span / w->size, off;
	bool read = rnd(r) % 100 < w->mix;
	uint8_t *buf = r->bufs + (uint64_t)slot * w->size;
	int rc;

	if (w->seq) {
		off = (r->next_off % slots) * w->size;
		r->next_off++;
	} else {
		off = (rnd(r) % slots) * w->size;
	}
	if (read)
		rc = fq_storage_read_async(r->st, w->name, off, buf, w->size, on_done,
					   (void *)(uintptr_t)slot);
	else
		rc = fq_storage_write_async(r->st, w->name, off, buf, w->size, on_done,
					    (void *)(uintptr_t)slot);
	if (!rc) {
		r->issued++;
		r->inflight++;
	}
	return rc;
}

static struct run *cur;

static void on_done(void *arg, int result)
{
	struct run *r = cur;

	r->inflight--;
	r->done++;
	if (result) {
		r->errors++;
		if (!r->first_err)
			r->first_err = result;
	}
	if (r->issued < r->w->ops && !r->first_err)
		issue(r, (unsigned)(uintptr_t)arg);
}

static int workload(struct run *r)
{
	int rc = 0;

	cur = r;
	for (unsigned i = 0; i < r->w->depth && r->issued < r->w->ops; i++) {
		rc = issue(r, i);
		if (rc)
			break;
	}
	while (r->inflight) {
		int n = fq_storage_wait(r->st, 1000);

		if (n < 0)
			return n;
	}
	return rc ? rc : r->first_err;
}

static struct json_object *op_json(const struct fq_storage_op_stats *o)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "ops", json_object_new_int64((int64_t)o->ops));
	json_object_object_add(j, "bytes", json_object_new_int64((int64_t)o->bytes));
	json_object_object_add(j, "errors", json_object_new_int64((int64_t)o->errors));
	json_object_object_add(j, "retries", json_object_new_int64((int64_t)o->retries));
	json_object_object_add(j, "lat_mean_us",
			       json_object_new_double((double)o->lat_mean_ns / 1e3));
	json_object_object_add(j, "lat_p50_us",
			       json_object_new_double((double)o->lat_p50_ns / 1e3));
	json_object_object_add(j, "lat_p90_us",
			       json_object_new_double((double)o->lat_p90_ns / 1e3));
	json_object_object_add(j, "lat_p99_us",
			       json_object_new_double((double)o->lat_p99_ns / 1e3));
	json_object_object_add(j, "lat_p999_us",
			       json_object_new_double((double)o->lat_p999_ns / 1e3));
	json_object_object_add(j, "lat_max_us",
			       json_object_new_double((double)o->lat_max_ns / 1e3));
	return j;
}

static void print_json(const struct wl *w, const struct fq_storage_stats *s,
		       const struct fq_storage_health *h, double secs, int rc)
{
	struct json_object *j = json_object_new_object(), *ops = json_object_new_object();

	json_object_object_add(j, "workload", json_object_new_string(w->workload));
	json_object_object_add(j, "name", json_object_new_string(w->name));
	json_object_object_add(j, "size", json_object_new_int64((int64_t)w->size));
	json_object_object_add(j, "depth", json_object_new_int((int)w->depth));
	json_object_object_add(j, "seconds", json_object_new_double(secs));
	json_object_object_add(j, "result", json_object_new_int(rc));
	for (int op = 0; op < FQ_STORAGE_NUM_OPS; op++)
		json_object_object_add(ops, fq_storage_op_name(op), op_json(&s->op[op]));
	json_object_object_add(j, "ops", ops);
	json_object_object_add(j, "rmw_reads", json_object_new_int64((int64_t)s->rmw_reads));
	json_object_object_add(j, "queue_capacity", json_object_new_int((int)s->queue_capacity));
	json_object_object_add(j, "outstanding_max", json_object_new_int((int)s->outstanding_max));
	json_object_object_add(j, "outstanding_mean", json_object_new_double(s->outstanding_mean));
	json_object_object_add(j, "batch_size", json_object_new_int((int)s->batch_size));
	json_object_object_add(j, "health", json_object_new_string(h->state_name));
	json_object_object_add(j, "backend", json_object_new_string(h->backend));
	json_object_object_add(j, "last_error", json_object_new_string(h->last_error));
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
	json_object_put(j);
}

static void print_human(const struct wl *w, const struct fq_storage_stats *s,
			const struct fq_storage_health *h, double secs)
{
	uint64_t ops = s->op[0].ops + s->op[1].ops, bytes = s->op[0].bytes + s->op[1].bytes;

	printf("%s via %s: %s of %" PRIu64 " bytes x %" PRIu64 ", depth %u: %.2f s, %.0f ops/s, "
	       "%.1f MiB/s\n",
	       w->name, h->backend, w->workload, w->size, w->ops, w->depth, secs,
	       (double)ops / secs, (double)bytes / secs / 1048576.0);
	printf("op        ops      bytes errors retries  mean    p50    p90    p99  p99.9    max "
	       "(us)\n");
	for (int op = 0; op < FQ_STORAGE_NUM_OPS; op++) {
		const struct fq_storage_op_stats *o = &s->op[op];

		printf("%-5s %7" PRIu64 " %10" PRIu64 " %6" PRIu64 " %7" PRIu64
		       " %5.0f %6.0f %6.0f %6.0f %6.0f %6.0f\n",
		       fq_storage_op_name(op), o->ops, o->bytes, o->errors, o->retries,
		       o->lat_mean_ns / 1e3, o->lat_p50_ns / 1e3, o->lat_p90_ns / 1e3,
		       o->lat_p99_ns / 1e3, o->lat_p999_ns / 1e3, o->lat_max_ns / 1e3);
	}
	printf("queue: %u slots, max %u outstanding, mean %.1f; batch %u; rmw block reads %" PRIu64
	       "\n",
	       s->queue_capacity, s->outstanding_max, s->outstanding_mean, s->batch_size,
	       s->rmw_reads);
	printf("health: %s, %u/%u queues, last error: %s\n", h->state_name, h->queues_live,
	       h->queues_total, h->last_error[0] ? h->last_error : "none");
}

static int prepare(struct run *r, struct wl *w, char *err, size_t errlen)
{
	struct fq_storage_ns_info info;
	int rc = fq_storage_open(w->config, &r->st, err, errlen);

	if (rc)
		return rc;
	rc = fq_storage_lookup(r->st, w->name, &info);
	if (rc) {
		snprintf(err, errlen, "%s", fq_storage_last_error(r->st));
		return rc;
	}
	if (!w->span || w->span > info.size)
		w->span = info.size;
	if (w->size > w->span) {
		snprintf(err, errlen, "--size %" PRIu64 " is larger than '%s' (%" PRIu64 " bytes)",
			 w->size, w->name, info.size);
		return -EINVAL;
	}
	r->bufs = malloc(w->size * w->depth);
	if (!r->bufs)
		return -ENOMEM;
	for (uint64_t i = 0; i < w->size * w->depth; i++)
		r->bufs[i] = (uint8_t)(i * 31 + 7);
	return 0;
}

/* The fabriq CLI's exit statuses: 2 usage/config, 3 connection, 1 I/O error. */
static int exit_code(int rc, bool opening)
{
	if (!rc)
		return 0;
	if (opening && (rc == -EINVAL || rc == -ENOENT || rc == -EPROTONOSUPPORT))
		return 2;
	if (rc == -ENOTCONN || rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EHOSTUNREACH ||
	    rc == -ENODEV || opening)
		return 3;
	return 1;
}

int cmd_storage(int argc, char **argv)
{
	struct fq_storage_stats s;
	struct fq_storage_health h;
	struct run r = {0};
	struct wl w;
	char err[512] = "";
	struct timespec t0, t1;
	double secs;
	int rc = parse_args(argc, argv, &w);

	if (rc)
		return 2;
	r.w = &w;
	r.rng = w.seed * 0x9e3779b97f4a7c15ull | 1;
	rc = prepare(&r, &w, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriq storage: %s\n", err[0] ? err : strerror(-rc));
		if (r.st)
			fq_storage_close(r.st);
		free(r.bufs);
		return exit_code(rc, true);
	}
	fq_storage_reset_stats(r.st);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = workload(&r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fq_storage_get_stats(r.st, &s);
	fq_storage_health_check(r.st, &h);
	if (w.json)
		print_json(&w, &s, &h, secs, rc);
	else
		print_human(&w, &s, &h, secs);
	if (rc)
		fprintf(stderr, "fabriq storage: %s\n", fq_storage_last_error(r.st));
	fq_storage_close(r.st);
	free(r.bufs);
	return exit_code(rc, false);
}

#ifdef FQ_STORAGE_STANDALONE
/* Built alone (fabriq-storage) until the fabriq CLI dispatches to it. */
int main(int argc, char **argv)
{
	return cmd_storage(argc, argv);
}
#endif
