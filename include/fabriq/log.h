/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics: libfabriq writes one line per event to stderr, for events at
 * or above the level set here (default FQ_LOG_INFO). Safe from any thread.
 */
#ifndef FABRIQ_LOG_H
#define FABRIQ_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum fq_log_level {
	FQ_LOG_ERROR = 0,
	FQ_LOG_WARN = 1,
	FQ_LOG_INFO = 2,
	FQ_LOG_DEBUG = 3,
};

/** fq_log_set_level() - Print events at @level (enum fq_log_level) and above. */
void fq_log_set_level(int level);
/** fq_log_get_level() - Return: the level fq_log_set_level() last set. */
int fq_log_get_level(void);

#ifdef __cplusplus
}
#endif

#endif
