/* vault: libsodium key handling (see vault.h). */
#include "crypto/vault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fault.h"
#include "base/xalloc.h"
#include "crypto/rng.h"
#include "crypto/token.h"

#define KDF_CONTEXT "privreg_"

enum { SUBKEY_WRAP = 1, SUBKEY_LOOKUP = 2, SUBKEY_TOKEN = 3, SUBKEY_AUDIT = 4, SUBKEY_CHECKPOINT = 5,
       SUBKEY_LEDGER = 6 };

/* The block: the five stable subkeys, then one slot per epoch. */
enum { SLOT_LOOKUP, SLOT_TOKEN, SLOT_AUDIT, SLOT_CHECKPOINT, SLOT_LEDGER, SLOT_EPOCHS };
#define BLOCK_KEYS (SLOT_EPOCHS + VAULT_EPOCHS_MAX)

/* The first line of a key file that holds the stable subkeys only (epoch 0
 * destroyed), and of an epoch key file. */
#define SUBKEYS_MAGIC "privreg-subkeys 1"
#define EPOCH_MAGIC "privreg-epoch"
static const char *const subkey_names[SLOT_EPOCHS] = {"lookup", "token", "audit", "checkpoint", "ledger"};

enum rc vault_library_init(void)
{
	static bool done; /* set once, before any thread starts */
	if (!done) {
		if (randombytes_set_implementation(&randombytes_internal_implementation) != 0)
			return RC_INTERNAL;
		done = true;
	}
	return sodium_init() < 0 ? RC_INTERNAL : RC_OK;
}

enum rc vault_process_harden(struct errbuf *eb)
{
	struct rlimit none = {0, 0};
	if (setrlimit(RLIMIT_CORE, &none) != 0)
		return err_set(eb, RC_INTERNAL, "cannot turn core dumps off: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return err_set(eb, RC_INTERNAL, "cannot make the process non-dumpable: %s", strerror(errno));
	return RC_OK;
}

/* An empty vault: the block allocated, the pointers set, no epoch yet. */
static void vault_alloc(struct vault *v, int64_t tenant_id)
{
	/* sodium_malloc locks the block, marks it MADV_DONTDUMP and puts guard
	 * pages around it; like xmalloc, running out of memory aborts. */
	unsigned char *k = sodium_malloc(BLOCK_KEYS * VAULT_KEY_LEN);
	if (!k)
		abort();
	memset(v, 0, sizeof *v);
	v->tenant_id = tenant_id;
	v->block = k;
	v->lookup_key = k + SLOT_LOOKUP * VAULT_KEY_LEN;
	v->token_key = k + SLOT_TOKEN * VAULT_KEY_LEN;
	v->audit_key = k + SLOT_AUDIT * VAULT_KEY_LEN;
	v->checkpoint_key = k + SLOT_CHECKPOINT * VAULT_KEY_LEN;
	v->ledger_key = k + SLOT_LEDGER * VAULT_KEY_LEN;
}

/* Adds an epoch (numbers rising) and makes it the current one. */
static unsigned char *epoch_add(struct vault *v, uint32_t number, int64_t created)
{
	struct vault_epoch *e = &v->epochs[v->nepochs];
	e->number = number;
	e->created = created;
	e->key = (unsigned char *)v->block + (SLOT_EPOCHS + v->nepochs) * VAULT_KEY_LEN;
	v->nepochs++;
	v->epoch = number;
	v->wrap_key = e->key;
	return e->key;
}

void vault_init(struct vault *v, int64_t tenant_id, const unsigned char master[VAULT_KEY_LEN])
{
	vault_alloc(v, tenant_id);
	crypto_kdf_derive_from_key(epoch_add(v, 0, 0), VAULT_KEY_LEN, SUBKEY_WRAP, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(v->lookup_key, VAULT_KEY_LEN, SUBKEY_LOOKUP, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(v->token_key, VAULT_KEY_LEN, SUBKEY_TOKEN, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(v->audit_key, VAULT_KEY_LEN, SUBKEY_AUDIT, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(v->checkpoint_key, VAULT_KEY_LEN, SUBKEY_CHECKPOINT, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(v->ledger_key, VAULT_KEY_LEN, SUBKEY_LEDGER, KDF_CONTEXT, master);
}

void vault_fini(struct vault *v)
{
	sodium_free(v->block); /* wipes it; NULL is fine */
	sodium_memzero(v, sizeof *v);
}

/* The directory part of path ("." for none). */
static void dir_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, size, ".");
	else
		snprintf(dir, size, "%.*s", (int)(slash == path ? 1 : slash - path), path);
}

/* fsync of the directory holding path: a created, renamed or removed name
 * is durable only then. */
static enum rc sync_parent(const char *path, struct errbuf *eb)
{
	char dir[4096];
	dir_of(path, dir, sizeof dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return err_set(eb, RC_IO, "cannot sync directory %s: %s", dir, strerror(e));
	}
	close(fd);
	return RC_OK;
}

/* Writes path as a whole: a temporary file beside it (0600), fsync'd,
 * renamed over it, the directory fsync'd. */
static enum rc write_atomic(const char *path, const void *data, size_t len, struct errbuf *eb)
{
	char tmp[4200];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return err_set(eb, RC_IO, "key file path too long");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot create %s: %s", tmp, strerror(errno));
	enum rc rc = RC_OK;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
		rc = err_set(eb, RC_IO, "cannot write %s: %s", tmp, strerror(errno));
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = err_set(eb, RC_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return sync_parent(path, eb);
}

/* A simulated power cut (test builds, base/fault.h) at one step of writing
 * a key file: what that step had not yet made durable is lost. */
enum key_step { KEY_WRITTEN, KEY_SYNCED, KEY_LINKED };

static void key_cut(enum key_step step, int fd, const char *tmp, const char *path)
{
	if (!fault_powercut())
		return;
	if (step == KEY_WRITTEN && fd >= 0)
		(void)!ftruncate(fd, 0); /* the content had not been synced */
	if (step == KEY_LINKED)
		unlink(path);            /* nor had the directory entry */
	(void)tmp;
	_exit(FAULT_POWERCUT_EXIT);
}

/* Written beside its final name, synced, then linked to it (link, unlike
 * rename, fails if the name exists) and the directory synced: after a crash
 * or a power cut at any point the key file is either absent or whole, and
 * it is durable before the caller records the tenant that needs it. */
enum rc vault_create_file(const char *path, struct errbuf *eb)
{
	unsigned char master[VAULT_KEY_LEN];
	char hex[VAULT_KEY_LEN * 2 + 2], tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp)
		return err_set(eb, RC_INVALID, "key file path too long");
	if (access(path, F_OK) == 0)
		return err_set(eb, RC_EXISTS, "cannot create key file %s: it exists", path);
	unlink(tmp); /* left by an earlier attempt that was cut short: never a key in use */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot create key file %s: %s", tmp, strerror(errno));
	randombytes_buf(master, sizeof master);
	sodium_bin2hex(hex, sizeof hex, master, sizeof master);
	size_t n = strlen(hex);
	hex[n++] = '\n';
	enum rc rc = RC_OK;
	if (write(fd, hex, n) != (ssize_t)n)
		rc = err_set(eb, RC_IO, "cannot write key file %s: %s", tmp, strerror(errno));
	key_cut(KEY_WRITTEN, fd, tmp, path);
	if (!rc && fsync(fd) != 0)
		rc = err_set(eb, RC_IO, "cannot write key file %s: %s", tmp, strerror(errno));
	close(fd);
	sodium_memzero(master, sizeof master);
	sodium_memzero(hex, sizeof hex);
	if (!rc)
		key_cut(KEY_SYNCED, -1, tmp, path);
	if (!rc && link(tmp, path) != 0)
		rc = err_set(eb, errno == EEXIST ? RC_EXISTS : RC_IO, "cannot create key file %s: %s", path,
		             strerror(errno));
	if (!rc)
		key_cut(KEY_LINKED, -1, tmp, path);
	if (!rc) {
		rc = sync_parent(path, eb);
		if (rc)
			unlink(path); /* ours (link succeeded), and not durable */
	}
	unlink(tmp);
	return rc;
}

/* The fix goes in the message: an operator reading it should not need the
 * manual. Group or others may not even enter the key directory: a key file
 * made readable by mistake is then still out of their reach. */
static enum rc check_private(const char *path, const struct stat *st, bool dir, struct errbuf *eb)
{
	uid_t me = geteuid();
	if (st->st_uid != me)
		return err_set(eb, RC_IO, "key %s %s belongs to uid %u, not to the user running privreg (uid %u): "
		               "chown %u %s", dir ? "directory" : "file", path, (unsigned)st->st_uid, (unsigned)me,
		               (unsigned)me, path);
	if (st->st_mode & 077)
		return err_set(eb, RC_IO, "key %s %s must be %s by its owner only (mode %03o): chmod %s %s",
		               dir ? "directory" : "file", path, dir ? "accessible" : "readable",
		               (unsigned)(st->st_mode & 0777), dir ? "700" : "600", path);
	return RC_OK;
}

enum rc vault_check_dir(const char *dir, struct errbuf *eb)
{
	struct stat st;
	if (stat(dir, &st) != 0)
		return err_set(eb, RC_IO, "cannot open key directory %s: %s", dir, strerror(errno));
	return check_private(dir, &st, true, eb);
}

/* The epoch files of key file `path` (NAME.key): NAME.epoch-N.key. Returns
 * the numbers found, ascending; max + 1 when there are more than max. */
static size_t epoch_files(const char *path, uint32_t *out, size_t max)
{
	char dir[4096], prefix[512];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t blen = strlen(base);
	if (blen < 4 || strcmp(base + blen - 4, ".key"))
		return 0;
	snprintf(prefix, sizeof prefix, "%.*s.epoch-", (int)(blen - 4), base);
	dir_of(path, dir, sizeof dir);
	DIR *d = opendir(dir);
	size_t n = 0, plen = strlen(prefix);
	for (struct dirent *e; d && (e = readdir(d));) {
		const char *rest = e->d_name + plen;
		char *end;
		if (strncmp(e->d_name, prefix, plen) || *rest < '1' || *rest > '9')
			continue;
		unsigned long num = strtoul(rest, &end, 10);
		if (strcmp(end, ".key") || num > VAULT_EPOCH_NUMBER_MAX)
			continue;
		if (n == max) {
			n++; /* too many: the caller refuses */
			break;
		}
		size_t i = n++;
		while (i > 0 && out[i - 1] > num) {
			out[i] = out[i - 1];
			i--;
		}
		out[i] = (uint32_t)num;
	}
	if (d)
		closedir(d);
	return n;
}

static void epoch_path(const char *path, uint32_t number, char *out, size_t size)
{
	size_t n = strlen(path);
	snprintf(out, size, "%.*s.epoch-%" PRIu32 ".key", (int)(n >= 4 ? n - 4 : n), path, number);
}

/* Opens a key file, refusing one others may read; reads it into buf. */
static enum rc read_key_file(const char *path, char *buf, size_t size, size_t *len, struct errbuf *eb)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot open key file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return err_set(eb, RC_IO, "cannot read key file %s: %s", path, strerror(errno));
	}
	enum rc rc = check_private(path, &st, false, eb);
	ssize_t n = rc ? 0 : read(fd, buf, size - 1);
	close(fd);
	if (rc)
		return rc;
	if (n < 0)
		return err_set(eb, RC_IO, "cannot read key file %s: %s", path, strerror(errno));
	buf[n] = '\0';
	*len = (size_t)n;
	return RC_OK;
}

static bool hex_key(const char *hex, size_t len, unsigned char out[VAULT_KEY_LEN])
{
	size_t bin_len = 0;
	return sodium_hex2bin(out, VAULT_KEY_LEN, hex, len, "\n", &bin_len, NULL) == 0 && bin_len == VAULT_KEY_LEN;
}

/* NAME.key after epoch 0 was destroyed: "privreg-subkeys 1", then one line
 * "NAME HEX" per stable subkey, in subkey_names' order. */
static enum rc load_subkeys(const char *path, char *text, struct vault *v, struct errbuf *eb)
{
	char *line = strchr(text, '\n');
	for (int i = 0; i < SLOT_EPOCHS; i++) {
		size_t nl = line ? strlen(subkey_names[i]) : 0;
		if (!line || strncmp(line + 1, subkey_names[i], nl) || line[1 + nl] != ' ' ||
		    !hex_key(line + 2 + nl, 2 * VAULT_KEY_LEN, (unsigned char *)v->block + i * VAULT_KEY_LEN))
			return err_set(eb, RC_IO, "key file %s is damaged (line %d)", path, i + 2);
		line = strchr(line + 1, '\n');
	}
	return RC_OK;
}

/* NAME.epoch-N.key: "privreg-epoch N created UNIX_TIME", then the key in hex. */
static enum rc load_epoch(const char *path, uint32_t number, struct vault *v, struct errbuf *eb)
{
	char file[4200], text[256];
	size_t len = 0;
	epoch_path(path, number, file, sizeof file);
	enum rc rc = read_key_file(file, text, sizeof text, &len, eb);
	if (rc)
		return rc;
	unsigned long num = 0;
	long long created = 0;
	int used = 0;
	char *nl = strchr(text, '\n');
	if (sscanf(text, EPOCH_MAGIC " %lu created %lld%n", &num, &created, &used) != 2 || num != number || !nl ||
	    text + used != nl || !hex_key(nl + 1, strlen(nl + 1), epoch_add(v, number, created)))
		rc = err_set(eb, RC_IO, "key file %s is not a privreg epoch key", file);
	sodium_memzero(text, sizeof text);
	return rc;
}

enum rc vault_load(const char *path, int64_t tenant_id, struct vault *v, struct errbuf *eb)
{
	unsigned char master[VAULT_KEY_LEN];
	char text[1024];
	char dir[4096];
	size_t len = 0;
	uint32_t numbers[VAULT_EPOCHS_MAX];
	enum rc rc = RC_OK;
	dir_of(path, dir, sizeof dir);
	if ((rc = vault_check_dir(dir, eb)))
		return rc;
	if ((rc = read_key_file(path, text, sizeof text, &len, eb)))
		return rc;
	if (!strncmp(text, SUBKEYS_MAGIC "\n", strlen(SUBKEYS_MAGIC) + 1)) {
		vault_alloc(v, tenant_id);
		rc = load_subkeys(path, text, v, eb);
	} else if (len < VAULT_KEY_LEN * 2) {
		rc = err_set(eb, RC_IO, "key file %s is truncated", path);
	} else if (!hex_key(text, len, master)) {
		rc = err_set(eb, RC_IO, "key file %s is not a privreg master key", path);
	} else {
		vault_init(v, tenant_id, master);
	}
	size_t n = rc ? 0 : epoch_files(path, numbers, VAULT_EPOCHS_MAX - 1);
	if (!rc && n + v->nepochs > VAULT_EPOCHS_MAX)
		rc = err_set(eb, RC_IO, "more than %d epoch keys beside %s", VAULT_EPOCHS_MAX, path);
	for (size_t i = 0; !rc && i < n; i++)
		rc = load_epoch(path, numbers[i], v, eb);
	if (!rc && !v->nepochs)
		rc = err_set(eb, RC_IO, "no wrapping key beside %s (no epoch key file)", path);
	if (rc && v->block)
		vault_fini(v);
	sodium_memzero(master, sizeof master);
	sodium_memzero(text, sizeof text);
	return rc;
}

enum rc vault_epoch_create(const char *path, int64_t now, uint32_t *number, struct errbuf *eb)
{
	uint32_t numbers[VAULT_EPOCHS_MAX];
	size_t n = epoch_files(path, numbers, VAULT_EPOCHS_MAX - 1);
	if (n >= VAULT_EPOCHS_MAX - 1)
		return err_set(eb, RC_CONFLICT, "%zu epoch keys are kept already: old ones must expire first", n);
	uint32_t next = n ? numbers[n - 1] + 1 : 1;
	if (next > VAULT_EPOCH_NUMBER_MAX)
		return err_set(eb, RC_CONFLICT, "no epoch numbers left");
	unsigned char key[VAULT_KEY_LEN];
	char text[256], file[4200];
	randombytes_buf(key, sizeof key);
	int at = snprintf(text, sizeof text, EPOCH_MAGIC " %" PRIu32 " created %lld\n", next, (long long)now);
	sodium_bin2hex(text + at, sizeof text - (size_t)at, key, sizeof key);
	strcat(text, "\n");
	epoch_path(path, next, file, sizeof file);
	enum rc rc = write_atomic(file, text, strlen(text), eb);
	sodium_memzero(key, sizeof key);
	sodium_memzero(text, sizeof text);
	if (!rc)
		*number = next;
	return rc;
}

enum rc vault_epoch_destroy(const char *path, const struct vault *v, uint32_t number, struct errbuf *eb)
{
	if (number == v->epoch)
		return err_set(eb, RC_CONFLICT, "epoch %" PRIu32 " is the current one", number);
	if (number == 0) {
		/* The master key goes; the subkeys that must stay stable are
		 * written out in its place. */
		char text[64 + SLOT_EPOCHS * (16 + 2 * VAULT_KEY_LEN)];
		size_t at = (size_t)snprintf(text, sizeof text, "%s\n", SUBKEYS_MAGIC);
		for (int i = 0; i < SLOT_EPOCHS; i++) {
			at += (size_t)snprintf(text + at, sizeof text - at, "%s ", subkey_names[i]);
			sodium_bin2hex(text + at, sizeof text - at, (const unsigned char *)v->block + i * VAULT_KEY_LEN,
			               VAULT_KEY_LEN);
			at += 2 * VAULT_KEY_LEN;
			text[at++] = '\n';
		}
		enum rc rc = write_atomic(path, text, at, eb);
		sodium_memzero(text, sizeof text);
		return rc;
	}
	char file[4200];
	epoch_path(path, number, file, sizeof file);
	/* Overwritten before the name goes (a file system may keep the old
	 * blocks anyway; the name going is what the loader goes by). */
	int fd = open(file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? RC_OK : err_set(eb, RC_IO, "cannot open %s: %s", file, strerror(errno));
	char zeros[256] = {0};
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size > (off_t)sizeof zeros ||
	    pwrite(fd, zeros, (size_t)st.st_size, 0) != (ssize_t)st.st_size || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		return err_set(eb, RC_IO, "cannot overwrite %s: %s", file, strerror(e));
	}
	close(fd);
	if (unlink(file) != 0)
		return err_set(eb, RC_IO, "cannot remove %s: %s", file, strerror(errno));
	return sync_parent(file, eb);
}

/* Ids inside associated data are written in their pre-ULID form (see
 * token_ids_to_legacy), always: ciphertexts sealed before the ULID layout
 * bound them so, and associated data cannot change under a ciphertext.
 * Returns the text to bind: `stack`, or a heap copy for ad_done to free. */
#define AD_STACK 256
static char *ad_text(const char *text, char stack[AD_STACK])
{
	size_t n = strlen(text);
	char *s = n < AD_STACK ? stack : xmalloc(n + 1);
	memcpy(s, text, n + 1);
	token_ids_to_legacy(s);
	return s;
}

static void ad_done(char *s, const char stack[AD_STACK])
{
	if (s != stack)
		free(s);
}

/* Associated data binding a wrapped key to its tenant and subject:
 * the tenant id (8 bytes, little-endian) followed by the subject id. */
static size_t wrap_ad(const struct vault *v, const char *subject_id, unsigned char *ad, size_t size)
{
	uint64_t t = (uint64_t)v->tenant_id;
	for (int i = 0; i < 8; i++)
		ad[i] = (unsigned char)(t >> (8 * i));
	char stack[AD_STACK], *id = ad_text(subject_id, stack);
	size_t n = strlen(id);
	if (n > size - 8)
		n = size - 8;
	memcpy(ad + 8, id, n);
	ad_done(id, stack);
	return 8 + n;
}

/* A compact nonce (vault.h, "Nonces"): 16 bytes from the associated data
 * (which names the id the ciphertext is bound to), then the 8 stored random
 * bytes. The hash is unkeyed: a nonce need not be secret, only unrepeated. */
#define NONCE_HEAD_LEN (VAULT_NONCE_LEN - VAULT_NONCE_TAIL_LEN)
static void compact_nonce(const unsigned char *ad, size_t adlen, const unsigned char tail[VAULT_NONCE_TAIL_LEN],
                          unsigned char nonce[VAULT_NONCE_LEN])
{
	static const unsigned char domain[] = "privreg nonce 1";
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, NONCE_HEAD_LEN);
	crypto_generichash_update(&st, domain, sizeof domain);
	crypto_generichash_update(&st, ad, adlen);
	crypto_generichash_final(&st, nonce, NONCE_HEAD_LEN);
	memcpy(nonce + NONCE_HEAD_LEN, tail, VAULT_NONCE_TAIL_LEN);
}

/* The epoch as a varint (7 bits a byte, low first); returns its length. */
static size_t put_varint(unsigned char *p, uint32_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* Reads a varint of at most 4 bytes from p[0..len); returns its length, 0
 * if there is none (cut short, or longer than 4 bytes). */
static size_t get_varint(const unsigned char *p, size_t len, uint32_t *v)
{
	uint32_t x = 0;
	for (size_t i = 0; i < len && i < 4; i++) {
		x |= (uint32_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*v = x;
			return i + 1;
		}
	}
	return 0;
}

/* Wraps key under the current epoch in format 2; returns the length. */
static size_t wrap(const struct vault *v, const char *subject_id, const struct subject_key *key,
                   unsigned char wrapped[VAULT_WRAPPED_MAX])
{
	unsigned char ad[128], nonce[VAULT_NONCE_LEN];
	size_t adlen = wrap_ad(v, subject_id, ad, sizeof ad);
	wrapped[0] = 2;
	size_t at = 1 + put_varint(wrapped + 1, v->epoch);
	unsigned char *tail = wrapped + at;
	rng_fill(tail, VAULT_NONCE_TAIL_LEN);
	compact_nonce(ad, adlen, tail, nonce);
	at += VAULT_NONCE_TAIL_LEN;
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + at, NULL, key->k, VAULT_KEY_LEN, ad, adlen, NULL, nonce,
	                                           v->wrap_key);
	return at + VAULT_KEY_LEN + VAULT_TAG_LEN;
}

size_t vault_subject_key_new(const struct vault *v, const char *subject_id,
                             struct subject_key *key, unsigned char wrapped[VAULT_WRAPPED_MAX])
{
	rng_fill(key->k, sizeof key->k);
	return wrap(v, subject_id, key, wrapped);
}

/* The three formats are told apart by length alone (72, 76, 58-61), and
 * formats 1 and 2 by their first byte as well. */
int64_t vault_wrapped_epoch(const unsigned char *wrapped, size_t len)
{
	if (wrapped && len == VAULT_WRAPPED_LEGACY_LEN)
		return 0;
	if (wrapped && len >= VAULT_WRAPPED2_MIN && len <= VAULT_WRAPPED2_MAX && wrapped[0] == 2) {
		uint32_t epoch;
		size_t n = get_varint(wrapped + 1, len - 1, &epoch);
		return n && len == VAULT_WRAPPED2_MIN - 1 + n && epoch <= VAULT_EPOCH_NUMBER_MAX ? (int64_t)epoch : -1;
	}
	if (!wrapped || len != VAULT_WRAPPED_LEN || wrapped[0] != 1)
		return -1;
	return (int64_t)wrapped[1] << 16 | (int64_t)wrapped[2] << 8 | wrapped[3];
}

enum rc vault_subject_key_unwrap(const struct vault *v, const char *subject_id,
                                 const unsigned char *wrapped, size_t len, struct subject_key *key)
{
	unsigned char ad[128];
	size_t adlen = wrap_ad(v, subject_id, ad, sizeof ad);
	if (!wrapped)
		return RC_GONE; /* the key was destroyed */
	int64_t epoch = vault_wrapped_epoch(wrapped, len);
	if (epoch < 0)
		return RC_CRYPTO;
	const unsigned char *wrap_key = NULL;
	for (size_t i = 0; i < v->nepochs && !wrap_key; i++)
		if (v->epochs[i].number == (uint32_t)epoch)
			wrap_key = v->epochs[i].key;
	if (!wrap_key)
		return RC_GONE; /* its epoch's key was destroyed: so was the data */
	if (wrapped[0] == 2 && len != VAULT_WRAPPED_LEGACY_LEN) {
		unsigned char nonce[VAULT_NONCE_LEN];
		const unsigned char *tail = wrapped + len - VAULT_KEY_LEN - VAULT_TAG_LEN - VAULT_NONCE_TAIL_LEN;
		compact_nonce(ad, adlen, tail, nonce);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(key->k, NULL, NULL, tail + VAULT_NONCE_TAIL_LEN,
		                                               VAULT_KEY_LEN + VAULT_TAG_LEN, ad, adlen, nonce,
		                                               wrap_key) != 0) {
			sodium_memzero(key, sizeof *key);
			return RC_CRYPTO;
		}
		return RC_OK;
	}
	if (len == VAULT_WRAPPED_LEN) {
		wrapped += VAULT_WRAPPED_HEADER_LEN;
		len -= VAULT_WRAPPED_HEADER_LEN;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key->k, NULL, NULL, wrapped + VAULT_NONCE_LEN,
	                                               len - VAULT_NONCE_LEN, (const unsigned char *)ad,
	                                               adlen, wrapped, wrap_key) != 0) {
		sodium_memzero(key, sizeof *key);
		return RC_CRYPTO;
	}
	return RC_OK;
}

enum rc vault_subject_key_rewrap(const struct vault *v, const char *subject_id, const unsigned char *wrapped,
                                 size_t len, unsigned char out[VAULT_WRAPPED_MAX], size_t *out_len)
{
	struct subject_key key;
	enum rc rc = vault_subject_key_unwrap(v, subject_id, wrapped, len, &key);
	if (!rc)
		*out_len = wrap(v, subject_id, &key, out);
	vault_subject_key_wipe(&key);
	return rc;
}

void vault_subject_key_wipe(struct subject_key *key)
{
	sodium_memzero(key, sizeof *key);
}

void vault_seal(const struct subject_key *key, const char *record_id,
                const void *plain, size_t len, unsigned char *out)
{
	char stack[AD_STACK], *ad = ad_text(record_id, stack);
	rng_fill(out, VAULT_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + VAULT_NONCE_LEN, NULL, plain, len,
	                                           (const unsigned char *)ad, strlen(ad), NULL, out, key->k);
	ad_done(ad, stack);
}

enum rc vault_open(const struct subject_key *key, const char *record_id,
                   const unsigned char *sealed, size_t len, struct buf *out)
{
	if (len < VAULT_SEAL_OVERHEAD)
		return RC_CRYPTO;
	size_t plen = len - VAULT_SEAL_OVERHEAD;
	size_t start = out->len;
	char *at;
	enum rc rc = buf_extend(out, plen, &at);
	if (rc)
		return rc;
	char stack[AD_STACK], *ad = ad_text(record_id, stack);
	int bad = crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)at, NULL, NULL,
	                                                     sealed + VAULT_NONCE_LEN, len - VAULT_NONCE_LEN,
	                                                     (const unsigned char *)ad, strlen(ad), sealed,
	                                                     key->k);
	ad_done(ad, stack);
	if (bad) {
		sodium_memzero(out->data + start, plen);
		out->len = start;
		out->data[start] = '\0';
		return RC_CRYPTO;
	}
	return RC_OK;
}

void vault_seal_compact(const struct subject_key *key, const char *id, const void *plain, size_t len,
                        unsigned char *out)
{
	char stack[AD_STACK], *ad = ad_text(id, stack);
	unsigned char nonce[VAULT_NONCE_LEN];
	size_t adlen = strlen(ad);
	rng_fill(out, VAULT_NONCE_TAIL_LEN);
	compact_nonce((const unsigned char *)ad, adlen, out, nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + VAULT_NONCE_TAIL_LEN, NULL, plain, len,
	                                           (const unsigned char *)ad, adlen, NULL, nonce, key->k);
	ad_done(ad, stack);
}

enum rc vault_open_either(const struct subject_key *key, const char *id, const unsigned char *sealed, size_t len,
                          struct buf *out)
{
	if (len < VAULT_SEAL_COMPACT_OVERHEAD)
		return RC_CRYPTO;
	size_t plen = len - VAULT_SEAL_COMPACT_OVERHEAD;
	size_t start = out->len;
	char *at;
	if (buf_extend(out, plen, &at))
		return vault_open(key, id, sealed, len, out); /* too long for out as compact: not compact */
	char stack[AD_STACK], *ad = ad_text(id, stack);
	unsigned char nonce[VAULT_NONCE_LEN];
	size_t adlen = strlen(ad);
	compact_nonce((const unsigned char *)ad, adlen, sealed, nonce);
	int bad = crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)at, NULL, NULL,
	                                                     sealed + VAULT_NONCE_TAIL_LEN, len - VAULT_NONCE_TAIL_LEN,
	                                                     (const unsigned char *)ad, adlen, nonce, key->k);
	ad_done(ad, stack);
	if (!bad)
		return RC_OK;
	/* A failed try leaves zeros (libsodium clears its output): the space
	 * is given back before the other try. */
	out->len = start;
	out->data[start] = '\0';
	return vault_open(key, id, sealed, len, out);
}

void vault_lookup_hash(const struct vault *v, const char *field, const void *value, size_t len,
                       unsigned char out[VAULT_HASH_LEN])
{
	crypto_generichash_state st;
	unsigned char sep = 0;
	crypto_generichash_init(&st, v->lookup_key, VAULT_KEY_LEN, VAULT_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *)field, strlen(field));
	crypto_generichash_update(&st, &sep, 1);
	crypto_generichash_update(&st, value, len);
	crypto_generichash_final(&st, out, VAULT_HASH_LEN);
	sodium_memzero(&st, sizeof st);
}

/* ---- staff secrets ---- */

#define STAFF_KDF_CONTEXT "prstaff1"

static size_t staff_ad(const struct vault *v, const char *user_id, char *ad, size_t size)
{
	int n = snprintf(ad, size, "staff %lld %s", (long long)v->tenant_id, user_id);
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

void vault_staff_seal(const struct vault *v, const char *user_id, const void *plain, size_t len, unsigned char *out)
{
	unsigned char key[VAULT_KEY_LEN];
	char ad[96];
	size_t adlen = staff_ad(v, user_id, ad, sizeof ad);
	crypto_kdf_derive_from_key(key, sizeof key, 1, STAFF_KDF_CONTEXT, v->token_key);
	randombytes_buf(out, VAULT_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + VAULT_NONCE_LEN, NULL, plain, len, (const unsigned char *)ad,
	                                           adlen, NULL, out, key);
	sodium_memzero(key, sizeof key);
}

enum rc vault_staff_open(const struct vault *v, const char *user_id, const unsigned char *sealed, size_t len,
                         unsigned char *plain)
{
	if (len < VAULT_SEAL_OVERHEAD)
		return RC_CRYPTO;
	unsigned char key[VAULT_KEY_LEN];
	char ad[96];
	size_t adlen = staff_ad(v, user_id, ad, sizeof ad);
	crypto_kdf_derive_from_key(key, sizeof key, 1, STAFF_KDF_CONTEXT, v->token_key);
	int r = crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, sealed + VAULT_NONCE_LEN,
	                                                   len - VAULT_NONCE_LEN, (const unsigned char *)ad, adlen,
	                                                   sealed, key);
	sodium_memzero(key, sizeof key);
	return r ? RC_CRYPTO : RC_OK;
}
