/*
 * fuzz_http: any bytes as one HTTP request to a real privreg server running
 * in this process, over a throwaway SQLite register in /tmp (web shop
 * policy) and an admin key. The body decoding of the handlers is entangled
 * with the handlers themselves (each reads its keys from the parsed JSON
 * and calls core at once), so this target drives the whole path a request
 * takes: libmicrohttpd, the router, the query and body checks
 * (http.c), the handler's decoding, core and the store, and the answer.
 *
 * Input: "METHOD PATH\nBODY". The path may carry a query; in it and in the
 * body, $S, $R and $Q stand for the ids of a subject, one of its records
 * and an open access request the target made (made again after every 2xx
 * to a change, which may have used them up). The body is sent as
 * application/json with the admin key. Inputs whose method or path could
 * not be one request line are skipped.
 *
 * Checked: every request is answered within 30 s (a real 30 s: see
 * wait_fd), never with a 5xx, and a JSON answer parses as JSON; and once it is answered, no transaction is
 * left open: a connection of the target's own takes the write lock within
 * 5 s (a transaction left open by a handler would hold SQLite's write lock,
 * and the server's writer mutex, for good, and hang every later write on
 * the other threads).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "api/server.h"
#include "fuzz.h"

#define PATH_MAX_LEN 2048

static struct fuzz_register reg;
static struct server *srv;
static sqlite3 *probe;
static char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], qid[TOKEN_ID_MAX];

struct answer {
	int status;
	char *body;       /* NUL-terminated */
	bool json;
};

/* libFuzzer's -timeout runs an interval timer (SIGALRM every timeout/2 + 1
 * seconds, 31 s under tests/fuzz/run) whose handler is installed without
 * SA_RESTART, so a blocking call of this thread can end early with EINTR.
 * Every wait here is therefore a poll against a deadline, retried on EINTR:
 * a recv cut short by the alarm was once taken for a server that had left
 * a request unanswered for 30 s (docs/reliability.md, "Findings"). */
static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes (false). */
static bool wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return false;
		struct pollfd pfd = {.fd = fd, .events = events};
		int r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			fuzz_fail("poll: %s", strerror(errno));
	}
}

static void send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!wait_fd(fd, POLLOUT, deadline))
				return; /* call_once then finds no answer in time */
			continue;
		}
		if (w <= 0)
			return; /* the server may answer (413) and close before all is sent */
		p += w;
		n -= (size_t)w;
	}
}

/* Where every thread and socket is, into /tmp/privreg-fuzz-stall-PID-N.txt
 * (ss and gdb, when there are): the evidence of a stall. */
static void record_stall(const char *method, const char *path)
{
	static int n;
	char cmd[512];
	snprintf(cmd, sizeof cmd,
	         "{ echo '%s %s: no answer within 30 s'; ss -tanpi; ls -l /proc/%d/fd; "
	         "gdb -p %d -batch -ex 'thread apply all bt 30'; } >/tmp/privreg-fuzz-stall-%d-%d.txt 2>&1",
	         method, path, (int)getpid(), (int)getpid(), (int)getpid(), ++n);
	if (system(cmd) == -1)
		fuzz_fail("cannot record a stall");
}

/* One request on a new connection; the whole answer, read to the close.
 * False when the answer had not ended 30 s after the connect began. */
static bool call_once(const char *method, const char *path, const char *body, size_t len, struct answer *a)
{
	int64_t deadline = mono_ms() + 30000;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(server_port(srv))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		fuzz_fail("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		/* Interrupted, the connect goes on: it has ended when writable. */
		int err = errno;
		socklen_t el = sizeof err;
		if (err == EINTR && wait_fd(fd, POLLOUT, deadline))
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err && err != EISCONN)
			fuzz_fail("cannot connect to the server: %s", strerror(err));
	}
	char head[PATH_MAX_LEN + 512];
	int hn = snprintf(head, sizeof head,
	                  "%s %s HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer %s\r\n"
	                  "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	                  method, path, reg.admin_key, len);
	send_all(fd, head, (size_t)hn, deadline);
	send_all(fd, body, len, deadline);
	size_t n = 0, cap = 8192;
	char *in = malloc(cap);
	for (;;) {
		if (n + 4096 + 1 > cap)
			in = realloc(in, cap *= 2);
		if (!in)
			abort();
		ssize_t r = -1;
		if (wait_fd(fd, POLLIN, deadline))
			r = recv(fd, in + n, 4096, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) && mono_ms() < deadline)
			continue;
		if (r < 0) {
			record_stall(method, path);
			close(fd);
			free(in);
			return false;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	in[n] = '\0';
	if (sscanf(in, "HTTP/1.%*d %d", &a->status) != 1)
		fuzz_fail("%s %s: not an HTTP answer", method, path);
	char *sep = strstr(in, "\r\n\r\n");
	a->json = strstr(in, "Content-Type: application/json") != NULL &&
	          (!sep || strstr(in, "Content-Type: application/json") < sep);
	a->body = strdup(sep ? sep + 4 : "");
	free(in);
	return true;
}

/* A request left unanswered for 30 s is a finding: the evidence is
 * recorded (record_stall) and the target fails. */
static void call(const char *method, const char *path, const char *body, size_t len, struct answer *a)
{
	if (!call_once(method, path, body, len, a))
		fuzz_fail("%s %s: no answer within 30 s (see /tmp/privreg-fuzz-stall-%d-*.txt)", method, path,
		          (int)getpid());
}

static void id_of(const char *what, const char *body, const char *pointer, char out[TOKEN_ID_MAX])
{
	json_t *j = json_loads(body, 0, NULL);
	json_t *v = j;
	if (!strcmp(pointer, "records"))
		v = json_array_get(json_object_get(j, "records"), 0);
	const char *s = json_string_value(json_object_get(v, "id"));
	if (!s || strlen(s) >= TOKEN_ID_MAX)
		fuzz_fail("no id in the answer to %s: %s", what, body);
	strcpy(out, s);
	json_decref(j);
}

/* A new subject with a record, and an open access request on it. */
static void fixtures(void)
{
	static unsigned n;
	char body[256];
	struct answer a;
	int len = snprintf(body, sizeof body,
	                   "{\"records\":[{\"kind\":\"account\",\"fields\":{\"email\":\"fuzz%u@example.ee\"}}]}", ++n);
	call("POST", "/v1/subjects", body, (size_t)len, &a);
	if (a.status != 201)
		fuzz_fail("fixture subject: %d %s", a.status, a.body);
	id_of("POST /v1/subjects", a.body, "", sid);
	id_of("POST /v1/subjects", a.body, "records", rid);
	free(a.body);
	len = snprintf(body, sizeof body, "{\"type\":\"access\",\"subject_id\":\"%s\"}", sid);
	call("POST", "/v1/requests", body, (size_t)len, &a);
	if (a.status != 201)
		fuzz_fail("fixture request: %d %s", a.status, a.body);
	id_of("POST /v1/requests", a.body, "", qid);
	free(a.body);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct errbuf eb = {""};
	fuzz_register_new(&reg, "webshop");
	struct server_config cfg = {
		.keydir = reg.keydir,
		.store_url = reg.store_url,
		.listen = "127.0.0.1:0",
		.threads = 2,
		.auth_fail_limit = 1000000,
		.per_ip_limit = 1000,
	};
	enum rc rc = server_start(&cfg, &srv, &eb);
	if (rc)
		fuzz_fail("server_start: %s", err_msg(&eb, rc));
	fixtures();
	char path[400];
	snprintf(path, sizeof path, "%s/privreg.db", reg.dir);
	if (sqlite3_open_v2(path, &probe, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		fuzz_fail("cannot open %s", path);
	sqlite3_busy_timeout(probe, 5000);
	return 0;
}

/* The write lock is free (taken and given back at once), or it is held by
 * a transaction someone left open. */
static void check_no_open_transaction(const char *method, const char *path)
{
	int rc = sqlite3_exec(probe, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fuzz_fail("%s %s: the write lock is still held 5 s after the answer (%s)", method, path,
		          sqlite3_errstr(rc));
	if (sqlite3_exec(probe, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("rollback of the probe");
}

/* Copies s (n bytes) with $S, $R and $Q replaced by the fixtures' ids. */
static char *expand(const char *s, size_t n, size_t *out_len)
{
	char *out = malloc(n * TOKEN_ID_MAX / 2 + TOKEN_ID_MAX + 1);
	size_t o = 0;
	if (!out)
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *id = NULL;
		if (s[i] == '$' && i + 1 < n)
			id = s[i + 1] == 'S' ? sid : s[i + 1] == 'R' ? rid : s[i + 1] == 'Q' ? qid : NULL;
		if (id) {
			memcpy(out + o, id, strlen(id));
			o += strlen(id);
			i++;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *nl = memchr(s, '\n', size), *sp = memchr(s, ' ', size);
	if (!nl || !sp || sp > nl || sp == s || sp - s > 10 || nl - sp - 1 > PATH_MAX_LEN / 2 || sp[1] != '/')
		return -1;
	char method[11];
	memcpy(method, s, (size_t)(sp - s));
	method[sp - s] = '\0';
	for (const char *c = s; c < sp; c++)
		if (*c < 'A' || *c > 'Z')
			return -1;
	for (const char *c = sp + 1; c < nl; c++)
		if (*c <= ' ' || *c >= 0x7f)
			return -1;
	size_t plen, blen;
	char *path = expand(sp + 1, (size_t)(nl - sp - 1), &plen);
	char *body = expand(nl + 1, size - (size_t)(nl + 1 - s), &blen);
	struct answer a = {0};
	call(method, path, body, blen, &a);
	if (a.status >= 500)
		fuzz_fail("%s %s answered %d: %s", method, path, a.status, a.body);
	if (a.json && a.body[0]) {
		json_t *j = json_loads(a.body, JSON_DECODE_ANY, NULL);
		if (!j)
			fuzz_fail("%s %s answered %d with JSON that does not parse: %s", method, path, a.status, a.body);
		json_decref(j);
	}
	check_no_open_transaction(method, path);
	if (a.status >= 200 && a.status < 300 && strcmp(method, "GET"))
		fixtures();
	free(a.body);
	free(path);
	free(body);
	return 0;
}
