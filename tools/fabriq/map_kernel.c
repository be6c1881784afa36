/* SPDX-License-Identifier: MIT */
/*
 * The kernel mode of `fabriq map` (docs/map.md): the Linux NVMe/TCP host
 * connects to every path of a volume's subsystem through libnvme, which
 * writes the connect options to /dev/nvme-fabrics and records the new
 * controllers. Built only with libnvme; map_kernel_none.c stands in
 * otherwise. Everything that only reads sysfs is in map.c, so that a build
 * without libnvme still lists and recognises kernel mappings.
 */
#include <errno.h>
#include <libnvme.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "map.h"

const bool map_kernel_built = true;

/* libnvme reports connect failures with its own codes above the errno range. */
static const char *connect_error(int err)
{
	switch (err) {
	case ENVME_CONNECT_OPEN:
		return "cannot open /dev/nvme-fabrics (is nvme-tcp loaded?)";
	case ENVME_CONNECT_WRITE:
		return "the kernel refused the connect (target unreachable, or it rejected "
		       "this host)";
	case ENVME_CONNECT_ALREADY:
		return "already connected";
	case ENVME_CONNECT_INVAL:
		return "invalid connect options";
	case ENVME_CONNECT_ADDRINUSE:
		return "the host NQN is already in use";
	case ENVME_CONNECT_OPNOTSUPP:
		return "not supported by this kernel";
	case ENVME_CONNECT_CONNREFUSED:
		return "connection refused";
	case ENVME_CONNECT_INVAL_TR:
		return "the kernel has no such transport (nvme-tcp not loaded?)";
	default:
		return err > 0 && err < 1000 ? strerror(err) : "connect failed";
	}
}

static int to_errno(int err)
{
	switch (err) {
	case ENVME_CONNECT_ALREADY:
		return -EALREADY;
	case ENVME_CONNECT_CONNREFUSED:
	case ENVME_CONNECT_WRITE:
		return -ECONNREFUSED;
	case ENVME_CONNECT_OPEN:
	case ENVME_CONNECT_INVAL_TR:
	case ENVME_CONNECT_OPNOTSUPP:
		return -ENOTSUP;
	default:
		return err > 0 && err < 1000 ? -err : -EIO;
	}
}

int map_kernel_connect(const char *subnqn, const struct map_kpath *paths, int n,
		       const struct map_kopts *o, char *ctrls, size_t len)
{
	struct nvme_fabrics_config cfg;
	nvme_root_t r;
	nvme_host_t h;
	int ok = 0, first_err = 0;

	ctrls[0] = 0;
	/* Errors only: the ones that matter are printed below with the path they concern. */
	r = nvme_create_root(stderr, LOG_ERR);
	if (!r)
		return -ENOMEM;
	h = nvme_lookup_host(r, o->hostnqn, o->hostid);
	if (!h) {
		nvme_free_tree(r);
		return -ENOMEM;
	}
	nvmf_default_config(&cfg);
	if (o->keep_alive_tmo)
		cfg.keep_alive_tmo = o->keep_alive_tmo;
	if (o->ctrl_loss_tmo)
		cfg.ctrl_loss_tmo = o->ctrl_loss_tmo;
	if (o->reconnect_delay)
		cfg.reconnect_delay = o->reconnect_delay;
	if (o->nr_io_queues)
		cfg.nr_io_queues = o->nr_io_queues;
	if (o->queue_size)
		cfg.queue_size = o->queue_size;
	cfg.hdr_digest = o->hdr_digest;
	cfg.data_digest = o->data_digest;
	for (int i = 0; i < n; i++) {
		nvme_ctrl_t c = NULL;
		size_t l = strlen(ctrls);
		int err = 0;

		/*
		 * A connect can fail for a moment (the kernel's socket connect is
		 * interrupted, say, or the target is still starting): try a path
		 * three times before giving up on it. A refusal that another try
		 * cannot change ends the tries at once.
		 */
		for (int attempt = 0; attempt < 3; attempt++) {
			if (attempt)
				nanosleep(&(struct timespec){0, 300 * 1000000L}, NULL);
			c = nvme_create_ctrl(r, subnqn, "tcp", paths[i].traddr, NULL, NULL,
					     paths[i].trsvcid);
			if (!c) {
				err = ENOMEM;
				break;
			}
			if (nvmf_add_ctrl(h, c, &cfg) == 0) {
				err = 0;
				break;
			}
			err = errno;
			nvme_free_ctrl(c);
			c = NULL;
			if (err == ENVME_CONNECT_ALREADY || err == ENVME_CONNECT_INVAL ||
			    err == ENVME_CONNECT_ADDRINUSE || err == ENVME_CONNECT_OPEN ||
			    err == ENVME_CONNECT_INVAL_TR || err == ENVME_CONNECT_OPNOTSUPP)
				break;
		}
		if (!c) {
			fprintf(stderr, "fabriq map: path tcp %s:%s: %s\n", paths[i].traddr,
				paths[i].trsvcid, connect_error(err));
			if (!first_err)
				first_err = to_errno(err);
			continue;
		}
		snprintf(ctrls + l, len - l, "%s%s", l ? " " : "", nvme_ctrl_get_name(c));
		ok++;
	}
	nvme_free_tree(r);
	return ok ? ok : (first_err ? first_err : -ENOENT);
}

int map_kernel_disconnect(const char *subnqn)
{
	nvme_root_t r = nvme_scan(NULL);
	nvme_host_t h;
	nvme_subsystem_t s;
	nvme_ctrl_t c, next;
	int n = 0, rc = 0;

	if (!r)
		return -errno ? -errno : -ENOMEM;
	nvme_for_each_host(r, h)
	{
		nvme_for_each_subsystem(h, s)
		{
			if (strcmp(nvme_subsystem_get_nqn(s), subnqn))
				continue;
			for (c = nvme_subsystem_first_ctrl(s); c; c = next) {
				next = nvme_subsystem_next_ctrl(s, c);
				if (nvme_disconnect_ctrl(c) < 0) {
					rc = -errno;
					fprintf(stderr, "fabriq unmap: disconnect %s: %s\n",
						nvme_ctrl_get_name(c), strerror(errno));
				} else {
					n++;
				}
			}
		}
	}
	nvme_free_tree(r);
	return rc ? rc : n;
}
