/* SPDX-License-Identifier: MIT */
/*
 * The target address of every command that talks to one, in either form:
 * nvme-cli's -t/-a/-s/-n/-q, or one -r TRID string (--trid). Commands whose
 * short letters mean something else (perf) take the long names only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

int cli_addr_set(struct cli_addr *a, int key, const char *arg)
{
	switch (key) {
	case CLI_ADDR_TRANSPORT:
		a->transport = arg;
		return strcasecmp(arg, "tcp") ? -EINVAL : 0;
	case CLI_ADDR_TRADDR:
		a->traddr = arg;
		return 0;
	case CLI_ADDR_TRSVCID:
		a->trsvcid = arg;
		return 0;
	case CLI_ADDR_NQN:
		a->subnqn = arg;
		return 0;
	case CLI_ADDR_HOSTNQN:
		a->hostnqn = arg;
		return 0;
	case CLI_ADDR_TRID: {
		struct fq_trid t;

		a->trid = arg;
		return fq_trid_parse(&t, arg);
	}
	default:
		return -EINVAL;
	}
}

bool cli_addr_given(const struct cli_addr *a)
{
	return a->trid || a->traddr || a->trsvcid || a->subnqn || a->transport;
}

int cli_addr_check(const struct cli_addr *a, const char *cmd, bool need)
{
	if (a->trid && (a->traddr || a->trsvcid || a->subnqn || a->transport)) {
		fprintf(stderr,
			"fabriq %s: give the target either as --trid TRID or as "
			"--traddr/--trsvcid/--nqn, not both\n",
			cmd);
		return -EINVAL;
	}
	if (!a->trid && !a->traddr && (need || a->trsvcid || a->subnqn || a->transport)) {
		fprintf(stderr,
			"fabriq %s: need --traddr ADDR (with --trsvcid PORT --nqn NQN) or "
			"--trid TRID\n",
			cmd);
		return -EINVAL;
	}
	return 0;
}

int cli_addr_string(const struct cli_addr *a, char *buf, size_t len)
{
	int n;

	if (a->trid)
		n = snprintf(buf, len, "%s", a->trid);
	else
		n = snprintf(buf, len, "trtype:TCP traddr:%s%s%s%s%s", a->traddr,
			     a->trsvcid ? " trsvcid:" : "", a->trsvcid ? a->trsvcid : "",
			     a->subnqn ? " subnqn:" : "", a->subnqn ? a->subnqn : "");
	if (n >= 0 && (size_t)n < len && a->hostnqn)
		n += snprintf(buf + n, len - (size_t)n, " hostnqn:%s", a->hostnqn);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cli_addr_trid(const struct cli_addr *a, const char *cmd, bool discovery, struct fq_trid *t)
{
	char s[1200];

	if (cli_addr_string(a, s, sizeof(s)) || fq_trid_parse(t, s)) {
		if (a->trid)
			fprintf(stderr, "fabriq %s: invalid TRID '%s'\n", cmd, a->trid);
		else
			fprintf(stderr,
				"fabriq %s: invalid target: address '%s', port '%s', NQN '%s'\n",
				cmd, a->traddr, a->trsvcid ? a->trsvcid : "",
				a->subnqn ? a->subnqn : "");
		return -EINVAL;
	}
	if (discovery && !t->subnqn[0])
		snprintf(t->subnqn, sizeof(t->subnqn), "%s", FQ_DISCOVERY_SUBNQN);
	if (!t->subnqn[0]) {
		fprintf(stderr,
			"fabriq %s: need the subsystem NQN (--nqn NQN or subnqn: in --trid)\n",
			cmd);
		return -EINVAL;
	}
	return 0;
}
