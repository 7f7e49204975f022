/* vault: libsodium key handling (see vault.h). */
#include "crypto/vault.h"

#include <errno.h>
#include <fcntl.h>
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
#include "crypto/token.h"

#define KDF_CONTEXT "privreg_"

enum { SUBKEY_WRAP = 1, SUBKEY_LOOKUP = 2, SUBKEY_TOKEN = 3, SUBKEY_AUDIT = 4, SUBKEY_CHECKPOINT = 5 };

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

void vault_init(struct vault *v, int64_t tenant_id, const unsigned char master[VAULT_KEY_LEN])
{
	/* sodium_malloc locks the block, marks it MADV_DONTDUMP and puts guard
	 * pages around it; like xmalloc, running out of memory aborts. */
	unsigned char *k = sodium_malloc(5 * VAULT_KEY_LEN);
	if (!k)
		abort();
	v->tenant_id = tenant_id;
	v->block = k;
	v->wrap_key = k;
	v->lookup_key = k + VAULT_KEY_LEN;
	v->token_key = k + 2 * VAULT_KEY_LEN;
	v->audit_key = k + 3 * VAULT_KEY_LEN;
	v->checkpoint_key = k + 4 * VAULT_KEY_LEN;
	crypto_kdf_derive_from_key(v->wrap_key, VAULT_KEY_LEN, SUBKEY_WRAP, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(v->lookup_key, VAULT_KEY_LEN, SUBKEY_LOOKUP, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(v->token_key, VAULT_KEY_LEN, SUBKEY_TOKEN, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(v->audit_key, VAULT_KEY_LEN, SUBKEY_AUDIT, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(v->checkpoint_key, VAULT_KEY_LEN, SUBKEY_CHECKPOINT, KDF_CONTEXT, master);
}

void vault_fini(struct vault *v)
{
	sodium_free(v->block); /* wipes it; NULL is fine */
	sodium_memzero(v, sizeof *v);
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

/* Makes the directory's entries durable (the new name of a key file). */
static int sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
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
	if (!rc && sync_dir(path) != 0) {
		rc = err_set(eb, RC_IO, "cannot sync the directory of key file %s: %s", path, strerror(errno));
		unlink(path);
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

enum rc vault_load(const char *path, int64_t tenant_id, struct vault *v, struct errbuf *eb)
{
	unsigned char master[VAULT_KEY_LEN];
	char hex[VAULT_KEY_LEN * 2 + 8];
	char dir[4096];
	size_t bin_len = 0;
	struct stat st;
	enum rc rc = RC_OK;
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
	if ((rc = vault_check_dir(dir, eb)))
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot open key file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return err_set(eb, RC_IO, "cannot read key file %s: %s", path, strerror(errno));
	}
	if ((rc = check_private(path, &st, false, eb))) {
		close(fd);
		return rc;
	}
	ssize_t n = read(fd, hex, sizeof hex - 1);
	close(fd);
	if (n < VAULT_KEY_LEN * 2) {
		rc = err_set(eb, RC_IO, "key file %s is truncated", path);
		goto out;
	}
	hex[n] = '\0';
	if (sodium_hex2bin(master, sizeof master, hex, (size_t)n, "\n", &bin_len, NULL) != 0 ||
	    bin_len != VAULT_KEY_LEN) {
		rc = err_set(eb, RC_IO, "key file %s is not a privreg master key", path);
		goto out;
	}
	vault_init(v, tenant_id, master);
out:
	sodium_memzero(master, sizeof master);
	sodium_memzero(hex, sizeof hex);
	return rc;
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

void vault_subject_key_new(const struct vault *v, const char *subject_id,
                           struct subject_key *key, unsigned char wrapped[VAULT_WRAPPED_LEN])
{
	unsigned char ad[128];
	size_t adlen = wrap_ad(v, subject_id, ad, sizeof ad);
	crypto_aead_xchacha20poly1305_ietf_keygen(key->k);
	randombytes_buf(wrapped, VAULT_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + VAULT_NONCE_LEN, NULL, key->k, VAULT_KEY_LEN,
	                                           ad, adlen, NULL, wrapped,
	                                           v->wrap_key);
}

enum rc vault_subject_key_unwrap(const struct vault *v, const char *subject_id,
                                 const unsigned char *wrapped, size_t len, struct subject_key *key)
{
	unsigned char ad[128];
	size_t adlen = wrap_ad(v, subject_id, ad, sizeof ad);
	if (!wrapped || len != VAULT_WRAPPED_LEN)
		return RC_GONE; /* the key was destroyed */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key->k, NULL, NULL, wrapped + VAULT_NONCE_LEN,
	                                               len - VAULT_NONCE_LEN, (const unsigned char *)ad,
	                                               adlen, wrapped, v->wrap_key) != 0) {
		sodium_memzero(key, sizeof *key);
		return RC_CRYPTO;
	}
	return RC_OK;
}

void vault_subject_key_wipe(struct subject_key *key)
{
	sodium_memzero(key, sizeof *key);
}

void vault_seal(const struct subject_key *key, const char *record_id,
                const void *plain, size_t len, unsigned char *out)
{
	char stack[AD_STACK], *ad = ad_text(record_id, stack);
	randombytes_buf(out, VAULT_NONCE_LEN);
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
