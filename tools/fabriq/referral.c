/* SPDX-License-Identifier: MIT */
/*
 * fabriq referral: the referrals to other discovery services that a
 * running fabriqd's discovery log lists (docs/rpc.md):
 *
 *   fabriq referral list
 *   fabriq referral add ADDR:PORT [NQN]
 *   fabriq referral remove ADDR:PORT
 *
 * Text by default, the method's result as JSON with --json.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rpc_client.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: fabriq referral VERB [ARGS] [-S PATH] [--json]\n\n"
		   "Referrals to other discovery services in a running fabriqd's\n"
		   "discovery log (docs/rpc.md).\n\nverbs:\n"
		   "  list\n"
		   "  add ADDR:PORT [NQN]     NQN: its discovery subsystem (default the well-known "
		   "one)\n"
		   "  remove ADDR:PORT\n"
		   "\noptions:\n"
		   "  -S, --socket PATH       fabriqd's socket (default " CLI_RPC_SOCKET ")\n"
		   "  -j, --json              print the result as JSON\n"
		   "  -h, --help              this text\n");
}

int cmd_referral(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const verbs[][2] = {
		{"list", "referral_list"}, {"add", "referral_add"}, {"remove", "referral_remove"}};
	const char *sock = NULL, *method = NULL, *verb;
	json_object *params, *res;
	bool json = false;
	char err[1024];
	int c, rc, npos;

	for (int i = 0; argc >= 2 && i < 3; i++)
		if (!strcmp(argv[1], verbs[i][0]))
			method = verbs[i][1];
	if (!method) {
		bool help = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));

		if (argc >= 2 && !help)
			fprintf(stderr, "fabriq referral: unknown verb '%s'\n", argv[1]);
		usage(help ? stdout : stderr);
		return help ? EXIT_OK : EXIT_USAGE;
	}
	verb = argv[1];
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
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	npos = argc - optind;
	if ((verb[0] == 'l' && npos) || (verb[0] == 'a' && (npos < 1 || npos > 2)) ||
	    (verb[0] == 'r' && npos != 1)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	params = json_object_new_object();
	if (npos)
		json_object_object_add(params, "address", json_object_new_string(argv[optind]));
	if (npos > 1)
		json_object_object_add(params, "nqn", json_object_new_string(argv[optind + 1]));
	rc = cli_rpc_call(sock, method, params, &res, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriq referral %s: %s\n", verb, err);
		return rc;
	}
	if (json) {
		cli_print_json(res);
		return EXIT_OK;
	}
	if (verb[0] == 'l') {
		for (size_t i = 0; i < json_object_array_length(res); i++) {
			json_object *r = json_object_array_get_idx(res, i), *a, *n;

			json_object_object_get_ex(r, "address", &a);
			json_object_object_get_ex(r, "nqn", &n);
			printf("%s %s\n", json_object_get_string(a), json_object_get_string(n));
		}
	} else {
		printf("%s: done\n", verb);
	}
	json_object_put(res);
	return EXIT_OK;
}
