/* SPDX-License-Identifier: MIT */
/*
 * Names: how an application says which namespace an I/O addresses. A name
 * is a selector ("nsid:N", "nguid:HEX", "uuid:8-4-4-4-12") or a word the
 * [names] section maps to one. Resolution is exact; nothing is guessed.
 */
#ifndef FQ_STORAGE_NAMES_H
#define FQ_STORAGE_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sto_sel_kind {
	STO_SEL_NSID = 0,
	STO_SEL_NGUID,
	STO_SEL_UUID,
};

struct sto_sel {
	enum sto_sel_kind kind;
	uint32_t nsid;
	uint8_t id[16];
};

/* A [names] word: 1-63 of [A-Za-z0-9_.-], no ':' (that marks selectors). */
bool sto_name_is_valid(const char *name);

/*
 * Parse a selector. Return: 0, -ENOENT if @s has no selector prefix (it may
 * be a configured name), -EINVAL if the prefix is there but the value is
 * malformed (@why says how, when given).
 */
int sto_sel_parse(const char *s, struct sto_sel *out, char *why, size_t whylen);

/* Like sto_sel_parse(), but a missing prefix is an error too. */
int sto_selector_check(const char *s, char *why, size_t whylen);

#endif
