/* SPDX-License-Identifier: MIT */
/*
 * fabriq connections [NQN] and fabriq stats [--watch SECONDS]: who is
 * connected to a running fabriqd and how its namespaces perform, over the
 * management socket (controller_list and iostat, docs/rpc.md).
 *
 * stats samples iostat twice and shows the difference, like iostat -x:
 * per namespace IOPS, MiB/s, mean and p99 latency over the interval (the
 * p99 from the difference of the latency histograms).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "rpc_client.h"

#define NBUCKETS 24 /* FQ_TARGET_LAT_BUCKETS: iostat sends them all */

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static int64_t num(json_object *o, const char *key)
{
	return json_object_get_int64(field(o, key));
}

struct common {
	const char *sock;
	bool json;
	double watch; /* seconds; 0: one report */
	long count;   /* reports with --watch; 0: until interrupted */
};

static int parse_common(int argc, char **argv, struct common *c, bool stats, void (*usage)(FILE *))
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 'S'}, {"json", no_argument, NULL, 'j'},
		{"watch", required_argument, NULL, 'w'},  {"count", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, stats ? "S:jw:c:h" : "S:jh", opts, NULL)) != -1) {
		char *end;

		switch (o) {
		case 'S':
			c->sock = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'w':
			c->watch = strtod(optarg, &end);
			if (!stats || *end || !(c->watch >= 0.1 && c->watch <= 3600)) {
				fprintf(stderr, "fabriq: --watch: 0.1..3600 seconds\n");
				return EXIT_USAGE;
			}
			break;
		case 'c':
			c->count = strtol(optarg, &end, 10);
			if (!stats || *end || c->count < 1) {
				fprintf(stderr, "fabriq: --count: a positive number\n");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* ---- connections --------------------------------------------------------- */

static void conn_usage(FILE *f)
{
	fprintf(f, "usage: fabriq connections [NQN] [-S PATH] [--json]\n\n"
		   "List the controllers connected to a running fabriqd (all subsystems,\n"
		   "or NQN's): host NQN, address, I/O queues, queue depth, KATO, digests.\n\n"
		   "options:\n"
		   "  -S, --socket PATH       fabriqd's socket (default " CLI_RPC_SOCKET ")\n"
		   "  -j, --json              print controller_list's result as JSON\n"
		   "  -h, --help              this text\n");
}

int cmd_connections(int argc, char **argv)
{
	struct common c = {0};
	json_object *params = NULL, *res;
	char err[1024];
	int rc = parse_common(argc, argv, &c, false, conn_usage);

	if (rc)
		return rc;
	if (argc - optind > 1) {
		conn_usage(stderr);
		return EXIT_USAGE;
	}
	if (optind < argc) {
		params = json_object_new_object();
		json_object_object_add(params, "nqn", json_object_new_string(argv[optind]));
	}
	rc = cli_rpc_call(c.sock, "controller_list", params, &res, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriq connections: %s\n", err);
		return rc;
	}
	if (c.json) {
		cli_print_json(res);
		return EXIT_OK;
	}
	printf("%-6s %-28s %-22s %-8s %6s %5s %8s %s\n", "CNTLID", "SUBSYSTEM", "ADDRESS", "PORT",
	       "QUEUES", "QD", "KATO_MS", "DIGESTS");
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		json_object *o = json_object_array_get_idx(res, i);
		bool h = json_object_get_boolean(field(o, "hdgst"));
		bool d = json_object_get_boolean(field(o, "ddgst"));

		printf("%-6lld %-28s %-22s %-8s %6lld %5lld %8lld %s\n",
		       (long long)num(o, "cntlid"), json_object_get_string(field(o, "nqn")),
		       json_object_get_string(field(o, "address")),
		       json_object_get_string(field(o, "port")), (long long)num(o, "io_queues"),
		       (long long)num(o, "queue_depth"), (long long)num(o, "kato_ms"),
		       h && d ? "header+data"
		       : h    ? "header"
		       : d    ? "data"
			      : "none");
		printf("       host %s\n", json_object_get_string(field(o, "hostnqn")));
	}
	json_object_put(res);
	return EXIT_OK;
}

/* ---- stats ---------------------------------------------------------------- */

static void stats_usage(FILE *f)
{
	fprintf(f, "usage: fabriq stats [-S PATH] [--watch SECONDS [--count N]] [--json]\n\n"
		   "Per namespace of a running fabriqd, over an interval (1 second, or\n"
		   "SECONDS with --watch, repeated until interrupted or N reports):\n"
		   "IOPS, MiB/s, mean and p99 latency of reads and writes, errors.\n\n"
		   "options:\n"
		   "  -S, --socket PATH       fabriqd's socket (default " CLI_RPC_SOCKET ")\n"
		   "  -w, --watch SECONDS     report every SECONDS (0.1..3600)\n"
		   "  -c, --count N           with --watch: stop after N reports\n"
		   "  -j, --json              one JSON object per report\n"
		   "  -h, --help              this text\n");
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The namespace @nqn/@nsid in an iostat result, or NULL (added since). */
static json_object *find_ns(json_object *res, const char *nqn, int64_t nsid)
{
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		json_object *s = json_object_array_get_idx(res, i), *a = field(s, "namespaces");

		if (strcmp(json_object_get_string(field(s, "nqn")), nqn))
			continue;
		for (size_t j = 0; j < json_object_array_length(a); j++)
			if (num(json_object_array_get_idx(a, j), "nsid") == nsid)
				return json_object_array_get_idx(a, j);
	}
	return NULL;
}

struct lat {
	double mean_us, p99_us;
};

/* Mean and p99 of the commands between @a (earlier, may be NULL) and @b. */
static struct lat interval_lat(json_object *a, json_object *b)
{
	json_object *ba = a ? field(a, "buckets") : NULL, *bb = field(b, "buckets");
	uint64_t d[NBUCKETS], n = 0, cum = 0;
	int64_t dsum = num(b, "sum_ns") - (a ? num(a, "sum_ns") : 0);
	struct lat l = {0, 0};

	for (int i = 0; i < NBUCKETS; i++) {
		int64_t x = json_object_get_int64(json_object_array_get_idx(bb, (size_t)i));

		if (ba)
			x -= json_object_get_int64(json_object_array_get_idx(ba, (size_t)i));
		d[i] = x > 0 ? (uint64_t)x : 0;
		n += d[i];
	}
	if (!n)
		return l;
	l.mean_us = (double)dsum / 1000.0 / (double)n;
	for (int i = 0; i < NBUCKETS; i++) {
		double lo = i ? ldexp(1, i - 1) : 0, hi = ldexp(1, i);

		if (d[i] && (double)(cum + d[i]) >= 0.99 * (double)n) {
			l.p99_us = i == NBUCKETS - 1
					   ? lo
					   : lo + (hi - lo) * (0.99 * (double)n - (double)cum) /
							     (double)d[i];
			break;
		}
		cum += d[i];
	}
	return l;
}

static void report(json_object *prev, json_object *cur, double secs, bool json)
{
	json_object *out = json_object_new_array();

	if (!json)
		printf("%-34s %5s %9s %9s %8s %8s %9s %9s %9s %9s %7s\n", "SUBSYSTEM", "NSID",
		       "r/s", "w/s", "rMiB/s", "wMiB/s", "r_lat_us", "r_p99_us", "w_lat_us",
		       "w_p99_us", "errors");
	for (size_t i = 0; i < json_object_array_length(cur); i++) {
		json_object *s = json_object_array_get_idx(cur, i), *a = field(s, "namespaces");
		const char *nqn = json_object_get_string(field(s, "nqn"));

		for (size_t j = 0; j < json_object_array_length(a); j++) {
			json_object *n = json_object_array_get_idx(a, j), *p, *o;
			int64_t nsid = num(n, "nsid");
			struct lat rl, wl;
			double r, w, rb, wb, e;

			p = find_ns(prev, nqn, nsid);
			r = (double)(num(n, "read_ops") - (p ? num(p, "read_ops") : 0)) / secs;
			w = (double)(num(n, "write_ops") - (p ? num(p, "write_ops") : 0)) / secs;
			rb = (double)(num(n, "bytes_read") - (p ? num(p, "bytes_read") : 0)) /
			     secs / 1048576.0;
			wb = (double)(num(n, "bytes_written") - (p ? num(p, "bytes_written") : 0)) /
			     secs / 1048576.0;
			e = (double)(num(n, "errors") - (p ? num(p, "errors") : 0));
			rl = interval_lat(p ? field(p, "read_latency") : NULL,
					  field(n, "read_latency"));
			wl = interval_lat(p ? field(p, "write_latency") : NULL,
					  field(n, "write_latency"));
			if (!json) {
				printf("%-34s %5lld %9.0f %9.0f %8.2f %8.2f %9.1f %9.1f %9.1f "
				       "%9.1f "
				       "%7.0f\n",
				       nqn, (long long)nsid, r, w, rb, wb, rl.mean_us, rl.p99_us,
				       wl.mean_us, wl.p99_us, e);
				continue;
			}
			o = json_object_new_object();
			json_object_object_add(o, "nqn", json_object_new_string(nqn));
			json_object_object_add(o, "nsid", json_object_new_int64(nsid));
			json_object_object_add(o, "read_iops", json_object_new_double(r));
			json_object_object_add(o, "write_iops", json_object_new_double(w));
			json_object_object_add(o, "read_mib_s", json_object_new_double(rb));
			json_object_object_add(o, "write_mib_s", json_object_new_double(wb));
			json_object_object_add(o, "read_mean_us",
					       json_object_new_double(rl.mean_us));
			json_object_object_add(o, "read_p99_us", json_object_new_double(rl.p99_us));
			json_object_object_add(o, "write_mean_us",
					       json_object_new_double(wl.mean_us));
			json_object_object_add(o, "write_p99_us",
					       json_object_new_double(wl.p99_us));
			json_object_object_add(o, "errors", json_object_new_double(e));
			json_object_array_add(out, o);
		}
	}
	if (json) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "interval_s", json_object_new_double(secs));
		json_object_object_add(r, "namespaces", out);
		printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
		json_object_put(r);
	} else {
		json_object_put(out);
		printf("\n");
	}
	fflush(stdout);
}

int cmd_stats(int argc, char **argv)
{
	struct common c = {0};
	json_object *prev = NULL, *cur;
	double t0, t1, interval;
	char err[1024];
	int rc = parse_common(argc, argv, &c, true, stats_usage);

	if (rc)
		return rc;
	if (optind != argc) {
		stats_usage(stderr);
		return EXIT_USAGE;
	}
	interval = c.watch > 0 ? c.watch : 1.0;
	rc = cli_rpc_call(c.sock, "iostat", NULL, &prev, err, sizeof(err));
	t0 = mono();
	for (long n = 0; !rc; n++) {
		usleep((useconds_t)(interval * 1e6));
		rc = cli_rpc_call(c.sock, "iostat", NULL, &cur, err, sizeof(err));
		if (rc)
			break;
		t1 = mono();
		report(prev, cur, t1 - t0, c.json);
		json_object_put(prev);
		prev = cur;
		t0 = t1;
		if (c.watch <= 0 || (c.count && n + 1 >= c.count))
			break;
	}
	json_object_put(prev);
	if (rc)
		fprintf(stderr, "fabriq stats: %s\n", err);
	return rc;
}
