/*
 * signkey: the register's Ed25519 attestation key (see signkey.h). The
 * seed is read into the sodium_malloc'd block directly and the hex text
 * that carried it is wiped: no copy of the secret outlives the call.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/signkey.h"

#define HEADER "privreg-attest-ed25519 1\n"
#define SEED_HEX (crypto_sign_SEEDBYTES * 2)

void signkey_id(const unsigned char pk[SIGNKEY_PUBLIC_LEN], char id[SIGNKEY_ID_LEN])
{
	unsigned char h[8];
	crypto_generichash(h, sizeof h, pk, SIGNKEY_PUBLIC_LEN, NULL, 0);
	sodium_bin2hex(id, SIGNKEY_ID_LEN, h, sizeof h);
}

static enum rc sync_dir(const char *dir, struct errbuf *eb)
{
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

/* A new seed, written beside its name, synced, linked (which fails if the
 * name exists: two processes making it at once keep the first) and the
 * directory synced. */
static enum rc create(const char *keydir, const char *path, struct errbuf *eb)
{
	char tmp[4300], text[sizeof HEADER + SEED_HEX + 2];
	unsigned char seed[crypto_sign_SEEDBYTES];
	if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp)
		return err_set(eb, RC_IO, "key file path too long");
	unlink(tmp); /* left by an attempt cut short: never a key in use */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot create key file %s: %s", tmp, strerror(errno));
	randombytes_buf(seed, sizeof seed);
	memcpy(text, HEADER, sizeof HEADER - 1);
	sodium_bin2hex(text + sizeof HEADER - 1, SEED_HEX + 1, seed, sizeof seed);
	size_t len = sizeof HEADER - 1 + SEED_HEX;
	text[len++] = '\n';
	enum rc rc = RC_OK;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
		rc = err_set(eb, RC_IO, "cannot write key file %s: %s", tmp, strerror(errno));
	close(fd);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(text, sizeof text);
	if (!rc && link(tmp, path) != 0 && errno != EEXIST)
		rc = err_set(eb, RC_IO, "cannot create key file %s: %s", path, strerror(errno));
	unlink(tmp);
	return rc ? rc : sync_dir(keydir, eb);
}

static enum rc load(const char *path, struct signkey *k, struct errbuf *eb)
{
	char text[sizeof HEADER + SEED_HEX + 2];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot open key file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		return err_set(eb, RC_IO, "key file %s must belong to the user running privreg and be readable by it "
		               "only: chmod 600 %s", path, path);
	}
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	enum rc rc = RC_OK;
	unsigned char seed[crypto_sign_SEEDBYTES];
	size_t bin = 0;
	if (n != (ssize_t)(sizeof HEADER - 1 + SEED_HEX + 1) || memcmp(text, HEADER, sizeof HEADER - 1) ||
	    sodium_hex2bin(seed, sizeof seed, text + sizeof HEADER - 1, SEED_HEX, NULL, &bin, NULL) != 0 ||
	    bin != sizeof seed)
		rc = err_set(eb, RC_IO, "key file %s is not a privreg attestation key", path);
	if (!rc) {
		k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
		if (!k->sk)
			rc = err_set(eb, RC_IO, "cannot lock memory for the attestation key");
	}
	if (!rc) {
		crypto_sign_seed_keypair(k->pk, k->sk, seed);
		sodium_mprotect_readonly(k->sk);
		signkey_id(k->pk, k->id);
	}
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(text, sizeof text);
	return rc;
}

enum rc signkey_load(const char *keydir, struct signkey *k, struct errbuf *eb)
{
	char path[4200];
	memset(k, 0, sizeof *k);
	if (snprintf(path, sizeof path, "%s/%s", keydir, SIGNKEY_FILE) >= (int)sizeof path)
		return err_set(eb, RC_IO, "key directory path too long");
	enum rc rc = RC_OK;
	if (access(path, F_OK) != 0)
		rc = create(keydir, path, eb);
	if (!rc)
		rc = load(path, k, eb);
	if (rc)
		signkey_fini(k);
	return rc;
}

void signkey_fini(struct signkey *k)
{
	sodium_free(k->sk); /* wipes it; NULL is fine */
	sodium_memzero(k, sizeof *k);
}

void signkey_sign(const struct signkey *k, const void *msg, size_t len, unsigned char sig[SIGNKEY_SIG_LEN])
{
	crypto_sign_detached(sig, NULL, msg, len, k->sk);
}

bool signkey_verify(const unsigned char pk[SIGNKEY_PUBLIC_LEN], const void *msg, size_t len,
                    const unsigned char sig[SIGNKEY_SIG_LEN])
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}
