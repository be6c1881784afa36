/* SPDX-License-Identifier: MIT */
/*
 * fabriq bdev: the bdev stacks of a running fabriqd through its management
 * socket (docs/rpc.md), the object first:
 *
 *   fabriq bdev list [NQN]
 *   fabriq bdev create NAME BDEV-SPEC        fabriq bdev delete NAME
 *   fabriq bdev set NQN NSID MODULE KEY=VAL[,KEY=VAL...] [--index N]
 *   fabriq bdev qos-suspend NQN NSID [--index N]
 *   fabriq bdev qos-resume NQN NSID [--index N] [--mode normal|error|discard]
 *
 * Text by default, the method's result as JSON with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rpc_client.h"

struct verb {
	const char *name;
	const char *method;
	int nargs; /* positional arguments after the verb; -1: list's optional NQN */
	const char *usage;
};

static const struct verb verbs[] = {
	{"list", "bdev_list", -1, "list [NQN]"},
	{"create", "bdev_create", 2, "create NAME BDEV-SPEC"},
	{"delete", "bdev_delete", 1, "delete NAME"},
	{"set", "bdev_set_params", 4, "set NQN NSID MODULE KEY=VAL[,KEY=VAL...] [--index N]"},
	{"qos-suspend", "bdev_qos_suspend", 2, "qos-suspend NQN NSID [--index N]"},
	{"qos-resume", "bdev_qos_resume", 2,
	 "qos-resume NQN NSID [--index N] [--mode normal|error|discard]"},
	{NULL, NULL, 0, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: fabriq bdev VERB [ARGS] [-S PATH] [--json]\n\n"
		   "The bdev stacks of a running fabriqd: named bdevs and the run-time\n"
		   "parameters of stacked layers (docs/rpc.md).\n\nverbs:\n");
	for (const struct verb *v = verbs; v->name; v++)
		fprintf(f, "  %s\n", v->usage);
	fprintf(f,
		"\noptions:\n"
		"  -S, --socket PATH       fabriqd's socket (default " CLI_RPC_SOCKET ")\n"
		"  -j, --json              print the result as JSON\n"
		"      --index N           set, qos-*: the N-th layer of that module (default 0, "
		"the top-most)\n"
		"      --mode M            qos-resume: normal, error or discard (default normal)\n"
		"  -h, --help              this text\n");
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "";
}

static int64_t num(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_int64(v) : 0;
}

static void print_list(json_object *res)
{
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		json_object *b = json_object_array_get_idx(res, i), *stack;
		unsigned long long mib =
			(unsigned long long)num(b, "num_blocks") * (uint64_t)num(b, "block_size") >>
			20;

		if (num(b, "named")) {
			printf("bdev %s: %s, %llu MiB, ", str(b, "name"), str(b, "spec"), mib);
			if (num(b, "nsid"))
				printf("namespace %lld of %s\n", (long long)num(b, "nsid"),
				       str(b, "nqn"));
			else
				printf("not used\n");
			continue;
		}
		printf("%s namespace %lld: %llu MiB\n", str(b, "nqn"), (long long)num(b, "nsid"),
		       mib);
		if (!json_object_object_get_ex(b, "stack", &stack))
			continue;
		for (size_t l = 0; l < json_object_array_length(stack); l++) {
			json_object *layer = json_object_array_get_idx(stack, l);

			printf("  %s%s%s\n", str(layer, "module"),
			       str(layer, "params")[0] ? " " : "", str(layer, "params"));
		}
	}
}

/* "read_us=5,write_us=0" as {"read_us": "5", "write_us": "0"}; NULL if malformed. */
static json_object *kv_object(const char *kv)
{
	json_object *o = json_object_new_object();
	char *copy = strdup(kv), *save = NULL;

	if (!copy) {
		json_object_put(o);
		return NULL;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq == tok) {
			json_object_put(o);
			free(copy);
			return NULL;
		}
		*eq = '\0';
		json_object_object_add(o, tok, json_object_new_string(eq + 1));
	}
	free(copy);
	return o;
}

static int parse_nsid(const char *s, int64_t *nsid)
{
	char *end;

	errno = 0;
	*nsid = strtoll(s, &end, 0);
	return errno || *end || *nsid < 1 || *nsid > 0xfffffffe ? -EINVAL : 0;
}

/* The positional arguments into @params, as @v's method names them. */
static int positional(const struct verb *v, char **a, int n, json_object *params)
{
	int64_t nsid;

	if (!strcmp(v->name, "list")) {
		if (n)
			json_object_object_add(params, "nqn", json_object_new_string(a[0]));
		return 0;
	}
	if (!strcmp(v->name, "create") || !strcmp(v->name, "delete")) {
		json_object_object_add(params, "name", json_object_new_string(a[0]));
		if (n > 1)
			json_object_object_add(params, "bdev", json_object_new_string(a[1]));
		return 0;
	}
	if (parse_nsid(a[1], &nsid)) {
		fprintf(stderr, "fabriq bdev: bad NSID '%s'\n", a[1]);
		return -EINVAL;
	}
	json_object_object_add(params, "nqn", json_object_new_string(a[0]));
	json_object_object_add(params, "nsid", json_object_new_int64(nsid));
	if (!strcmp(v->name, "set")) {
		json_object *kv = kv_object(a[3]);

		if (!kv) {
			fprintf(stderr, "fabriq bdev: '%s' is not KEY=VAL[,KEY=VAL...]\n", a[3]);
			return -EINVAL;
		}
		json_object_object_add(params, "module", json_object_new_string(a[2]));
		json_object_object_add(params, "params", kv);
	}
	return 0;
}

int cmd_bdev(int argc, char **argv)
{
	enum { OPT_INDEX = 0x100, OPT_MODE };
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"index", required_argument, NULL, OPT_INDEX},
		{"mode", required_argument, NULL, OPT_MODE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *mode = NULL;
	const struct verb *v = NULL;
	json_object *params, *res;
	bool json = false, bad;
	long index = -1;
	char err[1024], *end;
	int c, rc, npos;

	if (argc >= 2)
		for (v = verbs; v->name && strcmp(v->name, argv[1]); v++)
			;
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !v->name) {
		bad = argc < 2 || (v && !v->name && argv[1][0] != '-');
		if (argc >= 2 && bad)
			fprintf(stderr, "fabriq bdev: unknown verb '%s'\n", argv[1]);
		usage(bad ? stderr : stdout);
		return bad ? EXIT_USAGE : EXIT_OK;
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "S:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'j':
			json = true;
			break;
		case OPT_INDEX:
			errno = 0;
			index = strtol(optarg, &end, 0);
			if (errno || *end || index < 0 || index > 3) {
				fprintf(stderr, "fabriq bdev: --index: bad value '%s' (0..3)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_MODE:
			mode = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	npos = argc - optind;
	if ((v->nargs >= 0 && npos != v->nargs) || (v->nargs < 0 && npos > 1) ||
	    (index >= 0 && strcmp(v->name, "set") && strncmp(v->name, "qos-", 4)) ||
	    (mode && strcmp(v->name, "qos-resume"))) {
		fprintf(stderr, "usage: fabriq bdev %s\n", v->usage);
		return EXIT_USAGE;
	}
	params = json_object_new_object();
	if (positional(v, argv + optind, npos, params)) {
		json_object_put(params);
		return EXIT_USAGE;
	}
	if (index >= 0)
		json_object_object_add(params, "index", json_object_new_int64(index));
	if (mode)
		json_object_object_add(params, "mode", json_object_new_string(mode));
	rc = cli_rpc_call(sock, v->method, params, &res, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriq bdev %s: %s\n", v->name, err);
		return rc;
	}
	if (json)
		cli_print_json(res);
	else if (!strcmp(v->name, "list"))
		print_list(res);
	else
		printf("%s: done\n", v->name);
	if (!json)
		json_object_put(res);
	return EXIT_OK;
}
