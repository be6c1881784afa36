/* SPDX-License-Identifier: MIT */
/*
 * fabriq subsystem: manage the subsystems of a running fabriqd through its
 * management socket (docs/rpc.md), the object first:
 *
 *   fabriq subsystem list [NQN]
 *   fabriq subsystem create NQN [--serial S] [--model M] [--allow-list]
 *   fabriq subsystem delete NQN
 *   fabriq subsystem add-host NQN HOSTNQN     remove-host NQN HOSTNQN
 *   fabriq subsystem add-ns NQN BDEV-SPEC [--nsid N]
 *   fabriq subsystem remove-ns NQN NSID
 *   fabriq subsystem add-listener NQN ADDR:PORT
 *   fabriq subsystem remove-listener NQN ADDR:PORT
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
	int nargs;	     /* positional arguments after the verb */
	const char *argv[2]; /* their parameter names */
	const char *usage;
};

static const struct verb verbs[] = {
	{"list", "subsystem_list", -1, {"nqn"}, "list [NQN]"},
	{"create",
	 "subsystem_create",
	 1,
	 {"nqn"},
	 "create NQN [--serial S] [--model M] [--allow-list]"},
	{"delete", "subsystem_delete", 1, {"nqn"}, "delete NQN"},
	{"add-host", "subsystem_add_host", 2, {"nqn", "host"}, "add-host NQN HOSTNQN"},
	{"remove-host", "subsystem_remove_host", 2, {"nqn", "host"}, "remove-host NQN HOSTNQN"},
	{"add-ns", "ns_add", 2, {"nqn", "bdev"}, "add-ns NQN BDEV-SPEC [--nsid N]"},
	{"remove-ns", "ns_remove", 2, {"nqn", "nsid"}, "remove-ns NQN NSID"},
	{"add-listener", "listener_add", 2, {"nqn", "address"}, "add-listener NQN ADDR:PORT"},
	{"remove-listener",
	 "listener_remove",
	 2,
	 {"nqn", "address"},
	 "remove-listener NQN ADDR:PORT"},
	{NULL, NULL, 0, {NULL}, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: fabriq subsystem VERB [ARGS] [-S PATH] [--json]\n\n"
		   "Manage the subsystems of a running fabriqd (docs/rpc.md).\n\nverbs:\n");
	for (const struct verb *v = verbs; v->name; v++)
		fprintf(f, "  %s\n", v->usage);
	fprintf(f, "\noptions:\n"
		   "  -S, --socket PATH       fabriqd's socket (default " CLI_RPC_SOCKET ")\n"
		   "  -j, --json              print the result as JSON\n"
		   "      --nsid N            add-ns: the namespace ID (default: lowest free)\n"
		   "      --serial S, --model M  create: serial and model number\n"
		   "      --allow-list        create: only hosts added with add-host may connect\n"
		   "  -h, --help              this text\n");
}

static int get(json_object *o, const char *key, json_object **v)
{
	return json_object_object_get_ex(o, key, v) ? 1 : 0;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return get(o, key, &v) ? json_object_get_string(v) : "";
}

static int64_t num(json_object *o, const char *key)
{
	json_object *v;

	return get(o, key, &v) ? json_object_get_int64(v) : 0;
}

static void print_list(json_object *res)
{
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		json_object *s = json_object_array_get_idx(res, i), *a, *v;

		printf("%s\n  serial %s, model %s\n", str(s, "nqn"), str(s, "serial_number"),
		       str(s, "model_number"));
		get(s, "allow_any_host", &v);
		printf("  hosts:");
		if (json_object_get_boolean(v))
			printf(" any");
		get(s, "hosts", &a);
		for (size_t h = 0; h < json_object_array_length(a); h++)
			printf("%s %s", h || json_object_get_boolean(v) ? "," : "",
			       json_object_get_string(json_object_array_get_idx(a, h)));
		if (!json_object_get_boolean(v) && json_object_array_length(a) == 0)
			printf(" none");
		printf("\n  listeners:");
		get(s, "listeners", &a);
		for (size_t l = 0; l < json_object_array_length(a); l++)
			printf("%s %s", l ? "," : "",
			       json_object_get_string(json_object_array_get_idx(a, l)));
		printf("%s\n", json_object_array_length(a) ? "" : " none");
		get(s, "namespaces", &a);
		for (size_t n = 0; n < json_object_array_length(a); n++) {
			json_object *ns = json_object_array_get_idx(a, n);
			uint64_t bytes =
				(uint64_t)num(ns, "num_blocks") * (uint64_t)num(ns, "block_size");

			printf("  ns %lld: %s, %lld blocks of %lld bytes (%llu MiB)\n",
			       (long long)num(ns, "nsid"), str(ns, "bdev"),
			       (long long)num(ns, "num_blocks"), (long long)num(ns, "block_size"),
			       (unsigned long long)(bytes >> 20));
		}
	}
}

int cmd_subsystem(int argc, char **argv)
{
	enum { OPT_NSID = 0x100, OPT_SERIAL, OPT_MODEL, OPT_ALLOW_LIST };
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"nsid", required_argument, NULL, OPT_NSID},
		{"serial", required_argument, NULL, OPT_SERIAL},
		{"model", required_argument, NULL, OPT_MODEL},
		{"allow-list", no_argument, NULL, OPT_ALLOW_LIST},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *serial = NULL, *model = NULL;
	const struct verb *v = NULL;
	json_object *params, *res;
	bool json = false, allow_list = false;
	long nsid = 0;
	char err[1024], *end;
	int c, rc, npos;

	if (argc >= 2)
		for (v = verbs; v->name && strcmp(v->name, argv[1]); v++)
			;
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !v->name) {
		if (argc >= 2 && v && !v->name && argv[1][0] != '-')
			fprintf(stderr, "fabriq subsystem: unknown verb '%s'\n", argv[1]);
		usage(argc < 2 || (v && !v->name && argv[1][0] != '-') ? stderr : stdout);
		return argc < 2 || (v && !v->name && argv[1][0] != '-') ? EXIT_USAGE : EXIT_OK;
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
		case OPT_NSID:
			errno = 0;
			nsid = strtol(optarg, &end, 0);
			if (errno || *end || nsid < 1 || nsid > 0xfffffffe) {
				fprintf(stderr, "fabriq subsystem: --nsid: bad value '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_SERIAL:
			serial = optarg;
			break;
		case OPT_MODEL:
			model = optarg;
			break;
		case OPT_ALLOW_LIST:
			allow_list = true;
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
	if ((v->nargs >= 0 && npos != v->nargs) || (v->nargs < 0 && npos > 1)) {
		fprintf(stderr, "usage: fabriq subsystem %s\n", v->usage);
		return EXIT_USAGE;
	}
	params = json_object_new_object();
	for (int i = 0; i < npos; i++) {
		const char *a = argv[optind + i];

		if (!strcmp(v->argv[i], "nsid")) {
			errno = 0;
			nsid = strtol(a, &end, 0);
			if (errno || *end || nsid < 1 || nsid > 0xfffffffe) {
				fprintf(stderr, "fabriq subsystem: bad NSID '%s'\n", a);
				json_object_put(params);
				return EXIT_USAGE;
			}
			continue;
		}
		json_object_object_add(params, v->argv[i], json_object_new_string(a));
	}
	if (nsid)
		json_object_object_add(params, "nsid", json_object_new_int64(nsid));
	if (serial)
		json_object_object_add(params, "serial_number", json_object_new_string(serial));
	if (model)
		json_object_object_add(params, "model_number", json_object_new_string(model));
	if (allow_list)
		json_object_object_add(params, "allow_any_host", json_object_new_boolean(0));
	rc = cli_rpc_call(sock, v->method, params, &res, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriq subsystem %s: %s\n", v->name, err);
		return rc;
	}
	if (json) {
		cli_print_json(res);
		return EXIT_OK;
	}
	if (!strcmp(v->name, "list"))
		print_list(res);
	else if (!strcmp(v->name, "add-ns"))
		printf("namespace %lld added to %s\n", (long long)json_object_get_int64(res),
		       argv[optind]);
	else
		printf("%s: done\n", v->name);
	json_object_put(res);
	return EXIT_OK;
}
