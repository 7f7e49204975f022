/*
 * jobs: the server's background work (see server_internal.h). Each job is
 * one function; a schedule is a thread with its own store connection that
 * runs its jobs, in order, once per period, and does nothing else:
 *
 *   ticker       (every sync_interval_ms): sync, reload, flush_logs
 *   sweeper      (every sweep_every_s, if set): sweep, rotate
 *   checkpointer (every checkpoint_every_s, if set): checkpoint
 *   attester     (hourly, and once at start, if attest_every is month): attest
 *
 * A schedule whose connection cannot be opened still runs: its jobs that
 * need the store skip their turn (the error is logged once, at start).
 * Stopping wakes every thread at once and waits for the job in progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/attest_json.h"
#include "api/server_internal.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/attest.h"
#include "core/audit.h"
#include "core/idempotency.h"
#include "core/backup.h"
#include "core/retention.h"
#include "store/store.h"

struct job {
	const char *name;
	void (*run)(struct server *s, struct store *st); /* st: NULL when the thread has no connection */
};

struct schedule {
	struct jobs *owner;
	const char *name;
	const struct job *jobs;
	size_t njobs;
	int64_t period_ms;
	bool now;                  /* its first turn at start, not one period later */
	pthread_t thread;
	bool started;
};

struct jobs {
	struct server *srv;
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* signalled at stop */
	bool stopping;
	char *checkpoint_file;     /* job_checkpoint's; NULL when it does not run */
	char *attest_dir;          /* job_attest's; NULL when it does not run */
	/* Tenants whose key epoch started on the sweeper's last turn, re-wrapped
	 * on its next (the sweeper's thread only). */
	int64_t *rewrap;
	size_t nrewrap;
	struct schedule ticker, sweeper, checkpointer, attester;
};

/* Relaxed commits (access entries) become durable. */
static void job_sync(struct server *s, struct store *st)
{
	if (st && audit_sync(st))
		log_warn("store sync failed");
}

/* Tenants take up new policy versions without a restart. */
static void job_reload(struct server *s, struct store *st)
{
	if (st)
		server_tenants_reload(s, st);
}

/* Access-log lines buffered by the server threads reach stderr. */
static void job_flush_logs(struct server *s, struct store *st)
{
	server_workers_flush(s);
}

/* Retention on schedule: the sweep of every tenant of the register. */
static void job_sweep(struct server *s, struct store *st)
{
	if (!st)
		return;
	struct store_tenant *v = NULL;
	size_t n = 0;
	if (tenant_list(st, &v, &n)) {
		log_warn("sweep: cannot list the tenants");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct tenant *t = NULL;
		if (server_tenant(s, st, v[i].id, &t))
			continue;
		struct core_ctx c = {.store = st, .tenant = t, .key_id = "sweeper"};
		struct retention_opts o = {0};
		struct retention_report r;
		struct errbuf eb = {""};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (retention_sweep(&c, &o, &r, &eb)) {
			log_warn("tenant=%lld sweep stopped: %s", (long long)v[i].id, eb.msg);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		int64_t us = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
		metrics_sweep_done(&s->metrics, v[i].id, timeutil_now(), (uint64_t)(us > 0 ? us : 0));
		size_t gone = 0;
		for (size_t k = 0; k < r.nkinds; k++)
			gone += r.kinds[k].deleted + r.kinds[k].anonymized;
		log_info("tenant=%lld sweep: records=%zu subjects=%zu requests=%zu", (long long)v[i].id, gone,
		         r.subjects_deleted, r.requests_expired);
		retention_report_fini(&r);
		/* Answers kept for retries past their 24 hours (each write also
		 * purges a few: this catches a tenant that stopped writing). */
		size_t purged = 0;
		if (idempotency_purge(&c, 10000, &purged))
			log_warn("tenant=%lld sweep: expired idempotency answers not purged", (long long)v[i].id);
	}
	store_tenants_free(v, n);
}

/* The head of every tenant's audit log, anchored in a file outside the
 * database (core/audit.h): deleting the log's tail no longer goes unseen. */
static void job_checkpoint(struct server *s, struct store *st)
{
	if (!st)
		return;
	struct store_tenant *v = NULL;
	size_t n = 0;
	if (tenant_list(st, &v, &n)) {
		log_warn("checkpoint: cannot list the tenants");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct tenant *t = NULL;
		if (server_tenant(s, st, v[i].id, &t))
			continue;
		struct audit_checkpoint cp;
		char line[AUDIT_CHECKPOINT_LINE_MAX];
		struct errbuf eb = {""};
		enum rc rc = audit_checkpoint_make(st, t, &cp, line);
		if (!rc)
			rc = audit_checkpoint_append(s->jobs->checkpoint_file, line, &eb);
		if (rc)
			log_warn("tenant=%lld checkpoint failed: %s", (long long)v[i].id, err_msg(&eb, rc));
		else
			log_info("tenant=%lld checkpoint seq=%lld", (long long)v[i].id, (long long)cp.seq);
	}
	store_tenants_free(v, n);
}

/* path written whole: a temporary file, fsync, rename, fsync of the directory. */
static enum rc write_whole(const char *dir, const char *path, const char *text, struct errbuf *eb)
{
	char tmp[4400];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot create %s: %s", tmp, strerror(errno));
	size_t len = strlen(text);
	enum rc rc = RC_OK;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
		rc = err_set(eb, RC_IO, "cannot write %s: %s", tmp, strerror(errno));
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = err_set(eb, RC_IO, "cannot rename %s: %s", tmp, strerror(errno));
	if (rc) {
		unlink(tmp);
		return rc;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0)
		rc = err_set(eb, RC_IO, "cannot sync %s: %s", dir, strerror(errno));
	if (dfd >= 0)
		close(dfd);
	return rc;
}

static bool same_month(int64_t a, int64_t b)
{
	char x[TIMEUTIL_DATE_LEN], y[TIMEUTIL_DATE_LEN];
	timeutil_format_date(a, x);
	timeutil_format_date(b, y);
	return !strncmp(x, y, 7);
}

/* attest_every month: each tenant's attestation, once a calendar month
 * (UTC), signed, into DIR/attestations/TENANT-YYYY-MM-DD.json and kept in
 * the register (its period ends there; GET /v1/attestation?latest=1). */
static void job_attest(struct server *s, struct store *st)
{
	if (!st)
		return;
	struct store_tenant *v = NULL;
	size_t n = 0;
	if (tenant_list(st, &v, &n)) {
		log_warn("attest: cannot list the tenants");
		return;
	}
	int64_t now = timeutil_now();
	for (size_t i = 0; i < n; i++) {
		const struct tenant *t = NULL;
		if (server_tenant(s, st, v[i].id, &t))
			continue;
		struct core_ctx c = {.store = st, .tenant = t, .key_id = "attester"};
		char *last = NULL;
		int64_t as_of = 0;
		enum rc rc = attest_latest(&c, &last, &as_of);
		free(last);
		if (!rc && same_month(as_of, now))
			continue;
		struct attestation a;
		struct errbuf eb = {""};
		struct attest_opts o = {.checkpoints = s->checkpoint_file};
		rc = rc && rc != RC_NOT_FOUND ? rc : attest_make(&c, &o, &a, &eb);
		if (rc) {
			log_warn("tenant=%lld attestation failed: %s", (long long)v[i].id, err_msg(&eb, rc));
			continue;
		}
		char *doc = attest_json_document(&a, &s->attest_key);
		char day[TIMEUTIL_DATE_LEN], path[4300];
		timeutil_format_date(a.as_of, day);
		snprintf(path, sizeof path, "%s/%s-%s.json", s->jobs->attest_dir, t->name, day);
		rc = write_whole(s->jobs->attest_dir, path, doc, &eb);
		if (!rc)
			rc = attest_keep(&c, &a, doc);
		size_t held = 0;
		for (int k = 0; k < ATTEST__COUNT; k++)
			held += a.claims[k].holds;
		if (rc)
			log_warn("tenant=%lld attestation not kept: %s", (long long)v[i].id, err_msg(&eb, rc));
		else
			log_info("tenant=%lld attestation claims=%d holding=%zu", (long long)v[i].id, ATTEST__COUNT, held);
		free(doc);
		attest_fini(&a);
	}
	store_tenants_free(v, n);
}

static const struct job ticker_jobs[] = {
	{"sync", job_sync},
	{"reload", job_reload},
	{"flush_logs", job_flush_logs},
};

/* Key epochs on the policy's schedule (backups: in the policy; core/backup.h),
 * in two turns. First the new epoch starts and the server takes the tenant
 * up again, so that new keys are wrapped under it and every key can be
 * opened. Keys are re-wrapped (and old epochs expired) only on the next
 * turn: a request still holding the tenant's previous load, which does not
 * know the new epoch, has long finished by then. */
static void job_rotate(struct server *s, struct store *st)
{
	struct jobs *j = s->jobs;
	if (!st)
		return;
	struct store_tenant *v = NULL;
	size_t n = 0;
	if (tenant_list(st, &v, &n)) {
		log_warn("rotate: cannot list the tenants");
		return;
	}
	for (size_t k = 0; k < j->nrewrap; k++) {
		for (size_t i = 0; i < n; i++) {
			if (v[i].id != j->rewrap[k])
				continue;
			struct backup_rotation rot;
			struct errbuf eb = {""};
			if (backup_rotate(st, s->keydir, v[i].name, false, 0, &rot, &eb))
				log_warn("tenant=%lld key re-wrapping stopped: %s", (long long)v[i].id, eb.msg);
			else
				log_info("tenant=%lld key epoch %u: subjects=%zu destroyed=%zu", (long long)v[i].id,
				         (unsigned)rot.epoch, rot.rewrapped, rot.ndestroyed);
		}
	}
	j->nrewrap = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tenant *t = NULL;
		if (server_tenant(s, st, v[i].id, &t) || !backup_rotation_due(t, timeutil_now()))
			continue;
		struct errbuf eb = {""};
		uint32_t epoch = 0;
		enum rc rc = backup_epoch_start(st, s->keydir, v[i].name, timeutil_now(), &epoch, &eb);
		if (rc) {
			log_warn("tenant=%lld key rotation stopped: %s", (long long)v[i].id, err_msg(&eb, rc));
			continue;
		}
		server_tenant_refresh(s, st, v[i].id);
		j->rewrap = xrealloc(j->rewrap, (j->nrewrap + 1) * sizeof *j->rewrap);
		j->rewrap[j->nrewrap++] = v[i].id;
		log_info("tenant=%lld key epoch %u started", (long long)v[i].id, (unsigned)epoch);
	}
	store_tenants_free(v, n);
}

static const struct job sweeper_jobs[] = {
	{"sweep", job_sweep},
	{"rotate", job_rotate},
};

static const struct job checkpointer_jobs[] = {
	{"checkpoint", job_checkpoint},
};

static const struct job attester_jobs[] = {
	{"attest", job_attest},
};

#define ATTESTER_PERIOD_MS (3600 * 1000)

static struct timespec deadline(int64_t period_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(period_ms / 1000);
	until.tv_nsec += (long)(period_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return until;
}

static void *schedule_main(void *arg)
{
	struct schedule *sc = arg;
	struct jobs *j = sc->owner;
	struct store *st = NULL;
	struct errbuf eb = {""};
	if (store_pool_open(j->srv->pool, &st, &eb))
		log_error("%s cannot open the store: %s", sc->name, eb.msg);
	pthread_mutex_lock(&j->lock);
	bool first = sc->now;
	while (!j->stopping) {
		struct timespec until = deadline(sc->period_ms);
		while (!first && !j->stopping && pthread_cond_timedwait(&j->cond, &j->lock, &until) != ETIMEDOUT)
			;
		first = false;
		if (j->stopping)
			break;
		pthread_mutex_unlock(&j->lock);
		for (size_t i = 0; i < sc->njobs; i++)
			sc->jobs[i].run(j->srv, st);
		pthread_mutex_lock(&j->lock);
	}
	pthread_mutex_unlock(&j->lock);
	store_close(st);
	return NULL;
}

static enum rc schedule_start(struct jobs *j, struct schedule *sc, const char *name, const struct job *jobs,
                              size_t njobs, int64_t period_ms, struct errbuf *eb)
{
	*sc = (struct schedule){.owner = j, .name = name, .jobs = jobs, .njobs = njobs, .period_ms = period_ms,
	                        .now = sc->now};
	if (pthread_create(&sc->thread, NULL, schedule_main, sc) != 0)
		return err_set(eb, RC_INTERNAL, "cannot start the %s thread", name);
	sc->started = true;
	return RC_OK;
}

/* A checkpoint file that cannot be written is refused at start, not
 * discovered an hour later in the log. */
static enum rc checkpoint_file_check(const char *path, struct errbuf *eb)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot open the checkpoint file %s: %s", path, strerror(errno));
	close(fd);
	return RC_OK;
}

enum rc server_jobs_start(struct server *s, const struct server_config *cfg, struct errbuf *eb)
{
	struct jobs *j = xcalloc(1, sizeof *j);
	j->srv = s;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	s->jobs = j;
	bool checkpoints = cfg->checkpoint_every_s && cfg->checkpoint_file;
	enum rc rc = checkpoints ? checkpoint_file_check(cfg->checkpoint_file, eb) : RC_OK;
	if (!rc)
		rc = schedule_start(j, &j->ticker, "ticker", ticker_jobs, sizeof ticker_jobs / sizeof ticker_jobs[0],
		                    cfg->sync_interval_ms > 0 ? cfg->sync_interval_ms : 1000, eb);
	if (!rc && cfg->sweep_every_s)
		rc = schedule_start(j, &j->sweeper, "sweeper", sweeper_jobs, sizeof sweeper_jobs / sizeof sweeper_jobs[0],
		                    (int64_t)cfg->sweep_every_s * 1000, eb);
	bool attest = cfg->attest_every && strcmp(cfg->attest_every, "never");
	if (!rc && attest && strcmp(cfg->attest_every, "month"))
		rc = err_set(eb, RC_INVALID, "attest_every: month or never, not '%.32s'", cfg->attest_every);
	if (!rc && attest && !cfg->attest_dir)
		rc = err_set(eb, RC_INVALID, "attest_every needs attest_dir");
	if (!rc && attest && mkdir(cfg->attest_dir, 0700) != 0 && errno != EEXIST)
		rc = err_set(eb, RC_IO, "cannot create %s: %s", cfg->attest_dir, strerror(errno));
	if (!rc && attest) {
		j->attest_dir = xstrdup(cfg->attest_dir);
		j->attester.now = true;
		rc = schedule_start(j, &j->attester, "attester", attester_jobs, 1, ATTESTER_PERIOD_MS, eb);
	}
	if (!rc && checkpoints) {
		j->checkpoint_file = xstrdup(cfg->checkpoint_file);
		rc = schedule_start(j, &j->checkpointer, "checkpointer", checkpointer_jobs,
		                    sizeof checkpointer_jobs / sizeof checkpointer_jobs[0],
		                    (int64_t)cfg->checkpoint_every_s * 1000, eb);
	}
	return rc;
}

void server_jobs_stop(struct jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->stopping = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (j->ticker.started)
		pthread_join(j->ticker.thread, NULL);
	if (j->sweeper.started)
		pthread_join(j->sweeper.thread, NULL);
	if (j->checkpointer.started)
		pthread_join(j->checkpointer.thread, NULL);
	if (j->attester.started)
		pthread_join(j->attester.thread, NULL);
	free(j->checkpoint_file);
	free(j->attest_dir);
	free(j->rewrap);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j);
}
