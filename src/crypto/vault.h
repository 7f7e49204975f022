/*
 * vault: the keys of one tenant and what is done with them.
 *
 * The tenant's 256-bit master key lives in a key file outside the database
 * (mode 0600). Subkeys are derived from it (libsodium KDF) for wrapping
 * subject keys and for lookup hashes, so the master key itself never encrypts
 * data. Each subject has a random data key, stored only wrapped (XChaCha20-
 * Poly1305 under the wrapping subkey, bound to tenant and subject id). Field
 * values are sealed under the subject's key with the record id as associated
 * data: a ciphertext copied into another record does not open. Deleting the
 * wrapped key makes every ciphertext of the subject unreadable in this
 * database (crypto-shredding); a copy of the database made before still
 * holds the wrapped key, which the erasure ledger (core/ledger.h) and the
 * epochs below take care of. All key material is wiped after use.
 * A vault's keys live in one sodium_malloc'd block: locked in RAM (never
 * swapped), left out of core dumps (MADV_DONTDUMP), between guard pages, and
 * wiped when freed; the key pointers point into it, and a vault is
 * never copied by value (two copies would free the block twice).
 * Ids inside associated data are bound in their pre-ULID text form (see
 * token_ids_to_legacy), so ciphertexts from before the ULID ids still open.
 *
 * Epochs: a copy of the database (a backup) holds every wrapped key, so the
 * wrapping key must not outlive the backups. Subject keys are wrapped under
 * the tenant's current *epoch* key: epoch 0 is the master key's wrapping
 * subkey (every register made before epochs), epoch N >= 1 a random key in
 * NAME.epoch-N.key beside NAME.key, whose first line records its creation
 * time. A wrapped key says its epoch in its header: format 2 (written now,
 * 58 to 61 bytes) and format 1 (VAULT_WRAPPED_LEN bytes) carry it, one of
 * VAULT_WRAPPED_LEGACY_LEN bytes is epoch 0 without a header. Once an
 * epoch's key is destroyed (vault_epoch_destroy), what was wrapped under it
 * reads as erased (RC_GONE) everywhere, old copies included. Destroying epoch
 * 0 destroys the master key itself: NAME.key is rewritten to hold only the
 * derived subkeys that must stay stable (lookup hashes, tokens, the audit
 * chain and its checkpoints, the erasure ledger), never the master key or the
 * epoch 0 wrapping key. Key files are written to a temporary file, fsync'd,
 * renamed into place and the directory fsync'd: a crash leaves the old file
 * or the new one, never half of one.
 *
 * Nonces. XChaCha20's 24-byte nonce is two parts: the first 16 bytes go
 * through HChaCha20 with the key to make a subkey, the last 8 are the nonce
 * under that subkey. The compact forms (the wrapped key's format 2 and
 * vault_seal_compact) take the first 16 bytes from the id the ciphertext is
 * bound to (BLAKE2b of the associated data) and store only the 8 random
 * bytes: 16 bytes fewer per ciphertext. A nonce repeats under one key only if
 * two seals are bound to the same id (or to ids whose 128-bit hashes
 * collide) and draw the same 64 random bits. The seals of one id under one
 * key are few and counted by the writes that make them: a subject's key is
 * wrapped when the subject is made, and again under the same epoch key only
 * when the subject is erased with a fresh key (a request's or a kept
 * answer's key: once per request, once per use of an Idempotency-Key after
 * the last one expired); a record is sealed when it is
 * added and again at each rectification or retention trim (an anonymised or
 * merged copy has a new id or another key, and a rotation another epoch
 * key). n seals of one id under one key repeat a nonce with probability
 * below n^2 / 2^65: under 2^-25 for a million rectifications of one record.
 * Other ciphertexts under a subject key (consent evidence, request notes,
 * mail) keep 24 random bytes, which meet a compact nonce with probability
 * 2^-192 each.
 */
#ifndef PRIVREG_VAULT_H
#define PRIVREG_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define VAULT_KEY_LEN 32
#define VAULT_NONCE_LEN 24
#define VAULT_TAG_LEN 16
/* A wrapped key before epochs: nonce, encrypted key, tag (epoch 0). */
#define VAULT_WRAPPED_LEGACY_LEN (VAULT_NONCE_LEN + VAULT_KEY_LEN + VAULT_TAG_LEN)
/* A wrapped key now: a 4-byte header (format 1, then the epoch in 3 bytes,
 * big-endian) and the legacy layout. */
#define VAULT_WRAPPED_HEADER_LEN 4
#define VAULT_WRAPPED_LEN (VAULT_WRAPPED_HEADER_LEN + VAULT_WRAPPED_LEGACY_LEN)
/* The 8 stored bytes of a compact nonce (see "Nonces" above). */
#define VAULT_NONCE_TAIL_LEN 8
/* A wrapped key in format 2 (written now): 0x02, the epoch as a varint (7
 * bits a byte, low first: 1 byte below epoch 128, at most 4), the nonce's
 * 8 random bytes, the encrypted key and its tag: 58 bytes below epoch 128. */
#define VAULT_WRAPPED2_MIN (1 + 1 + VAULT_NONCE_TAIL_LEN + VAULT_KEY_LEN + VAULT_TAG_LEN)
#define VAULT_WRAPPED2_MAX (VAULT_WRAPPED2_MIN + 3)
/* Room for a wrapped key of any format (buffers and fixed columns). */
#define VAULT_WRAPPED_MAX VAULT_WRAPPED_LEN
/* Epoch keys one vault holds at most (the current one and the older ones
 * not yet destroyed). */
#define VAULT_EPOCHS_MAX 64
#define VAULT_EPOCH_NUMBER_MAX 0xFFFFFF
#define VAULT_HASH_LEN 16
#define VAULT_SEAL_OVERHEAD (VAULT_NONCE_LEN + VAULT_TAG_LEN)
/* vault_seal_compact: the nonce's 8 random bytes and the tag. */
#define VAULT_SEAL_COMPACT_OVERHEAD (VAULT_NONCE_TAIL_LEN + VAULT_TAG_LEN)

/* Each key is VAULT_KEY_LEN bytes (the members are pointers: never take
 * their sizeof). NULL until vault_init or vault_load succeeds. */
struct vault {
	int64_t tenant_id;
	unsigned char *wrap_key;
	unsigned char *lookup_key;
	unsigned char *token_key;
	unsigned char *audit_key;
	/* MACs the audit log's checkpoints: distinct from audit_key, so that a
	 * checkpoint can never pass for a chain hash or the other way round. */
	unsigned char *checkpoint_key;
	/* MACs the erasure ledger's lines (core/ledger.h). */
	unsigned char *ledger_key;
	uint32_t epoch;            /* the epoch new subject keys are wrapped under */
	size_t nepochs;            /* epochs whose key is present, oldest first */
	struct vault_epoch {
		uint32_t number;
		int64_t created;   /* unix time; 0 for epoch 0 (not recorded) */
		unsigned char *key;
	} epochs[VAULT_EPOCHS_MAX];
	void *block;               /* the sodium_malloc'd block holding all keys */
};

struct subject_key {
	unsigned char k[VAULT_KEY_LEN];
};

/*
 * Initialises libsodium. Call once, first thing in main. It selects
 * libsodium's user-space CSPRNG (ChaCha20, seeded from the kernel, per-thread
 * state, reseeded after fork): the default asks the kernel for every random
 * value, one system call each, and that dominated record inserts.
 */
enum rc vault_library_init(void) WUR;

/* Keeps the process's memory, and so the keys in it, out of core dumps:
 * RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 (which also keeps other processes of
 * the same user from attaching a debugger). Call before any key is loaded. */
enum rc vault_process_harden(struct errbuf *eb) WUR;

/* Creates a new random master key file (fails if it exists). */
enum rc vault_create_file(const char *path, struct errbuf *eb) WUR;
/* Refuses a key directory that group or others can enter or that another
 * user owns, with the fix (chmod 700 / chown) in the message. */
enum rc vault_check_dir(const char *dir, struct errbuf *eb) WUR;
/* Reads a master key file; refuses one that group or others can read or
 * that another user owns, and one in a directory that group or others can
 * enter or that another user owns (the message says the fix: chmod/chown). */
enum rc vault_load(const char *path, int64_t tenant_id, struct vault *v, struct errbuf *eb) WUR;
/* Derives the subkeys from raw master key bytes (tests and vault_load);
 * epoch 0 is the only epoch. */
void vault_init(struct vault *v, int64_t tenant_id, const unsigned char master[VAULT_KEY_LEN]);
/* Wipes and frees the keys; a vault never initialised (all zero) is fine. */
void vault_fini(struct vault *v);

/* A new random subject key and its wrapped form (format 2), under the
 * current epoch; returns the wrapped form's length (at most
 * VAULT_WRAPPED_MAX). */
size_t vault_subject_key_new(const struct vault *v, const char *subject_id,
                             struct subject_key *key, unsigned char wrapped[VAULT_WRAPPED_MAX]) WUR;
enum rc vault_subject_key_unwrap(const struct vault *v, const char *subject_id,
                                 const unsigned char *wrapped, size_t len,
                                 struct subject_key *key) WUR;
void vault_subject_key_wipe(struct subject_key *key);
/* The epoch a wrapped key was wrapped under; -1 if it is not a wrapped key. */
int64_t vault_wrapped_epoch(const unsigned char *wrapped, size_t len);
/* Wraps the key again under the current epoch (format 2): out gets
 * *out_len bytes. RC_GONE when its epoch's key is destroyed, RC_CRYPTO if it
 * does not unwrap. */
enum rc vault_subject_key_rewrap(const struct vault *v, const char *subject_id, const unsigned char *wrapped,
                                 size_t len, unsigned char out[VAULT_WRAPPED_MAX], size_t *out_len) WUR;

/* The master key file's epochs, for `privreg key rotate`. path is NAME.key;
 * the epoch files are found beside it. */
/* Creates epoch (current + 1), recording `now` as its creation time; *number
 * gets its number. The vault must be loaded again to use it. */
enum rc vault_epoch_create(const char *path, int64_t now, uint32_t *number, struct errbuf *eb) WUR;
/* Destroys epoch `number`'s key (see the top of this file for epoch 0, which
 * needs the loaded vault v to write the stable subkeys). The current epoch
 * cannot be destroyed. */
enum rc vault_epoch_destroy(const char *path, const struct vault *v, uint32_t number, struct errbuf *eb) WUR;

/* out must hold len + VAULT_SEAL_OVERHEAD bytes: a 24-byte random nonce,
 * the ciphertext, the tag. */
void vault_seal(const struct subject_key *key, const char *record_id,
                const void *plain, size_t len, unsigned char *out);
/* Appends the plaintext to out; RC_CRYPTO if it was tampered with or moved. */
enum rc vault_open(const struct subject_key *key, const char *record_id,
                   const unsigned char *sealed, size_t len, struct buf *out) WUR;
/* The compact form (see "Nonces" above): out must hold len +
 * VAULT_SEAL_COMPACT_OVERHEAD bytes: the nonce's 8 random bytes, the
 * ciphertext, the tag. Nothing in it says its form: vault_open_either opens
 * it and vault_seal's alike, trying the compact form first (a wrong guess
 * costs one Poly1305 pass; the tag decides, so neither form can pass for the
 * other). */
void vault_seal_compact(const struct subject_key *key, const char *id, const void *plain, size_t len,
                        unsigned char *out);
enum rc vault_open_either(const struct subject_key *key, const char *id, const unsigned char *sealed, size_t len,
                          struct buf *out) WUR;

/* Staff members' secrets (their TOTP keys), sealed under a key derived from
 * the token subkey (stable across key rotations and the destruction of
 * epoch 0) and bound to the tenant and the account id: a copy of the
 * database alone does not hold them. out must hold len +
 * VAULT_SEAL_OVERHEAD bytes; open writes len - VAULT_SEAL_OVERHEAD bytes
 * to plain, RC_CRYPTO if the text was tampered with or moved. */
void vault_staff_seal(const struct vault *v, const char *user_id, const void *plain, size_t len, unsigned char *out);
enum rc vault_staff_open(const struct vault *v, const char *user_id, const unsigned char *sealed, size_t len,
                         unsigned char *plain) WUR;

/* Keyed BLAKE2b of (field name, normalised value): equal values hash equal
 * within one tenant and field, and nothing else can be learnt from them. */
void vault_lookup_hash(const struct vault *v, const char *field, const void *value, size_t len,
                       unsigned char out[VAULT_HASH_LEN]);

#endif
