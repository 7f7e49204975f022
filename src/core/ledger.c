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

/* DIR/ledger, made on the first erasure (0700), durable before any file in it. */
static enum rc make_dir(const char *path)
{
	char dir[4096], parent[4096];
	dir_of(path, dir, sizeof dir);
	if (mkdir(dir, 0700) == 0) {
		dir_of(dir, parent, sizeof parent);
		return sync_dir(parent);
	}
	return errno == EEXIST ? RC_OK : RC_IO;
}

/* The ledger's first lines: a new file, whole or not at all. */
static enum rc create_with(const char *path, const char *text, size_t len)
{
	char dir[4096], tmp[4200];
	dir_of(path, dir, sizeof dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return RC_IO;
	bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	close(fd);
	/* link, not rename: a ledger that appeared meanwhile is never replaced */
	ok = ok && link(tmp, path) == 0;
	unlink(tmp);
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

/* Written before the lines, without fsync: after a power loss that kept
 * the lines but lost it, the database is refused until reconciled (the
 * safe side); SIGKILL and crashes of the process keep it. */
static enum rc write_pending(const char *ledger, int64_t first)
{
	char path[4200], text[32];
	pending_path(ledger, path, sizeof path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return RC_IO;
	int len = snprintf(text, sizeof text, "%" PRId64 "\n", first);
	bool ok = write(fd, text, (size_t)len) == len;
	close(fd);
	return ok ? RC_OK : RC_IO;
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
	unlink(path);
}

void ledger_settle(const struct core_ctx *c, enum rc rc)
{
	int64_t pos = 0;
	bool open = true;
	if (rc || c->replay || !c->tenant->ledger)
		return;
	/* Inside an outer transaction (an erasure of a request's completion),
	 * nothing is committed yet: the outer caller settles after its end. */
	if (store_in_transaction(c->store, &open) || open)
		return;
	int64_t first = ledger_pending(c->tenant);
	/* Only a marker the database has passed: another transaction may have
	 * begun and written its own since this one committed. */
	if (first && !store_ledger_position(c->store, c->tenant->id, &pos) && first <= pos)
		ledger_pending_clear(c->tenant);
}

static enum rc append_lines(const char *path, const unsigned char key[VAULT_KEY_LEN], struct ledger_entry *v,
                            size_t n, int64_t floor, int64_t *last)
{
	unsigned char mac[LEDGER_MAC_LEN];
	int64_t seq = 0;
	off_t end = 0;
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
	if (!rc)
		rc = write_pending(path, floor + 1); /* lines after floor never committed: this and any earlier failed one */
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
	if (!rc && fd < 0)
		rc = create_with(path, text, len);
	else if (!rc && (ftruncate(fd, end) != 0 || pwrite(fd, text, len, end) != (ssize_t)len || fdatasync(fd) != 0))
		rc = RC_IO;
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
	int64_t now = core_now(c), last = 0, floor = 0;
	for (size_t i = 0; i < n; i++) {
		v[i].at = now;
		v[i].tenant_id = c->tenant->id;
	}
	enum rc rc = store_ledger_position(c->store, c->tenant->id, &floor);
	if (!rc)
		rc = append_lines(c->tenant->ledger, c->tenant->vault.ledger_key, v, n, floor, &last);
	if (rc == RC_CONFLICT)
		log_error("erasure ledger tenant=%lld ends before the database's position %lld: refused",
		          (long long)c->tenant->id, (long long)floor);
	if (rc)
		return rc; /* the caller rolls back: no erasure without its line */
	return store_ledger_position_set(c->store, c->tenant->id, last, now);
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
		if (line[len - 1] != '\n') {
			if (feof(f))
				break; /* an append that never returned: not an erasure anyone was told of */
			rc = err_set(eb, RC_INVALID, "%s:%" PRId64 ": line too long", t->ledger, no + 1);
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
