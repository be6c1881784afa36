/* SPDX-License-Identifier: MIT */
/*
 * fabriq pool and fabriq volume: pools and volumes of a running fabriqd
 * through its management socket (docs/rpc.md, docs/volumes.md):
 *
 *   fabriq pool create POOL PATH [--size SIZE] [--cluster-size SIZE] [--reactor N]
 *   fabriq pool list | info POOL | delete POOL [--force] | check PATH
 *   fabriq volume create POOL/NAME SIZE [--thick]
 *   fabriq volume list [POOL] | info POOL/NAME | delete POOL/NAME[@SNAP]
 *   fabriq volume resize POOL/NAME SIZE [--allow-shrink]
 *   fabriq volume rename POOL/NAME NEW | snapshot POOL/NAME@SNAP
 *   fabriq volume clone POOL/NAME@SNAP POOL/NEW | rollback POOL/NAME@SNAP
 *   fabriq volume flatten POOL/NAME
 *   fabriq volume throttle POOL/NAME read_iops=N,write_iops=N,read_bps=N,write_bps=N,burst_ms=N
 *   fabriq volume suspend POOL/NAME | resume POOL/NAME [--mode normal|error|discard]
 *
 * Sizes take K, M, G and T suffixes. Text by default, the method's result
 * as JSON with --json. pool check reads the pool itself (pool_check.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "map.h"
#include "rpc_client.h"

struct opts {
	const char *sock;
	bool json, force, thick, allow_shrink;
	const char *mode;
	uint64_t size, cluster_size;
	bool has_size;
	long reactor; /* -1: not given */
};

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static unsigned long long num(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (unsigned long long)json_object_get_int64(v)
						     : 0;
}

static bool flag(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static void print_pool(json_object *p)
{
	printf("%s  %s\n  capacity %llu MiB, allocated %llu MiB, free %llu MiB, %llu volume(s), "
	       "cluster %llu KiB, reactor %llu\n",
	       str(p, "name"), str(p, "bdev"), num(p, "capacity") >> 20, num(p, "allocated") >> 20,
	       num(p, "free") >> 20, num(p, "volumes"), num(p, "cluster_size") >> 10,
	       num(p, "reactor"));
}

/* One limit: "read_iops 50", "read_iops -" when there is none. */
static void print_limit(json_object *q, const char *key)
{
	if (num(q, key))
		printf(" %s %llu", key, num(q, key));
	else
		printf(" %s -", key);
}

static void print_qos(json_object *v)
{
	json_object *q;

	printf("  state %s", str(v, "state"));
	if (!json_object_object_get_ex(v, "qos", &q)) {
		printf("\n");
		return;
	}
	if (num(q, "held"))
		printf(", %llu I/O held", num(q, "held"));
	printf("\n  qos");
	print_limit(q, "read_iops");
	print_limit(q, "write_iops");
	print_limit(q, "read_bps");
	print_limit(q, "write_bps");
	printf(" burst_ms %llu (%llu waiting, %llu delayed so far)\n", num(q, "burst_ms"),
	       num(q, "waiting"), num(q, "delayed"));
}

static void print_vol(json_object *v)
{
	printf("%s/%s  %s\n  size %llu MiB, allocated %llu bytes", str(v, "pool"), str(v, "name"),
	       flag(v, "snapshot") ? "snapshot (read-only)"
	       : flag(v, "thick")  ? "thick"
				   : "thin",
	       num(v, "size") >> 20, num(v, "allocated_bytes"));
	if (str(v, "parent")[0])
		printf(", parent %s", str(v, "parent"));
	printf(", %llu snapshot(s)\n  uuid %s\n  nqn %s\n", num(v, "snapshots"), str(v, "uuid"),
	       str(v, "nqn"));
	print_qos(v);
}

static void print_result(const char *what, const char *verb, json_object *res)
{
	if (json_object_is_type(res, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(res); i++) {
			json_object *o = json_object_array_get_idx(res, i);

			if (!strcmp(what, "pool"))
				print_pool(o);
			else
				print_vol(o);
		}
	} else if (json_object_is_type(res, json_type_object)) {
		if (!strcmp(what, "pool"))
			print_pool(res);
		else
			print_vol(res);
	} else {
		printf("%s %s: done\n", what, verb);
	}
}

/*
 * "POOL/NAME" into the pool and name parameters (@key for the name). Where
 * a pool is expected, a device that `fabriq map` made on this machine
 * (/dev/fabriq/POOL/NAME, /dev/loopN, /dev/nvmeXnY) names its volume too.
 */
static int split(const char *arg, json_object *params, const char *key, bool set_pool)
{
	const char *slash = strchr(arg, '/');
	char pool[128], name[256];

	if (arg[0] == '/' && set_pool) {
		if (map_device_volume(arg, pool, sizeof(pool), name, sizeof(name))) {
			fprintf(stderr, "fabriq: %s is not a device fabriq map made here\n", arg);
			return -EINVAL;
		}
		json_object_object_add(params, "pool", json_object_new_string(pool));
		json_object_object_add(params, key, json_object_new_string(name));
		return 0;
	}
	if (!slash || slash == arg || !slash[1] || (size_t)(slash - arg) >= sizeof(pool)) {
		fprintf(stderr, "fabriq: expected POOL/NAME, got '%s'\n", arg);
		return -EINVAL;
	}
	memcpy(pool, arg, (size_t)(slash - arg));
	pool[slash - arg] = '\0';
	if (set_pool)
		json_object_object_add(params, "pool", json_object_new_string(pool));
	json_object_object_add(params, key, json_object_new_string(slash + 1));
	return 0;
}

static int size_arg(const char *s, uint64_t *out)
{
	if (cli_parse_size(s, out) || !*out) {
		fprintf(stderr, "fabriq: bad size '%s' (bytes, or with K/M/G/T)\n", s);
		return -EINVAL;
	}
	return 0;
}

/* A whole decimal number (no suffix, no sign). */
static int plain_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || *s < '0' || *s > '9' ? -EINVAL : 0;
}

/*
 * "read_iops=N,write_iops=N,read_bps=N,write_bps=N,burst_ms=N" (any subset)
 * into volume_throttle's parameters; bps values take K, M, G suffixes.
 */
static int throttle_args(const char *arg, json_object *params)
{
	static const char *const keys[] = {"read_iops", "write_iops", "read_bps", "write_bps",
					   "burst_ms"};
	char buf[512], *save = NULL;
	int given = 0;

	if (strlen(arg) >= sizeof(buf)) {
		fprintf(stderr, "fabriq: throttle limits too long\n");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		uint64_t v;
		size_t k;

		if (eq)
			*eq = '\0';
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (!strcmp(kv, keys[k]))
				break;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			fprintf(stderr,
				"fabriq: unknown throttle key '%s' (read_iops, write_iops, "
				"read_bps, write_bps, burst_ms)\n",
				kv);
			return -EINVAL;
		}
		if (!eq ||
		    (strstr(kv, "_bps") ? cli_parse_size(eq + 1, &v) : plain_u64(eq + 1, &v)) ||
		    v > INT64_MAX) {
			fprintf(stderr, "fabriq: bad %s '%s' (%s, 0 = no limit)\n", kv,
				eq ? eq + 1 : "",
				strstr(kv, "_bps") ? "bytes per second, K/M/G suffixes allowed"
				: !strcmp(kv, "burst_ms") ? "milliseconds"
							  : "operations per second");
			return -EINVAL;
		}
		json_object_object_add(params, keys[k], json_object_new_int64((int64_t)v));
		given++;
	}
	if (!given) {
		fprintf(stderr, "fabriq: expected KEY=VALUE[,KEY=VALUE...] limits\n");
		return -EINVAL;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o, const char *usage_line)
{
	enum { O_SIZE = 0x100, O_CS, O_FORCE, O_THICK, O_SHRINK, O_MODE, O_REACTOR };
	static const struct option lopts[] = {
		{"socket", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"size", required_argument, NULL, O_SIZE},
		{"cluster-size", required_argument, NULL, O_CS},
		{"force", no_argument, NULL, O_FORCE},
		{"thick", no_argument, NULL, O_THICK},
		{"allow-shrink", no_argument, NULL, O_SHRINK},
		{"mode", required_argument, NULL, O_MODE},
		{"reactor", required_argument, NULL, O_REACTOR},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:jh", lopts, NULL)) != -1) {
		switch (c) {
		case 'S':
			o->sock = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case O_SIZE:
			if (size_arg(optarg, &o->size))
				return EXIT_USAGE;
			o->has_size = true;
			break;
		case O_CS:
			if (size_arg(optarg, &o->cluster_size))
				return EXIT_USAGE;
			break;
		case O_FORCE:
			o->force = true;
			break;
		case O_THICK:
			o->thick = true;
			break;
		case O_SHRINK:
			o->allow_shrink = true;
			break;
		case O_MODE:
			o->mode = optarg;
			break;
		case O_REACTOR: {
			char *end;

			errno = 0;
			o->reactor = strtol(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end || errno ||
			    o->reactor > 65535) {
				fprintf(stderr,
					"fabriq: --reactor: expected a reactor index (0, 1, "
					"...), got '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'h':
			printf("%s", usage_line);
			return -1;
		default:
			fprintf(stderr, "%s", usage_line);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int call(const char *what, const char *verb, const struct opts *o, const char *method,
		json_object *params)
{
	json_object *res = NULL;
	char err[1024];
	int rc = cli_rpc_call(o->sock, method, params, &res, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "fabriq %s %s: %s\n", what, verb, err);
		return rc;
	}
	if (o->json) {
		cli_print_json(res); /* takes @res */
		return EXIT_OK;
	}
	print_result(what, verb, res);
	json_object_put(res);
	return EXIT_OK;
}

static const char pool_usage[] =
	"usage: fabriq pool VERB [ARGS] [-S PATH] [--json]\n\n"
	"Pools of a running fabriqd (docs/volumes.md).\n\nverbs:\n"
	"  create POOL PATH [--size SIZE] [--cluster-size SIZE] [--reactor N]\n"
	"  list\n"
	"  info POOL\n"
	"  delete POOL [--force]\n"
	"  check PATH              offline check of a pool no daemon has open (exit 0: clean)\n"
	"\noptions:\n"
	"  -S, --socket PATH       fabriqd's socket (default " CLI_RPC_SOCKET ")\n"
	"  -j, --json              print the result as JSON\n"
	"  -h, --help              this text\n";

int cmd_pool(int argc, char **argv)
{
	struct opts o = {.reactor = -1};
	const char *verb;
	json_object *p;
	char **pos;
	int n, rc;

	if (argc < 2 || argv[1][0] == '-') {
		bool help = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));

		fputs(pool_usage, help ? stdout : stderr);
		return help ? EXIT_OK : EXIT_USAGE;
	}
	verb = argv[1];
	rc = parse_opts(argc - 1, argv + 1, &o, pool_usage);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	pos = argv + 1 + optind;
	n = argc - 1 - optind;
	if (!strcmp(verb, "check") && n == 1)
		return cli_pool_check(pos[0], o.json);
	p = json_object_new_object();
	if (!strcmp(verb, "create") && n == 2) {
		json_object_object_add(p, "name", json_object_new_string(pos[0]));
		json_object_object_add(p, "path", json_object_new_string(pos[1]));
		if (o.has_size)
			json_object_object_add(p, "size", json_object_new_int64((int64_t)o.size));
		if (o.cluster_size)
			json_object_object_add(p, "cluster_size",
					       json_object_new_int64((int64_t)o.cluster_size));
		if (o.reactor >= 0)
			json_object_object_add(p, "reactor", json_object_new_int64(o.reactor));
		return call("pool", verb, &o, "pool_create", p);
	}
	if (!strcmp(verb, "list") && n == 0)
		return call("pool", verb, &o, "pool_list", p);
	if ((!strcmp(verb, "info") || !strcmp(verb, "delete")) && n == 1) {
		json_object_object_add(p, "name", json_object_new_string(pos[0]));
		if (o.force)
			json_object_object_add(p, "force", json_object_new_boolean(1));
		return call("pool", verb, &o, !strcmp(verb, "info") ? "pool_info" : "pool_delete",
			    p);
	}
	json_object_put(p);
	fprintf(stderr, "fabriq pool: bad verb or arguments\n%s", pool_usage);
	return EXIT_USAGE;
}

static const char vol_usage[] =
	"usage: fabriq volume VERB [ARGS] [-S PATH] [--json]\n\n"
	"Volumes of a running fabriqd's pools (docs/volumes.md); each is exported as\n"
	"subsystem nqn.2026-01.io.fabriq:vol:POOL:NAME, namespace 1.\n\nverbs:\n"
	"  create POOL/NAME SIZE [--thick]\n"
	"  list [POOL]\n"
	"  info POOL/NAME\n"
	"  resize POOL/NAME SIZE [--allow-shrink]\n"
	"  rename POOL/NAME NEWNAME\n"
	"  delete POOL/NAME       (or POOL/NAME@SNAP)\n"
	"  snapshot POOL/NAME@SNAP\n"
	"  clone POOL/NAME@SNAP POOL/NEW\n"
	"  rollback POOL/NAME@SNAP\n"
	"  flatten POOL/NAME\n"
	"  throttle POOL/NAME read_iops=N,write_iops=N,read_bps=N,write_bps=N[,burst_ms=N]\n"
	"                         rate limits, any subset (the others keep their values),\n"
	"                         0 = no limit; bps take K/M/G; kept in the pool\n"
	"  suspend POOL/NAME      hold new I/O (up to 1024 commands; not kept across a restart)\n"
	"  resume POOL/NAME [--mode normal|error|discard]\n"
	"                         release held I/O: carry on (default), fail it, or complete\n"
	"                         it without doing it (reads return zeroes)\n"
	"\nSIZE: bytes, or with a K, M, G or T suffix.\n"
	"\noptions:\n"
	"  -S, --socket PATH       fabriqd's socket (default " CLI_RPC_SOCKET ")\n"
	"  -j, --json              print the result as JSON\n"
	"      --mode MODE         resume: normal, error or discard\n"
	"  -h, --help              this text\n";

int cmd_volume(int argc, char **argv)
{
	struct opts o = {0};
	const char *verb, *method = NULL;
	json_object *p;
	uint64_t size;
	char **pos;
	int n, rc, bad = 0;

	if (argc < 2 || argv[1][0] == '-') {
		bool help = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));

		fputs(vol_usage, help ? stdout : stderr);
		return help ? EXIT_OK : EXIT_USAGE;
	}
	verb = argv[1];
	rc = parse_opts(argc - 1, argv + 1, &o, vol_usage);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	pos = argv + 1 + optind;
	n = argc - 1 - optind;
	p = json_object_new_object();
	if ((!strcmp(verb, "create") || !strcmp(verb, "resize")) && n == 2) {
		method = !strcmp(verb, "create") ? "volume_create" : "volume_resize";
		bad = split(pos[0], p, "name", true) || size_arg(pos[1], &size);
		if (!bad)
			json_object_object_add(p, "size", json_object_new_int64((int64_t)size));
		if (o.thick)
			json_object_object_add(p, "thick", json_object_new_boolean(1));
		if (o.allow_shrink)
			json_object_object_add(p, "allow_shrink", json_object_new_boolean(1));
	} else if (!strcmp(verb, "list") && n <= 1) {
		method = "volume_list";
		if (n)
			json_object_object_add(p, "pool", json_object_new_string(pos[0]));
	} else if (n == 1 && (!strcmp(verb, "info") || !strcmp(verb, "delete") ||
			      !strcmp(verb, "snapshot") || !strcmp(verb, "flatten"))) {
		method = !strcmp(verb, "info")	     ? "volume_info"
			 : !strcmp(verb, "delete")   ? "volume_delete"
			 : !strcmp(verb, "snapshot") ? "volume_snapshot"
						     : "volume_flatten";
		bad = split(pos[0], p, "name", true);
	} else if (!strcmp(verb, "rollback") && n == 1) {
		method = "volume_rollback";
		bad = split(pos[0], p, "snapshot", true);
	} else if (!strcmp(verb, "rename") && n == 2) {
		const char *slash = strchr(pos[1], '/');

		method = "volume_rename";
		bad = split(pos[0], p, "name", true);
		/* NEWNAME or POOL/NEWNAME: a volume stays in its pool. */
		json_object_object_add(p, "new_name",
				       json_object_new_string(slash ? slash + 1 : pos[1]));
	} else if (!strcmp(verb, "clone") && n == 2) {
		method = "volume_clone";
		bad = split(pos[0], p, "snapshot", true) || split(pos[1], p, "name", false);
	} else if (!strcmp(verb, "throttle") && n == 2) {
		method = "volume_throttle";
		bad = split(pos[0], p, "name", true) || throttle_args(pos[1], p);
	} else if ((!strcmp(verb, "suspend") || !strcmp(verb, "resume")) && n == 1) {
		method = !strcmp(verb, "suspend") ? "volume_suspend" : "volume_resume";
		bad = split(pos[0], p, "name", true);
		if (o.mode && !strcmp(verb, "resume"))
			json_object_object_add(p, "mode", json_object_new_string(o.mode));
	}
	if (!method || bad) {
		json_object_put(p);
		if (!method)
			fprintf(stderr, "fabriq volume: bad verb or arguments\n%s", vol_usage);
		return EXIT_USAGE;
	}
	return call("volume", verb, &o, method, p);
}
