/* ledger: the erasure ledger (see ledger.h). */
#include "core/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "store/store.h"

/* The first word of every line: the format, should it ever change. */
#define LINE_VERSION "1"

static const char *const kind_names[] = {
#define X(name, text) text,
	LEDGER_KINDS(X)
#undef X
};

const char *ledger_kind_name(enum ledger_kind k)
{
	return k < LEDGER_KIND__COUNT ? kind_names[k] : "?";
}

void ledger_path(const char *keydir, const char *tenant, char *out, size_t size)
{
	size_t n = strlen(keydir);
	while (n > 1 && keydir[n - 1] == '/')
		n--;
	while (n > 0 && keydir[n - 1] != '/')
		n--;
	/* n: the length of the parent with its slash ("" for a bare name) */
	snprintf(out, size, "%.*s" LEDGER_DIR "/%s.log", (int)n, keydir, tenant);
}

static void line_mac(const unsigned char key[VAULT_KEY_LEN], const unsigned char prev[LEDGER_MAC_LEN],
                     const char *text, size_t len, unsigned char mac[LEDGER_MAC_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, VAULT_KEY_LEN, LEDGER_MAC_LEN);
	crypto_generichash_update(&st, prev, LEDGER_MAC_LEN);
	crypto_generichash_update(&st, (const unsigned char *)text, len);
	crypto_generichash_final(&st, mac, LEDGER_MAC_LEN);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

void ledger_line_format(const unsigned char key[VAULT_KEY_LEN], const unsigned char prev[LEDGER_MAC_LEN],
                        const struct ledger_entry *e, char out[LEDGER_LINE_MAX], unsigned char mac[LEDGER_MAC_LEN])
{
	int n = snprintf(out, LEDGER_LINE_MAX, LINE_VERSION " %" PRId64 " %" PRId64 " %" PRId64 " %s %s %s %s",
	                 e->seq, e->at, e->tenant_id, ledger_kind_name(e->kind), or_dash(e->subject),
	                 or_dash(e->record), or_dash(e->request));
	line_mac(key, prev, out, (size_t)n, mac);
	out[n++] = ' ';
	sodium_bin2hex(out + n, LEDGER_LINE_MAX - (size_t)n, mac, LEDGER_MAC_LEN);
	n += 2 * LEDGER_MAC_LEN;
	out[n++] = '\n';
	out[n] = '\0';
}

/* Copies a word that is an id (or "-" for none) into out. */
static bool id_word(const char *word, const char *prefix, char out[TOKEN_ID_MAX])
{
	if (!strcmp(word, "-")) {
		out[0] = '\0';
		return true;
	}
	if (strlen(word) >= TOKEN_ID_MAX || !token_id_valid(prefix, word))
		return false;
	strcpy(out, word);
	return true;
}

enum rc ledger_line_parse(const unsigned char key[VAULT_KEY_LEN], const unsigned char prev[LEDGER_MAC_LEN],
                          const char *line, struct ledger_entry *e, unsigned char mac[LEDGER_MAC_LEN])
{
	char version[4], kind[32], subject[64], record[64], request[64], hex[2 * LEDGER_MAC_LEN + 2];
	long long seq, at, tenant;
	int used = 0;
	size_t len = strlen(line), bin = 0;
	memset(e, 0, sizeof *e);
	if (len >= LEDGER_LINE_MAX ||
	    sscanf(line, "%3s %lld %lld %lld %31s %63s %63s %63s %65s%n", version, &seq, &at, &tenant, kind, subject,
	           record, request, hex, &used) != 9 ||
	    (size_t)used != len || strcmp(version, LINE_VERSION) || seq < 1 || strlen(hex) != 2 * LEDGER_MAC_LEN)
		return RC_INVALID;
	e->seq = seq;
	e->at = at;
	e->tenant_id = tenant;
	e->kind = LEDGER_KIND__COUNT;
	for (int k = 0; k < LEDGER_KIND__COUNT; k++)
		if (!strcmp(kind, kind_names[k]))
			e->kind = (enum ledger_kind)k;
	if (e->kind == LEDGER_KIND__COUNT || !id_word(subject, TOKEN_PREFIX_SUBJECT, e->subject) || !e->subject[0] ||
	    !id_word(record, TOKEN_PREFIX_RECORD, e->record) || !id_word(request, TOKEN_PREFIX_REQUEST, e->request))
		return RC_INVALID;
	unsigned char want[LEDGER_MAC_LEN], got[LEDGER_MAC_LEN];
	if (sodium_hex2bin(got, sizeof got, hex, strlen(hex), NULL, &bin, NULL) != 0 || bin != sizeof got)
		return RC_INVALID;
	line_mac(key, prev, line, len - strlen(hex) - 1, want);
	if (sodium_memcmp(want, got, sizeof want) != 0)
		return RC_CRYPTO;
	memcpy(mac, got, LEDGER_MAC_LEN);
	return RC_OK;
}

static enum rc sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return RC_IO;
	enum rc rc = fsync(fd) == 0 ? RC_OK : RC_IO;
	close(fd);
	return rc;
}

static void dir_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	snprintf(dir, size, "%.*s", slash ? (int)(slash == path ? 1 : slash - path) : 1, slash ? path : ".");
}

/* What the ledger's files hold that is not durable yet, for a simulated
 * power cut at one step of writing them (test builds, PRIVREG_LEDGER_CUT in
 * base/fault.h; a release build compiles the cut to nothing). */
struct unsynced {
	const char *ledger;    /* the ledger: its tail beyond fault_ledger_durable is not synced */
	int fd;                /* a new file whose tail is not synced, or -1 */
	off_t durable;         /* its size at its last sync */
	const char *marker;    /* the marker, while its text is not synced */
	const char *restore;   /* and its durable text, "" for none */
	bool marker_new;       /* nor its name */
	const char *names[2];  /* other names the directory has not synced */
	const char *dir;       /* a directory whose own name is not synced */
};

static uint64_t cut_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The unsynced tail of fd from `durable` on is lost; with a seed, a random
 * part of it is kept, or the size reached the disk and the bytes did not. */
static void cut_tail(int fd, off_t durable, uint64_t *seed)
{
	struct stat st;
	off_t keep = 0;
	if (fstat(fd, &st) != 0)
		return;
	if (*seed && st.st_size > durable)
		keep = (off_t)(cut_rand(seed) % (uint64_t)(st.st_size - durable + 1));
	(void)!ftruncate(fd, durable + keep);
	if (keep && cut_rand(seed) % 3 == 0) {
		char zeros[512] = {0};
		for (off_t at = durable; at < durable + keep; at += (off_t)sizeof zeros) {
			off_t n = durable + keep - at < (off_t)sizeof zeros ? durable + keep - at : (off_t)sizeof zeros;
			(void)!pwrite(fd, zeros, (size_t)n, at);
		}
	}
}

/* The power goes now if PRIVREG_LEDGER_CUT says so: what u names as not
 * durable is lost, and the process ends as the power-cut VFS ends it. */
static void cut(const struct unsynced *u)
{
	uint64_t seed = 0;
	if (!fault_ledger_cut(&seed))
		return;
	if (u->fd >= 0)
		cut_tail(u->fd, u->durable, &seed);
	int fd = u->ledger && fault_ledger_durable() >= 0 ? open(u->ledger, O_WRONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (fd >= 0) {
		cut_tail(fd, (off_t)fault_ledger_durable(), &seed);
		close(fd);
	}
	if (u->marker && u->marker_new) {
		unlink(u->marker);
	} else if (u->marker && (!seed || cut_rand(&seed) & 1)) {
		/* the text since its last sync is lost; with a seed it may not be */
		fd = open(u->marker, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		size_t len = strlen(u->restore);
		if (fd >= 0 && pwrite(fd, u->restore, len, 0) == (ssize_t)len)
			(void)!ftruncate(fd, (off_t)len);
		if (fd >= 0)
			close(fd);
	}
	for (size_t i = 0; i < 2; i++)
		if (u->names[i])
			unlink(u->names[i]);
	if (u->dir)
		rmdir(u->dir);
	_exit(FAULT_POWERCUT_EXIT);
}

/* DIR/ledger, made on the first erasure (0700), durable before any file in it. */
static enum rc make_dir(const char *path)
{
	char dir[4096], parent[4096];
	dir_of(path, dir, sizeof dir);
	if (mkdir(dir, 0700) == 0) {
		struct unsynced u = {.fd = -1, .dir = dir};
		cut(&u);
		dir_of(dir, parent, sizeof parent);
		return sync_dir(parent);
	}
	return errno == EEXIST ? RC_OK : RC_IO;
}

/* The ledger's first lines: a new file, whole or not at all. */
static enum rc create_with(const char *path, const char *text, size_t len, struct unsynced u)
{
	char dir[4096], tmp[4200];
	dir_of(path, dir, sizeof dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return RC_IO;
	u.names[0] = tmp;
	bool ok = write(fd, text, len) == (ssize_t)len;
	u.fd = fd;
	if (ok)
		cut(&u);
	ok = ok && fsync(fd) == 0;
	close(fd);
	u.fd = -1;
	if (ok)
		cut(&u);
	/* link, not rename: a ledger that appeared meanwhile is never replaced */
	ok = ok && link(tmp, path) == 0;
	u.names[1] = path;
	if (ok)
		cut(&u);
	unlink(tmp);
	u.names[0] = NULL;
	if (ok)
		cut(&u);
	return ok && !sync_dir(dir) ? RC_OK : RC_IO;
}

/* Reads the tail of an open ledger: the last complete line's number and
 * MAC, and where that line ends (the file is cut there: what follows is an
 * append that never returned). */
static enum rc read_tail(int fd, int64_t *seq, unsigned char mac[LEDGER_MAC_LEN], off_t *end)
{
	struct stat st;
	char buf[2 * LEDGER_LINE_MAX + 1];
	*seq = 0;
	memset(mac, 0, LEDGER_MAC_LEN);
	*end = 0;
	if (fstat(fd, &st) != 0)
		return RC_IO;
	off_t from = st.st_size > (off_t)(sizeof buf - 1) ? st.st_size - (off_t)(sizeof buf - 1) : 0;
	ssize_t n = pread(fd, buf, (size_t)(st.st_size - from), from);
	if (n != st.st_size - from)
		return RC_IO;
	buf[n] = '\0';
	char *last_nl = memrchr(buf, '\n', (size_t)n);
	if (!last_nl)
		return from == 0 ? RC_OK : RC_INVALID; /* nothing complete yet, or a line over the limit */
	*end = from + (last_nl - buf) + 1;
	*last_nl = '\0';
	char *start = memrchr(buf, '\n', (size_t)(last_nl - buf));
	start = start ? start + 1 : buf;
	if (start == buf && from != 0)
		return RC_INVALID;
	long long s;
	const char *sp = strrchr(start, ' ');
	size_t bin = 0;
	if (sscanf(start, LINE_VERSION " %lld ", &s) != 1 || s < 1 || !sp ||
	    sodium_hex2bin(mac, LEDGER_MAC_LEN, sp + 1, strlen(sp + 1), NULL, &bin, NULL) != 0 || bin != LEDGER_MAC_LEN)
		return RC_INVALID;
	*seq = s;
	return RC_OK;
}

/* floor: the database's position; a ledger that ends before it lost lines
 * (deleted, truncated, replaced) and is not appended to: numbering it anew
 * would hide the loss. One ahead of it is an erasure whose commit failed:
 * numbering goes on after it. */
/* DIR/ledger/TENANT.pending beside DIR/ledger/TENANT.log. */
static void pending_path(const char *ledger, char *out, size_t size)
{
	size_t n = strlen(ledger);
	snprintf(out, size, "%.*s.pending", (int)(n > 4 ? n - 4 : n), ledger);
}

/* Written and synced before the lines: lines that reached the disk
 * without it, after a power cut before the commit, would read as erasures
 * an older database lacks, and the register would be refused. It names
 * the transaction too (store_transaction's serial). first is the marker's
 * number as append_lines decided it (marker_decide). It is emptied, not
 * removed, when settled, so that its name is synced once. */
static enum rc write_pending(const char *marker, int64_t first, uint64_t serial, struct unsynced *u)
{
	char old[48] = "", text[48], dir[4096];
	bool created = false;
	int fd = open(marker, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open(marker, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		created = true;
	}
	if (fd < 0)
		return RC_IO;
	if (pread(fd, old, sizeof old - 1, 0) < 0)
		old[0] = '\0';
	int len = snprintf(text, sizeof text, "%" PRId64 " %" PRIu64 "\n", first, serial);
	bool ok = pwrite(fd, text, (size_t)len, 0) == len && ftruncate(fd, len) == 0;
	u->marker = marker;
	u->marker_new = created;
	u->restore = old;
	if (ok)
		cut(u);
	ok = ok && fdatasync(fd) == 0;
	close(fd);
	dir_of(marker, dir, sizeof dir);
	ok = ok && (!created || !sync_dir(dir));
	u->marker = u->restore = NULL;
	return ok ? RC_OK : RC_IO;
}

/* The marker's number for a transaction whose lines will follow line
 * `seq`, the database's position being floor. A marker above floor names
 * lines of a transaction that never committed (failed, or cut short by a
 * crash): floor is the committed position, read in this transaction under
 * the writer lock, so no commit of them can still come. It keeps its
 * number, so that a crash of this transaction too leaves all of them
 * named, and *skipped gets it: this transaction's position will pass
 * those lines, so it sets them down as skipped (store_ledger_skipped_add)
 * in the same commit. A marker at or below floor from this transaction
 * (serial) names its earlier lines, whose position it set itself: it keeps
 * its number too. Otherwise it is stale, or names no line (a cut before
 * the lines). RC_IO if it cannot be read: passing lines over unnamed is
 * what this is for. */
static enum rc marker_decide(const char *marker, int64_t seq, int64_t floor, uint64_t serial, int64_t *first,
                             int64_t *skipped)
{
	char old[48] = "";
	long long earlier = 0;
	unsigned long long by = 0;
	*first = seq + 1;
	*skipped = 0;
	int fd = open(marker, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? RC_OK : RC_IO;
	ssize_t got = pread(fd, old, sizeof old - 1, 0);
	close(fd);
	if (got < 0)
		return RC_IO;
	if (sscanf(old, "%lld %llu", &earlier, &by) < 1 || earlier < 1 || earlier > seq)
		return RC_OK;
	if (earlier > floor) {
		*first = earlier;
		*skipped = earlier;
	} else if (by == serial) {
		*first = earlier;
	}
	return RC_OK;
}

enum rc ledger_remove(const char *keydir, const char *name)
{
	char path[4200], other[4200];
	enum rc rc = RC_OK;
	ledger_path(keydir, name, path, sizeof path);
	pending_path(path, other, sizeof other);
	if (unlink(other) != 0 && errno != ENOENT)
		rc = RC_IO;
	if (unlink(path) != 0 && errno != ENOENT)
		rc = RC_IO;
	return rc;
}

/* Empties the marker (see write_pending); unsynced: a marker the database
 * has passed is stale and ignored. */
static void clear_pending(const char *marker)
{
	int fd = open(marker, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		close(fd);
}

int64_t ledger_pending(const struct tenant *t)
{
	char path[4200], text[32] = "";
	if (!t->ledger)
		return 0;
	pending_path(t->ledger, path, sizeof path);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	long long first = 0;
	if (!fgets(text, sizeof text, f) || sscanf(text, "%lld", &first) != 1 || first < 1)
		first = 0;
	fclose(f);
	return first;
}

void ledger_pending_clear(const struct tenant *t)
{
	char path[4200];
	if (!t->ledger)
		return;
	pending_path(t->ledger, path, sizeof path);
	clear_pending(path);
}

void ledger_settle(const struct core_ctx *c, enum rc rc)
{
	int64_t pos = 0;
	uint64_t serial = 1;
	if (rc || c->replay || !c->tenant || !c->tenant->ledger || !ledger_pending(c->tenant))
		return;
	/* An inner end (an erasure inside a request's or an idempotent write's
	 * transaction) commits nothing yet: the outer end settles. */
	if (store_transaction(c->store, &serial) || serial)
		return;
	/* Under the ledger's lock, so that no other transaction writes its own
	 * marker between the reading and the emptying. */
	int fd = open(c->tenant->ledger, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
		close(fd);
		return;
	}
	int64_t first = ledger_pending(c->tenant);
	/* Only a marker the database has passed: another transaction may have
	 * begun and written its own since this one committed. */
	if (first && !store_ledger_position(c->store, c->tenant->id, &pos) && first <= pos) {
		char path[4200], text[32];
		pending_path(c->tenant->ledger, path, sizeof path);
		snprintf(text, sizeof text, "%" PRId64 "\n", first);
		struct unsynced u = {.ledger = c->tenant->ledger, .fd = -1};
		cut(&u); /* committed, the marker still there */
		clear_pending(path);
		u.marker = path;
		u.restore = text;
		cut(&u); /* emptied, and that lost */
	}
	if (fd >= 0)
		close(fd); /* and the lock with it */
}

static enum rc append_lines(const char *path, const unsigned char key[VAULT_KEY_LEN], struct ledger_entry *v,
                            size_t n, int64_t floor, uint64_t serial, int64_t *last, int64_t *skipped,
                            int64_t *skipped_to)
{
	unsigned char mac[LEDGER_MAC_LEN];
	char marker[4200];
	int64_t seq = 0;
	off_t end = 0;
	struct unsynced u = {.ledger = path, .fd = -1};
	pending_path(path, marker, sizeof marker);
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT)
		return RC_IO;
	enum rc rc = RC_OK;
	if (fd >= 0 && flock(fd, LOCK_EX) != 0)
		rc = RC_IO;
	if (!rc && fd >= 0)
		rc = read_tail(fd, &seq, mac, &end);
	else
		memset(mac, 0, sizeof mac);
	if (!rc && seq < floor)
		rc = RC_CONFLICT;
	if (!rc && fd < 0)
		rc = make_dir(path);
	int64_t first = seq + 1;
	*skipped = 0;
	if (!rc)
		rc = marker_decide(marker, seq, floor, serial, &first, skipped);
	*skipped_to = seq;
	if (!rc)
		rc = write_pending(marker, first, serial, &u);
	char *text = NULL;
	size_t len = 0;
	if (!rc) {
		text = xmalloc(n * LEDGER_LINE_MAX);
		for (size_t i = 0; i < n; i++) {
			v[i].seq = ++seq;
			ledger_line_format(key, mac, &v[i], text + len, mac);
			len += strlen(text + len);
		}
	}
	if (fd >= 0 && fault_ledger_durable() < 0)
		fault_ledger_durable_set(end); /* what this process found is on the disk */
	if (!rc && fd < 0)
		rc = create_with(path, text, len, u);
	else if (!rc && (ftruncate(fd, end) != 0 || pwrite(fd, text, len, end) != (ssize_t)len))
		rc = RC_IO;
	else if (!rc) {
		cut(&u); /* appended, not synced */
		rc = fdatasync(fd) == 0 ? RC_OK : RC_IO;
	}
	if (!rc)
		fault_ledger_durable_set(end + (off_t)len);
	if (!rc)
		cut(&u); /* synced, the database not committed */
	free(text);
	if (fd >= 0)
		close(fd); /* and the lock with it */
	*last = seq;
	return rc;
}

enum rc ledger_append(const struct core_ctx *c, struct ledger_entry *v, size_t n)
{
	if (c->replay || !c->tenant->ledger || n == 0)
		return RC_OK;
	int64_t now = core_now(c), last = 0, floor = 0, skipped = 0, skipped_to = 0;
	for (size_t i = 0; i < n; i++) {
		v[i].at = now;
		v[i].tenant_id = c->tenant->id;
	}
	uint64_t serial = 0;
	enum rc rc = store_ledger_position(c->store, c->tenant->id, &floor);
	if (!rc)
		rc = store_transaction(c->store, &serial);
	if (!rc)
		rc = append_lines(c->tenant->ledger, c->tenant->vault.ledger_key, v, n, floor, serial, &last, &skipped,
		                  &skipped_to);
	if (rc == RC_CONFLICT)
		log_error("erasure ledger tenant=%lld ends before the database's position %lld: refused",
		          (long long)c->tenant->id, (long long)floor);
	if (rc)
		return rc; /* the caller rolls back: no erasure without its line */
	if (skipped) {
		log_warn("erasure ledger tenant=%lld: entries %lld..%lld never committed (a failed or cut-short erasure): "
		         "'privreg restore --reconcile' applies them",
		         (long long)c->tenant->id, (long long)skipped, (long long)skipped_to);
		rc = store_ledger_skipped_add(c->store, c->tenant->id, skipped, skipped_to);
	}
	return rc ? rc : store_ledger_position_set(c->store, c->tenant->id, last, now);
}

enum rc ledger_note(const struct core_ctx *c, enum ledger_kind kind, const char *subject, const char *record,
                    const char *request)
{
	struct ledger_entry e = {.kind = kind};
	snprintf(e.subject, sizeof e.subject, "%s", subject ? subject : "");
	snprintf(e.record, sizeof e.record, "%s", record ? record : "");
	snprintf(e.request, sizeof e.request, "%s", request ? request : "");
	return ledger_append(c, &e, 1);
}

enum rc ledger_read(const struct tenant *t, int64_t after, struct ledger_entry **out, size_t *n, int64_t *last,
                    struct errbuf *eb)
{
	*out = NULL;
	*n = 0;
	*last = 0;
	if (!t->ledger)
		return RC_OK;
	FILE *f = fopen(t->ledger, "re");
	if (!f)
		return errno == ENOENT ? RC_OK : err_set(eb, RC_IO, "cannot read %s: %s", t->ledger, strerror(errno));
	unsigned char mac[LEDGER_MAC_LEN] = {0};
	char line[LEDGER_LINE_MAX + 2];
	size_t alloc = 0;
	enum rc rc = RC_OK;
	int64_t no = 0;
	while (!rc && fgets(line, sizeof line, f)) {
		size_t len = strlen(line);
		/* len is 0 on a NUL byte: after a power cut, a file's new size may
		 * reach the disk before its new bytes, which then read as zeros. */
		if (len == 0 || line[len - 1] != '\n') {
			if (feof(f))
				break; /* an append that never returned: not an erasure anyone was told of */
			rc = err_set(eb, RC_INVALID, "%s:%" PRId64 ": %s", t->ledger, no + 1,
			             len ? "line too long" : "not a ledger line");
			break;
		}
		line[len - 1] = '\0';
		no++;
		struct ledger_entry e;
		rc = ledger_line_parse(t->vault.ledger_key, mac, line, &e, mac);
		if (rc == RC_CRYPTO)
			err_set(eb, rc, "%s:%" PRId64 ": the chain is broken (a line was changed, removed or moved)",
			        t->ledger, no);
		else if (rc)
			err_set(eb, rc, "%s:%" PRId64 ": not a ledger line", t->ledger, no);
		else if (e.seq != no || e.tenant_id != t->id)
			rc = err_set(eb, RC_CRYPTO, "%s:%" PRId64 ": line numbered %" PRId64 " for tenant %" PRId64
			             ", expected %" PRId64 " for tenant %" PRId64, t->ledger, no, e.seq, e.tenant_id, no,
			             t->id);
		if (!rc && e.seq > after) {
			if (*n == alloc) {
				alloc = alloc ? 2 * alloc : 16;
				*out = xrealloc(*out, alloc * sizeof **out);
			}
			(*out)[(*n)++] = e;
		}
	}
	if (!rc && ferror(f))
		rc = err_set(eb, RC_IO, "cannot read %s", t->ledger);
	fclose(f);
	if (rc) {
		free(*out);
		*out = NULL;
		*n = 0;
		return rc;
	}
	*last = no;
	return RC_OK;
}
