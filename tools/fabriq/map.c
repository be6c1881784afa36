/* SPDX-License-Identifier: MIT */
/*
 * fabriq map / unmap / remap / showmapped / mapall / unmapall: a volume a
 * target exports, as a block device on this machine (docs/map.md).
 *
 * A volume POOL/VOLUME is the subsystem whose NQN ends in ":POOL:VOLUME"
 * (how fabriqd names a volume's own subsystem), namespace 1, found in the
 * discovery log of ADDR[:PORT]. The user mode serves it through FUSE as
 * one file, /run/fabriq/map/POOL/VOLUME, by a background process per
 * mapping (map_serve.c, log in VOLUME.log beside it), and attaches a loop
 * device with direct I/O to that file; /dev/fabriq/POOL/VOLUME links to the
 * loop device. What a mapping is lives in hidden files next to the served
 * file: .VOLUME.info (key=value), .VOLUME.pid, .VOLUME.state.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ini.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fabriq/nvme_spec.h>

#include "cli.h"
#include "map.h"
#include "map_ring.h"

#define RUN_DIR "/run/fabriq/map"
#define DEV_DIR "/dev/fabriq"
#define CONF_PATH "/etc/fabriq/fabriq.conf"
#define DISC_PORT "8009"
#define NAME_MAX_LEN 64

struct map_conf {
	char via[16];
	char fuse_ring[8]; /* user mode: FUSE over io_uring, auto, yes or no */
	char hostnqn[FQ_NQN_LEN + 1];
	char hostid[40];
	char port[8];
	unsigned io_timeout_s;
	unsigned ready_timeout_s;
	/* Kernel mode: connect options (0 = the kernel's default). */
	int keep_alive_tmo, ctrl_loss_tmo, reconnect_delay, nr_io_queues, queue_size;
	bool hdr_digest, data_digest;
};

struct mapping {
	char pool[NAME_MAX_LEN + 1], volume[NAME_MAX_LEN + 1];
	char file[MAP_PATH_MAX], info[MAP_PATH_MAX], pidf[MAP_PATH_MAX], state[MAP_PATH_MAX],
		log[MAP_PATH_MAX], link[MAP_PATH_MAX];
	/* From the info file. */
	char uri[MAP_PATH_MAX], subnqn[FQ_NQN_LEN + 1], trid[MAP_PATH_MAX], device[64], mode[16];
	pid_t pid;
	/* The discovery log entry allows SQ flow control off (TREQ bit 2): see map_serve.c. */
	bool no_sqflow;
};

static bool is_kernel(const struct mapping *m)
{
	return !strcmp(m->mode, "kernel");
}

static const char *run_dir(void)
{
	const char *d = getenv("FABRIQ_MAP_RUN_DIR");

	return d && d[0] ? d : RUN_DIR;
}

static const char *dev_dir(void)
{
	const char *d = getenv("FABRIQ_MAP_DEV_DIR");

	return d && d[0] ? d : DEV_DIR;
}

/* ---- configuration (/etc/fabriq/fabriq.conf, section [map]) ---- */

/* An integer connect option within [min, max] into *out; false (and a message) if it is not. */
static bool conf_int(const char *key, const char *val, int min, int max, int *out)
{
	char *end;
	long v = strtol(val, &end, 10);

	if (!val[0] || *end || v < min || v > max) {
		fprintf(stderr, "fabriq: config: [map] %s = '%s' is not a number in %d..%d\n", key,
			val, min, max);
		return false;
	}
	*out = (int)v;
	return true;
}

static bool conf_bool(const char *key, const char *val, bool *out)
{
	if (!strcasecmp(val, "yes") || !strcasecmp(val, "true") || !strcasecmp(val, "on") ||
	    !strcmp(val, "1"))
		*out = true;
	else if (!strcasecmp(val, "no") || !strcasecmp(val, "false") || !strcasecmp(val, "off") ||
		 !strcmp(val, "0"))
		*out = false;
	else {
		fprintf(stderr, "fabriq: config: [map] %s = '%s' is not yes or no\n", key, val);
		return false;
	}
	return true;
}

static int conf_kv(void *user, const char *section, const char *key, const char *val)
{
	struct map_conf *c = user;

	if (strcmp(section, "map"))
		return 1;
	if (!strcmp(key, "keep_alive_tmo"))
		return conf_int(key, val, 1, 3600, &c->keep_alive_tmo);
	/* -1: the kernel reconnects for ever. */
	if (!strcmp(key, "ctrl_loss_tmo"))
		return conf_int(key, val, -1, 31536000, &c->ctrl_loss_tmo);
	if (!strcmp(key, "reconnect_delay"))
		return conf_int(key, val, 1, 3600, &c->reconnect_delay);
	if (!strcmp(key, "nr_io_queues"))
		return conf_int(key, val, 1, 1024, &c->nr_io_queues);
	if (!strcmp(key, "queue_size"))
		return conf_int(key, val, 16, 1024, &c->queue_size);
	if (!strcmp(key, "hdr_digest"))
		return conf_bool(key, val, &c->hdr_digest);
	if (!strcmp(key, "data_digest"))
		return conf_bool(key, val, &c->data_digest);
	if (!strcmp(key, "hostid"))
		snprintf(c->hostid, sizeof(c->hostid), "%s", val);
	else if (!strcmp(key, "via"))
		snprintf(c->via, sizeof(c->via), "%s", val);
	else if (!strcmp(key, "fuse_ring")) {
		if (strcmp(val, "auto") && strcmp(val, "yes") && strcmp(val, "no")) {
			fprintf(stderr,
				"fabriq: config: fuse_ring takes auto, yes or no, not '%s'\n", val);
			return 0;
		}
		snprintf(c->fuse_ring, sizeof(c->fuse_ring), "%s", val);
	} else if (!strcmp(key, "hostnqn"))
		snprintf(c->hostnqn, sizeof(c->hostnqn), "%s", val);
	else if (!strcmp(key, "port"))
		snprintf(c->port, sizeof(c->port), "%s", val);
	else if (!strcmp(key, "io_timeout"))
		c->io_timeout_s = (unsigned)strtoul(val, NULL, 10);
	else if (!strcmp(key, "ready_timeout"))
		c->ready_timeout_s = (unsigned)strtoul(val, NULL, 10);
	else {
		fprintf(stderr,
			"fabriq: config: unknown key '%s' in [map] (expected via, fuse_ring, "
			"hostnqn, "
			"hostid, port, io_timeout, ready_timeout, keep_alive_tmo, ctrl_loss_tmo, "
			"reconnect_delay, nr_io_queues, queue_size, hdr_digest, data_digest)\n",
			key);
		return 0;
	}
	return 1;
}

static int load_conf(const char *path, bool explicit_path, struct map_conf *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(c->via, sizeof(c->via), "auto");
	snprintf(c->fuse_ring, sizeof(c->fuse_ring), "auto");
	snprintf(c->port, sizeof(c->port), DISC_PORT);
	c->io_timeout_s = 60;
	c->ready_timeout_s = 20;
	if (access(path, F_OK) && !explicit_path)
		return 0;
	rc = ini_parse(path, conf_kv, c);
	if (rc < 0) {
		fprintf(stderr, "fabriq: cannot read config %s\n", path);
		return EXIT_USAGE;
	}
	if (rc > 0) {
		fprintf(stderr, "fabriq: config %s: error on line %d\n", path, rc);
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- names and paths ---- */

static bool good_name(const char *s, size_t len)
{
	if (!len || len > NAME_MAX_LEN || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static int mapping_paths(struct mapping *m, const char *pool, const char *volume)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->pool, sizeof(m->pool), "%s", pool);
	snprintf(m->volume, sizeof(m->volume), "%s", volume);
	if (snprintf(m->file, sizeof(m->file), "%s/%s/%s", run_dir(), pool, volume) >=
	    (int)sizeof(m->file))
		return -ENAMETOOLONG;
	snprintf(m->info, sizeof(m->info), "%s/%s/.%s.info", run_dir(), pool, volume);
	snprintf(m->pidf, sizeof(m->pidf), "%s/%s/.%s.pid", run_dir(), pool, volume);
	snprintf(m->state, sizeof(m->state), "%s/%s/.%s.state", run_dir(), pool, volume);
	snprintf(m->log, sizeof(m->log), "%s/%s/%s.log", run_dir(), pool, volume);
	snprintf(m->link, sizeof(m->link), "%s/%s/%s", dev_dir(), pool, volume);
	return 0;
}

/* "POOL/VOLUME" into its two names. */
static int split_volume(const char *s, char *pool, char *volume)
{
	const char *slash = strchr(s, '/');

	if (!slash || strchr(slash + 1, '/') || !good_name(s, (size_t)(slash - s)) ||
	    !good_name(slash + 1, strlen(slash + 1)))
		return -EINVAL;
	memcpy(pool, s, (size_t)(slash - s));
	pool[slash - s] = 0;
	snprintf(volume, NAME_MAX_LEN + 1, "%s", slash + 1);
	return 0;
}

/*
 * [tcp://]ADDR[:PORT]/POOL/VOLUME; ADDR may be [IPv6]. Port defaults to the
 * configured discovery port.
 */
static int parse_uri(const char *uri, const char *def_port, char *addr, size_t alen, char *port,
		     size_t plen, char *pool, char *volume)
{
	const char *p = uri, *slash, *colon;

	if (!strncmp(p, "tcp://", 6))
		p += 6;
	else if (strstr(p, "://"))
		return -EPROTONOSUPPORT;
	slash = strchr(p, '/');
	if (!slash || slash == p)
		return -EINVAL;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(slash - p));

		if (!rb || (size_t)(rb - p - 1) >= alen)
			return -EINVAL;
		memcpy(addr, p + 1, (size_t)(rb - p - 1));
		addr[rb - p - 1] = 0;
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if (!colon && rb + 1 != slash)
			return -EINVAL;
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		if ((size_t)((colon ? colon : slash) - p) >= alen)
			return -EINVAL;
		memcpy(addr, p, (size_t)((colon ? colon : slash) - p));
		addr[(colon ? colon : slash) - p] = 0;
	}
	if (colon) {
		size_t n = (size_t)(slash - colon - 1);

		if (!n || n >= plen)
			return -EINVAL;
		memcpy(port, colon + 1, n);
		port[n] = 0;
		for (size_t i = 0; i < n; i++)
			if (!isdigit((unsigned char)port[i]))
				return -EINVAL;
	} else {
		snprintf(port, plen, "%s", def_port);
	}
	return split_volume(slash + 1, pool, volume);
}

/* ---- the mapping's files ---- */

static int read_info(struct mapping *m)
{
	char line[MAP_PATH_MAX + 32];
	FILE *f = fopen(m->info, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *nl = strchr(line, '\n');

		if (nl)
			*nl = 0;
		if (!eq)
			continue;
		*eq++ = 0;
		if (!strcmp(line, "uri"))
			snprintf(m->uri, sizeof(m->uri), "%s", eq);
		else if (!strcmp(line, "subnqn"))
			snprintf(m->subnqn, sizeof(m->subnqn), "%s", eq);
		else if (!strcmp(line, "trid"))
			snprintf(m->trid, sizeof(m->trid), "%s", eq);
		else if (!strcmp(line, "device"))
			snprintf(m->device, sizeof(m->device), "%s", eq);
		else if (!strcmp(line, "mode"))
			snprintf(m->mode, sizeof(m->mode), "%s", eq);
		else if (!strcmp(line, "pid"))
			m->pid = (pid_t)strtol(eq, NULL, 10);
	}
	fclose(f);
	return 0;
}

static int write_info(const struct mapping *m)
{
	char tmp[MAP_PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", m->info);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "uri=%s\nsubnqn=%s\ntrid=%s\ndevice=%s\nmode=%s\npid=%d\n", m->uri, m->subnqn,
		m->trid, m->device, m->mode, (int)m->pid);
	if (fclose(f) || rename(tmp, m->info))
		return -errno;
	return 0;
}

static void read_state(const struct mapping *m, char *buf, size_t len)
{
	FILE *f = fopen(m->state, "r");

	buf[0] = 0;
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

/* User mode: how the serving process takes FUSE requests (its state file's second line). */
static void read_fuse_way(const struct mapping *m, char *buf, size_t len)
{
	char line[64];
	FILE *f = fopen(m->state, "r");

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && fgets(line, sizeof(line), f) &&
	    !strncmp(line, "fuse ", 5)) {
		line[strcspn(line, "\n")] = 0;
		snprintf(buf, len, "%s", line + 5);
	}
	fclose(f);
}

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static int mkdirs(const char *path)
{
	char buf[MAP_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static void log_tail(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");
	long pos;
	int n = 0;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	pos = ftell(f);
	fseek(f, pos > 2048 ? pos - 2048 : 0, SEEK_SET);
	if (pos > 2048 && !fgets(line, sizeof(line), f)) /* skip a partial line */
		goto out;
	while (fgets(line, sizeof(line), f) && n++ < 20)
		fprintf(stderr, "  %s", line);
out:
	fclose(f);
}

/* Run a helper program; its stdout (first line) into @out if given. Returns its exit status. */
static int run_prog(char *const argv[], char *out, size_t outlen)
{
	int fds[2], status;
	pid_t pid;

	if (out && pipe(fds))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		if (out) {
			dup2(fds[1], 1);
			close(fds[0]);
			close(fds[1]);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "fabriq: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (out) {
		ssize_t n;
		size_t got = 0;

		close(fds[1]);
		while (got + 1 < outlen && (n = read(fds[0], out + got, outlen - 1 - got)) > 0)
			got += (size_t)n;
		out[got] = 0;
		out[strcspn(out, "\n")] = 0;
		close(fds[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The mount point where block device @dev is mounted, or "" if it is not. */
static void mounted_where(const char *dev, char *where, size_t len)
{
	char line[4096];
	struct stat st;
	FILE *f;

	where[0] = 0;
	if (stat(dev, &st) || !S_ISBLK(st.st_mode))
		return;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		char mp[1024];

		if (sscanf(line, "%*u %*u %u:%u %*s %1023s", &maj, &min, mp) == 3 &&
		    makedev(maj, min) == st.st_rdev) {
			snprintf(where, len, "%s", mp);
			break;
		}
	}
	fclose(f);
}

static bool is_fuse_mounted(const char *file)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char mp[1024], fstype[64];
		char *dash = strstr(line, " - ");

		if (sscanf(line, "%*u %*u %*s %*s %1023s", mp) == 1 && dash &&
		    sscanf(dash + 3, "%63s", fstype) == 1 && !strcmp(mp, file) &&
		    !strncmp(fstype, "fuse", 4))
			found = true;
	}
	fclose(f);
	return found;
}

static void sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
}

/* ---- map ---- */

static const char *MAP_USAGE =
	"usage: fabriq map [tcp://]ADDR[:PORT]/POOL/VOLUME [--via user|kernel|auto]\n"
	"                  [--config FILE] [--hostnqn NQN] [--io-timeout S] [--json]\n"
	"  PORT is the target's discovery port (default 8009, or [map] port in the config).\n";

static bool read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t r = read(fd, (char *)buf + got, len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static void write_full(int fd, const void *buf, size_t len)
{
	for (size_t put = 0; put < len;) {
		ssize_t w = write(fd, (const char *)buf + put, len - put);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		put += (size_t)w;
	}
}

/*
 * fq_discover() in a child process, the entries passed back through a pipe.
 * libfabriq's io_uring finishes its last requests after the ring is closed,
 * with task work aimed at the task that submitted them; arriving while the
 * kernel's connect of the first path sleeps in this task, that work
 * interrupts the connect (nvme_tcp: "failed to connect socket: -512"). The
 * child takes the ring, and its task work, away with it.
 */
static int discover_apart(const struct fq_trid *t, const struct fq_ctrlr_opts *co,
			  struct fq_disc_entry **out, char *err, size_t errlen)
{
	int fds[2], n = -EIO, status;
	pid_t pid;

	snprintf(err, errlen, "discovery failed");
	if (pipe(fds))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (!pid) {
		struct fq_disc_entry *e = NULL;
		char msg[256];

		close(fds[0]);
		n = fq_discover(t, co, FQ_DISC_FOLLOW_REFERRALS, &e);
		write_full(fds[1], &n, sizeof(n));
		if (n > 0)
			write_full(fds[1], e, (size_t)n * sizeof(*e));
		if (n < 0) {
			snprintf(msg, sizeof(msg), "%s", fq_last_error());
			write_full(fds[1], msg, sizeof(msg));
		}
		_exit(0);
	}
	close(fds[1]);
	*out = NULL;
	if (!read_full(fds[0], &n, sizeof(n))) {
		n = -EIO;
	} else if (n > 0) {
		*out = calloc((size_t)n, sizeof(**out));
		if (!*out || !read_full(fds[0], *out, (size_t)n * sizeof(**out))) {
			free(*out);
			*out = NULL;
			n = -EIO;
		}
	} else if (n < 0) {
		char msg[256];

		if (read_full(fds[0], msg, sizeof(msg))) {
			msg[sizeof(msg) - 1] = 0;
			snprintf(err, errlen, "%s", msg);
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return n;
}

/*
 * The discovery log entries of POOL/VOLUME at ADDR:PORT into @out (up to
 * @max, the first found first): every path the target lists for the
 * volume's subsystem, which the kernel mode connects all of.
 */
static int find_volume(const char *addr, const char *port, const char *pool, const char *volume,
		       const struct map_conf *conf, struct fq_disc_entry *out, int max, int *nout)
{
	struct fq_disc_entry *e = NULL;
	struct fq_ctrlr_opts co;
	struct fq_trid t;
	char suffix[2 * NAME_MAX_LEN + 3], s[FQ_TRADDR_LEN + 64], err[256];
	int n, found = -1;

	snprintf(s, sizeof(s), "trtype:TCP traddr:%s trsvcid:%s", addr, port);
	if (fq_trid_parse(&t, s)) {
		fprintf(stderr, "fabriq map: bad address %s port %s\n", addr, port);
		return EXIT_USAGE;
	}
	fq_ctrlr_opts_init(&co, sizeof(co));
	if (conf->hostnqn[0])
		snprintf(co.hostnqn, sizeof(co.hostnqn), "%s", conf->hostnqn);
	n = discover_apart(&t, &co, &e, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "fabriq map: target %s:%s unreachable: %s\n", addr, port, err);
		return EXIT_CONNECT;
	}
	snprintf(suffix, sizeof(suffix), ":%s:%s", pool, volume);
	for (int i = 0; i < n && found < 0; i++) {
		size_t l = strlen(e[i].subnqn), sl = strlen(suffix);

		if (e[i].subtype == 2 && l > sl && !strcmp(e[i].subnqn + l - sl, suffix))
			found = i;
	}
	if (found < 0) {
		fprintf(stderr,
			"fabriq map: no volume %s/%s at %s:%s (its discovery log lists no "
			"subsystem ending in '%s')\n",
			pool, volume, addr, port, suffix);
		free(e);
		return EXIT_NVME;
	}
	*nout = 0;
	for (int i = found; i < n && *nout < max; i++)
		if (e[i].subtype == 2 && !strcmp(e[i].subnqn, e[found].subnqn))
			out[(*nout)++] = e[i];
	free(e);
	return 0;
}

/* Start the serving process and wait until the file is served. */
static int start_server(struct mapping *m, const struct map_conf *conf, uint64_t *size)
{
	char tmo[16];
	int fd, status;
	pid_t pid;
	unsigned waited = 0;

	snprintf(tmo, sizeof(tmo), "%u", conf->io_timeout_s);
	unlink(m->state);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		char *argv[] = {(char *)"fabriq",
				(char *)"map-serve",
				(char *)"--trid",
				m->trid,
				(char *)"--file",
				m->file,
				(char *)"--state",
				m->state,
				(char *)"--io-timeout",
				tmo,
				(char *)"--fuse-ring",
				(char *)conf->fuse_ring,
				NULL,
				NULL,
				NULL,
				NULL};
		int k = 12;

		if (conf->hostnqn[0]) {
			argv[k++] = (char *)"--hostnqn";
			argv[k++] = (char *)conf->hostnqn;
		}
		if (m->no_sqflow)
			argv[k++] = (char *)"--no-sqflow";
		setsid();
		fd = open(m->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	m->pid = pid;
	for (;;) {
		char st[32];
		struct stat sb;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "fabriq map: the serving process exited; its log (%s):\n",
				m->log);
			log_tail(m->log);
			return -ECONNREFUSED;
		}
		read_state(m, st, sizeof(st));
		if (!strcmp(st, "live") && is_fuse_mounted(m->file) && !stat(m->file, &sb) &&
		    sb.st_size > 0) {
			*size = (uint64_t)sb.st_size;
			return 0;
		}
		if (waited >= conf->ready_timeout_s * 1000) {
			fprintf(stderr, "fabriq map: not served after %u s; log (%s):\n",
				conf->ready_timeout_s, m->log);
			log_tail(m->log);
			kill(pid, SIGTERM);
			return -ETIMEDOUT;
		}
		sleep_ms(50);
		waited += 50;
	}
}

static void stop_server(const struct mapping *m)
{
	if (pid_alive(m->pid)) {
		kill(m->pid, SIGTERM);
		for (int i = 0; i < 200 && pid_alive(m->pid); i++)
			sleep_ms(50);
		if (pid_alive(m->pid))
			kill(m->pid, SIGKILL);
	}
	if (is_fuse_mounted(m->file))
		run_prog((char *[]){(char *)"umount", (char *)"-l", (char *)m->file, NULL}, NULL,
			 0);
}

static void remove_files(const struct mapping *m)
{
	unlink(m->link);
	unlink(m->info);
	unlink(m->pidf);
	unlink(m->state);
	unlink(m->file);
}

/* ---- kernel mode: what sysfs says about the kernel NVMe host ---- */

static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	bool ok = false;

	buf[0] = 0;
	if (f) {
		ok = fgets(buf, (int)len, f) != NULL;
		buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
	return ok;
}

/* "nvme<N>" (a controller) or "nvme<N>n<M>" (a namespace head); a path device (c in it) is neither. */
static bool name_is(const char *name, bool disk)
{
	unsigned a, b;
	int used = 0;

	if (disk)
		return sscanf(name, "nvme%un%u%n", &a, &b, &used) == 2 && !name[used];
	return sscanf(name, "nvme%u%n", &a, &used) == 1 && !name[used];
}

/* The sysfs directory of the kernel's NVM subsystem @subnqn, or false if it has none. */
static bool kernel_subsys(const char *subnqn, char *dir, size_t len)
{
	DIR *d = opendir("/sys/class/nvme-subsystem");
	struct dirent *de;
	bool found = false;

	while (d && !found && (de = readdir(d))) {
		char p[MAP_PATH_MAX], nqn[FQ_NQN_LEN + 2];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/class/nvme-subsystem/%s/subsysnqn", de->d_name);
		if (read_line(p, nqn, sizeof(nqn)) && !strcmp(nqn, subnqn)) {
			snprintf(dir, len, "/sys/class/nvme-subsystem/%s", de->d_name);
			found = true;
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* A namespace disk in @dir that has namespace ID 1 (or, lacking the attribute, any). */
static bool disk_in(const char *dir, char *dev, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	while (d && !found && (de = readdir(d))) {
		char p[MAP_PATH_MAX], v[32];

		if (!name_is(de->d_name, true))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/nsid", de->d_name);
		if (read_line(p, v, sizeof(v)) && strtoul(v, NULL, 10) != 1)
			continue;
		found = snprintf(dev, len, "/dev/%s", de->d_name) < (int)len;
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * The block device of namespace 1 of @subnqn: the multipath head in the
 * subsystem's directory, or, when the kernel runs without native multipath,
 * the disk of its first controller.
 */
static bool kernel_device(const char *subnqn, char *dev, size_t len)
{
	char sub[MAP_PATH_MAX];
	DIR *d;
	struct dirent *de;
	bool found;

	if (!kernel_subsys(subnqn, sub, sizeof(sub)))
		return false;
	found = disk_in(sub, dev, len);
	d = found ? NULL : opendir(sub);
	while (d && !found && (de = readdir(d))) {
		char p[MAP_PATH_MAX];

		if (!name_is(de->d_name, false))
			continue;
		snprintf(p, sizeof(p), "/sys/class/nvme/%s", de->d_name);
		found = disk_in(p, dev, len);
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * The controllers of @subnqn as "nvme0 tcp traddr=...,trsvcid=... live; ..."
 * into @paths, and the mapping's state into @state: live (every path live),
 * degraded (some), the first path's state when none is, gone when the
 * kernel has no controller left. Returns the number of controllers.
 */
static int kernel_paths(const char *subnqn, char *paths, size_t plen, char *state, size_t slen,
			json_object *arr)
{
	char sub[MAP_PATH_MAX], first[32] = "";
	DIR *d;
	struct dirent *de;
	int n = 0, live = 0;

	paths[0] = 0;
	d = kernel_subsys(subnqn, sub, sizeof(sub)) ? opendir(sub) : NULL;
	while (d && (de = readdir(d))) {
		char p[MAP_PATH_MAX], tr[16], addr[256], st[32];
		size_t l = strlen(paths);

		if (!name_is(de->d_name, false))
			continue;
		snprintf(p, sizeof(p), "/sys/class/nvme/%s/transport", de->d_name);
		read_line(p, tr, sizeof(tr));
		snprintf(p, sizeof(p), "/sys/class/nvme/%s/address", de->d_name);
		read_line(p, addr, sizeof(addr));
		snprintf(p, sizeof(p), "/sys/class/nvme/%s/state", de->d_name);
		read_line(p, st, sizeof(st));
		if (snprintf(paths + l, plen - l, "%s%s %s %s %s", l ? "; " : "", de->d_name, tr,
			     addr, st) >= (int)(plen - l))
			paths[l] = 0; /* the list is for people; the state below counts all */
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "controller", json_object_new_string(de->d_name));
			json_object_object_add(o, "transport", json_object_new_string(tr));
			json_object_object_add(o, "address", json_object_new_string(addr));
			json_object_object_add(o, "state", json_object_new_string(st));
			json_object_array_add(arr, o);
		}
		if (!strcmp(st, "live"))
			live++;
		else if (!first[0])
			snprintf(first, sizeof(first), "%s", st);
		n++;
	}
	if (d)
		closedir(d);
	snprintf(state, slen, "%s",
		 !n	     ? "gone"
		 : live == n ? "live"
		 : live	     ? "degraded"
		 : first[0]  ? first
			     : "unknown");
	return n;
}

/*
 * Whether this kernel can be an NVMe/TCP host: nvme_tcp is loaded, or
 * modprobe loads it. /dev/nvme-fabrics is where libnvme writes the connect.
 */
static bool kernel_tcp_ok(void)
{
	if (access("/sys/module/nvme_tcp", F_OK) && geteuid() == 0) {
		int fd = open("/dev/null", O_WRONLY);
		pid_t pid = fork();

		if (!pid) {
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execlp("modprobe", "modprobe", "nvme-tcp", (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
		if (fd >= 0)
			close(fd);
	}
	return !access("/sys/module/nvme_tcp", F_OK) && !access("/dev/nvme-fabrics", F_OK);
}

/* ---- kernel mode: the host's identity ---- */

/*
 * The first line of the first readable of @a, @b into @out. A file the
 * host's nvme tools wrote (/etc/nvme) wins over fabriq's own (/etc/fabriq),
 * so that fabriq and nvme-cli connect as the same host.
 */
static bool id_from(const char *a, const char *b, char *out, size_t len)
{
	return (read_line(a, out, len) && out[0]) || (read_line(b, out, len) && out[0]);
}

static int write_id(const char *path, const char *val)
{
	FILE *f;

	if (mkdirs("/etc/fabriq"))
		return -errno;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", val);
	return fclose(f) ? -errno : 0;
}

/*
 * A stable host NQN and host ID: the config's, else /etc/nvme/hostnqn and
 * hostid, else /etc/fabriq/hostnqn and hostid; a uuid NQN and ID made (and
 * kept in /etc/fabriq) the first time none exists. The kernel refuses a
 * second connect to a subsystem from the same NQN and ID, and a target's
 * allow list names the NQN: both must not change between maps and boots.
 */
static int host_identity(const struct map_conf *conf, struct map_kopts *o)
{
	char uuid[40];
	const char *u;

	if (conf->hostnqn[0])
		snprintf(o->hostnqn, sizeof(o->hostnqn), "%s", conf->hostnqn);
	else if (!id_from("/etc/nvme/hostnqn", "/etc/fabriq/hostnqn", o->hostnqn,
			  sizeof(o->hostnqn))) {
		struct fq_ctrlr_opts co;

		/*
		 * libfabriq's default (derived from /etc/machine-id), so that
		 * discovery, the user mode and the kernel are the same host.
		 */
		fq_ctrlr_opts_init(&co, sizeof(co));
		if (strstr(co.hostnqn, ":uuid:00000000-0000-0000-0000-000000000000") ||
		    !co.hostnqn[0]) {
			if (!read_line("/proc/sys/kernel/random/uuid", uuid, sizeof(uuid)))
				return -EIO;
			snprintf(o->hostnqn, sizeof(o->hostnqn),
				 "nqn.2014-08.org.nvmexpress:uuid:%s", uuid);
		} else {
			snprintf(o->hostnqn, sizeof(o->hostnqn), "%s", co.hostnqn);
		}
		if (write_id("/etc/fabriq/hostnqn", o->hostnqn))
			fprintf(stderr, "fabriq map: warning: cannot keep the host NQN in "
					"/etc/fabriq/hostnqn\n");
	}
	if (conf->hostid[0]) {
		snprintf(o->hostid, sizeof(o->hostid), "%s", conf->hostid);
		return 0;
	}
	if (id_from("/etc/nvme/hostid", "/etc/fabriq/hostid", o->hostid, sizeof(o->hostid)))
		return 0;
	/* As nvme-cli does: the uuid of a uuid NQN is the host ID. */
	u = strstr(o->hostnqn, ":uuid:");
	if (u && strlen(u + 6) == 36)
		snprintf(o->hostid, sizeof(o->hostid), "%s", u + 6);
	else if (!read_line("/proc/sys/kernel/random/uuid", o->hostid, sizeof(o->hostid)))
		return -EIO;
	if (write_id("/etc/fabriq/hostid", o->hostid))
		fprintf(stderr,
			"fabriq map: warning: cannot keep the host ID in /etc/fabriq/hostid\n");
	return 0;
}

static void kopts_from(const struct map_conf *conf, struct map_kopts *o)
{
	o->keep_alive_tmo = conf->keep_alive_tmo;
	o->ctrl_loss_tmo = conf->ctrl_loss_tmo;
	o->reconnect_delay = conf->reconnect_delay;
	o->nr_io_queues = conf->nr_io_queues;
	o->queue_size = conf->queue_size;
	o->hdr_digest = conf->hdr_digest;
	o->data_digest = conf->data_digest;
}

/* "tcp:ADDR:PORT ..." (the info file's trid line of a kernel mapping) into paths. */
static int parse_kpaths(const char *s, struct map_kpath *p, int max)
{
	char buf[MAP_PATH_MAX], *save = NULL, *tok;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, " ", &save); tok && n < max; tok = strtok_r(NULL, " ", &save)) {
		char *port = strrchr(tok, ':');

		if (strncmp(tok, "tcp:", 4) || !port || port == tok + 3)
			continue;
		*port++ = 0;
		snprintf(p[n].traddr, sizeof(p[n].traddr), "%s", tok + 4);
		snprintf(p[n].trsvcid, sizeof(p[n].trsvcid), "%s", port);
		n++;
	}
	return n;
}

/* Wait up to @ms for namespace 1 of @subnqn to have a block device node. */
static bool wait_device(const char *subnqn, unsigned ms, char *dev, size_t len)
{
	struct stat st;

	for (unsigned waited = 0;; waited += 100) {
		if (kernel_device(subnqn, dev, len) && !stat(dev, &st) && S_ISBLK(st.st_mode))
			return true;
		if (waited >= ms)
			return false;
		sleep_ms(100);
	}
}

static uint64_t dev_size(const char *dev)
{
	char p[128], v[32];
	const char *name = strrchr(dev, '/');

	snprintf(p, sizeof(p), "/sys/block/%s/size", name ? name + 1 : dev);
	return read_line(p, v, sizeof(v)) ? strtoull(v, NULL, 10) * 512 : 0;
}

static void link_device(const struct mapping *m)
{
	char dir[MAP_PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", dev_dir(), m->pool);
	unlink(m->link);
	if (mkdirs(dir) || symlink(m->device, m->link))
		fprintf(stderr, "fabriq map: warning: cannot link %s: %s\n", m->link,
			strerror(errno));
}

static void print_mapped(const struct mapping *m, uint64_t size, bool json)
{
	if (json) {
		json_object *o = json_object_new_object();
		char v[2 * NAME_MAX_LEN + 2];

		snprintf(v, sizeof(v), "%s/%s", m->pool, m->volume);
		json_object_object_add(o, "volume", json_object_new_string(v));
		json_object_object_add(o, "device", json_object_new_string(m->device));
		json_object_object_add(o, "link", json_object_new_string(m->link));
		json_object_object_add(o, "subnqn", json_object_new_string(m->subnqn));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
		json_object_object_add(o, "mode", json_object_new_string(m->mode));
		json_object_object_add(o, "path", json_object_new_string(m->trid));
		cli_print_json(o); /* takes the reference */
	} else {
		printf("%s\n", m->device);
	}
}

/*
 * Map through the kernel host: every path discovery lists for the volume's
 * subsystem, so that the kernel's native multipath makes one device of
 * them; the device is the namespace head, which outlives any one path.
 */
static int map_kernel(struct mapping *m, const char *addr, const char *port,
		      const struct map_conf *conf, bool json)
{
	struct fq_disc_entry e[MAP_KPATHS_MAX];
	struct map_kpath p[MAP_KPATHS_MAX];
	struct map_kopts o;
	char dir[MAP_PATH_MAX], ctrls[256], dev[64] = "";
	int n = 0, k = 0, rc;

	if (!map_kernel_built) {
		fprintf(stderr, "fabriq map: kernel NVMe/TCP host support not built (fabriq was "
				"built without libnvme); --via user maps without it\n");
		return EXIT_LOCAL_IO;
	}
	if (!kernel_tcp_ok()) {
		fprintf(stderr, "fabriq map: this kernel has no NVMe/TCP host (modprobe nvme-tcp "
				"failed, or /dev/nvme-fabrics is missing); --via user maps without "
				"it\n");
		return EXIT_LOCAL_IO;
	}
	rc = find_volume(addr, port, m->pool, m->volume, conf, e, MAP_KPATHS_MAX, &n);
	if (rc)
		return rc;
	snprintf(m->subnqn, sizeof(m->subnqn), "%s", e[0].subnqn);
	if (kernel_device(m->subnqn, dev, sizeof(dev)) ||
	    kernel_paths(m->subnqn, ctrls, sizeof(ctrls), dir, sizeof(dir), NULL) > 0) {
		fprintf(stderr,
			"fabriq map: %s/%s is already mapped: the kernel is connected to %s%s%s\n",
			m->pool, m->volume, m->subnqn, dev[0] ? " as " : "", dev[0] ? dev : "");
		return EXIT_USAGE;
	}
	m->trid[0] = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(m->trid);

		if (e[i].trtype != 3) /* TCP; the kernel could do RDMA, this tool does not */
			continue;
		snprintf(p[k].traddr, sizeof(p[k].traddr), "%s", e[i].traddr);
		snprintf(p[k].trsvcid, sizeof(p[k].trsvcid), "%s", e[i].trsvcid);
		snprintf(m->trid + l, sizeof(m->trid) - l, "%stcp:%s:%s", l ? " " : "", e[i].traddr,
			 e[i].trsvcid);
		k++;
	}
	n = k;
	if (!n) {
		fprintf(stderr, "fabriq map: the discovery log lists no TCP path of %s\n",
			m->subnqn);
		return EXIT_CONNECT;
	}
	memset(&o, 0, sizeof(o));
	kopts_from(conf, &o);
	if (host_identity(conf, &o)) {
		fprintf(stderr, "fabriq map: cannot make a host NQN and ID\n");
		return EXIT_LOCAL_IO;
	}
	rc = map_kernel_connect(m->subnqn, p, n, &o, ctrls, sizeof(ctrls));
	if (rc < 0) {
		if (rc == -EALREADY)
			fprintf(stderr,
				"fabriq map: %s/%s is already mapped (the kernel is "
				"connected to it)\n",
				m->pool, m->volume);
		else
			fprintf(stderr,
				"fabriq map: target unreachable: no path of %s/%s (%s) connected\n",
				m->pool, m->volume, m->trid);
		return rc == -EALREADY ? EXIT_USAGE : rc == -ENOTSUP ? EXIT_LOCAL_IO : EXIT_CONNECT;
	}
	if (rc < n)
		fprintf(stderr, "fabriq map: warning: %d of %d paths connected (%s)\n", rc, n,
			ctrls);
	if (!wait_device(m->subnqn, conf->ready_timeout_s * 1000, dev, sizeof(dev))) {
		fprintf(stderr,
			"fabriq map: no block device for namespace 1 of %s after %u s "
			"(controllers %s); disconnecting\n",
			m->subnqn, conf->ready_timeout_s, ctrls);
		map_kernel_disconnect(m->subnqn);
		return EXIT_CONNECT;
	}
	snprintf(m->device, sizeof(m->device), "%s", dev);
	snprintf(m->mode, sizeof(m->mode), "kernel");
	m->pid = 0;
	snprintf(dir, sizeof(dir), "%s/%s", run_dir(), m->pool);
	if (mkdirs(dir) || (rc = write_info(m)))
		fprintf(stderr, "fabriq map: warning: cannot write %s: %s\n", m->info,
			strerror(errno));
	link_device(m);
	print_mapped(m, dev_size(dev), json);
	return EXIT_OK;
}

static int map_one(const char *uri, const struct map_conf *conf, const char *via, bool json)
{
	char addr[FQ_TRADDR_LEN + 1], port[16], pool[NAME_MAX_LEN + 1], volume[NAME_MAX_LEN + 1];
	char dir[MAP_PATH_MAX], dev[64];
	struct fq_disc_entry e;
	struct mapping m;
	uint64_t size = 0;
	int rc, fd, n;

	rc = parse_uri(uri, conf->port, addr, sizeof(addr), port, sizeof(port), pool, volume);
	if (rc) {
		fprintf(stderr, "fabriq map: bad volume URI '%s'%s\n%s", uri,
			rc == -EPROTONOSUPPORT ? " (only tcp:// is supported)" : "", MAP_USAGE);
		return EXIT_USAGE;
	}
	if (strcmp(via, "user") && strcmp(via, "auto") && strcmp(via, "kernel")) {
		fprintf(stderr, "fabriq map: --via takes user, kernel or auto, not '%s'\n", via);
		return EXIT_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "fabriq map: needs root (it connects the kernel NVMe host, or "
				"mounts FUSE and attaches loop devices)\n");
		return EXIT_LOCAL_IO;
	}
	if (mapping_paths(&m, pool, volume))
		return EXIT_USAGE;
	if (!read_info(&m) &&
	    (is_kernel(&m) ? kernel_device(m.subnqn, dev, sizeof(dev)) : pid_alive(m.pid))) {
		fprintf(stderr, "fabriq map: %s/%s is already mapped at %s\n", pool, volume,
			m.device);
		return EXIT_USAGE;
	}
	/* auto: the kernel host where this kernel has one (and fabriq was built for it). */
	if (!strcmp(via, "auto"))
		via = map_kernel_built && kernel_tcp_ok() ? "kernel" : "user";
	if (!strcmp(via, "kernel")) {
		/* A kernel mapping whose controllers are gone left only its files. */
		if (is_kernel(&m))
			remove_files(&m);
		mapping_paths(&m, pool, volume);
		snprintf(m.uri, sizeof(m.uri), "tcp://%s:%s/%s/%s", addr, port, pool, volume);
		return map_kernel(&m, addr, port, conf, json);
	}
	if (access("/dev/fuse", R_OK | W_OK) || access("/dev/loop-control", R_OK | W_OK)) {
		fprintf(stderr, "fabriq map: %s is missing (modprobe %s)\n",
			access("/dev/fuse", F_OK) ? "/dev/fuse" : "/dev/loop-control",
			access("/dev/fuse", F_OK) ? "fuse" : "loop");
		return EXIT_LOCAL_IO;
	}
	if (!strcmp(conf->fuse_ring, "yes")) {
		const char *why;

		/* Switched on here (as root) rather than failing inside the serving process. */
		if (map_ring_available(true, &why) <= 0) {
			fprintf(stderr, "fabriq map: fuse_ring = yes, but %s\n", why);
			return EXIT_LOCAL_IO;
		}
	}
	if (!access(m.info, F_OK)) /* a mapping whose server is gone: clean it first */
		fprintf(stderr,
			"fabriq map: %s/%s has a stale mapping (server gone); run "
			"'fabriq unmap --force %s/%s' first\n",
			pool, volume, pool, volume);
	if (!access(m.info, F_OK))
		return EXIT_USAGE;
	rc = find_volume(addr, port, pool, volume, conf, &e, 1, &n);
	if (rc)
		return rc;
	mapping_paths(&m, pool, volume);
	snprintf(m.uri, sizeof(m.uri), "tcp://%s:%s/%s/%s", addr, port, pool, volume);
	snprintf(m.subnqn, sizeof(m.subnqn), "%s", e.subnqn);
	if (fq_trid_format(&e.trid, m.trid, sizeof(m.trid)) < 0) {
		fprintf(stderr, "fabriq map: cannot format the volume's address\n");
		return EXIT_CONNECT;
	}
	snprintf(m.mode, sizeof(m.mode), "user");
	m.no_sqflow = e.treq & FQ_TREQ_SQFLOW_NOT_REQUIRED;
	snprintf(dir, sizeof(dir), "%s/%s", run_dir(), pool);
	if (mkdirs(dir)) {
		fprintf(stderr, "fabriq map: cannot create %s: %s\n", dir, strerror(errno));
		return EXIT_LOCAL_IO;
	}
	fd = open(m.file, O_WRONLY | O_CREAT, 0600);
	if (fd < 0) {
		fprintf(stderr, "fabriq map: cannot create %s: %s\n", m.file, strerror(errno));
		return EXIT_LOCAL_IO;
	}
	close(fd);
	rc = start_server(&m, conf, &size);
	if (rc) {
		stop_server(&m);
		remove_files(&m);
		return EXIT_CONNECT;
	}
	rc = run_prog((char *[]){(char *)"losetup", (char *)"--direct-io=on", (char *)"--show",
				 (char *)"-f", m.file, NULL},
		      dev, sizeof(dev));
	if (rc || strncmp(dev, "/dev/loop", 9)) {
		fprintf(stderr, "fabriq map: losetup of %s failed (exit %d)\n", m.file, rc);
		stop_server(&m);
		remove_files(&m);
		return EXIT_LOCAL_IO;
	}
	snprintf(m.device, sizeof(m.device), "%s", dev);
	link_device(&m);
	rc = write_info(&m);
	if (rc)
		fprintf(stderr, "fabriq map: warning: cannot write %s: %s\n", m.info,
			strerror(-rc));
	print_mapped(&m, size, json);
	return EXIT_OK;
}

static int common_opts(int argc, char **argv, const char *usage, const char **config,
		       const char **via, const char **hostnqn, const char **io_timeout, bool *json,
		       bool *force, const char **file)
{
	static const struct option lo[] = {{"via", required_argument, 0, 'v'},
					   {"config", required_argument, 0, 'c'},
					   {"hostnqn", required_argument, 0, 'q'},
					   {"io-timeout", required_argument, 0, 'T'},
					   {"json", no_argument, 0, 'j'},
					   {"force", no_argument, 0, 'F'},
					   {"file", required_argument, 0, 'f'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'v':
			*via = optarg;
			break;
		case 'c':
			*config = optarg;
			break;
		case 'q':
			*hostnqn = optarg;
			break;
		case 'T':
			*io_timeout = optarg;
			break;
		case 'j':
			*json = true;
			break;
		case 'F':
			*force = true;
			break;
		case 'f':
			*file = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int setup_conf(const char *config, const char *hostnqn, const char *io_timeout,
		      struct map_conf *conf)
{
	int rc = load_conf(config ? config : CONF_PATH, config != NULL, conf);

	if (rc)
		return rc;
	if (hostnqn)
		snprintf(conf->hostnqn, sizeof(conf->hostnqn), "%s", hostnqn);
	if (io_timeout) {
		char *end;
		unsigned long v = strtoul(io_timeout, &end, 10);

		if (*end || !v || v > 86400) {
			fprintf(stderr, "fabriq map: bad --io-timeout '%s' (1..86400 s)\n",
				io_timeout);
			return EXIT_USAGE;
		}
		conf->io_timeout_s = (unsigned)v;
	}
	return 0;
}

int cmd_map(int argc, char **argv)
{
	const char *config = NULL, *via = NULL, *hostnqn = NULL, *tmo = NULL, *file = NULL;
	bool json = false, force = false;
	struct map_conf conf;
	int rc = common_opts(argc, argv, MAP_USAGE, &config, &via, &hostnqn, &tmo, &json, &force,
			     &file);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (optind != argc - 1) {
		fputs(MAP_USAGE, stderr);
		return EXIT_USAGE;
	}
	rc = setup_conf(config, hostnqn, tmo, &conf);
	if (rc)
		return rc;
	return map_one(argv[optind], &conf, via ? via : conf.via, json);
}

/* ---- unmap ---- */

static const char *UNMAP_USAGE =
	"usage: fabriq unmap POOL/VOLUME|DEVICE [--force]\n"
	"  --force  unmap even while the device is mounted (lazy unmount)\n";

/* Find the mapping named by POOL/VOLUME, /dev/fabriq/POOL/VOLUME or its /dev/loopN. */
static int find_mapping(const char *what, struct mapping *m)
{
	char pool[NAME_MAX_LEN + 1], volume[NAME_MAX_LEN + 1], real[PATH_MAX];
	DIR *d, *pd;
	struct dirent *de, *pe;
	size_t dl = strlen(dev_dir());

	if (!strncmp(what, dev_dir(), dl) && what[dl] == '/')
		what += dl + 1;
	if (!split_volume(what, pool, volume)) {
		mapping_paths(m, pool, volume);
		return read_info(m) ? -ENOENT : 0;
	}
	if (!realpath(what, real))
		return -ENOENT;
	d = opendir(run_dir());
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		char dir[MAP_PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", run_dir(), de->d_name);
		pd = opendir(dir);
		if (!pd)
			continue;
		while ((pe = readdir(pd))) {
			size_t l = strlen(pe->d_name);

			if (pe->d_name[0] != '.' || l < 6 || strcmp(pe->d_name + l - 5, ".info"))
				continue;
			pe->d_name[l - 5] = 0;
			mapping_paths(m, de->d_name, pe->d_name + 1);
			if (!read_info(m) && !strcmp(m->device, real)) {
				closedir(pd);
				closedir(d);
				return 0;
			}
		}
		closedir(pd);
	}
	closedir(d);
	return -ENOENT;
}

int map_device_volume(const char *dev, char *pool, size_t plen, char *volume, size_t vlen)
{
	struct mapping m;

	if (!dev || dev[0] != '/' || find_mapping(dev, &m))
		return -ENOENT;
	snprintf(pool, plen, "%s", m.pool);
	snprintf(volume, vlen, "%s", m.volume);
	return 0;
}

static int unmap_one(const char *what, bool force)
{
	char where[1024];
	struct mapping m;

	if (geteuid() != 0) {
		fprintf(stderr, "fabriq unmap: needs root\n");
		return EXIT_LOCAL_IO;
	}
	if (find_mapping(what, &m)) {
		fprintf(stderr, "fabriq unmap: %s is not mapped\n", what);
		return EXIT_USAGE;
	}
	/* A kernel mapping's device is the namespace head, as sysfs names it now. */
	if (is_kernel(&m))
		kernel_device(m.subnqn, m.device, sizeof(m.device));
	mounted_where(m.device, where, sizeof(where));
	if (where[0] && !force) {
		fprintf(stderr,
			"fabriq unmap: %s (%s/%s) is mounted on %s: unmount it first, or "
			"--force\n",
			m.device, m.pool, m.volume, where);
		return EXIT_USAGE;
	}
	if (where[0])
		run_prog((char *[]){(char *)"umount", (char *)"-l", where, NULL}, NULL, 0);
	if (is_kernel(&m)) {
		char dev[64];
		int rc = map_kernel_disconnect(m.subnqn);

		if (rc < 0 && rc != -ENOTSUP)
			return EXIT_LOCAL_IO;
		/* The head goes with the last path; wait so that a map right after finds none. */
		for (int i = 0; i < 100 && kernel_device(m.subnqn, dev, sizeof(dev)); i++)
			sleep_ms(50);
		remove_files(&m);
		printf("unmapped %s/%s (%s, %d path%s)\n", m.pool, m.volume, m.device, rc,
		       rc == 1 ? "" : "s");
		return EXIT_OK;
	}
	if (m.device[0]) {
		char backing[MAP_PATH_MAX], sys[128];
		const char *name = strrchr(m.device, '/');

		run_prog((char *[]){(char *)"losetup", (char *)"-d", m.device, NULL}, NULL, 0);
		/* Wait for the loop device to let go of the file before the server goes. */
		snprintf(sys, sizeof(sys), "/sys/block/%s/loop/backing_file", name ? name + 1 : "");
		for (int i = 0; i < 100; i++) {
			FILE *f = fopen(sys, "r");

			backing[0] = 0;
			if (f) {
				if (!fgets(backing, sizeof(backing), f))
					backing[0] = 0;
				fclose(f);
			}
			if (!strstr(backing, m.file))
				break;
			sleep_ms(50);
		}
	}
	stop_server(&m);
	remove_files(&m);
	printf("unmapped %s/%s (%s)\n", m.pool, m.volume, m.device);
	return EXIT_OK;
}

int cmd_unmap(int argc, char **argv)
{
	const char *config = NULL, *via = NULL, *hostnqn = NULL, *tmo = NULL, *file = NULL;
	bool json = false, force = false;
	int rc = common_opts(argc, argv, UNMAP_USAGE, &config, &via, &hostnqn, &tmo, &json, &force,
			     &file);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (optind != argc - 1) {
		fputs(UNMAP_USAGE, stderr);
		return EXIT_USAGE;
	}
	return unmap_one(argv[optind], force);
}

/* ---- remap ---- */

static const char *REMAP_USAGE =
	"usage: fabriq remap POOL/VOLUME|DEVICE [--io-timeout S]\n"
	"  waits (up to S seconds, default 60) until the volume is served again,\n"
	"  keeping the same device\n";

/*
 * Remap a kernel mapping: the kernel reconnects a lost path by itself until
 * ctrl_loss_tmo, then deletes the controller; connect again every path the
 * kernel no longer has, and wait until all are live. While one path
 * remained, the device is the same; after all were deleted the kernel may
 * give the namespace a new one, which the link then follows.
 */
static int remap_kernel(struct mapping *m, const struct map_conf *conf)
{
	struct map_kpath p[MAP_KPATHS_MAX], want[MAP_KPATHS_MAX];
	struct map_kopts o;
	char paths[1024], st[32], ctrls[256], dev[64];
	int n = parse_kpaths(m->trid, p, MAP_KPATHS_MAX), k = 0;

	if (!kernel_tcp_ok()) {
		fprintf(stderr, "fabriq remap: this kernel has no NVMe/TCP host (modprobe "
				"nvme-tcp failed)\n");
		return EXIT_LOCAL_IO;
	}
	kernel_paths(m->subnqn, paths, sizeof(paths), st, sizeof(st), NULL);
	for (int i = 0; i < n; i++) {
		char a[320];
		const char *f = paths;
		size_t al;

		/* sysfs shows "traddr=A,trsvcid=S[,src_addr=...]" per controller. */
		if (snprintf(a, sizeof(a), "traddr=%s,trsvcid=%s", p[i].traddr, p[i].trsvcid) >=
		    (int)sizeof(a))
			continue;
		al = strlen(a);
		while ((f = strstr(f, a)) && f[al] != ',' && f[al] != ' ')
			f += al;
		if (!f)
			want[k++] = p[i];
	}
	if (k) {
		memset(&o, 0, sizeof(o));
		kopts_from(conf, &o);
		if (host_identity(conf, &o))
			return EXIT_LOCAL_IO;
		if (map_kernel_connect(m->subnqn, want, k, &o, ctrls, sizeof(ctrls)) < 0)
			fprintf(stderr, "fabriq remap: %s/%s: no lost path reconnected yet\n",
				m->pool, m->volume);
	}
	for (unsigned waited = 0;; waited += 100) {
		kernel_paths(m->subnqn, paths, sizeof(paths), st, sizeof(st), NULL);
		if (!strcmp(st, "live") && kernel_device(m->subnqn, dev, sizeof(dev)))
			break;
		if (waited >= conf->io_timeout_s * 1000) {
			fprintf(stderr, "fabriq remap: %s/%s still %s after %u s (%s)\n", m->pool,
				m->volume, st, conf->io_timeout_s, paths[0] ? paths : "no path");
			return EXIT_CONNECT;
		}
		sleep_ms(100);
	}
	if (strcmp(dev, m->device)) {
		snprintf(m->device, sizeof(m->device), "%s", dev);
		link_device(m);
		write_info(m);
	}
	printf("%s\n", m->device);
	return EXIT_OK;
}

int cmd_remap(int argc, char **argv)
{
	const char *config = NULL, *via = NULL, *hostnqn = NULL, *tmo = NULL, *file = NULL;
	bool json = false, force = false;
	struct map_conf conf;
	struct mapping m;
	char st[32];
	int rc = common_opts(argc, argv, REMAP_USAGE, &config, &via, &hostnqn, &tmo, &json, &force,
			     &file);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (optind != argc - 1) {
		fputs(REMAP_USAGE, stderr);
		return EXIT_USAGE;
	}
	rc = setup_conf(config, hostnqn, tmo, &conf);
	if (rc)
		return rc;
	if (find_mapping(argv[optind], &m)) {
		fprintf(stderr, "fabriq remap: %s is not mapped\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (is_kernel(&m))
		return remap_kernel(&m, &conf);
	if (!pid_alive(m.pid)) {
		fprintf(stderr,
			"fabriq remap: the process serving %s/%s is gone (log %s); the device "
			"cannot be kept: 'fabriq unmap --force %s/%s' and map again\n",
			m.pool, m.volume, m.log, m.pool, m.volume);
		return EXIT_CONNECT;
	}
	kill(m.pid, SIGHUP);
	for (unsigned waited = 0;; waited += 100) {
		read_state(&m, st, sizeof(st));
		if (!strcmp(st, "live"))
			break;
		if (waited >= conf.io_timeout_s * 1000) {
			fprintf(stderr, "fabriq remap: %s/%s still %s after %u s; log %s\n", m.pool,
				m.volume, st[0] ? st : "not served", conf.io_timeout_s, m.log);
			return EXIT_CONNECT;
		}
		sleep_ms(100);
	}
	printf("%s\n", m.device);
	return EXIT_OK;
}

/* ---- showmapped ---- */

int cmd_showmapped(int argc, char **argv)
{
	const char *config = NULL, *via = NULL, *hostnqn = NULL, *tmo = NULL, *file = NULL;
	bool json = false, force = false;
	json_object *arr = json_object_new_array();
	DIR *d;
	struct dirent *de;
	int rc = common_opts(argc, argv, "usage: fabriq showmapped [--json]\n", &config, &via,
			     &hostnqn, &tmo, &json, &force, &file);

	if (rc) {
		json_object_put(arr);
		return rc < 0 ? EXIT_OK : rc;
	}
	d = opendir(run_dir());
	while (d && (de = readdir(d))) {
		char dir[MAP_PATH_MAX];
		DIR *pd;
		struct dirent *pe;

		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", run_dir(), de->d_name);
		pd = opendir(dir);
		while (pd && (pe = readdir(pd))) {
			size_t l = strlen(pe->d_name);
			struct mapping m;
			char st[32], v[2 * NAME_MAX_LEN + 2];
			json_object *o;

			if (pe->d_name[0] != '.' || l < 6 || strcmp(pe->d_name + l - 5, ".info"))
				continue;
			pe->d_name[l - 5] = 0;
			mapping_paths(&m, de->d_name, pe->d_name + 1);
			if (read_info(&m))
				continue;
			o = json_object_new_object();
			if (is_kernel(&m)) {
				char paths[MAP_PATH_MAX];
				struct map_kpath kp[MAP_KPATHS_MAX];
				json_object *pa = json_object_new_array();
				int want = parse_kpaths(m.trid, kp, MAP_KPATHS_MAX);

				/*
				 * The kernel keeps the state, per path; the head is the
				 * device. Fewer controllers than paths mapped: the kernel
				 * deleted one (ctrl_loss_tmo), which remap brings back.
				 */
				int have = kernel_paths(m.subnqn, paths, sizeof(paths), st,
							sizeof(st), pa);

				if (have < want && !strcmp(st, "live"))
					snprintf(st, sizeof(st), "degraded");
				kernel_device(m.subnqn, m.device, sizeof(m.device));
				snprintf(m.trid, sizeof(m.trid), "%s", paths);
				json_object_object_add(o, "paths", pa);
			} else {
				char way[64];

				read_state(&m, st, sizeof(st));
				if (!pid_alive(m.pid))
					snprintf(st, sizeof(st), "dead");
				read_fuse_way(&m, way, sizeof(way));
				json_object_object_add(o, "fuse", json_object_new_string(way));
			}
			snprintf(v, sizeof(v), "%s/%s", m.pool, m.volume);
			json_object_object_add(o, "volume", json_object_new_string(v));
			json_object_object_add(o, "device", json_object_new_string(m.device));
			json_object_object_add(o, "link", json_object_new_string(m.link));
			json_object_object_add(o, "path", json_object_new_string(m.trid));
			json_object_object_add(o, "subnqn", json_object_new_string(m.subnqn));
			json_object_object_add(o, "mode", json_object_new_string(m.mode));
			json_object_object_add(o, "state",
					       json_object_new_string(st[0] ? st : "unknown"));
			json_object_object_add(o, "pid", json_object_new_int(m.pid));
			json_object_array_add(arr, o);
		}
		if (pd)
			closedir(pd);
	}
	if (d)
		closedir(d);
	if (json) {
		cli_print_json(json_object_get(arr)); /* it drops one reference */
	} else {
		printf("%-24s %-12s %-6s %-12s %s\n", "VOLUME", "DEVICE", "MODE", "STATE", "PATH");
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *o = json_object_array_get_idx(arr, i), *f[5];
			static const char *const keys[] = {"volume", "device", "mode", "state",
							   "path"};

			for (int k = 0; k < 5; k++)
				json_object_object_get_ex(o, keys[k], &f[k]);
			printf("%-24s %-12s %-6s %-12s %s\n", json_object_get_string(f[0]),
			       json_object_get_string(f[1]), json_object_get_string(f[2]),
			       json_object_get_string(f[3]), json_object_get_string(f[4]));
		}
	}
	json_object_put(arr);
	return EXIT_OK;
}

/* ---- mapall / unmapall ---- */

static int for_each_line(const char *path, bool map, const struct map_conf *conf, const char *via)
{
	char line[1024];
	int worst = EXIT_OK, n = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "fabriq: cannot read %s: %s\n", path, strerror(errno));
		return EXIT_LOCAL_IO;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *e;
		int rc;

		s[strcspn(s, "#")] = 0;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (!*s)
			continue;
		n++;
		if (map) {
			rc = map_one(s, conf, via, false);
		} else {
			char addr[FQ_TRADDR_LEN + 1], port[16], pool[NAME_MAX_LEN + 1],
				volume[NAME_MAX_LEN + 1], pv[2 * NAME_MAX_LEN + 2];

			if (parse_uri(s, conf->port, addr, sizeof(addr), port, sizeof(port), pool,
				      volume)) {
				fprintf(stderr, "fabriq unmapall: bad line '%s'\n", s);
				rc = EXIT_USAGE;
			} else {
				snprintf(pv, sizeof(pv), "%s/%s", pool, volume);
				rc = unmap_one(pv, false);
			}
		}
		if (rc && !worst)
			worst = rc;
	}
	fclose(f);
	if (!n)
		fprintf(stderr, "fabriq: %s lists no volumes\n", path);
	return worst;
}

static int all_cmd(int argc, char **argv, bool map)
{
	const char *config = NULL, *via = NULL, *hostnqn = NULL, *tmo = NULL, *file = NULL;
	const char *usage = map ? "usage: fabriq mapall -f FILE [--via MODE] [--config FILE]\n"
				  "  FILE: one volume URI per line, # comments\n"
				: "usage: fabriq unmapall -f FILE\n";
	bool json = false, force = false;
	struct map_conf conf;
	int rc =
		common_opts(argc, argv, usage, &config, &via, &hostnqn, &tmo, &json, &force, &file);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (!file || optind != argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	rc = setup_conf(config, hostnqn, tmo, &conf);
	if (rc)
		return rc;
	return for_each_line(file, map, &conf, via ? via : conf.via);
}

int cmd_mapall(int argc, char **argv)
{
	return all_cmd(argc, argv, true);
}

int cmd_unmapall(int argc, char **argv)
{
	return all_cmd(argc, argv, false);
}
