/* SPDX-License-Identifier: MIT */
/*
 * fabriqd: the Fabriq NVMe/TCP target daemon, a command line over the
 * target API (include/fabriq/target.h).
 *
 *   fabriqd                       serve the default namespaces (see --help)
 *   fabriqd -c FILE               serve what an INI file describes
 *   fabriqd --listen A:P --nqn N --ns SPEC ...   quick start, one subsystem
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fabriq/target.h"
#include "fq_version.h"
#include "mgmt/metrics.h"
#include "mgmt/mgmt.h"
#include "mgmt/vol_methods.h"
#include "util/errf.h"
#include "util/log.h"
#include "volume/volume.h"

#define DEFAULT_NQN "nqn.2026-11.io.fabriq:default"
#define DEFAULT_FILE_DIR "/var/tmp/fabriq"
#define DEFAULT_FILE DEFAULT_FILE_DIR "/default-ns2.img"
/* The state file in --state-dir (docs/management.md). */
#define FQ_STATE_FILE "fabriqd.state.ini"
/* Held (flock) by the daemon that uses the state directory. */
#define FQ_STATE_LOCK "fabriqd.lock"

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
		"      --rpc-socket PATH    serve the management API (JSON-RPC, docs/rpc.md)\n"
		"                           on this Unix socket, mode 0600 (overrides the\n"
		"                           INI file's [rpc] socket)\n"
		"      --metrics-listen ADDR:PORT  serve GET /metrics (Prometheus text format)\n"
		"      --state-dir DIR      keep what the management API changes in\n"
		"                           DIR/" FQ_STATE_FILE " and restore it at start\n"
		"                           (overrides [rpc] state_dir; docs/management.md)\n"
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
	long disc_port;	 /* -1 = default */
	const char **ns; /* argc entries: every --ns fits */
	int nns;
	const char **hosts;
	int nhosts;
	long reactors;
	long busy_poll_us;
	const char *log_level;
	const char *rpc_socket;
	const char *state_dir;
	const char *metrics;
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
		{"rpc-socket", required_argument, NULL, 'R'},
		{"state-dir", required_argument, NULL, 'S'},
		{"metrics-listen", required_argument, NULL, 'M'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	cli->disc_port = -1;
	cli->reactors = -1;
	cli->busy_poll_us = -1;
	/* Room for the two default namespaces too. */
	cli->ns = calloc((size_t)argc + 2, sizeof(*cli->ns));
	cli->hosts = calloc((size_t)argc, sizeof(*cli->hosts));
	if (!cli->ns || !cli->hosts) {
		fprintf(stderr, "fabriqd: out of memory\n");
		return 1;
	}
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
			cli->ns[cli->nns++] = optarg;
			cli->quick = true;
			break;
		case 'H':
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
		case 'R':
			cli->rpc_socket = optarg;
			break;
		case 'M':
			cli->metrics = optarg;
			break;
		case 'S':
			if (!optarg[0]) {
				fprintf(stderr, "fabriqd: --state-dir: empty path\n");
				return 2;
			}
			cli->state_dir = optarg;
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

/* The quick-start options (or no options at all) make one subsystem. */
static int build_quick(struct fq_target *t, struct cli *cli, bool defaults, char *err,
		       size_t errlen)
{
	const char *listen = cli->listen ? cli->listen : "127.0.0.1:4420";
	const char *nqn = cli->nqn ? cli->nqn : DEFAULT_NQN;
	const char *colon = strrchr(listen, ':');
	char disc[128];
	int rc;

	rc = fq_target_add_port(t, "io", listen, false);
	if (rc) {
		snprintf(err, errlen, "--listen: bad address '%s' (expected ADDR:PORT)", listen);
		return rc;
	}
	/* Discovery alone on the same address, another port. */
	if (cli->disc_port > 0 || (defaults && cli->disc_port < 0)) {
		snprintf(disc, sizeof(disc), "%.*s:%ld", (int)(colon - listen), listen,
			 cli->disc_port > 0 ? cli->disc_port : 8009);
		rc = fq_target_add_port(t, "discovery", disc, true);
		if (rc)
			goto fail;
	}
	rc = fq_target_add_subsystem(t, nqn);
	if (rc)
		goto fail;
	if (defaults) {
		cli->ns[cli->nns++] = "ram:1G";
		cli->ns[cli->nns++] = "file:" DEFAULT_FILE ":1G";
		mkdir(DEFAULT_FILE_DIR, 0700);
	}
	for (int i = 0; i < cli->nns; i++) {
		rc = fq_target_add_ns(t, nqn, cli->ns[i]);
		if (rc)
			goto fail;
	}
	if (cli->nns == 0) {
		snprintf(err, errlen, "no namespace: give at least one --ns SPEC");
		return -EINVAL;
	}
	for (int i = 0; i < cli->nhosts; i++) {
		rc = fq_target_add_host(t, nqn, cli->hosts[i]);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s", fq_target_last_error(t));
	return rc;
}

static void print_banner(const struct fq_target *t)
{
	struct fq_target_port_info io = {0}, disc = {0}, p;
	struct fq_target_subsys_info s, first = {0};
	struct fq_target_ns_info ns;
	int nsubsys = 0;

	while (fq_target_get_subsystem(t, nsubsys, &s) == 0) {
		if (nsubsys == 0)
			first = s;
		nsubsys++;
	}
	fq_info("fabriqd 0.1.0 ready: %d reactor(s), %d subsystem(s)",
		fq_target_get_num_reactors(t), nsubsys);
	for (int i = 0; fq_target_get_subsystem(t, i, &s) == 0; i++) {
		fq_info("subsystem %s (%s)", s.nqn, s.allow_any_host ? "any host" : "allow-list");
		for (uint32_t n = 0; fq_target_get_ns(t, i, n, &ns) == 0; n++)
			fq_info("  namespace %u: %s, %llu blocks of %u bytes (%llu MiB)", ns.nsid,
				ns.name, (unsigned long long)ns.num_blocks, ns.block_size,
				(unsigned long long)(ns.num_blocks * ns.block_size >> 20));
	}
	for (int i = 0; fq_target_get_port(t, i, &p) == 0; i++) {
		fq_info("listening on %s:%u (%s)", p.addr, p.port,
			p.discovery_only ? "discovery" : "I/O and discovery");
		if (p.discovery_only && !disc.addr[0])
			disc = p;
		else if (!p.discovery_only && !io.addr[0])
			io = p;
	}
	if (!io.addr[0] || nsubsys == 0)
		return;
	if (!disc.addr[0])
		disc = io;
	printf("\nConnect with the Linux kernel host (nvme-cli, as root):\n"
	       "  modprobe nvme-tcp\n"
	       "  nvme discover -t tcp -a %s -s %u\n"
	       "  nvme connect  -t tcp -a %s -s %u -n %s\n"
	       "  nvme list            # then use /dev/nvmeXnY; nvme disconnect -n %s\n"
	       "Or with fabriq:\n"
	       "  fabriq discover -a %s -s %u\n"
	       "  fabriq list     -a %s -s %u -n %s\n"
	       "Stop with Ctrl-C.\n\n",
	       disc.addr, disc.port, io.addr, io.port, first.nqn, first.nqn, disc.addr, disc.port,
	       io.addr, io.port, first.nqn);
	fflush(stdout);
}

static int emit_pools(FILE *f, void *arg)
{
	(void)arg;
	return fq_pool_conf_emit(f);
}

/*
 * One daemon per state directory: two writing the same file would each
 * overwrite the other's changes, and the one started second would restore
 * a state the first is still changing. An exclusive flock() on DIR/fabriqd.lock,
 * held until exit (the descriptor is never closed; the kernel drops the lock
 * when the process dies, kill -9 included), so a stale lock file is no obstacle.
 * The holder writes its pid into the file for the refusal message.
 */
static int lock_state_dir(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX], pid[32] = "";
	ssize_t n;
	int fd, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, FQ_STATE_LOCK) >= sizeof(path)) {
		fq_errf(err, errlen, "state directory %s: path too long", dir);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		fq_errf(err, errlen, "state directory %s: %s: %s", dir, path, strerror(-rc));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		rc = -errno;
		if (rc == -EWOULDBLOCK) {
			n = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			fq_errf(err, errlen,
				"state directory %s is in use by another fabriqd (pid %s, lock "
				"%s); "
				"give each daemon a state directory of its own",
				dir, pid[0] ? pid : "unknown", path);
			rc = -EBUSY;
		} else {
			fq_errf(err, errlen, "state directory %s: locking %s: %s", dir, path,
				strerror(-rc));
		}
		close(fd);
		return rc;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
		fq_warn("%s: could not record the pid: %s", path, strerror(errno));
	return 0; /* fd stays open: the lock lasts as long as the process */
}

/*
 * The state directory: created if missing (mode 0700: the state names
 * hosts and files), locked, and its state merged into the configuration.
 */
static int open_state(struct fq_target *t, const char *dir, char *path, size_t len, char *err,
		      size_t errlen)
{
	int rc;

	if ((size_t)snprintf(path, len, "%s/%s", dir, FQ_STATE_FILE) >= len) {
		snprintf(err, errlen, "state directory %s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "state directory %s: %s", dir, strerror(-rc));
		return rc;
	}
	rc = lock_state_dir(dir, err, errlen);
	if (rc)
		return rc;
	rc = fq_target_load_state(t, path);
	if (rc)
		snprintf(err, errlen, "%s", fq_target_last_error(t));
	return rc;
}

/* SIGHUP: re-read the configuration file and apply namespace changes. */
static void reload(struct fq_target *t, struct fq_mgmt *mgmt, const char *path, const char *state)
{
	if (!path) {
		fq_warn("SIGHUP: nothing to reload (no -c FILE)");
		return;
	}
	fq_mgmt_lock(mgmt); /* one caller of the target API at a time */
	if (fq_target_reload_config(t)) {
		fq_err("SIGHUP: reload of %s failed, configuration unchanged: %s", path,
		       fq_target_last_error(t));
	} else {
		/* The volumes of pools the reload opened get their subsystems. */
		int n = fq_mgmt_export_volumes(t);

		if (n)
			fq_info("SIGHUP: %d volume(s) exported", n);
		if (state[0] && fq_target_save_state(t, state))
			fq_err("SIGHUP: the state was not saved: %s", fq_target_last_error(t));
	}
	fq_mgmt_unlock(mgmt);
}

int main(int argc, char **argv)
{
	struct fq_target_opts opts;
	struct fq_target *t = NULL;
	struct fq_mgmt *mgmt = NULL;
	struct fq_metrics *metrics = NULL;
	const char *sock = NULL, *dir;
	char state[PATH_MAX] = "";
	struct cli cli = {0};
	char err[512] = "";
	sigset_t set;
	int rc, sig;

	rc = parse_args(argc, argv, &cli);
	if (rc)
		return rc;
	fq_target_opts_init(&opts, sizeof(opts));
	if (cli.reactors > 0)
		opts.reactors = (int)cli.reactors;
	if (cli.busy_poll_us >= 0)
		opts.busy_poll_us = cli.busy_poll_us;
	if (cli.log_level)
		opts.log_level = parse_level(cli.log_level);
	rc = fq_target_create(&opts, &t);
	/* config_dump and the state file name the open pools too. */
	if (!rc)
		rc = fq_target_add_conf_emitter(t, emit_pools, NULL);
	if (!rc && cli.config) {
		rc = fq_target_load_config(t, cli.config);
		if (rc)
			snprintf(err, sizeof(err), "%s", fq_target_last_error(t));
	} else if (!rc) {
		rc = build_quick(t, &cli, !cli.quick, err, sizeof(err));
	}
	if (!rc) {
		/* After the file or the options: the state adds what the API changed. */
		dir = cli.state_dir ? cli.state_dir : fq_target_get_state_dir(t);
		if (dir[0])
			rc = open_state(t, dir, state, sizeof(state), err, sizeof(err));
	}
	if (!rc) {
		/* Signals go to this thread only; reactors never see them. */
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		signal(SIGPIPE, SIG_IGN);
		/*
		 * The socket first: a second daemon on the same socket stops
		 * before it binds any port, and a client that finds the socket
		 * waits in its backlog until the target serves.
		 */
		sock = cli.rpc_socket ? cli.rpc_socket : fq_target_get_rpc_socket(t);
		if (sock[0])
			rc = fq_mgmt_open(sock,
					  FQ_GIT_REV[0] ? FQ_VERSION " (git " FQ_GIT_REV ")"
							: FQ_VERSION,
					  &mgmt, err, sizeof(err));
	}
	/* Bound before start too: a port in use fails the start, not a scrape. */
	if (!rc && cli.metrics)
		rc = fq_metrics_open(cli.metrics, &metrics, err, sizeof(err));
	/* Hosts wait in the backlog until each volume has its subsystem. */
	if (!rc)
		rc = fq_target_hold_connections(t);
	if (!rc) {
		rc = fq_target_start(t);
		if (rc)
			snprintf(err, sizeof(err), "%s", fq_target_last_error(t));
	}
	if (!rc) {
		/* Each volume on a subsystem of its own, as the management API makes them. */
		int n = fq_mgmt_export_volumes(t);

		if (n)
			fq_info("%d volume(s) exported", n);
		rc = fq_target_accept_connections(t);
	}
	if (!rc && mgmt && state[0])
		fq_mgmt_set_state(mgmt, state);
	if (!rc && mgmt)
		rc = fq_mgmt_run(mgmt, t, err, sizeof(err));
	if (!rc && metrics)
		rc = fq_metrics_run(metrics, t, FQ_VERSION, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriqd: %s\n", err[0] ? err : strerror(-rc));
		fq_metrics_stop(metrics);
		fq_mgmt_stop(mgmt);
		fq_target_destroy(t);
		free(cli.ns);
		free(cli.hosts);
		return 1;
	}
	print_banner(t);
	if (mgmt)
		fq_info("management socket %s", sock);
	if (state[0])
		fq_info("state file %s", state);
	if (metrics)
		fq_info("metrics on http://%s/metrics", cli.metrics);
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		reload(t, mgmt, cli.config, state);
	fq_info("%s received: stopping (finishing in-flight commands)",
		sig == SIGINT ? "SIGINT" : "SIGTERM");
	/* No live change or getter may run while the target stops (target.h). */
	fq_metrics_stop(metrics);
	fq_mgmt_stop(mgmt);
	fq_target_destroy(t);
	free(cli.ns);
	free(cli.hosts);
	fq_info("stopped");
	return 0;
}
