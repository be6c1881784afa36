/* SPDX-License-Identifier: MIT */
/*
 * The client side of fabriqd's management socket (docs/rpc.md): one
 * JSON-RPC 2.0 request line out, one response line back.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "rpc_client.h"

/* A response may list many subsystems; a request is one line. */
#define MAX_RESPONSE (64u * 1024 * 1024)
#define TIMEOUT_MS 60000

static int sock_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int rc = -errno;

		snprintf(err, errlen, "cannot reach fabriqd at %s: %s%s", path, strerror(errno),
			 errno == ENOENT ? " (is fabriqd running with --rpc-socket? -S names "
					   "another socket)"
					 : "");
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read up to the first newline; a malloc'ed NUL-terminated line or NULL. */
static char *recv_line(int fd, char *err, size_t errlen)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);

	while (buf) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		char *nl;

		if (poll(&p, 1, TIMEOUT_MS) == 0) {
			snprintf(err, errlen, "no answer from fabriqd within %d s",
				 TIMEOUT_MS / 1000);
			break;
		}
		if (len + 1 == cap) {
			char *b = cap >= MAX_RESPONSE ? NULL : realloc(buf, cap * 2);

			if (!b) {
				snprintf(err, errlen, "the response is too large");
				break;
			}
			buf = b;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "fabriqd closed the connection%s%s", n ? ": " : "",
				 n ? strerror(errno) : "");
			break;
		}
		buf[len + (size_t)n] = '\0';
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

int cli_rpc_call(const char *sock, const char *method, json_object *params, json_object **result,
		 char *err, size_t errlen)
{
	json_object *req = json_object_new_object(), *resp, *v;
	char *line;
	const char *s;
	int fd, rc = EXIT_RPC;

	*result = NULL;
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", params);
	fd = sock_connect(sock ? sock : CLI_RPC_SOCKET, err, errlen);
	if (fd < 0) {
		json_object_put(req);
		return EXIT_CONNECT;
	}
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (send_all(fd, s, strlen(s)) || send_all(fd, "\n", 1)) {
		snprintf(err, errlen, "cannot send to fabriqd: %s", strerror(errno));
		json_object_put(req);
		close(fd);
		return EXIT_CONNECT;
	}
	json_object_put(req);
	line = recv_line(fd, err, errlen);
	close(fd);
	if (!line)
		return EXIT_CONNECT;
	resp = json_tokener_parse(line);
	free(line);
	if (!resp || !json_object_is_type(resp, json_type_object)) {
		snprintf(err, errlen, "fabriqd sent a response that is not JSON-RPC");
	} else if (json_object_object_get_ex(resp, "error", &v)) {
		json_object *m = NULL, *c = NULL;

		json_object_object_get_ex(v, "message", &m);
		json_object_object_get_ex(v, "code", &c);
		snprintf(err, errlen, "%s: %s (error %d)", method,
			 m ? json_object_get_string(m) : "error", c ? json_object_get_int(c) : 0);
	} else if (json_object_object_get_ex(resp, "result", &v)) {
		*result = json_object_get(v);
		rc = EXIT_OK;
	} else {
		snprintf(err, errlen, "fabriqd sent a response without a result");
	}
	json_object_put(resp);
	return rc;
}
