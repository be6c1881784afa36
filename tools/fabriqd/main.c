/* SPDX-License-Identifier: MIT */
/*
 * fabriqd: the Fabriq NVMe/TCP target daemon.
 *
 *   fabriqd                       serve the default namespaces (see --help)
 *   fabriqd -c FILE               serve what an INI file describes
 *   fabriqd --listen A:P --nqn N --ns SPEC ...   quick start, one subsystem
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fq_version.h"
#include "target/config.h"
#include "target/tgt.h"
#include "util/log.h"

#define DEFAULT_NQN "nqn.2026-11.io.fabriq:default"
#define DEFAULT_FILE_DIR "/var/tmp/fabriq"
#define DEFAULT_FILE DEFAULT_FILE_DIR "/default-ns2.img"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: fabriqd [OPTIONS]\n"
		"\n"
		"Fabriq NVMe/TCP target. With no options it serves subsystem\n"
		"  " DEFAULT_NQN "\n"
		"with a 1 GiB RAM namespace (nsid 1) and a 1 GiB file namespace (nsid "
		"2, " DEFAULT_FILE ")\n"
		"on 127.0.0.1:4420, and the discovery service on 127.0.0.1:8009.\n"
		"\n"
		"  -c, --config FILE        load an INI configuration (docs/configuration.md)\n"
		"Quick start (one subsystem, no file):\n"
		"  -l, --listen ADDR:PORT   I/O port (default 127.0.0.1:4420)\n"
		"  -d, --discovery-port P   also serve discovery alone on ADDR:P (default 8009 "
		"with\n"
		"                           no options, none otherwise; 0 disables)\n"
		"  -n, --nqn NQN            subsystem NQN (default " DEFAULT_NQN ")\n"
		"      --ns SPEC            namespace, repeatable: ram:SIZE, null:SIZE,\n"
		"                           file:PATH[:SIZE]; options after commas: bs=512|4096,\n"
		"                           direct=1, nsid=N, uuid=U, nguid=G  (e.g. "
		"ram:256M,bs=4096)\n"
		"                           stack modules in front, each ending in '+':\n"
		"                           delay:read_us=200,write_us=500+ram:64M\n"
		"                           error:op=read,lba=8-15,sct=2,sc=0x81+file:/x.img\n"
		"      --allow-host NQN     allow only these hosts (repeatable; default: any "
		"host)\n"
		"  -r, --reactors N         reactor threads (default: half the CPUs, 1 on up to "
		"2)\n"
		"      --busy-poll-us N     spin N us before sleeping when idle (default 0)\n"
		"      --log-level L        error|warn|info|debug (default info)\n"
		"  -h, --help               this text\n"
		"  -V, --version            print the version\n"
		"\n"
		"SIGINT/SIGTERM stop accepting, finish in-flight commands, flush file\n"
		"namespaces and exit 0. SIGHUP re-reads -c FILE and applies namespace\n"
		"additions and removals (hosts are told through an async event).\n"
		"\n"
		"A load generator on the same machine needs CPUs of its own: pin the two\n"
		"apart, e.g. 'taskset -c 0 fabriqd --reactors 1 ...' and\n"
		"'fabriq perf -c 1, ...' (docs/performance.md).\n");
}

struct cli {
	const char *config;
	const char *listen;
	const char *nqn;
	long disc_port; /* -1 = default */
	const char *ns[FQ_CONF_MAX_NS];
	int nns;
	const char *hosts[FQ_CONF_MAX_HOSTS];
	int nhosts;
	long reactors;
	long busy_poll_us;
	const char *log_level;
	bool quick;
};

static int parse_level(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'l'},
		{"discovery-port", required_argument, NULL, 'd'},
		{"nqn", required_argument, NULL, 'n'},
		{"ns", required_argument, NULL, 'N'},
		{"allow-host", required_argument, NULL, 'H'},
		{"reactors", required_argument, NULL, 'r'},
		{"busy-poll-us", required_argument, NULL, 'B'},
		{"log-level", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	cli->disc_port = -1;
	cli->reactors = -1;
	cli->busy_poll_us = -1;
	while ((c = getopt_long(argc, argv, "c:l:d:n:r:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli->config = optarg;
			break;
		case 'l':
			cli->listen = optarg;
			cli->quick = true;
			break;
		case 'd':
			if (parse_long(optarg, 0, 65535, &cli->disc_port)) {
				fprintf(stderr, "fabriqd: --discovery-port: bad port '%s'\n",
					optarg);
				return 2;
			}
			cli->quick = true;
			break;
		case 'n':
			cli->nqn = optarg;
			cli->quick = true;
			break;
		case 'N':
			if (cli->nns == FQ_CONF_MAX_NS) {
				fprintf(stderr, "fabriqd: too many --ns (max %d)\n",
					FQ_CONF_MAX_NS);
				return 2;
			}
			cli->ns[cli->nns++] = optarg;
			cli->quick = true;
			break;
		case 'H':
			if (cli->nhosts == FQ_CONF_MAX_HOSTS) {
				fprintf(stderr, "fabriqd: too many --allow-host\n");
				return 2;
			}
			cli->hosts[cli->nhosts++] = optarg;
			cli->quick = true;
			break;
		case 'r':
			if (parse_long(optarg, 1, 1024, &cli->reactors)) {
				fprintf(stderr, "fabriqd: --reactors: expected 1..1024, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'B':
			if (parse_long(optarg, 0, 10000000, &cli->busy_poll_us)) {
				fprintf(stderr, "fabriqd: --busy-poll-us: bad value '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'L':
			if (parse_level(optarg) < 0) {
				fprintf(stderr,
					"fabriqd: --log-level: expected error|warn|info|debug\n");
				return 2;
			}
			cli->log_level = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			fq_print_version("fabriqd");
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fabriqd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cli->config && cli->quick) {
		fprintf(stderr,
			"fabriqd: use either -c FILE or the quick-start options, not both\n");
		return 2;
	}
	return 0;
}

static int add_port(struct fq_target_conf *conf, const char *name, const char *addr, uint16_t port,
		    bool disc_only)
{
	struct fq_port_conf *p = &conf->ports[conf->nports++];

	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->port = port;
	p->discovery_only = disc_only;
	return 0;
}

/* The quick-start options (or no options at all) make a one-subsystem config. */
static int build_quick(struct fq_target_conf *conf, struct cli *cli, bool defaults, char *err,
		       size_t errlen)
{
	char addr[64];
	uint16_t port;
	struct fq_subsys_conf *s;
	int rc;

	rc = fq_conf_parse_listen(cli->listen ? cli->listen : "127.0.0.1:4420", addr, sizeof(addr),
				  &port);
	if (rc) {
		snprintf(err, errlen, "--listen: bad address '%s' (expected ADDR:PORT)",
			 cli->listen);
		return rc;
	}
	add_port(conf, "io", addr, port, false);
	if (cli->disc_port > 0 || (defaults && cli->disc_port < 0))
		add_port(conf, "discovery", addr,
			 cli->disc_port > 0 ? (uint16_t)cli->disc_port : 8009, true);
	s = fq_conf_add_subsys(conf, cli->nqn ? cli->nqn : DEFAULT_NQN);
	if (!s)
		return -ENOMEM;
	if (defaults) {
		cli->ns[cli->nns++] = "ram:1G";
		cli->ns[cli->nns++] = "file:" DEFAULT_FILE ":1G";
		mkdir(DEFAULT_FILE_DIR, 0700);
	}
	for (int i = 0; i < cli->nns; i++) {
		rc = fq_conf_parse_ns(cli->ns[i], &s->ns[s->nns], err, errlen);
		if (rc)
			return rc;
		s->nns++;
	}
	if (cli->nns == 0) {
		snprintf(err, errlen, "no namespace: give at least one --ns SPEC");
		return -EINVAL;
	}
	for (int i = 0; i < cli->nhosts; i++)
		snprintf(s->hosts[s->nhosts++], FQ_CONF_NQN_LEN, "%s", cli->hosts[i]);
	s->allow_any_host = cli->nhosts == 0;
	return 0;
}

static void print_banner(const struct fq_target_conf *conf, const struct fq_tgt *t)
{
	const struct fq_port_conf *io = NULL, *disc = NULL;

	for (int i = 0; i < conf->nports; i++) {
		if (conf->ports[i].discovery_only && !disc)
			disc = &conf->ports[i];
		else if (!conf->ports[i].discovery_only && !io)
			io = &conf->ports[i];
	}
	fq_info("fabriqd 0.1.0 ready: %d reactor(s), %d subsystem(s)", t->nreactors, t->nsubsys);
	for (int i = 0; i < t->nsubsys; i++) {
		const struct fq_subsys *s = t->subsys[i];

		fq_info("subsystem %s (%s)", s->nqn, s->allow_any_host ? "any host" : "allow-list");
		const struct fq_tgt_ns_table *tab = fq_subsys_ns(s);

		for (uint32_t n = 0; n < tab->n; n++) {
			const struct fq_bdev *b = tab->ns[n]->bdev;

			fq_info("  namespace %u: %s, %llu blocks of %u bytes (%llu MiB)",
				tab->ns[n]->nsid, b->name, (unsigned long long)b->num_blocks,
				b->block_size,
				(unsigned long long)(b->num_blocks * b->block_size >> 20));
		}
	}
	for (int i = 0; i < conf->nports; i++)
		fq_info("listening on %s:%u (%s)", conf->ports[i].addr, conf->ports[i].port,
			conf->ports[i].discovery_only ? "discovery" : "I/O and discovery");
	if (!io || t->nsubsys == 0)
		return;
	printf("\nConnect with the Linux kernel host (nvme-cli, as root):\n"
	       "  modprobe nvme-tcp\n"
	       "  nvme discover -t tcp -a %s -s %u\n"
	       "  nvme connect  -t tcp -a %s -s %u -n %s\n"
	       "  nvme list            # then use /dev/nvmeXnY; nvme disconnect -n %s\n"
	       "Or with fabriq:\n"
	       "  fabriq discover -a %s -s %u\n"
	       "  fabriq list     -a %s -s %u -n %s\n"
	       "Stop with Ctrl-C.\n\n",
	       disc ? disc->addr : io->addr, disc ? disc->port : io->port, io->addr, io->port,
	       t->subsys[0]->nqn, t->subsys[0]->nqn, disc ? disc->addr : io->addr,
	       disc ? disc->port : io->port, io->addr, io->port, t->subsys[0]->nqn);
	fflush(stdout);
}

/* SIGHUP: re-read the configuration file and apply namespace changes. */
static void reload(struct fq_tgt *t, const char *path)
{
	struct fq_target_conf *nc;
	char err[512] = "";
	int rc;

	if (!path) {
		fq_warn("SIGHUP: nothing to reload (no -c FILE)");
		return;
	}
	nc = calloc(1, sizeof(*nc));
	if (!nc)
		return;
	fq_conf_init(nc);
	rc = fq_conf_load_file(nc, path, err, sizeof(err));
	if (!rc)
		rc = fq_conf_validate(nc, err, sizeof(err));
	if (!rc)
		rc = fq_tgt_reload(t, nc, err, sizeof(err));
	if (rc)
		fq_err("SIGHUP: reload of %s failed, configuration unchanged: %s", path, err);
	/* Namespaces keep their own copy of what they were made from. */
	fq_conf_free(nc);
	free(nc);
}

int main(int argc, char **argv)
{
	struct fq_target_conf conf;
	struct cli cli = {0};
	struct fq_tgt *t = NULL;
	char err[512] = "";
	sigset_t set;
	int rc, sig;

	rc = parse_args(argc, argv, &cli);
	if (rc)
		return rc;
	fq_conf_init(&conf);
	if (cli.config)
		rc = fq_conf_load_file(&conf, cli.config, err, sizeof(err));
	else
		rc = build_quick(&conf, &cli, !cli.quick, err, sizeof(err));
	if (cli.reactors > 0)
		conf.reactors = (int)cli.reactors;
	if (cli.busy_poll_us >= 0)
		conf.busy_poll_us = (uint32_t)cli.busy_poll_us;
	if (cli.log_level)
		conf.log_level = parse_level(cli.log_level);
	if (!rc)
		rc = fq_conf_validate(&conf, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriqd: %s\n", err[0] ? err : strerror(-rc));
		fq_conf_free(&conf);
		return 1;
	}
	fq_log_set_level(conf.log_level);
	/* Signals go to this thread only; reactors never see them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = fq_tgt_create(&conf, &t, err, sizeof(err));
	if (!rc)
		rc = fq_tgt_run(t);
	if (rc) {
		fprintf(stderr, "fabriqd: %s\n", err[0] ? err : strerror(-rc));
		fq_tgt_stop(t);
		fq_tgt_destroy(t);
		fq_conf_free(&conf);
		return 1;
	}
	print_banner(&conf, t);
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		reload(t, cli.config);
	fq_info("%s received: stopping (finishing in-flight commands)",
		sig == SIGINT ? "SIGINT" : "SIGTERM");
	fq_tgt_stop(t);
	fq_tgt_destroy(t);
	fq_conf_free(&conf);
	fq_info("stopped");
	return 0;
}
