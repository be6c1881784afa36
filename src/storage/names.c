/* SPDX-License-Identifier: MIT */
/*
 * Name resolution. The seed design turned "path + offset" into an LBA with
 * an undefined path_to_lba(); here a name is either an explicit namespace
 * selector or a word the configuration maps to one, and anything else fails
 * with a message listing the accepted forms.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

bool sto_name_is_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= STO_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!isalnum(ch) && ch != '_' && ch != '-' && ch != '.')
			return false;
	}
	return true;
}

static void why_set(char *why, size_t len, const char *msg)
{
	if (why && len)
		snprintf(why, len, "%s", msg);
}

/* @hex: 32 hex digits, optional '-' anywhere between byte pairs. */
static int parse_id(const char *s, uint8_t id[16], bool uuid_layout)
{
	static const int dash_at[] = {8, 13, 18, 23};
	int nd = 0;
	size_t pos = 0;

	for (; *s; s++, pos++) {
		if (*s == '-') {
			if (uuid_layout && (nd >= 4 || (int)pos != dash_at[nd]))
				return -EINVAL;
			nd++;
			continue;
		}
		if (!isxdigit((unsigned char)*s) || pos - (size_t)nd >= 32)
			return -EINVAL;
		{
			int v = isdigit((unsigned char)*s) ? *s - '0' : (tolower(*s) - 'a' + 10);
			size_t k = (pos - (size_t)nd) / 2;

			id[k] = (uint8_t)(((pos - (size_t)nd) % 2) ? (id[k] | v) : (v << 4));
		}
	}
	if (pos - (size_t)nd != 32 || (uuid_layout && nd != 4))
		return -EINVAL;
	return 0;
}

int sto_sel_parse(const char *s, struct sto_sel *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	if (!strncmp(s, "nsid:", 5)) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(s + 5, &end, 10);
		if (errno || end == s + 5 || *end || v == 0 || v > 0xfffffffe) {
			why_set(why, whylen, "nsid must be a decimal number from 1 to 4294967294");
			return -EINVAL;
		}
		out->kind = STO_SEL_NSID;
		out->nsid = (uint32_t)v;
		return 0;
	}
	if (!strncmp(s, "nguid:", 6) || !strncmp(s, "uuid:", 5)) {
		bool uuid = s[0] == 'u';

		out->kind = uuid ? STO_SEL_UUID : STO_SEL_NGUID;
		if (parse_id(s + (uuid ? 5 : 6), out->id, uuid)) {
			why_set(why, whylen,
				uuid ? "uuid must be 8-4-4-4-12 hex digits"
				     : "nguid must be 32 hex digits (dashes allowed)");
			return -EINVAL;
		}
		return 0;
	}
	why_set(why, whylen, "expected nsid:N, nguid:HEX32 or uuid:8-4-4-4-12");
	return -ENOENT;
}

int sto_selector_check(const char *s, char *why, size_t whylen)
{
	struct sto_sel sel;
	int rc = sto_sel_parse(s, &sel, why, whylen);

	return rc == -ENOENT ? -EINVAL : rc;
}

static int sel_find(struct fq_storage *st, const struct sto_sel *sel)
{
	for (unsigned i = 0; i < st->nns; i++) {
		const struct sto_ns *ns = &st->ns[i];

		if ((sel->kind == STO_SEL_NSID && ns->nsid == sel->nsid) ||
		    (sel->kind == STO_SEL_NGUID && ns->has_nguid &&
		     !memcmp(ns->nguid, sel->id, 16)) ||
		    (sel->kind == STO_SEL_UUID && ns->has_uuid && !memcmp(ns->uuid, sel->id, 16)))
			return (int)i;
	}
	return -ENOENT;
}

int sto_resolve(struct fq_storage *st, const char *name, struct sto_ns **out)
{
	struct sto_sel sel;
	char why[96];
	int rc, i;

	if (!name) {
		sto_set_error(st, -EINVAL, "no name given");
		return -EINVAL;
	}
	/* Configured names first: the common case and a few strcmp()s. */
	for (unsigned k = 0; k < st->cfg.nnames; k++) {
		if (!strcmp(st->cfg.names[k].name, name)) {
			*out = &st->ns[st->name_ns[k]];
			return 0;
		}
	}
	rc = sto_sel_parse(name, &sel, why, sizeof(why));
	if (rc == -ENOENT) {
		sto_set_error(st, -ENOENT,
			      "unknown name '%.64s': not in [names] and not a selector (nsid:N, "
			      "nguid:HEX32, uuid:8-4-4-4-12)",
			      name);
		return -ENOENT;
	}
	if (rc) {
		sto_set_error(st, -ENOENT, "bad selector '%.80s': %s", name, why);
		return -ENOENT;
	}
	i = sel_find(st, &sel);
	if (i < 0) {
		sto_set_error(st, -ENOENT, "no namespace matches '%.80s' (%u namespaces)", name,
			      st->nns);
		return -ENOENT;
	}
	*out = &st->ns[i];
	return 0;
}

int sto_resolve_config_names(struct fq_storage *st, char *err, size_t errlen)
{
	for (unsigned k = 0; k < st->cfg.nnames; k++) {
		const struct sto_name *n = &st->cfg.names[k];
		struct sto_sel sel;
		int i;

		if (sto_sel_parse(n->sel, &sel, NULL, 0) || (i = sel_find(st, &sel)) < 0) {
			if (err)
				snprintf(err, errlen,
					 "line %d: name '%s': no namespace matches '%s' (%u "
					 "namespaces)",
					 n->line, n->name, n->sel, st->nns);
			return -ENOENT;
		}
		st->name_ns[k] = i;
	}
	return 0;
}
