/* SPDX-License-Identifier: MIT */
/*
 * fabriq: NVMe/TCP from the command line, on top of libfabriq.
 *   fabriq COMMAND [options]      fabriq help [COMMAND]
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "map.h"
#include "fq_version.h"
#include "perf.h"
#include "rpc_client.h"

#ifdef FQ_HAVE_STORAGE
int cmd_storage(int argc, char **argv);
#endif

#define CONN_USAGE                                                                                 \
	"  -t, --transport tcp     transport (only tcp)\n"                                         \
	"  -a, --traddr ADDR       target address (IPv4 or IPv6)\n"                                \
	"  -s, --trsvcid PORT      target port (default 4420, 8009 for discover)\n"                \
	"  -n, --nqn NQN           subsystem NQN\n"                                                \
	"  -q, --hostnqn NQN       host NQN (default: /etc/nvme/hostnqn or machine-derived)\n"     \
	"  -r, --trid TRID         transport ID string instead of -t/-a/-s/-n, e.g.\n"             \
	"                          \"trtype:TCP traddr:127.0.0.1 trsvcid:4420 subnqn:NQN\"\n"      \
	"  -g, --hdr-digest        request header digests\n"                                       \
	"  -G, --data-digest       request data digests\n"                                         \
	"      --connect-timeout MS  per connection step (default 10000)\n"                        \
	"  -o, --output-format F   normal or json;  --json is the same as -o json\n"               \
	"  -v, --verbose           log protocol steps to stderr (twice: debug)\n"

#define IO_USAGE                                                                                   \
	"      --nsid N            namespace ID (default: the first active namespace)\n"           \
	"      --offset BYTES      start offset in bytes, K/M/G suffixes (default 0)\n"            \
	"      --length BYTES      bytes to transfer, K/M/G suffixes\n"

const struct cli_cmd cli_cmds[] = {
	{"discover", cmd_discover, "read the discovery log page",
	 "      --referrals         follow referrals to other discovery controllers\n"},
	{"list", cmd_list, "list the namespaces of a subsystem (size, block size, IDs)", ""},
	{"id-ctrl", cmd_id_ctrl, "show the Identify Controller data",
	 "  -H, --human-readable    spell out the bits of each bit field\n"
	 "  -b, --raw-binary        write the 4096 raw bytes to stdout\n"},
	{"id-ns", cmd_id_ns, "show the Identify Namespace data",
	 "      --nsid N            namespace ID (default: the first active namespace)\n"
	 "  -H, --human-readable    spell out the bits of each bit field\n"
	 "  -b, --raw-binary        write the 4096 raw bytes to stdout\n"},
	{"read", cmd_read, "read a byte range of a namespace",
	 IO_USAGE
	 "      --output FILE       write the data to FILE ('-': stdout; default: hex dump)\n"
	 "      --pattern P         with --verify: expected data (see write)\n"
	 "      --verify            compare the data with --pattern\n"
	 "      --block-size BYTES  bytes per command (default 1M)\n"
	 "      --queue-depth N     commands in flight (default 8)\n"},
	{"write", cmd_write, "write a byte range of a namespace",
	 IO_USAGE
	 "      --input FILE        data to write ('-': stdin); --length defaults to its\n"
	 "                          size rounded up to whole blocks (zero-padded)\n"
	 "      --pattern P         data: 0xNN (byte), incr (offset-based), random[:SEED]\n"
	 "      --verify            read the range back and compare\n"
	 "      --fua               Force Unit Access\n"
	 "      --block-size BYTES  bytes per command (default 1M)\n"
	 "      --queue-depth N     commands in flight (default 8)\n"},
	{"flush", cmd_flush, "flush a namespace's volatile write cache",
	 "      --nsid N            namespace ID (default: the first active namespace)\n"},
	{"write-zeroes", cmd_write_zeroes, "zero a byte range",
	 IO_USAGE "      --deallocate        let the target deallocate the blocks (DEAC)\n"},
	{"trim", cmd_trim, "deallocate a byte range (Dataset Management)", IO_USAGE},
	{"copy", cmd_copy, "copy block ranges inside a namespace (Copy command)",
	 "      --nsid N            namespace ID (default: the first active namespace)\n"
	 "      --dest-lba N        first destination block\n"
	 "      --range SLBA:NLB    a source range in blocks (NLB 1..65536); repeat for\n"
	 "                          more (up to 256), copied one after another\n"
	 "      --fua               Force Unit Access\n"},
	{"get-log", cmd_get_log, "read a log page",
	 "      --log-id N          log page identifier (e.g. 2 = SMART, 0x70 = discovery)\n"
	 "      --log-len BYTES     bytes to read (default 512)\n"
	 "      --nsid N            namespace ID (default 0xffffffff)\n"
	 "  -b, --raw-binary        write the raw bytes to stdout\n"},
	{"smart-log", cmd_smart_log, "SMART / health information log, decoded",
	 "      --nsid N            namespace ID (default 0xffffffff: the controller)\n"},
	{"error-log", cmd_error_log, "error information log entries, decoded",
	 "      --count N           entries to show (default: all the controller keeps)\n"},
	{"fw-log", cmd_fw_log, "firmware slot information log, decoded", ""},
	{"ana-log", cmd_ana_log, "asymmetric namespace access log, decoded", ""},
	{"changed-ns-log", cmd_changed_ns_log, "changed namespace list log, decoded (clears it)",
	 ""},
	{"discovery-log", cmd_discovery_log,
	 "discovery log page of one discovery controller, decoded", ""},
	{"get-feature", cmd_get_feature, "read a feature value",
	 "      --feature-id N      feature identifier (e.g. 7 = Number of Queues)\n"
	 "      --sel N             0 current, 1 default, 2 saved, 3 capabilities\n"
	 "      --cdw11 N           command dword 11\n"
	 "      --nsid N            namespace ID (default 0)\n"},
	{"set-feature", cmd_set_feature, "set a feature value",
	 "      --feature-id N      feature identifier\n"
	 "      --value N           command dword 11\n"
	 "      --save              make the value persistent\n"
	 "      --nsid N            namespace ID (default 0)\n"},
	{"keep-alive", cmd_keep_alive, "send Keep Alive commands and report round trips",
	 "      --count N           commands to send (default 3)\n"
	 "      --interval MS       pause between them (default 1000)\n"},
	{"perf", NULL, "load generator (fabriq perf --help)", "", fq_cli_perf},
	{"map", NULL, "map a remote volume as a local block device (fabriq map --help)", "",
	 cmd_map},
	{"unmap", NULL, "unmap a mapped volume", "", cmd_unmap},
	{"remap", NULL, "wait until a mapped volume is served again, same device", "", cmd_remap},
	{"showmapped", NULL, "list mapped volumes", "", cmd_showmapped},
	{"mapall", NULL, "map every volume listed in a file", "", cmd_mapall},
	{"unmapall", NULL, "unmap every volume listed in a file", "", cmd_unmapall},
	{"map-serve", NULL, "(internal) serve one mapped volume", "", map_serve_main},
	{"rpc", NULL, "call a method of fabriqd's management socket (docs/rpc.md)", "", cmd_rpc},
	{"subsystem", NULL, "list and change a running fabriqd's subsystems (fabriq subsystem -h)",
	 "", cmd_subsystem},
	{"bdev", NULL,
	 "named bdevs and the run-time parameters of stacked layers of a running fabriqd (fabriq "
	 "bdev -h)",
	 "", cmd_bdev},
	{"referral", NULL, "list and change a running fabriqd's discovery referrals", "",
	 cmd_referral},
	{"pool", NULL, "create, list, delete and check volume pools (fabriq pool -h)", "",
	 cmd_pool},
	{"volume", NULL,
	 "create, resize, snapshot, clone, roll back and delete volumes (fabriq volume -h)", "",
	 cmd_volume},
	{"connections", NULL,
	 "list the hosts connected to a running fabriqd (NQN, address, queues)", "",
	 cmd_connections},
	{"stats", NULL, "per namespace IOPS, MiB/s and latency of a running fabriqd (--watch S)",
	 "", cmd_stats},
	{"config", NULL, "print a running fabriqd's configuration as an INI file (config save)", "",
	 cmd_config},
#ifdef FQ_HAVE_STORAGE
	{"storage", NULL, "run a workload through the storage interface", "", cmd_storage},
#endif
	{NULL, NULL, NULL, NULL, NULL},
};

const struct cli_cmd *cli_find(const char *name)
{
	for (const struct cli_cmd *c = cli_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void usage(void)
{
	printf("usage: fabriq COMMAND [options]\n       fabriq help [COMMAND]\n"
	       "       fabriq --version\n\ncommands:\n");
	for (const struct cli_cmd *c = cli_cmds; c->name; c++)
		if (strncmp(c->summary, "(internal)", 10))
			printf("  %-14s %s\n", c->name, c->summary);
	printf("\nexit status: 0 success, 1 NVMe error status, 2 usage, 3 connection failed,\n"
	       "4 verify mismatch, 5 local file error, 6 fabriqd refused a management call\n");
}

void cli_help(const struct cli_cmd *c)
{
	printf("usage: fabriq %s [connection options] [options]\n\n%s.\n\n", c->name, c->summary);
	if (c->usage[0])
		printf("options:\n%s\n", c->usage);
	printf("connection options:\n%s", CONN_USAGE);
}

int main(int argc, char **argv)
{
	const struct cli_cmd *c;
	struct cli cli;
	int rc;

	fq_log_set_level(FQ_LOG_ERROR);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage();
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") ||
	    !strcmp(argv[1], "version")) {
		fq_print_version("fabriq");
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage();
			return EXIT_OK;
		}
		c = cli_find(argv[2]);
		if (!c) {
			fprintf(stderr, "fabriq: unknown command '%s'\n", argv[2]);
			return EXIT_USAGE;
		}
		if (c->run_argv)
			return c->run_argv(2, (char *[]){(char *)c->name, (char *)"--help", NULL});
		cli_help(c);
		return EXIT_OK;
	}
	c = cli_find(argv[1]);
	if (!c) {
		fprintf(stderr, "fabriq: unknown command '%s' (try 'fabriq help')\n", argv[1]);
		return EXIT_USAGE;
	}
	if (c->run_argv)
		return c->run_argv(argc - 1, argv + 1);
	cli.cmd = c->name;
	rc = cli_parse(&cli, argc - 1, argv + 1);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	fq_log_set_level(cli.verbose >= 2 ? FQ_LOG_DEBUG
			 : cli.verbose	  ? FQ_LOG_INFO
					  : FQ_LOG_ERROR);
	return c->run(&cli);
}
