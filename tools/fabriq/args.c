/* SPDX-License-Identifier: MIT */
/* Option parsing for every sub-command (nvme-cli style connection flags). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	O_NSID = 256,
	O_OFFSET,
	O_LENGTH,
	O_INPUT,
	O_OUTPUT,
	O_PATTERN,
	O_VERIFY,
	O_FUA,
	O_BS,
	O_QD,
	O_LID,
	O_LOGLEN,
	O_FID,
	O_SEL,
	O_CDW11,
	O_VALUE,
	O_SAVE,
	O_COUNT,
	O_INTERVAL,
	O_JSON,
	O_CTO,
	O_DEALLOC,
	O_REFERRALS,
	O_DEST_LBA,
	O_RANGE,
};

static const struct option opts[] = {
	{"transport", required_argument, 0, 't'},
	{"traddr", required_argument, 0, 'a'},
	{"trsvcid", required_argument, 0, 's'},
	{"nqn", required_argument, 0, 'n'},
	{"hostnqn", required_argument, 0, 'q'},
	{"trid", required_argument, 0, 'r'},
	{"hdr-digest", no_argument, 0, 'g'},
	{"data-digest", no_argument, 0, 'G'},
	{"output-format", required_argument, 0, 'o'},
	{"json", no_argument, 0, O_JSON},
	{"verbose", no_argument, 0, 'v'},
	{"raw-binary", no_argument, 0, 'b'},
	{"help", no_argument, 0, 'h'},
	{"human-readable", no_argument, 0, 'H'},
	{"connect-timeout", required_argument, 0, O_CTO},
	{"nsid", required_argument, 0, O_NSID},
	{"offset", required_argument, 0, O_OFFSET},
	{"length", required_argument, 0, O_LENGTH},
	{"input", required_argument, 0, O_INPUT},
	{"output", required_argument, 0, O_OUTPUT},
	{"pattern", required_argument, 0, O_PATTERN},
	{"verify", no_argument, 0, O_VERIFY},
	{"fua", no_argument, 0, O_FUA},
	{"deallocate", no_argument, 0, O_DEALLOC},
	{"block-size", required_argument, 0, O_BS},
	{"queue-depth", required_argument, 0, O_QD},
	{"log-id", required_argument, 0, O_LID},
	{"log-len", required_argument, 0, O_LOGLEN},
	{"feature-id", required_argument, 0, O_FID},
	{"sel", required_argument, 0, O_SEL},
	{"cdw11", required_argument, 0, O_CDW11},
	{"value", required_argument, 0, O_VALUE},
	{"save", no_argument, 0, O_SAVE},
	{"count", required_argument, 0, O_COUNT},
	{"interval", required_argument, 0, O_INTERVAL},
	{"referrals", no_argument, 0, O_REFERRALS},
	{"dest-lba", required_argument, 0, O_DEST_LBA},
	{"range", required_argument, 0, O_RANGE},
	{0, 0, 0, 0},
};

/* Bytes with an optional K/M/G/T suffix (powers of 1024). */
int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

/* copy --range SLBA:NLB (blocks; NLB 1..65536, what one source range holds). */
static int parse_copy_range(struct cli *c, const char *arg)
{
	char buf[64], *colon;
	uint64_t slba, nlb;

	size_t n = strlen(arg);

	if (c->ncopy == FQ_NS_COPY_MAX_RANGES || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, arg, n + 1);
	colon = strchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (parse_u64(buf, &slba) || parse_u64(colon + 1, &nlb) || nlb == 0 || nlb > 65536)
		return -EINVAL;
	c->copy[c->ncopy++] = (struct fq_copy_range_desc){.slba = slba, .nlb = (uint32_t)nlb};
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (cli_parse_size(s, &v) || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int set_opt(struct cli *c, int ch, const char *arg)
{
	uint32_t v32;

	switch (ch) {
	case 't':
		return cli_addr_set(&c->addr, CLI_ADDR_TRANSPORT, arg);
	case 'a':
		return cli_addr_set(&c->addr, CLI_ADDR_TRADDR, arg);
	case 's':
		return cli_addr_set(&c->addr, CLI_ADDR_TRSVCID, arg);
	case 'n':
		return cli_addr_set(&c->addr, CLI_ADDR_NQN, arg);
	case 'q':
		return cli_addr_set(&c->addr, CLI_ADDR_HOSTNQN, arg);
	case 'r':
		return cli_addr_set(&c->addr, CLI_ADDR_TRID, arg);
	case 'g':
		c->hdgst = true;
		return 0;
	case 'G':
		c->ddgst = true;
		return 0;
	case 'o':
		if (strcmp(arg, "json") && strcmp(arg, "normal"))
			return -EINVAL;
		c->json = !strcmp(arg, "json");
		return 0;
	case O_JSON:
		c->json = true;
		return 0;
	case 'v':
		c->verbose++;
		return 0;
	case 'b':
		c->raw_binary = true;
		return 0;
	case 'H':
		c->human = true;
		return 0;
	case O_CTO:
		return parse_u32(arg, &c->connect_timeout_ms);
	case O_NSID:
		return parse_u32(arg, &c->nsid);
	case O_OFFSET:
		return cli_parse_size(arg, &c->offset);
	case O_LENGTH:
		c->have_length = true;
		return cli_parse_size(arg, &c->length);
	case O_INPUT:
		c->input = arg;
		return 0;
	case O_OUTPUT:
		c->output = arg;
		return 0;
	case O_PATTERN:
		c->pattern = arg;
		return cli_pattern_check(arg);
	case O_VERIFY:
		c->verify = true;
		return 0;
	case O_FUA:
		c->fua = true;
		return 0;
	case O_DEALLOC:
		c->deallocate = true;
		return 0;
	case O_BS:
		return cli_parse_size(arg, &c->block_size);
	case O_QD:
		return parse_u32(arg, &c->queue_depth);
	case O_LID:
		if (parse_u32(arg, &v32) || v32 > 255)
			return -EINVAL;
		c->lid = (int)v32;
		return 0;
	case O_LOGLEN:
		return parse_u32(arg, &c->log_len);
	case O_FID:
		if (parse_u32(arg, &v32) || v32 > 255)
			return -EINVAL;
		c->fid = (int)v32;
		return 0;
	case O_SEL:
		if (parse_u32(arg, &c->sel) || c->sel > 3)
			return -EINVAL;
		return 0;
	case O_CDW11:
		return parse_u32(arg, &c->cdw11);
	case O_VALUE:
		return parse_u32(arg, &c->value);
	case O_SAVE:
		c->save = true;
		return 0;
	case O_COUNT:
		c->have_count = true;
		return parse_u32(arg, &c->count);
	case O_INTERVAL:
		return parse_u32(arg, &c->interval_ms);
	case O_REFERRALS:
		c->follow_referrals = true;
		return 0;
	case O_DEST_LBA:
		c->have_dest_lba = true;
		return parse_u64(arg, &c->dest_lba);
	case O_RANGE:
		return parse_copy_range(c, arg);
	default:
		return -EINVAL;
	}
}

/* Returns 0 to run, 1 after printing help, -1 on a usage error. */
int cli_parse(struct cli *c, int argc, char **argv)
{
	const char *cmd = c->cmd;
	int ch, idx;

	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->lid = c->fid = -1;
	c->log_len = 512;
	c->block_size = 1 << 20;
	c->queue_depth = 8;
	c->count = 3;
	c->interval_ms = 1000;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "t:a:s:n:q:r:gGo:vbHh", opts, &idx)) != -1) {
		if (ch == 'h') {
			cli_help(cli_find(cmd));
			return 1;
		}
		if (ch == '?' || set_opt(c, ch, optarg)) {
			if (ch != '?')
				fprintf(stderr, "fabriq %s: invalid value '%s'\n", cmd,
					optarg ? optarg : "");
			fprintf(stderr, "try 'fabriq help %s'\n", cmd);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fabriq %s: unexpected argument '%s'\n", cmd, argv[optind]);
		return -1;
	}
	if (cli_addr_check(&c->addr, cmd, true))
		return -1;
	return 0;
}
