/* SPDX-License-Identifier: MIT */
/*
 * Option defaults, the host identity and address resolution. Defaults follow
 * the Linux host (reference B10) where it has one: 128-entry I/O queues,
 * KATO 5 s, controller loss timeout 600 s.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "host/host_int.h"

void fq_ctrlr_opts_init(struct fq_ctrlr_opts *o, size_t opts_size)
{
	struct fq_ctrlr_opts d;

	memset(&d, 0, sizeof(d));
	d.opts_size = sizeof(d);
	host_default_identity(d.hostnqn, sizeof(d.hostnqn), d.hostid);
	d.num_io_queues = 4;
	d.io_queue_size = 128;
	d.admin_queue_size = 32;
	d.keep_alive_timeout_ms = 5000;
	d.connect_timeout_ms = 10000;
	d.admin_timeout_ms = 30000;
	d.io_timeout_ms = 30000;
	d.reconnect_delay_ms = 2000;
	d.ctrl_loss_timeout_ms = 600000;
	/* Copy only what the caller's version of the struct has room for. */
	if (opts_size > sizeof(d))
		opts_size = sizeof(d);
	memcpy(o, &d, opts_size);
	if (opts_size >= sizeof(size_t))
		o->opts_size = opts_size;
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -ENODATA;
	}
	fclose(f);
	n = strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	return n ? 0 : -ENODATA;
}

static int parse_uuid(const char *s, uint8_t out[16])
{
	int n = 0;

	for (; *s && n < 32; s++) {
		int v;

		if (*s == '-')
			continue;
		if (!isxdigit((unsigned char)*s))
			return -EINVAL;
		v = isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10);
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	return n == 32 ? 0 : -EINVAL;
}

/*
 * The identity must be stable across runs so a target's allow-list keeps
 * matching: /etc/nvme/hostnqn and /etc/nvme/hostid as nvme-cli writes them,
 * else a UUID derived from /etc/machine-id (RFC 4122 version 4 bits set).
 */
int host_default_identity(char *hostnqn, size_t len, uint8_t hostid[16])
{
	char line[256];
	uint8_t id[16] = {0};
	bool have_id = false;

	if (!read_line("/etc/nvme/hostid", line, sizeof(line)) && !parse_uuid(line, id))
		have_id = true;
	if (!have_id && !read_line("/etc/machine-id", line, sizeof(line)) &&
	    !parse_uuid(line, id)) {
		id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
		id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
		have_id = true;
	}
	memcpy(hostid, id, 16);
	if (!read_line("/etc/nvme/hostnqn", line, sizeof(line)) && strlen(line) <= FQ_NQN_LEN) {
		snprintf(hostnqn, len, "%s", line);
		return 0;
	}
	snprintf(hostnqn, len,
		 "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10],
		 id[11], id[12], id[13], id[14], id[15]);
	return have_id ? 0 : -ENOENT;
}

int host_resolve(const struct fq_trid *t, struct sockaddr_storage *sa, socklen_t *salen)
{
	struct addrinfo hints, *res = NULL;
	const char *port = t->trsvcid[0] ? t->trsvcid : NULL;
	char defport[8];
	int rc;

	if (!port) {
		bool disc = !t->subnqn[0] || !strcmp(t->subnqn, FQ_DISCOVERY_SUBNQN);

		/* B1: the discovery service listens on 8009, I/O on 4420. */
		snprintf(defport, sizeof(defport), "%u", disc ? 8009u : 4420u);
		port = defport;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = t->adrfam == FQ_AF_IPV6 ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(t->traddr, port, &hints, &res);
	if (rc) {
		host_set_error("resolve %s port %s: %s", t->traddr, port, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
