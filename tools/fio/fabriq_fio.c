/* SPDX-License-Identifier: MIT */
/*
 * fabriq-fio: an external fio ioengine over libfabriq.
 *
 *   fio --ioengine=/path/to/fabriq-fio.so --thread=1 \
 *       --filename='trtype=TCP adrfam=IPv4 traddr=127.0.0.1 trsvcid=4420 \
 *                   subnqn=nqn.2026-11.io.fabriq\:disk ns=1' ...
 *
 * fio splits file names at ':', so the transport ID is written with '='
 * between key and value (and '\:' inside values), as SPDK's fio plugin takes
 * it. Every job connects its own controller for each file and drives one
 * qpair per file through one poll group: the job's thread owns them all, as
 * libfabriq requires, and jobs share nothing.
 *
 * This file is compiled against fio's own headers (fio.h and friends, from
 * the source fio was built from; see docs/fio.md). fio loads the engine with
 * dlopen() and looks up the symbol "ioengine"; that is the only symbol the
 * module exports.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fio.h"
#include "optgroup.h"

#include "fabriq/host.h"

/* Engine options, set with --name=value on fio's command line. */
struct ffio_opts {
	void *pad; /* fio refuses an option at offset 0 */
	unsigned int busy_poll;
	unsigned int hdr_digest;
	unsigned int data_digest;
	unsigned int disable_sqflow;
};

/*
 * A qpair sends each 8 commands queued without waiting for the next poll
 * (libfabriq's eager send, docs/architecture.md): they are issued then.
 */
#define FFIO_EAGER_SEND 8

/* One file of a job: a controller, its namespace and the job's qpair on it. */
struct ffio_file {
	struct fq_ctrlr *ctrlr;
	struct fq_ns *ns;
	struct fq_qpair *qp;
	uint32_t sector;
	unsigned int sector_shift; /* log2(sector): LBA data sizes are powers of two */
};

/*
 * One job: its poll group, the I/O units completed but not yet reaped, in
 * a ring of iodepth entries (no more can be complete at once), and the units
 * queued since the last poll, which that poll sends.
 */
struct ffio_job {
	struct fq_poll_group *pg;
	struct io_u **done;
	unsigned int head;     /* oldest completed unit in done[] */
	unsigned int ndone;    /* completed, from head on */
	unsigned int nhanded;  /* of those, handed to fio by the last getevents */
	unsigned int capacity; /* iodepth */
	struct io_u **queued;  /* iodepth entries */
	unsigned int nqueued;
	bool busy_poll;
};

/* Index @i entries after @head in a ring of @cap: no division per I/O. */
static unsigned int ring_at(unsigned int head, unsigned int i, unsigned int cap)
{
	unsigned int at = head + i;

	return at >= cap ? at - cap : at;
}

struct ioengine_ops ioengine;

/*
 * The engine reads fio's structures (thread_data, thread_options, io_u,
 * fio_file) with the layout of the headers it was compiled with. If those
 * came from a differently configured fio, fields move and I/O goes to the
 * wrong places. fio's own option table records where each option lives in
 * struct thread_options: compare a few, spread over the struct, with this
 * build's view, and check that the thread_data field after the options, the
 * engine pointer, holds this engine.
 */
#define OPT_AT(name, field)                                                                        \
	{                                                                                          \
		name, offsetof(struct thread_options, field)                                       \
	}
static const struct {
	const char *name;
	size_t off;
} layout_probe[] = {
	OPT_AT("rw", td_ddir),
	OPT_AT("ioengine", ioengine),
	OPT_AT("iodepth", iodepth),
	OPT_AT("size", size),
	OPT_AT("offset_increment", offset_increment),
	OPT_AT("bs", bs[DDIR_READ]),
	OPT_AT("numjobs", numjobs),
	OPT_AT("verify", verify),
	OPT_AT("do_verify", do_verify),
	OPT_AT("verify_fatal", verify_fatal),
	OPT_AT("thread", use_thread),
	OPT_AT("group_reporting", group_reporting),
	OPT_AT("log_entries", log_entries),
};

static int check_layout(struct thread_data *td)
{
	for (size_t i = 0; i < sizeof(layout_probe) / sizeof(layout_probe[0]); i++) {
		const struct fio_option *o = NULL;

		for (const struct fio_option *p = fio_options; p->name; p++)
			if (!strcmp(p->name, layout_probe[i].name)) {
				o = p;
				break;
			}
		if (!o || o->off1 != layout_probe[i].off) {
			log_err("fabriq-fio: built for another fio: option '%s' is at offset %ld "
				"in this fio and %zu in the engine; rebuild the engine against "
				"this "
				"fio's source (docs/fio.md)\n",
				layout_probe[i].name, o ? (long)o->off1 : -1L, layout_probe[i].off);
			return -1;
		}
	}
	if (td->io_ops != &ioengine) {
		log_err("fabriq-fio: built for another fio: struct thread_data differs; "
			"rebuild the engine against this fio's source (docs/fio.md)\n");
		return -1;
	}
	return 0;
}

/*
 * "trtype=TCP adrfam=IPv4 traddr=A trsvcid=P subnqn=N ns=1" into a transport
 * ID and a namespace ID. Keys and values are those of fq_trid_parse(), with
 * '=' for its ':', plus ns (default 1). "\:" in a value stands for ':'.
 */
static int parse_filename(const char *name, struct fq_trid *trid, uint32_t *nsid)
{
	size_t len = strlen(name);
	char *copy = malloc(len + 1), *str = malloc(len + 1), *tok, *save = NULL;
	size_t n = 0;
	int rc = 0;

	if (!copy || !str) {
		free(copy);
		free(str);
		return -ENOMEM;
	}
	/* Undo fio's escaping of ':' first. */
	for (const char *s = name; *s; s++) {
		if (s[0] == '\\' && s[1] == ':')
			s++;
		copy[n++] = *s;
	}
	copy[n] = '\0';
	n = 0;
	*nsid = 1;
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq == tok) {
			log_err("fabriq-fio: '%s' in filename '%s' is not key=value\n", tok, name);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		if (!strcasecmp(tok, "ns")) {
			char *end;
			unsigned long v = strtoul(eq + 1, &end, 0);

			if (*end || end == eq + 1 || v == 0 || v > UINT32_MAX - 1) {
				log_err("fabriq-fio: bad namespace ID 'ns=%s' in filename '%s'\n",
					eq + 1, name);
				rc = -EINVAL;
				break;
			}
			*nsid = (uint32_t)v;
			continue;
		}
		n += (size_t)sprintf(str + n, "%s%s:%s", n ? " " : "", tok, eq + 1);
	}
	str[n] = '\0';
	if (!rc && (rc = fq_trid_parse(trid, str)) < 0)
		log_err("fabriq-fio: bad transport ID in filename '%s': %s\n", name,
			fq_last_error());
	if (!rc && !trid->subnqn[0]) {
		log_err("fabriq-fio: filename '%s' has no subnqn=\n", name);
		rc = -EINVAL;
	}
	free(copy);
	free(str);
	return rc;
}

static void ctrlr_opts(struct thread_data *td, struct fq_ctrlr_opts *co)
{
	const struct ffio_opts *o = td->eo;

	fq_ctrlr_opts_init(co, sizeof(*co));
	co->num_io_queues = 1;
	co->header_digest = o->hdr_digest;
	co->data_digest = o->data_digest;
	co->disable_sqflow = o->disable_sqflow;
	/* An NVMe queue of N entries holds N - 1 commands (NVMe Base 2.0 §3.3.1). */
	if (td->o.iodepth + 1 > co->io_queue_size)
		co->io_queue_size = td->o.iodepth + 1;
}

/* Connect the controller @f names and find its namespace. */
static int connect_file(struct thread_data *td, struct fio_file *f, struct ffio_file *ff)
{
	struct fq_ctrlr_opts co;
	struct fq_trid trid;
	uint32_t nsid;
	int rc;

	if ((rc = parse_filename(f->file_name, &trid, &nsid)) < 0)
		return rc;
	ctrlr_opts(td, &co);
	rc = fq_ctrlr_connect(&trid, &co, &ff->ctrlr);
	if (rc < 0) {
		log_err("fabriq-fio: %s\n", fq_last_error());
		return rc;
	}
	ff->ns = fq_ctrlr_get_ns(ff->ctrlr, nsid);
	if (!ff->ns) {
		log_err("fabriq-fio: namespace %u of '%s' is not active\n", nsid, f->file_name);
		fq_ctrlr_disconnect(ff->ctrlr);
		ff->ctrlr = NULL;
		return -ENODEV;
	}
	ff->sector = fq_ns_get_sector_size(ff->ns);
	ff->sector_shift = (unsigned int)__builtin_ctz(ff->sector);
	return 0;
}

/*
 * Runs before the jobs start (in fio's main process unless
 * create_serialize=0): check the build, and size every file from its
 * namespace, connecting only for that.
 */
static int ffio_setup(struct thread_data *td)
{
	struct fio_file *f;
	unsigned int i;

	if (check_layout(td))
		return 1;
	if (!td->files_index) {
		log_err("fabriq-fio: give the target as filename=, e.g. 'trtype=TCP adrfam=IPv4 "
			"traddr=127.0.0.1 trsvcid=4420 subnqn=NQN ns=1'\n");
		return 1;
	}
	for_each_file(td, f, i)
	{
		struct ffio_file ff = {0};

		if (connect_file(td, f, &ff) < 0)
			return 1;
		f->real_file_size = fq_ns_get_size(ff.ns);
		f->filetype = FIO_TYPE_BLOCK;
		fio_file_set_size_known(f);
		fq_ctrlr_disconnect(ff.ctrlr);
	}
	return 0;
}

static int ffio_init(struct thread_data *td)
{
	const struct ffio_opts *o = td->eo;
	struct fq_poll_group_opts po;
	struct ffio_job *job;
	int rc;

	if (check_layout(td))
		return 1;
	job = calloc(1, sizeof(*job));
	if (!job)
		return 1;
	job->capacity = td->o.iodepth;
	job->busy_poll = o->busy_poll;
	job->done = calloc(job->capacity, sizeof(*job->done));
	job->queued = calloc(job->capacity, sizeof(*job->queued));
	fq_poll_group_opts_init(&po, sizeof(po));
	po.busy_poll = o->busy_poll;
	if (!job->done || !job->queued || (rc = fq_poll_group_create_opts(&po, &job->pg)) < 0) {
		log_err("fabriq-fio: cannot create a poll group\n");
		free(job->done);
		free(job->queued);
		free(job);
		return 1;
	}
	td->io_ops_data = job;
	return 0;
}

static int ffio_open_file(struct thread_data *td, struct fio_file *f)
{
	struct ffio_job *job = td->io_ops_data;
	struct fq_qpair_opts qo;
	struct ffio_file *ff;
	int rc;

	ff = calloc(1, sizeof(*ff));
	if (!ff)
		return 1;
	if ((rc = connect_file(td, f, ff)) < 0)
		goto fail;
	fq_qpair_opts_init(&qo, sizeof(qo));
	qo.queue_size = 0; /* the controller's io_queue_size: at least iodepth + 1 */
	qo.poll_group = job->pg;
	rc = fq_ctrlr_alloc_io_qpair(ff->ctrlr, &qo, &ff->qp);
	if (rc < 0) {
		log_err("fabriq-fio: qpair on '%s': %s\n", f->file_name, fq_last_error());
		fq_ctrlr_disconnect(ff->ctrlr);
		goto fail;
	}
	FILE_SET_ENG_DATA(f, ff);
	return 0;
fail:
	free(ff);
	td_verror(td, -rc, "open_file");
	return 1;
}

static int ffio_close_file(struct thread_data *td, struct fio_file *f)
{
	struct ffio_file *ff = FILE_ENG_DATA(f);

	(void)td;
	if (!ff)
		return 0;
	fq_qpair_free(ff->qp);
	fq_ctrlr_disconnect(ff->ctrlr);
	free(ff);
	FILE_SET_ENG_DATA(f, NULL);
	return 0;
}

static void io_done(void *arg, const struct fq_cpl *cpl)
{
	struct io_u *io_u = arg;
	struct ffio_job *job = io_u->engine_data;

	if (fq_cpl_is_error(cpl)) {
		char buf[96];

		log_err("fabriq-fio: %s at offset %llu: %s\n",
			io_u->ddir == DDIR_READ ? "read" : "write", io_u->offset,
			fq_cpl_str(cpl, buf, sizeof(buf)));
		io_u->error = EIO;
	} else {
		io_u->error = 0;
	}
	job->done[ring_at(job->head, job->ndone++, job->capacity)] = io_u;
}

/*
 * The engine sets issue times (FIO_ASYNCIO_SETS_ISSUE_TIME): the units fio
 * queued since the last poll leave on the wire with the next one, so that
 * is when they are issued. One clock reading stamps them all, where fio
 * would take one per unit at queue() time, before anything was sent; fio's
 * completion latency then runs from the send, and its submission latency,
 * which an engine with a commit hook must report itself (io_u_queued()),
 * from fio's start time to the send.
 */
static void mark_issued(struct thread_data *td, struct ffio_job *job)
{
	struct timespec now;

	if (!job->nqueued)
		return;
	if (fio_fill_issue_time(td)) {
		fio_gettime(&now, NULL);
		for (unsigned int i = 0; i < job->nqueued; i++) {
			job->queued[i]->issue_time = now;
			io_u_queued(td, job->queued[i]);
		}
		if (td->o.read_iolog_file)
			td->last_issue = now;
	}
	job->nqueued = 0;
}

/*
 * Forget the units the last getevents() handed out: fio reaps every one of
 * them (event()) before it queues or polls again. Done before anything can
 * complete, so done[] never holds more than iodepth units.
 */
static void drop_handed(struct ffio_job *job)
{
	job->head = ring_at(job->head, job->nhanded, job->capacity);
	job->ndone -= job->nhanded;
	job->nhanded = 0;
}

static bool poll_failed(int rc)
{
	if (rc >= 0 || rc == -EAGAIN || rc == -EINTR || rc == -ETIMEDOUT || rc == -ENXIO)
		return false;
	log_err("fabriq-fio: polling for completions failed: %s\n", strerror(-rc));
	return true;
}

static enum fio_q_status ffio_queue(struct thread_data *td, struct io_u *io_u)
{
	struct ffio_job *job = td->io_ops_data;
	struct ffio_file *ff = FILE_ENG_DATA(io_u->file);
	uint64_t lba = io_u->offset >> ff->sector_shift;
	uint32_t nlb = (uint32_t)(io_u->xfer_buflen >> ff->sector_shift);
	int rc;

	fio_ro_check(td, io_u);
	io_u->engine_data = job;
	if (io_u->ddir != DDIR_SYNC &&
	    ((io_u->offset | io_u->xfer_buflen) & (ff->sector - 1) || !nlb)) {
		log_err("fabriq-fio: offset %llu length %llu is not in whole %u-byte sectors\n",
			io_u->offset, io_u->xfer_buflen, ff->sector);
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	switch (io_u->ddir) {
	case DDIR_READ:
		rc = fq_ns_read(ff->ns, ff->qp, io_u->xfer_buf, lba, nlb, io_done, io_u, 0);
		break;
	case DDIR_WRITE:
		rc = fq_ns_write(ff->ns, ff->qp, io_u->xfer_buf, lba, nlb, io_done, io_u, 0);
		break;
	case DDIR_TRIM:
		rc = fq_ns_deallocate(ff->ns, ff->qp, lba, nlb, io_done, io_u);
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
		rc = fq_ns_flush(ff->ns, ff->qp, io_done, io_u);
		break;
	default:
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	if (rc == -EAGAIN)
		return FIO_Q_BUSY;
	if (rc < 0) {
		io_u->error = -rc;
		return FIO_Q_COMPLETED;
	}
	/*
	 * fio has iodepth units, so queued[] cannot fill up; should it ever,
	 * stamping these early costs only accuracy.
	 */
	if (job->nqueued == job->capacity)
		mark_issued(td, job);
	job->queued[job->nqueued++] = io_u;
	/*
	 * The library sends each FFIO_EAGER_SEND queued commands at once. Take
	 * in what completed meanwhile too (one turn, no waiting): fio queues
	 * a whole batch before it asks for events again, and answers that
	 * wait in the socket until then leave the target idle.
	 */
	if (job->nqueued == FFIO_EAGER_SEND) {
		mark_issued(td, job);
		drop_handed(job);
		/* A failure is logged here and returned by the next getevents. */
		(void)poll_failed(fq_poll_group_process_completions(job->pg));
	}
	return FIO_Q_QUEUED;
}

/*
 * Nothing is sent here: fio commits after every queue() by default
 * (iodepth_batch=1), and a send per command is a system call per command.
 * The commands wait for the next poll, in getevents(), which sends all those
 * queued since the last one in one sendmsg.
 */
static int ffio_commit(struct thread_data *td)
{
	drop_handed(td->io_ops_data);
	return 0;
}

static int64_t elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

/*
 * Hand fio between min and max completed units. Units that completed in an
 * earlier poll and were not handed out yet (fio's max is 1 unless
 * iodepth_batch_complete_max is set) go first, without polling: polling
 * would send the one command fio queued since, alone, and answer it alone,
 * and the queue would settle into one command per round trip. Left alone,
 * the commands fio queues while it takes the backlog leave together at the
 * next poll, as many as completed in the last one.
 */
static int ffio_getevents(struct thread_data *td, unsigned int min, unsigned int max,
			  const struct timespec *t)
{
	struct ffio_job *job = td->io_ops_data;
	int64_t limit_ms = t ? (int64_t)t->tv_sec * 1000 + t->tv_nsec / 1000000 : -1;
	struct timespec start;
	int rc;

	drop_handed(job);
	if (job->ndone >= min && job->ndone)
		goto out;
	mark_issued(td, job);
	if (!min) {
		/* fio only looks: one turn, without waiting. */
		if (poll_failed(rc = fq_poll_group_process_completions(job->pg)))
			return rc;
		goto out;
	}
	if (limit_ms >= 0)
		clock_gettime(CLOCK_MONOTONIC, &start);
	while (job->ndone < min) {
		if (job->busy_poll) {
			rc = fq_poll_group_process_completions(job->pg);
		} else {
			int64_t left = limit_ms < 0 ? 100 : limit_ms - elapsed_ms(&start);

			rc = fq_poll_group_wait(job->pg, left > 100 ? 100
							 : left < 0 ? 0
								    : (int)left);
		}
		if (poll_failed(rc))
			return rc;
		if (limit_ms >= 0 && elapsed_ms(&start) >= limit_ms)
			break;
	}
out:
	job->nhanded = job->ndone < max ? job->ndone : max;
	return (int)job->nhanded;
}

static struct io_u *ffio_event(struct thread_data *td, int event)
{
	struct ffio_job *job = td->io_ops_data;

	return job->done[ring_at(job->head, (unsigned int)event, job->capacity)];
}

static void ffio_cleanup(struct thread_data *td)
{
	struct ffio_job *job = td->io_ops_data;
	struct fio_file *f;
	unsigned int i;

	if (!job)
		return;
	/* Files fio left open still hold qpairs in the group. */
	for_each_file(td, f, i) ffio_close_file(td, f);
	fq_poll_group_destroy(job->pg);
	free(job->done);
	free(job->queued);
	free(job);
	td->io_ops_data = NULL;
}

static int ffio_invalidate(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0; /* no cache between fio and the namespace */
}

static struct fio_option options[] = {
	{
		.name = "busy_poll",
		.lname = "Busy-poll for completions",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct ffio_opts, busy_poll),
		.def = "1",
		.help = "Poll the sockets without sleeping (0: sleep in the kernel until data "
			"arrives)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "hdr_digest",
		.lname = "NVMe/TCP header digest",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct ffio_opts, hdr_digest),
		.def = "0",
		.help = "Request PDU header digests (CRC32C)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "data_digest",
		.lname = "NVMe/TCP data digest",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct ffio_opts, data_digest),
		.def = "0",
		.help = "Request PDU data digests (CRC32C)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "disable_sqflow",
		.lname = "Disable SQ flow control",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct ffio_opts, disable_sqflow),
		.def = "0",
		.help = "Ask the target to disable SQ flow control (reads complete without a "
			"separate response PDU)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = NULL,
	},
};

struct ioengine_ops ioengine = {
	.name = "fabriq",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL | FIO_ASYNCIO_SETS_ISSUE_TIME,
	.setup = ffio_setup,
	.init = ffio_init,
	.queue = ffio_queue,
	.commit = ffio_commit,
	.getevents = ffio_getevents,
	.event = ffio_event,
	.cleanup = ffio_cleanup,
	.open_file = ffio_open_file,
	.close_file = ffio_close_file,
	.invalidate = ffio_invalidate,
	.option_struct_size = sizeof(struct ffio_opts),
	.options = options,
};
