/*
 * bare_server: the baseline for the HTTP benchmarks. libmicrohttpd with the
 * same threading as privreg serve (internal epoll, a pool of N threads),
 * answering every request with a fixed small JSON body and nothing else.
 * Usage: bare_server PORT THREADS   (runs until SIGTERM/SIGINT)
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char body[] = "{\"status\":\"ok\"}";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	static int first_call; /* address used as a marker only */
	struct MHD_Response *resp = cls;
	/* Like privreg: the first call only sees the headers, the answer goes
	 * out once the request is complete (answering on the first call makes
	 * libmicrohttpd close the connection instead of keeping it alive). */
	if (!*con_cls) {
		*con_cls = &first_call;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	return MHD_queue_response(conn, MHD_HTTP_OK, resp);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	unsigned port = (unsigned)atoi(argv[1]), threads = (unsigned)atoi(argv[2]);
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
	                                        NULL, NULL, on_request, resp, MHD_OPTION_THREAD_POOL_SIZE, threads,
	                                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
	if (!d)
		return 1;
	printf("bare server on http://127.0.0.1:%u\n", port);
	fflush(stdout);
	int sig;
	sigwait(&stop, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(resp);
	return 0;
}
