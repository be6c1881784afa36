/* SPDX-License-Identifier: MIT */
/* fabriqd's management socket, client side (rpc_client.c; docs/rpc.md). */
#ifndef FQ_CLI_RPC_CLIENT_H
#define FQ_CLI_RPC_CLIENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* Where the installed fabriqd service listens (fabriqd.service). */
#define CLI_RPC_SOCKET "/run/fabriq/fabriqd.sock"

/*
 * Call @method with @params (taken over; NULL for none) on the socket @sock
 * (NULL: the default). Returns EXIT_OK with *result set (the caller puts
 * it), EXIT_CONNECT if fabriqd cannot be reached or answered nothing,
 * EXIT_RPC if it answered with an error; @err says why.
 */
int cli_rpc_call(const char *sock, const char *method, json_object *params, json_object **result,
		 char *err, size_t errlen);

/* The command-line verbs (rpc.c, subsystem.c). */
int cmd_rpc(int argc, char **argv);
int cmd_subsystem(int argc, char **argv);
/* bdev.c, referral.c */
int cmd_bdev(int argc, char **argv);
int cmd_referral(int argc, char **argv);
/* pool.c; pool_check.c for the offline check. */
int cmd_pool(int argc, char **argv);
int cmd_volume(int argc, char **argv);
int cli_pool_check(const char *path, bool json);
int cmd_config(int argc, char **argv);
int cmd_connections(int argc, char **argv);
int cmd_stats(int argc, char **argv);

#endif
