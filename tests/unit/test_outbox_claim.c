/*
 * The outbox's claims (issue #11, item 4): two senders, each with its own
 * connection to one real SQLite file, deliver a shared outbox to a real SMTP
 * server on loopback (a small one below, in a thread), and every message
 * arrives exactly once. And the claim's own rules, at fixed times: a live
 * claim keeps a message from other senders and from the due list; an
 * expired one (its sender died mid-send) is taken again; a sent or
 * rescheduled message cannot be claimed until it is due again. And the
 * notifications still owed, the console's deliveries page's list.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/consent.h"
#include "core/mail.h"
#include "core/subject.h"
#include "helpers.h"
#include "sender/sender.h"

#define WEBSHOP "policies/webshop.yaml"
#define NOW "2024-06-15T12:00:00Z"
#define MESSAGES 40
#define SINK_MAX 256

/* ---- an SMTP server that keeps each message's Message-ID ---- */

struct sink {
	int fd;
	uint16_t port;
	pthread_t thread;
	pthread_mutex_t lock;
	bool stopping;
	size_t n;
	char ids[SINK_MAX][64];
};

static void say(int fd, const char *line)
{
	size_t len = strlen(line);
	assert_int_equal(send(fd, line, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* One SMTP session: greets, accepts every command, and records the
 * Message-ID of each message it takes. */
static void sink_session(struct sink *k, int fd)
{
	FILE *in = fdopen(dup(fd), "r");
	assert_non_null(in);
	char line[1024], id[64] = "";
	bool data = false;
	say(fd, "220 sink ESMTP\r\n");
	while (fgets(line, sizeof line, in)) {
		if (data) {
			if (!strcmp(line, ".\r\n")) {
				data = false;
				/* A little time per message, as a real server takes: it
				 * widens the window in which two senders could both send. */
				usleep(2000);
				pthread_mutex_lock(&k->lock);
				if (k->n < SINK_MAX)
					snprintf(k->ids[k->n++], sizeof k->ids[0], "%s", id);
				pthread_mutex_unlock(&k->lock);
				say(fd, "250 taken\r\n");
			} else if (!strncmp(line, "Message-ID: ", 12)) {
				snprintf(id, sizeof id, "%.*s", (int)strcspn(line + 12, "\r\n"), line + 12);
			}
			continue;
		}
		if (!strncmp(line, "DATA", 4)) {
			data = true;
			id[0] = '\0';
			say(fd, "354 go on\r\n");
		} else if (!strncmp(line, "QUIT", 4)) {
			say(fd, "221 bye\r\n");
			break;
		} else {
			say(fd, "250 ok\r\n");
		}
	}
	fclose(in);
	close(fd);
}

static void *sink_main(void *arg)
{
	struct sink *k = arg;
	for (;;) {
		pthread_mutex_lock(&k->lock);
		bool stop = k->stopping;
		pthread_mutex_unlock(&k->lock);
		if (stop)
			break;
		struct pollfd p = {.fd = k->fd, .events = POLLIN};
		if (poll(&p, 1, 50) == 1) {
			int c = accept(k->fd, NULL, NULL);
			if (c >= 0)
				sink_session(k, c);
		}
	}
	return NULL;
}

static void sink_start(struct sink *k)
{
	memset(k, 0, sizeof *k);
	k->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(k->fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	assert_int_equal(bind(k->fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(k->fd, 16), 0);
	assert_int_equal(getsockname(k->fd, (struct sockaddr *)&a, &len), 0);
	k->port = ntohs(a.sin_port);
	pthread_mutex_init(&k->lock, NULL);
	assert_int_equal(pthread_create(&k->thread, NULL, sink_main, k), 0);
}

static void sink_stop(struct sink *k)
{
	pthread_mutex_lock(&k->lock);
	k->stopping = true;
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	pthread_mutex_destroy(&k->lock);
	close(k->fd);
}

/* ---- a register with a full outbox ---- */

/* MESSAGES subjects, each asked to confirm direct marketing: one message each. */
static void fill_outbox(struct test_register *r, int count)
{
	struct core_ctx c = test_ctx(test_at(NOW), r);
	struct consent_evidence form = {.source = "signup form", .wording = "Send me news"};
	for (int i = 0; i < count; i++) {
		char email[64], sid[TOKEN_ID_MAX], rids[1][TOKEN_ID_MAX], state[16];
		snprintf(email, sizeof email, "person%d@example.ee", i);
		struct field_input acc[] = {{"email", {VAL_STRING, email, strlen(email)}},
		                            {"name", {VAL_STRING, "Mari Maasikas", 13}}};
		struct record_input rec = {.kind = "account", .fields = acc, .nfields = 2};
		struct errbuf eb = {""};
		enum rc rc = subject_create(&c, &rec, 1, sid, rids, &eb);
		if (!rc)
			rc = consent_record(&c, sid, "direct_marketing", CONSENT_GRANT, &form, state, &eb);
		if (rc)
			fail_msg("%s", err_msg(&eb, rc));
	}
}

static int64_t pending(struct store *s)
{
	int64_t n = -1;
	assert_int_equal(store_outbox_pending(s, &n), RC_OK);
	return n;
}

static enum rc tenant_of(void *arg, struct store *st, int64_t id, const struct tenant **out)
{
	const struct test_register *r = arg;
	if (id != r->tenant->id)
		return RC_NOT_FOUND;
	*out = r->tenant;
	return RC_OK;
}

static struct store *open_store(const struct test_register *r)
{
	struct store *s = NULL;
	struct errbuf eb = {""};
	enum rc rc = store_open(r->url, &s, &eb);
	if (rc)
		fail_msg("store_open: %s", err_msg(&eb, rc));
	return s;
}

static int compare_ids(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_two_senders_deliver_each_message_once(void **state)
{
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	fill_outbox(&r, MESSAGES);
	int64_t queued = pending(r.store);
	assert_int_equal(queued, MESSAGES);

	struct sink k;
	sink_start(&k);
	char url[64];
	snprintf(url, sizeof url, "smtp://127.0.0.1:%u", (unsigned)k.port);
	struct sender_config cfg = {.smtp_url = url, .from = "privreg@localhost", .poll_ms = 20, .tenant_of = tenant_of,
	                            .arg = &r};
	struct sender *a = NULL, *b = NULL;
	struct errbuf eb = {""};
	/* Both read the outbox before either has sent anything: without claims,
	 * each would send all of it. */
	assert_int_equal(sender_start(&cfg, open_store(&r), &a, &eb), RC_OK);
	assert_int_equal(sender_start(&cfg, open_store(&r), &b, &eb), RC_OK);
	for (int waited = 0; pending(r.store) > 0 && waited < 60000; waited += 20)
		usleep(20000);
	assert_int_equal(pending(r.store), 0);
	assert_int_equal(sender_failures(a) + sender_failures(b), 0);
	sender_stop(a); /* a message in flight finishes before stop returns */
	sender_stop(b);
	sink_stop(&k);

	assert_int_equal(k.n, (size_t)queued);
	qsort(k.ids, k.n, sizeof k.ids[0], compare_ids);
	for (size_t i = 0; i < k.n; i++) {
		assert_true(k.ids[i][0] != '\0');
		if (i > 0 && !strcmp(k.ids[i - 1], k.ids[i]))
			fail_msg("message %s delivered twice", k.ids[i]);
	}
	test_register_free(&r);
}

static void test_claim_rules(void **state)
{
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	fill_outbox(&r, 1);
	int64_t t = test_at(NOW) + 60;
	struct store *other = open_store(&r);
	struct store_message *v = NULL;
	size_t n = 0;
	assert_int_equal(mail_outbox_due(r.store, t, 10, &v, &n), RC_OK);
	assert_int_equal(n, 1);
	struct store_message m = v[0];

	/* Taken by one sender: the other cannot take it, and does not see it due. */
	assert_int_equal(mail_claim(r.store, &m, "pid 1 a", t, t + 300), RC_OK);
	assert_int_equal(mail_claim(other, &m, "pid 2 b", t + 10, t + 310), RC_CONFLICT);
	assert_int_equal(mail_claim(r.store, &m, "pid 1 a", t + 10, t + 310), RC_CONFLICT); /* not twice either */
	struct store_message *w = NULL;
	size_t k = 0;
	assert_int_equal(mail_outbox_due(other, t + 299, 10, &w, &k), RC_OK);
	assert_int_equal(k, 0);
	store_messages_free(w, k);

	/* Its sender died: once the claim has run out, the message is due and
	 * taken again. */
	assert_int_equal(mail_outbox_due(other, t + 301, 10, &w, &k), RC_OK);
	assert_int_equal(k, 1);
	store_messages_free(w, k);
	assert_int_equal(mail_claim(other, &m, "pid 2 b", t + 301, t + 601), RC_OK);

	/* A failed attempt clears the claim but waits for its retry time. */
	assert_int_equal(mail_retry_at(other, &m, 1, t + 400), RC_OK);
	assert_int_equal(mail_claim(r.store, &m, "pid 1 a", t + 302, t + 602), RC_CONFLICT);
	assert_int_equal(mail_claim(r.store, &m, "pid 1 a", t + 400, t + 700), RC_OK);

	/* A sent message is never claimed again. */
	assert_int_equal(mail_mark_sent(r.store, &m, t + 401), RC_OK);
	assert_int_equal(mail_claim(other, &m, "pid 2 b", t + 10000, t + 10300), RC_CONFLICT);
	assert_int_equal(pending(other), 0);

	store_messages_free(v, n);
	store_close(other);
	test_register_free(&r);
}

/* The deliveries page's list: only notifications (a target), only those
 * neither sent nor waived, oldest first, at most the number asked for. */
static void test_unsent_notifications(void **state)
{
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	fill_outbox(&r, 1); /* the consent confirmation: mail, not a notification */
	int64_t t = test_at(NOW) + 60;
	struct store_message *v = NULL, *w = NULL;
	size_t n = 0, k = 0;
	assert_int_equal(mail_outbox_due(r.store, t, 10, &v, &n), RC_OK);
	assert_int_equal(n, 1);
	struct store_message m = {.kind = "webhook", .created_at = t, .next_at = t, .sealed = (unsigned char *)"{}",
	                          .sealed_len = 2, .target = "shop_db", .event = "subject.erased"};
	memcpy(m.subject_id, v[0].subject_id, sizeof m.subject_id);
	for (int i = 0; i < 4; i++)
		assert_int_equal(store_outbox_insert(r.store, r.tenant->id, &m), RC_OK);
	/* Messages 2-5 are the notifications; 3 is delivered. */
	assert_int_equal(store_outbox_sent(r.store, r.tenant->id, 3, t + 1), RC_OK);

	assert_int_equal(store_outbox_notifications_unsent(r.store, r.tenant->id, 10, &w, &k), RC_OK);
	assert_int_equal(k, 3);
	int64_t want[] = {2, 4, 5};
	for (size_t i = 0; i < k; i++) {
		assert_int_equal(w[i].message_id, want[i]);
		assert_string_equal(w[i].target, "shop_db");
		assert_int_equal(w[i].sent_at, 0);
	}
	store_messages_free(w, k);
	assert_int_equal(store_outbox_notifications_unsent(r.store, r.tenant->id, 2, &w, &k), RC_OK);
	assert_int_equal(k, 2);
	assert_int_equal(w[1].message_id, 4);
	store_messages_free(w, k);

	store_messages_free(v, n);
	test_register_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_rules),
		cmocka_unit_test(test_unsent_notifications),
		cmocka_unit_test(test_two_senders_deliver_each_message_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
