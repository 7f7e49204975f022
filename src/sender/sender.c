/* sender: the outbox over SMTP and webhooks (see sender.h). */
#include "sender/sender.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/mail.h"
#include "core/notify.h"
#include "core/request.h"
#include "crypto/token.h"
#include "store/store.h"

#define BATCH 50
#define BACKOFF_FIRST 5
#define BACKOFF_MAX 3600

struct sender {
	char *smtp_url, *from;
	char *user, *password;     /* NULL when the URL alone says how to log in */
	char owner[TOKEN_ID_MAX + 32]; /* this sender's name in the outbox's claims: pid and a random id */
	int poll_ms;
	enum rc (*tenant_of)(void *arg, struct store *st, int64_t id, const struct tenant **out);
	void *arg;
	struct store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	atomic_uint_fast64_t failures; /* delivery attempts that failed: read by /metrics */
};

struct upload {
	const char *data;
	size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t want = size * n, left = u->len - u->off;
	size_t k = want < left ? want : left;
	memcpy(buf, u->data + u->off, k);
	u->off += k;
	return k;
}

/* One SMTP transaction; RC_OK when the server accepted the message. From,
 * Reply-To, the envelope sender and the Message-ID's domain are the
 * tenant's (mail_compose). */
static enum rc smtp_send(struct sender *s, const struct tenant *t, const char *to, const struct buf *text)
{
	struct buf msg;
	char envelope[256];
	buf_init(&msg, text->len + 1024);
	enum rc rc = mail_compose(t, s->from, text, &msg, envelope);
	if (rc) {
		buf_fini(&msg);
		return rc;
	}
	CURL *curl = curl_easy_init();
	struct curl_slist *rcpt = NULL;
	char to_angle[300];
	snprintf(to_angle, sizeof to_angle, "<%s>", to);
	char from_angle[300];
	snprintf(from_angle, sizeof from_angle, "<%s>", envelope);
	rcpt = curl_slist_append(rcpt, to_angle);
	struct upload up = {msg.data, msg.len, 0};
	curl_easy_setopt(curl, CURLOPT_URL, s->smtp_url);
	/* Apart from the URL, so that the password appears in no URL (logs,
	 * error messages) and can be wiped. libcurl keeps its own copy until
	 * curl_easy_cleanup, which does not wipe it: unavoidable. */
	if (s->user)
		curl_easy_setopt(curl, CURLOPT_USERNAME, s->user);
	if (s->password)
		curl_easy_setopt(curl, CURLOPT_PASSWORD, s->password);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from_angle);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(curl, CURLOPT_READDATA, &up);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	/* STARTTLS when the server offers it; smtps:// is TLS from the start. */
	curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	CURLcode cc = curl_easy_perform(curl);
	if (cc != CURLE_OK)
		log_warn("smtp delivery failed: %s", curl_easy_strerror(cc));
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(curl);
	buf_fini(&msg);
	return cc == CURLE_OK ? RC_OK : RC_UNAVAILABLE;
}

/* A failed attempt: tried again after 5 s, 10 s, ... at most an hour. */
static void retry(struct sender *s, const struct store_message *m, int64_t now, const char *err)
{
	atomic_fetch_add_explicit(&s->failures, 1, memory_order_relaxed);
	int attempts = m->attempts + 1;
	int64_t wait = BACKOFF_FIRST;
	for (int i = 1; i < attempts && wait < BACKOFF_MAX; i++)
		wait *= 2;
	if (wait > BACKOFF_MAX)
		wait = BACKOFF_MAX;
	if (err ? notify_retry_at(s->store, m, attempts, now + wait, err) : mail_retry_at(s->store, m, attempts, now + wait))
		log_error("outbox message=%lld: cannot schedule a retry", (long long)m->message_id);
	else
		log_info("outbox message=%lld retry in %llds (attempt %d)", (long long)m->message_id, (long long)wait,
		         attempts);
}

static size_t discard_cb(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* One Standard Webhooks POST; RC_OK on a 2xx answer. err: why not, in
 * words that name no value (a status code, libcurl's error). */
static enum rc webhook_post(const struct notify_webhook *w, int64_t ts, const char *sig, char err[160])
{
	CURL *curl = curl_easy_init();
	struct curl_slist *h = NULL;
	char line[NOTIFY_SIGNATURE_MAX + TOKEN_ID_MAX + 64];
	h = curl_slist_append(h, "Content-Type: application/json");
	snprintf(line, sizeof line, "webhook-id: %s", w->id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof line, "webhook-timestamp: %lld", (long long)ts);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof line, "webhook-signature: %s", sig);
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, w->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, w->body.data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->body.len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)NOTIFY_TIMEOUT_SECONDS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	CURLcode cc = curl_easy_perform(curl);
	long status = 0;
	enum rc rc = RC_UNAVAILABLE;
	if (cc != CURLE_OK)
		snprintf(err, 160, "%s", curl_easy_strerror(cc));
	else if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status >= 200 && status < 300)
		rc = RC_OK;
	else
		snprintf(err, 160, "HTTP %ld", status);
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	return rc;
}

/* A claimed webhook: opened, signed for this attempt, posted. */
static enum rc send_webhook(struct core_ctx *c, const struct store_message *m, char err[160])
{
	struct notify_webhook w;
	char sig[NOTIFY_SIGNATURE_MAX];
	int64_t ts = timeutil_now();
	enum rc rc = notify_open(c, m, &w);
	if (rc)
		snprintf(err, 160, "the notification cannot be opened (%s)", rc_str(rc));
	else if ((rc = notify_sign(&w, ts, sig)))
		snprintf(err, 160, "no webhook secret for '%.60s' (policy, secret_file)", m->target ? m->target : "");
	else
		rc = webhook_post(&w, ts, sig, err);
	notify_webhook_fini(&w);
	return rc;
}

static void deliver(struct sender *s, struct store_message *m)
{
	const struct tenant *t = NULL;
	int64_t now = timeutil_now();
	enum rc rc = s->tenant_of(s->arg, s->store, m->tenant_id, &t);
	if (rc) {
		atomic_fetch_add_explicit(&s->failures, 1, memory_order_relaxed);
		log_error("outbox message=%lld: tenant=%lld cannot be loaded", (long long)m->message_id,
		          (long long)m->tenant_id);
		return;
	}
	rc = mail_claim(s->store, m, s->owner, now, now + SENDER_CLAIM_SECONDS);
	if (rc) {
		/* Another sender took it (or sent it) since the outbox was read. */
		if (rc != RC_CONFLICT)
			log_warn("outbox message=%lld tenant=%lld: cannot be claimed", (long long)m->message_id,
			         (long long)m->tenant_id);
		return;
	}
	struct core_ctx c = {.store = s->store, .tenant = t};
	char err[160] = "";
	if (!strcmp(m->kind, NOTIFY_KIND_WEBHOOK)) {
		rc = send_webhook(&c, m, err);
		if (!rc) {
			if (request_notification_done(&c, m, timeutil_now()))
				log_error("outbox message=%lld delivered but not marked: it may go out twice",
				          (long long)m->message_id);
			else
				log_info("outbox message=%lld tenant=%lld kind=webhook delivered", (long long)m->message_id,
				         (long long)m->tenant_id);
			return;
		}
		log_warn("outbox message=%lld tenant=%lld webhook failed: %s", (long long)m->message_id,
		         (long long)m->tenant_id, err);
		retry(s, m, now, err);
		return;
	}
	struct mail_open open;
	rc = mail_open(&c, m->subject_id, m->sealed, m->sealed_len, m->message_id, &open);
	if (rc == RC_NOT_FOUND || rc == RC_GONE) {
		/* The subject was erased: the message went with them. */
		log_info("outbox message=%lld tenant=%lld dropped: subject erased", (long long)m->message_id,
		         (long long)m->tenant_id);
		if (mail_mark_sent(s->store, m, now))
			log_error("outbox message=%lld: cannot mark dropped", (long long)m->message_id);
		mail_open_fini(&open);
		return;
	}
	if (!rc)
		rc = smtp_send(s, t, open.to, &open.text);
	mail_open_fini(&open);
	if (!rc) {
		/* A notification to a recipient by e-mail may complete its request. */
		if (m->target ? request_notification_done(&c, m, timeutil_now()) : mail_mark_sent(s->store, m, timeutil_now()))
			log_error("outbox message=%lld sent but not marked: it may go out twice", (long long)m->message_id);
		else
			log_info("outbox message=%lld tenant=%lld kind=%s sent", (long long)m->message_id,
			         (long long)m->tenant_id, m->kind);
		return;
	}
	retry(s, m, now, m->target ? "the SMTP server did not take the message" : NULL);
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		pthread_mutex_unlock(&s->lock);
		struct store_message *v = NULL;
		size_t n = 0;
		/* Without SMTP the sender delivers webhooks alone; e-mail waits. */
		if (s->smtp_url ? mail_outbox_due(s->store, timeutil_now(), BATCH, &v, &n)
		                : notify_outbox_due(s->store, timeutil_now(), BATCH, &v, &n))
			log_warn("outbox cannot be read");
		for (size_t i = 0; i < n; i++) {
			pthread_mutex_lock(&s->lock);
			bool stop = s->stopping;
			pthread_mutex_unlock(&s->lock);
			if (stop)
				break;
			deliver(s, &v[i]);
		}
		store_messages_free(v, n);
		pthread_mutex_lock(&s->lock);
		if (n == BATCH || s->stopping)
			continue; /* more is due: no pause */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)s->poll_ms * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->cond, &s->lock, &until);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

enum rc sender_start(const struct sender_config *cfg, struct store *st, struct sender **out, struct errbuf *eb)
{
	if (cfg->smtp_url && strncmp(cfg->smtp_url, "smtp://", 7) && strncmp(cfg->smtp_url, "smtps://", 8)) {
		store_close(st);
		return err_set(eb, RC_INVALID, "--smtp must be smtp://HOST:PORT or smtps://HOST:PORT");
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		store_close(st);
		return err_set(eb, RC_INTERNAL, "libcurl failed to initialise");
	}
	if (cfg->sole && mail_release_claims(st))
		log_warn("outbox: the claims of an earlier sender could not be released; they run out by themselves");
	struct sender *s = xcalloc(1, sizeof *s);
	s->smtp_url = cfg->smtp_url ? xstrdup(cfg->smtp_url) : NULL;
	s->from = xstrdup(cfg->from ? cfg->from : "privreg@localhost");
	s->user = cfg->user ? xstrdup(cfg->user) : NULL;
	s->password = cfg->password ? xstrdup(cfg->password) : NULL;
	s->poll_ms = cfg->poll_ms > 0 ? cfg->poll_ms : 200;
	char tag[TOKEN_ID_MAX];
	token_id_new("snd_", tag);
	snprintf(s->owner, sizeof s->owner, "pid %ld %s", (long)getpid(), tag);
	s->tenant_of = cfg->tenant_of;
	s->arg = cfg->arg;
	s->store = st;
	atomic_init(&s->failures, 0);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
		sender_stop(s);
		return err_set(eb, RC_INTERNAL, "cannot start the sender thread");
	}
	*out = s;
	return RC_OK;
}

void sender_stop(struct sender *s)
{
	if (!s)
		return;
	if (s->thread) {
		pthread_mutex_lock(&s->lock);
		s->stopping = true;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	store_close(s->store);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->smtp_url);
	free(s->from);
	free(s->user);
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s);
	curl_global_cleanup();
}

uint64_t sender_failures(struct sender *s)
{
	return s ? atomic_load_explicit(&s->failures, memory_order_relaxed) : 0;
}
