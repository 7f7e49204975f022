/* audit: hash-chained, append-only log (see audit.h). */
#include "core/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "crypto/token.h"

#define VERIFY_PAGE 1000

/* Each field is length-prefixed (4 bytes LE; 0xffffffff for NULL) so that
 * no two different entries hash alike. */
static void put_field(crypto_generichash_state *st, const char *s)
{
	uint32_t n = s ? (uint32_t)strlen(s) : 0xffffffffu;
	unsigned char len[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
	                        (unsigned char)(n >> 24)};
	crypto_generichash_update(st, len, sizeof len);
	if (s)
		crypto_generichash_update(st, (const unsigned char *)s, strlen(s));
}

static void put_int(crypto_generichash_state *st, int64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (8 * i));
	crypto_generichash_update(st, b, sizeof b);
}

static void entry_hash(const struct vault *v, const struct store_audit *e,
                       unsigned char out[STORE_AUDIT_HASH_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, v->audit_key, VAULT_KEY_LEN, STORE_AUDIT_HASH_LEN);
	crypto_generichash_update(&st, e->prev_hash, STORE_AUDIT_HASH_LEN);
	put_int(&st, v->tenant_id);
	put_int(&st, e->seq);
	put_int(&st, e->at);
	put_field(&st, e->key_id);
	put_field(&st, e->role);
	put_field(&st, e->action);
	put_field(&st, e->subject_id);
	put_field(&st, e->record_id);
	put_field(&st, e->purpose);
	put_field(&st, e->outcome);
	put_field(&st, e->detail);
	crypto_generichash_final(&st, out, STORE_AUDIT_HASH_LEN);
}

static char *legacy_copy(const char *s)
{
	if (!s)
		return NULL;
	char *c = xstrdup(s);
	token_ids_to_legacy(c);
	return c;
}

/* The hash of an entry written before the ULID ids (schema 7): computed
 * over its text as it was then, with the ids in their old form. */
static void legacy_entry_hash(const struct vault *v, const struct store_audit *e,
                              unsigned char out[STORE_AUDIT_HASH_LEN])
{
	struct store_audit old = *e;
	char **fields[] = {&old.key_id, &old.role, &old.action, &old.subject_id, &old.record_id,
	                   &old.purpose, &old.outcome, &old.detail};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		*fields[i] = legacy_copy(*fields[i]);
	entry_hash(v, &old, out);
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		free(*fields[i]);
}

/* Appends after the given head (seq, hash) and advances it. `at` is when
 * the entry was made by the real clock, never c->now: a sweep run "as of"
 * another time (c->now) must not write that time into the log, or the log
 * would run backwards and tell a false history. */
static enum rc append_after(const struct core_ctx *c, const struct audit_event *ev, int64_t at, int64_t *seq,
                            unsigned char head[STORE_AUDIT_HASH_LEN])
{
	struct store_audit e = {
		.at = at,
		.key_id = (char *)(c->key_id ? c->key_id : "cli"),
		.role = (char *)(c->role ? c->role : "admin"),
		.action = (char *)ev->action,
		.subject_id = (char *)ev->subject_id,
		.record_id = (char *)ev->record_id,
		.purpose = (char *)c->purpose,
		.outcome = (char *)(ev->outcome ? ev->outcome : "ok"),
		.detail = (char *)ev->detail,
	};
	e.seq = *seq + 1;
	memcpy(e.prev_hash, head, STORE_AUDIT_HASH_LEN);
	entry_hash(&c->tenant->vault, &e, e.hash);
	enum rc rc = store_audit_insert(c->store, c->tenant->id, &e);
	if (!rc) {
		*seq = e.seq;
		memcpy(head, e.hash, STORE_AUDIT_HASH_LEN);
	}
	return rc;
}

static enum rc append_at(const struct core_ctx *c, const struct audit_event *ev, int64_t at)
{
	int64_t seq;
	unsigned char head[STORE_AUDIT_HASH_LEN];
	enum rc rc = store_audit_head(c->store, c->tenant->id, &seq, head);
	return rc ? rc : append_after(c, ev, at, &seq, head);
}

enum rc audit_append(const struct core_ctx *c, const struct audit_event *ev)
{
	return append_at(c, ev, timeutil_now());
}

/* ---- the batch writer ---- */

#define SINK_BATCH 512

struct queued {
	struct queued *next;
	const struct tenant *tenant;
	struct audit_waiter *waiter;
	int64_t at;
	char *key_id, *role, *purpose, *action, *subject_id, *record_id, *outcome, *detail;
};

struct audit_sink {
	struct store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct queued *head, **tail;
	bool stopping;
};

static char *dup_opt(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void queued_free(struct queued *q)
{
	free(q->key_id);
	free(q->role);
	free(q->purpose);
	free(q->action);
	free(q->subject_id);
	free(q->record_id);
	free(q->outcome);
	free(q->detail);
	free(q);
}

void audit_waiter_done(struct audit_waiter *w, enum rc rc)
{
	pthread_mutex_lock(&w->lock);
	if (rc && !w->rc)
		w->rc = rc;
	bool wake = --w->pending == 0 && w->parked;
	void (*fn)(void *) = w->wake;
	void *arg = w->arg;
	pthread_mutex_unlock(&w->lock);
	/* After the unlock: waking lets the owner finish and free the waiter,
	 * so this is the last touch. parked was set under the lock, after the
	 * owner parked, so the wake cannot overtake the park. */
	if (wake)
		fn(arg);
}

/* Writes one batch in one relaxed transaction: all of it or none. Each
 * tenant's head is read once per batch (inside the transaction, so no other
 * writer can move it meanwhile) and then carried from entry to entry. */
static enum rc write_batch(struct audit_sink *sink, struct queued *batch)
{
	struct head {
		const struct tenant *tenant;
		int64_t seq;
		unsigned char hash[STORE_AUDIT_HASH_LEN];
	} heads[8];
	size_t nheads = 0;
	enum rc rc = store_begin_relaxed(sink->store);
	for (struct queued *q = batch; !rc && q; q = q->next) {
		struct core_ctx c = {.store = sink->store, .tenant = q->tenant, .key_id = q->key_id, .role = q->role,
		                     .purpose = q->purpose};
		struct audit_event e = {q->action, q->subject_id, q->record_id, q->outcome, q->detail};
		struct head *h = NULL;
		for (size_t i = 0; i < nheads && !h; i++)
			if (heads[i].tenant == q->tenant)
				h = &heads[i];
		if (!h && nheads < sizeof heads / sizeof heads[0]) {
			h = &heads[nheads];
			h->tenant = q->tenant;
			rc = store_audit_head(sink->store, q->tenant->id, &h->seq, h->hash);
			if (!rc)
				nheads++;
		}
		if (!rc)
			rc = h ? append_after(&c, &e, q->at, &h->seq, h->hash) : append_at(&c, &e, q->at);
	}
	if (rc) {
		store_rollback(sink->store);
		log_error("audit batch failed: %s", rc_code(rc));
		return rc;
	}
	return store_commit(sink->store);
}

static void *sink_main(void *arg)
{
	struct audit_sink *sink = arg;
	pthread_mutex_lock(&sink->lock);
	for (;;) {
		while (!sink->head && !sink->stopping)
			pthread_cond_wait(&sink->more, &sink->lock);
		if (!sink->head)
			break; /* stopping, and everything is written */
		/* Take up to SINK_BATCH entries; the rest waits for the next round. */
		struct queued *batch = sink->head, *last = batch;
		for (int n = 1; n < SINK_BATCH && last->next; n++)
			last = last->next;
		sink->head = last->next;
		if (!sink->head)
			sink->tail = &sink->head;
		last->next = NULL;
		pthread_mutex_unlock(&sink->lock);
		enum rc rc = write_batch(sink, batch);
		while (batch) {
			struct queued *next = batch->next;
			audit_waiter_done(batch->waiter, rc);
			queued_free(batch);
			batch = next;
		}
		pthread_mutex_lock(&sink->lock);
	}
	pthread_mutex_unlock(&sink->lock);
	return NULL;
}

enum rc audit_sink_new(struct store *store, struct audit_sink **out)
{
	struct audit_sink *sink = xcalloc(1, sizeof *sink);
	sink->store = store;
	sink->tail = &sink->head;
	pthread_mutex_init(&sink->lock, NULL);
	pthread_cond_init(&sink->more, NULL);
	if (pthread_create(&sink->thread, NULL, sink_main, sink) != 0) {
		pthread_mutex_destroy(&sink->lock);
		pthread_cond_destroy(&sink->more);
		free(sink);
		return RC_INTERNAL;
	}
	*out = sink;
	return RC_OK;
}

void audit_sink_free(struct audit_sink *sink)
{
	if (!sink)
		return;
	pthread_mutex_lock(&sink->lock);
	sink->stopping = true;
	pthread_cond_signal(&sink->more);
	pthread_mutex_unlock(&sink->lock);
	pthread_join(sink->thread, NULL);
	store_close(sink->store);
	pthread_mutex_destroy(&sink->lock);
	pthread_cond_destroy(&sink->more);
	free(sink);
}

void audit_waiter_init(struct audit_waiter *w, void (*wake)(void *arg), void *arg)
{
	pthread_mutex_init(&w->lock, NULL);
	w->pending = 0;
	w->rc = RC_OK;
	w->parked = false;
	w->wake = wake;
	w->arg = arg;
}

void audit_waiter_fini(struct audit_waiter *w)
{
	pthread_mutex_destroy(&w->lock);
}

bool audit_waiter_park(struct audit_waiter *w, void (*park)(void *arg), void *arg)
{
	pthread_mutex_lock(&w->lock);
	bool wait = w->pending > 0;
	if (wait) {
		w->parked = true;
		park(arg);
	}
	pthread_mutex_unlock(&w->lock);
	return wait;
}

void audit_waiter_add(struct audit_waiter *w)
{
	pthread_mutex_lock(&w->lock);
	w->pending++;
	pthread_mutex_unlock(&w->lock);
}

enum rc audit_waiter_result(struct audit_waiter *w)
{
	pthread_mutex_lock(&w->lock);
	enum rc rc = w->rc;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

static void submit(const struct core_ctx *c, const struct audit_event *e)
{
	struct audit_sink *sink = c->sink;
	struct queued *q = xcalloc(1, sizeof *q);
	q->tenant = c->tenant;
	q->waiter = c->waiter;
	q->at = timeutil_now(); /* the real clock: see append_after */
	q->key_id = xstrdup(c->key_id ? c->key_id : "cli");
	q->role = xstrdup(c->role ? c->role : "admin");
	q->purpose = dup_opt(c->purpose);
	q->action = xstrdup(e->action);
	q->subject_id = dup_opt(e->subject_id);
	q->record_id = dup_opt(e->record_id);
	q->outcome = xstrdup(e->outcome ? e->outcome : "ok");
	q->detail = dup_opt(e->detail);
	audit_waiter_add(c->waiter);
	pthread_mutex_lock(&sink->lock);
	*sink->tail = q;
	sink->tail = &q->next;
	pthread_cond_signal(&sink->more);
	pthread_mutex_unlock(&sink->lock);
}

/* ---- access entries ---- */

enum rc audit_access(const struct core_ctx *c, const struct audit_event *e)
{
	if (c->sink && c->waiter) {
		submit(c, e);
		return RC_OK;
	}
	enum rc rc = store_begin_relaxed(c->store);
	if (rc)
		return rc;
	rc = audit_append(c, e);
	if (rc)
		log_error("audit append failed tenant=%lld action=%s", (long long)c->tenant->id, e->action);
	return core_end(c, rc);
}

enum rc audit_query(const struct core_ctx *c, const struct store_audit_filter *f,
                    struct store_audit **out, size_t *n)
{
	struct store_audit_filter g = *f;
	if (g.limit == 0 || g.limit > AUDIT_PAGE_MAX)
		g.limit = AUDIT_PAGE_MAX;
	return store_audit_list(c->store, c->tenant->id, &g, out, n);
}

enum rc audit_verify(struct store *s, const struct tenant *t, struct audit_verify_result *out)
{
	unsigned char prev[STORE_AUDIT_HASH_LEN] = {0}, want[STORE_AUDIT_HASH_LEN];
	struct store_audit_filter f = {.limit = VERIFY_PAGE};
	*out = (struct audit_verify_result){.ok = true};
	for (;;) {
		struct store_audit *v = NULL;
		size_t n = 0;
		enum rc rc = store_audit_list(s, t->id, &f, &v, &n);
		if (rc)
			return rc;
		for (size_t i = 0; i < n && out->ok; i++) {
			(v[i].legacy_ids ? legacy_entry_hash : entry_hash)(&t->vault, &v[i], want);
			/* A gap in seq, a wrong link or a wrong hash: the chain is broken here. */
			if (v[i].seq != out->entries + 1 || sodium_memcmp(v[i].prev_hash, prev, sizeof prev) ||
			    sodium_memcmp(v[i].hash, want, sizeof want)) {
				out->ok = false;
				out->first_bad = out->entries + 1;
				break;
			}
			memcpy(prev, v[i].hash, sizeof prev);
			out->entries++;
			f.after_seq = v[i].seq;
		}
		store_audits_free(v, n);
		if (!out->ok || n < VERIFY_PAGE)
			return RC_OK;
	}
}

/* ---- checkpoints ---- */

/* The MAC binds every field the line shows, behind a label of its own. */
static void checkpoint_mac(const struct vault *v, const struct audit_checkpoint *cp,
                           unsigned char out[AUDIT_MAC_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, v->checkpoint_key, VAULT_KEY_LEN, AUDIT_MAC_LEN);
	put_field(&st, "privreg audit checkpoint 1");
	put_field(&st, cp->tenant);
	put_int(&st, cp->seq);
	crypto_generichash_update(&st, cp->hash, sizeof cp->hash);
	put_int(&st, cp->at);
	crypto_generichash_final(&st, out, AUDIT_MAC_LEN);
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static void checkpoint_line(const struct audit_checkpoint *cp, char line[AUDIT_CHECKPOINT_LINE_MAX])
{
	char hash[STORE_AUDIT_HASH_LEN * 2 + 1], mac[AUDIT_MAC_LEN * 2 + 1], at[TIMEUTIL_DATETIME_LEN];
	to_hex(cp->hash, sizeof cp->hash, hash);
	to_hex(cp->mac, sizeof cp->mac, mac);
	timeutil_format_datetime(cp->at, at);
	snprintf(line, AUDIT_CHECKPOINT_LINE_MAX, "{\"tenant\":\"%s\",\"seq\":%lld,\"hash\":\"%s\",\"at\":\"%s\",\"mac\":\"%s\"}\n",
	         cp->tenant, (long long)cp->seq, hash, at, mac);
}

enum rc audit_checkpoint_make(struct store *s, const struct tenant *t, struct audit_checkpoint *cp,
                              char line[AUDIT_CHECKPOINT_LINE_MAX])
{
	*cp = (struct audit_checkpoint){.at = timeutil_now()};
	enum rc rc = store_audit_head(s, t->id, &cp->seq, cp->hash);
	/* Access entries are committed relaxed (see audit_access): make the head
	 * durable before anchoring it, or a crash could lose an entry that a
	 * checkpoint then misses. */
	if (!rc)
		rc = store_sync(s);
	if (rc)
		return rc;
	snprintf(cp->tenant, sizeof cp->tenant, "%s", t->name);
	checkpoint_mac(&t->vault, cp, cp->mac);
	checkpoint_line(cp, line);
	return RC_OK;
}

enum rc audit_checkpoint_append(const char *path, const char *line, struct errbuf *eb)
{
	size_t len = strlen(line);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot open %s: %s", path, strerror(errno));
	enum rc rc = RC_OK;
	ssize_t n = write(fd, line, len);
	if (n != (ssize_t)len || fsync(fd) != 0)
		rc = err_set(eb, RC_IO, "cannot append to %s: %s", path, n < 0 || n == (ssize_t)len ? strerror(errno)
		                                                                                    : "short write");
	if (close(fd) != 0 && !rc)
		rc = err_set(eb, RC_IO, "cannot close %s: %s", path, strerror(errno));
	return rc;
}

static bool take(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*p, lit, n))
		return false;
	*p += n;
	return true;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool take_hex(const char **p, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit((*p)[2 * i]), lo = hi < 0 ? -1 : hex_digit((*p)[2 * i + 1]);
		if (lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*p += 2 * n;
	return true;
}

/* The line exactly as checkpoint_line writes it (without its "\n"):
 * anything else is not a checkpoint. */
static bool checkpoint_parse(const char *line, struct audit_checkpoint *cp)
{
	const char *p = line;
	*cp = (struct audit_checkpoint){0};
	if (!take(&p, "{\"tenant\":\""))
		return false;
	size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_-");
	if (n < 1 || n > TENANT_NAME_MAX)
		return false;
	memcpy(cp->tenant, p, n);
	p += n;
	if (!take(&p, "\",\"seq\":"))
		return false;
	n = strspn(p, "0123456789");
	if (n < 1 || n > 18 || (n > 1 && *p == '0'))
		return false;
	for (size_t i = 0; i < n; i++)
		cp->seq = cp->seq * 10 + (p[i] - '0');
	p += n;
	char at[TIMEUTIL_DATETIME_LEN], again[TIMEUTIL_DATETIME_LEN];
	if (!take(&p, ",\"hash\":\"") || !take_hex(&p, cp->hash, sizeof cp->hash) || !take(&p, "\",\"at\":\""))
		return false;
	n = strcspn(p, "\"");
	if (n != TIMEUTIL_DATETIME_LEN - 1)
		return false;
	memcpy(at, p, n);
	at[n] = '\0';
	p += n;
	if (timeutil_parse_datetime(at, &cp->at))
		return false;
	timeutil_format_datetime(cp->at, again);
	return !strcmp(at, again) && take(&p, "\",\"mac\":\"") && take_hex(&p, cp->mac, sizeof cp->mac) &&
	       take(&p, "\"}") && !*p;
}

/* Whether the log holds checkpoint cp; if not, why, in msg. */
static enum rc checkpoint_held(struct store *s, const struct tenant *t, const struct audit_checkpoint *cp,
                               int64_t head_seq, bool *held, char *msg, size_t size)
{
	char at[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(cp->at, at);
	*held = true;
	if (cp->seq == 0)
		return RC_OK; /* an empty log is the start of every log */
	struct store_audit_filter f = {.after_seq = cp->seq - 1, .limit = 1};
	struct store_audit *v = NULL;
	size_t n = 0;
	enum rc rc = store_audit_list(s, t->id, &f, &v, &n);
	if (rc)
		return rc;
	*held = n == 1 && v[0].seq == cp->seq && !sodium_memcmp(v[0].hash, cp->hash, sizeof cp->hash);
	if (n == 0)
		snprintf(msg, size, "checkpoint seq %lld of %s: the log ends at seq %lld, before it: entries were deleted "
		         "from its end", (long long)cp->seq, at, (long long)head_seq);
	else if (v[0].seq != cp->seq)
		snprintf(msg, size, "checkpoint seq %lld of %s: the log has no entry %lld: it was deleted",
		         (long long)cp->seq, at, (long long)cp->seq);
	else if (!*held)
		snprintf(msg, size, "checkpoint seq %lld of %s: entry %lld differs from the one checkpointed: the log "
		         "was rewritten", (long long)cp->seq, at, (long long)cp->seq);
	store_audits_free(v, n);
	return RC_OK;
}

enum rc audit_verify_checkpoints(struct store *s, const struct tenant *t, const char *path,
                                 void (*report)(void *arg, const char *msg), void *arg,
                                 struct audit_checkpoint_result *out, struct errbuf *eb)
{
	*out = (struct audit_checkpoint_result){0};
	int64_t head_seq;
	unsigned char head[STORE_AUDIT_HASH_LEN];
	enum rc rc = store_audit_head(s, t->id, &head_seq, head);
	if (rc)
		return rc;
	FILE *f = fopen(path, "r");
	if (!f)
		return err_set(eb, RC_IO, "cannot read %s: %s", path, strerror(errno));
	char line[AUDIT_CHECKPOINT_LINE_MAX], msg[512];
	size_t no = 0, mine = 0;
	while (!rc && fgets(line, sizeof line, f)) {
		no++;
		size_t len = strcspn(line, "\n");
		bool whole = line[len] || feof(f);
		line[len] = '\0';
		if (!whole) {
			int ch;
			while ((ch = getc(f)) != EOF && ch != '\n')
				; /* the rest of the over-long line */
		}
		struct audit_checkpoint cp;
		unsigned char want[AUDIT_MAC_LEN];
		bool held = false;
		if (!whole || !checkpoint_parse(line, &cp)) {
			if (!whole || len) {
				snprintf(msg, sizeof msg, "%s:%zu: not a checkpoint line", path, no);
				report(arg, msg);
				out->failed++;
			}
			continue; /* blank lines are fine */
		}
		if (strcmp(cp.tenant, t->name)) {
			out->others++;
			continue;
		}
		mine++;
		checkpoint_mac(&t->vault, &cp, want);
		if (sodium_memcmp(want, cp.mac, sizeof want)) {
			char at[TIMEUTIL_DATETIME_LEN];
			timeutil_format_datetime(cp.at, at);
			snprintf(msg, sizeof msg, "%s:%zu: checkpoint seq %lld of %s is FORGED: its MAC is wrong (or it was "
			         "made with another key)", path, no, (long long)cp.seq, at);
			report(arg, msg);
			out->failed++;
			continue;
		}
		rc = checkpoint_held(s, t, &cp, head_seq, &held, msg, sizeof msg);
		if (!rc && held) {
			out->held++;
		} else if (!rc) {
			report(arg, msg);
			out->failed++;
		}
	}
	if (!rc && ferror(f))
		rc = err_set(eb, RC_IO, "cannot read %s: %s", path, strerror(errno));
	fclose(f);
	if (!rc && !mine) {
		snprintf(msg, sizeof msg, "%s holds no checkpoint of tenant %s", path, t->name);
		report(arg, msg);
		out->failed++;
	}
	return rc;
}

enum rc audit_checkpoint_latest(const struct tenant *t, const char *path, int64_t until,
                                struct audit_checkpoint *out, bool *found, struct errbuf *eb)
{
	*found = false;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? RC_OK : err_set(eb, RC_IO, "cannot read %s: %s", path, strerror(errno));
	char line[AUDIT_CHECKPOINT_LINE_MAX];
	while (fgets(line, sizeof line, f)) {
		size_t len = strcspn(line, "\n");
		if (!line[len] && !feof(f)) {
			int ch;
			while ((ch = getc(f)) != EOF && ch != '\n')
				; /* over-long: not a checkpoint */
			continue;
		}
		line[len] = '\0';
		struct audit_checkpoint cp;
		unsigned char want[AUDIT_MAC_LEN];
		if (!checkpoint_parse(line, &cp) || strcmp(cp.tenant, t->name) || (until && cp.at > until))
			continue;
		checkpoint_mac(&t->vault, &cp, want);
		if (sodium_memcmp(want, cp.mac, sizeof want))
			continue;
		*out = cp;
		*found = true;
	}
	enum rc rc = ferror(f) ? err_set(eb, RC_IO, "cannot read %s: %s", path, strerror(errno)) : RC_OK;
	fclose(f);
	return rc;
}

enum rc audit_sync(struct store *s)
{
	return store_sync(s);
}
