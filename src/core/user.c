/* user: staff accounts, enrolment, sign-in and sessions (see user.h). */
#include "core/user.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/field.h"

_Static_assert(TOTP_SECRET_LEN == STORE_TOTP_PLAIN_LEN, "the store keeps TOTP secrets of totp.h's size");

/* The account's TOTP secret in the clear: sealed since schema 20 under the
 * tenant's staff key (crypto/vault.h); one written before is read as it is
 * until the tenant's load seals it (user_seal_one). */
static bool totp_plain(const struct core_ctx *c, const struct store_user *u, unsigned char out[TOTP_SECRET_LEN])
{
	if (!u->has_totp)
		return false;
	if (u->totp_len == STORE_TOTP_PLAIN_LEN) {
		memcpy(out, u->totp_secret, TOTP_SECRET_LEN);
		return true;
	}
	return u->totp_len == STORE_TOTP_SEALED_LEN &&
	       !vault_staff_open(&c->tenant->vault, u->user_id, u->totp_secret, u->totp_len, out);
}

static void totp_seal(const struct core_ctx *c, struct store_user *u, const unsigned char plain[TOTP_SECRET_LEN])
{
	vault_staff_seal(&c->tenant->vault, u->user_id, plain, TOTP_SECRET_LEN, u->totp_secret);
	u->totp_len = STORE_TOTP_SEALED_LEN;
	u->has_totp = true;
}

/* A code of u's secret: its step, or -1. */
static int64_t code_step(const struct core_ctx *c, const struct store_user *u, const char *code, int64_t now)
{
	unsigned char plain[TOTP_SECRET_LEN];
	int64_t step = totp_plain(c, u, plain) ? totp_check(plain, code, now, u->totp_last_step) : -1;
	sodium_memzero(plain, sizeof plain);
	return step;
}

enum rc user_seal_one(const struct core_ctx *c, const char *user_id)
{
	struct store_user u;
	enum rc rc = store_user_get(c->store, c->tenant->id, user_id, NULL, NULL, &u);
	if (!rc && u.has_totp && u.totp_len == STORE_TOTP_PLAIN_LEN) {
		unsigned char plain[TOTP_SECRET_LEN];
		memcpy(plain, u.totp_secret, sizeof plain);
		totp_seal(c, &u, plain);
		sodium_memzero(plain, sizeof plain);
		rc = store_user_put(c->store, &u);
	}
	sodium_memzero(&u, sizeof u);
	return rc;
}

/* A random secret as base64url text, and the BLAKE2b hash stored for it. */
static void secret_new(char out[USER_TOKEN_LEN + 1])
{
	unsigned char b[32];
	randombytes_buf(b, sizeof b);
	sodium_bin2base64(out, USER_TOKEN_LEN + 1, b, sizeof b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(b, sizeof b);
}

static bool secret_hash(const char *text, unsigned char hash[TOKEN_HASH_LEN])
{
	if (!text || strlen(text) != USER_TOKEN_LEN)
		return false;
	crypto_generichash(hash, TOKEN_HASH_LEN, (const unsigned char *)text, USER_TOKEN_LEN, NULL, 0);
	return true;
}

/* The e-mail as accounts keep it: ASCII letters in lower case, so that
 * Mari@Example.com and mari@example.com are one address wherever an e-mail
 * comes in (add, invite, disable, sign-in). Only ASCII: the domain part is
 * case-insensitive in every mail system, the local part in practically
 * every one, and folding other letters would need a locale. False when it
 * is too long to be any account's. */
static bool email_key(const char *email, char out[STORE_EMAIL_MAX + 1])
{
	size_t n = strlen(email);
	if (n > STORE_EMAIL_MAX)
		return false;
	for (size_t i = 0; i <= n; i++)
		out[i] = email[i] >= 'A' && email[i] <= 'Z' ? (char)(email[i] - 'A' + 'a') : email[i];
	return true;
}

static enum rc check_email(const char *email, struct errbuf *eb)
{
	if (strlen(email) > STORE_EMAIL_MAX || !field_email_ok(email))
		return err_set(eb, RC_UNPROCESSABLE, "not an e-mail address of at most %d characters", STORE_EMAIL_MAX);
	return RC_OK;
}

static enum rc append(const struct core_ctx *c, const char *action, const char *outcome, const char *user_id,
                      const char *extra)
{
	char detail[96];
	snprintf(detail, sizeof detail, "user=%s%s%s", user_id, extra ? " " : "", extra ? extra : "");
	struct audit_event ev = {action, NULL, NULL, outcome, detail};
	return audit_append(c, &ev);
}

/* A new enrolment link on u, valid from now. */
static void invite(const struct core_ctx *c, struct store_user *u, char token[USER_TOKEN_LEN + 1])
{
	secret_new(token);
	(void)secret_hash(token, u->enrol_hash);
	u->has_enrol = true;
	u->enrol_expires = core_now(c) + USER_ENROL_TTL;
}

enum rc user_add(const struct core_ctx *c, const char *email, const char *role, char id[TOKEN_ID_MAX],
                 char token[USER_TOKEN_LEN + 1], struct errbuf *eb)
{
	if (apikey_role(role) < 0)
		return err_set(eb, RC_UNPROCESSABLE, "role must be one of admin, dpo, support, marketing, auditor");
	enum rc rc = check_email(email, eb);
	if (rc)
		return rc;
	struct store_user u = {.tenant_id = c->tenant->id, .created_at = core_now(c)};
	token_id_new(TOKEN_PREFIX_USER, u.user_id);
	(void)email_key(email, u.email); /* check_email bounded it */
	snprintf(u.role, sizeof u.role, "%s", role);
	snprintf(u.status, sizeof u.status, "invited");
	invite(c, &u, token);
	rc = store_begin(c->store);
	if (!rc)
		rc = store_user_put(c->store, &u);
	if (!rc)
		rc = append(c, "user.add", "ok", u.user_id, role);
	rc = core_end(c, rc);
	/* Only this tenant's accounts collide (an e-mail is unique per tenant),
	 * so the answer tells nothing of other tenants'. */
	if (rc == RC_EXISTS)
		return err_set(eb, rc, "an account with this e-mail exists already in this tenant");
	if (!rc)
		memcpy(id, u.user_id, TOKEN_ID_MAX);
	return rc;
}

/* The tenant's account with this e-mail, in any case. */
static enum rc find(const struct core_ctx *c, const char *email, struct store_user *u, struct errbuf *eb)
{
	char key[STORE_EMAIL_MAX + 1];
	enum rc rc = email_key(email, key) ? store_user_get(c->store, c->tenant->id, NULL, key, NULL, u) : RC_NOT_FOUND;
	return rc == RC_NOT_FOUND ? err_set(eb, rc, "no account with this e-mail in this tenant") : rc;
}

/* The tenant's account with this e-mail, or (email NULL) this id. */
static enum rc find_either(const struct core_ctx *c, const char *email, const char *id, struct store_user *u,
                           struct errbuf *eb)
{
	if (email)
		return find(c, email, u, eb);
	enum rc rc = store_user_get(c->store, c->tenant->id, id, NULL, NULL, u);
	return rc == RC_NOT_FOUND ? err_set(eb, rc, "no such account in this tenant") : rc;
}

static enum rc reinvite(const struct core_ctx *c, const char *email, const char *id, char token[USER_TOKEN_LEN + 1],
                        struct errbuf *eb)
{
	struct store_user u;
	enum rc rc = store_begin(c->store);
	if (!rc)
		rc = find_either(c, email, id, &u, eb);
	if (!rc && !strcmp(u.status, "disabled"))
		rc = err_set(eb, RC_CONFLICT, "the account is disabled");
	if (!rc) {
		snprintf(u.status, sizeof u.status, "invited");
		u.password_hash[0] = '\0';
		u.has_totp = false;
		invite(c, &u, token);
		rc = store_user_put(c->store, &u);
	}
	if (!rc)
		rc = store_session_delete(c->store, c->tenant->id, NULL, u.user_id, 0);
	if (!rc)
		rc = append(c, "user.invite", "ok", u.user_id, NULL);
	sodium_memzero(&u, sizeof u);
	return core_end(c, rc);
}

enum rc user_reinvite(const struct core_ctx *c, const char *email, char token[USER_TOKEN_LEN + 1], struct errbuf *eb)
{
	return reinvite(c, email, NULL, token, eb);
}

enum rc user_reinvite_id(const struct core_ctx *c, const char *user_id, char token[USER_TOKEN_LEN + 1],
                         struct errbuf *eb)
{
	return reinvite(c, NULL, user_id, token, eb);
}

static enum rc disable(const struct core_ctx *c, const char *email, const char *id, struct errbuf *eb)
{
	struct store_user u;
	enum rc rc = store_begin(c->store);
	if (!rc)
		rc = find_either(c, email, id, &u, eb);
	if (!rc) {
		snprintf(u.status, sizeof u.status, "disabled");
		u.has_enrol = false;
		rc = store_user_put(c->store, &u);
	}
	if (!rc)
		rc = store_session_delete(c->store, c->tenant->id, NULL, u.user_id, 0);
	if (!rc)
		rc = append(c, "user.disable", "ok", u.user_id, NULL);
	sodium_memzero(&u, sizeof u);
	return core_end(c, rc);
}

enum rc user_disable(const struct core_ctx *c, const char *email, struct errbuf *eb)
{
	return disable(c, email, NULL, eb);
}

enum rc user_disable_id(const struct core_ctx *c, const char *user_id, struct errbuf *eb)
{
	return disable(c, NULL, user_id, eb);
}

enum rc user_list(const struct core_ctx *c, struct store_user **out, size_t *n)
{
	return store_user_list(c->store, c->tenant->id, out, n);
}

/* ---- enrolment ---- */

static enum rc by_link(struct store *s, const char *token, int64_t now, struct store_user *u)
{
	unsigned char hash[TOKEN_HASH_LEN];
	if (!secret_hash(token, hash))
		return RC_NOT_FOUND;
	enum rc rc = store_user_get(s, 0, NULL, NULL, hash, u);
	if (!rc && (strcmp(u->status, "invited") || !u->has_enrol || u->enrol_expires <= now))
		rc = RC_NOT_FOUND;
	return rc;
}

enum rc user_enrolment_tenant(struct store *s, const char *token, int64_t now, int64_t *tenant_id)
{
	struct store_user u;
	enum rc rc = by_link(s, token, now, &u);
	if (!rc)
		*tenant_id = u.tenant_id;
	sodium_memzero(&u, sizeof u);
	return rc;
}

static enum rc link_in_tenant(const struct core_ctx *c, const char *token, struct store_user *u, struct errbuf *eb)
{
	enum rc rc = by_link(c->store, token, core_now(c), u);
	if (!rc && u->tenant_id != c->tenant->id)
		rc = RC_NOT_FOUND;
	return rc == RC_NOT_FOUND ? err_set(eb, rc, "the enrolment link is not valid, used or expired") : rc;
}

enum rc user_enrol_begin(const struct core_ctx *c, const char *token, char secret[TOTP_BASE32_LEN + 1],
                         char email[STORE_EMAIL_MAX + 1], struct errbuf *eb)
{
	struct store_user u;
	enum rc rc = store_begin(c->store);
	if (!rc)
		rc = link_in_tenant(c, token, &u, eb);
	unsigned char plain[TOTP_SECRET_LEN];
	totp_secret_new(plain);
	if (!rc) {
		totp_seal(c, &u, plain);
		u.totp_last_step = 0;
		rc = store_user_put(c->store, &u);
	}
	rc = core_end(c, rc);
	if (!rc) {
		totp_base32(plain, secret);
		memcpy(email, u.email, sizeof u.email);
	}
	sodium_memzero(plain, sizeof plain);
	sodium_memzero(&u, sizeof u);
	return rc;
}

enum rc user_enrol_finish(const struct core_ctx *c, const char *token, const char *password, const char *code,
                          struct errbuf *eb)
{
	if (strlen(password) > PASSWORD_MAX)
		return err_set(eb, RC_TOO_LARGE, "the password is longer than %d bytes", PASSWORD_MAX);
	if (password_length(password) < PASSWORD_MIN)
		return err_set(eb, RC_UNPROCESSABLE, "the password needs at least %d characters", PASSWORD_MIN);
	/* Hashed before the transaction: Argon2id takes its time, the writer
	 * queue should not wait for it. */
	char hash[PASSWORD_HASH_MAX];
	enum rc rc = password_hash(password, hash);
	struct store_user u;
	if (!rc)
		rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = link_in_tenant(c, token, &u, eb);
	int64_t step = -1;
	if (!rc && (step = code_step(c, &u, code, core_now(c))) < 0)
		rc = err_set(eb, RC_UNPROCESSABLE, "the code does not match: scan the new secret and try the next code");
	if (!rc) {
		memcpy(u.password_hash, hash, sizeof hash);
		snprintf(u.status, sizeof u.status, "active");
		u.has_enrol = false;
		u.totp_last_step = step;
		u.failures = 0;
		rc = store_user_put(c->store, &u);
	}
	if (!rc) {
		char actor[USER_ACTOR_MAX];
		snprintf(actor, sizeof actor, "user:%s", u.user_id);
		struct core_ctx as = *c;
		as.key_id = actor;
		as.role = u.role;
		rc = append(&as, "user.enrol", "ok", u.user_id, NULL);
	}
	sodium_memzero(hash, sizeof hash);
	sodium_memzero(&u, sizeof u);
	return core_end(c, rc);
}

/* ---- sign-in and sessions ---- */

/* An Argon2id hash of a password no account has, with the parameters
 * password_hash uses: checked in place of an account's that is missing or
 * not active, so that a refusal takes as long whatever the reason. */
static const char nobody_hash[] =
	"$argon2id$v=19$m=65536,t=2,p=1$iagOMd1Vu44rGtuOUdNpEg$6r1Ww6GVKRwR37gEgVY4OGs9mfYTf0kgmeTLXHFo3yo";

enum rc user_signin_tenants(struct store *s, const char *email, const char *password,
                            int64_t tenants[USER_SIGNIN_MAX], size_t *n)
{
	char key[STORE_EMAIL_MAX + 1];
	struct store_user *v = NULL;
	size_t found = 0;
	*n = 0;
	enum rc rc = email_key(email, key) ? store_user_find_email(s, key, USER_SIGNIN_MAX, &v, &found) : RC_OK;
	/* The oldest active account comes first: the one a refusal that no
	 * account's code explains is counted and audited on (session.c). The
	 * rest follow in the store's order, oldest first. */
	size_t first = 0;
	while (first < found && strcmp(v[first].status, "active"))
		first++;
	if (first == found)
		first = 0;
	for (size_t i = 0; !rc && i < found && i < USER_SIGNIN_MAX; i++) /* the store's LIMIT, again */
		tenants[(*n)++] = v[i == 0 ? first : i <= first ? i - 1 : i].tenant_id;
	if (!rc && !found) {
		(void)password_verify(nobody_hash, password);
		rc = RC_UNAUTHORIZED;
	}
	if (v)
		sodium_memzero(v, found * sizeof *v); /* password hashes and TOTP secrets */
	free(v);
	return rc;
}

enum rc user_signin_code(const struct core_ctx *c, const char *email, const char *code, bool *match)
{
	struct store_user u;
	*match = false;
	enum rc rc = find(c, email, &u, NULL);
	if (!rc)
		*match = !strcmp(u.status, "active") && code_step(c, &u, code, core_now(c)) >= 0;
	sodium_memzero(&u, sizeof u);
	return rc == RC_NOT_FOUND ? RC_OK : rc;
}

static void identity(const struct store_user *u, const char *csrf, struct user_identity *who)
{
	who->tenant_id = u->tenant_id;
	memcpy(who->user_id, u->user_id, sizeof who->user_id);
	snprintf(who->actor, sizeof who->actor, "user:%s", u->user_id);
	who->role = (enum role)apikey_role(u->role);
	snprintf(who->csrf, sizeof who->csrf, "%s", csrf);
}

enum rc user_sign_in(const struct core_ctx *c, const char *email, const char *password, const char *code,
                     char session[USER_TOKEN_LEN + 1], struct user_identity *who, struct errbuf *eb)
{
	struct store_user u;
	int64_t now = core_now(c);
	if (strlen(password) > PASSWORD_MAX)
		return err_set(eb, RC_TOO_LARGE, "the password is longer than %d bytes", PASSWORD_MAX);
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = find(c, email, &u, eb);
	if (rc == RC_NOT_FOUND)
		rc = RC_UNAUTHORIZED;
	if (!rc && strcmp(u.status, "active"))
		rc = RC_UNAUTHORIZED;
	if (!rc && u.failure_window + USER_FAILURE_WINDOW <= now) {
		u.failures = 0;
		u.failure_window = now;
	}
	if (!rc && u.failures >= USER_FAILURES_MAX) {
		store_rollback(c->store);
		sodium_memzero(&u, sizeof u);
		return err_set(eb, RC_TOO_MANY, "too many failed sign-ins for this account: wait %d minutes",
		               USER_FAILURE_WINDOW / 60);
	}
	int64_t step = -1;
	bool ok = !rc && password_verify(u.password_hash, password) && (step = code_step(c, &u, code, now)) >= 0;
	char actor[USER_ACTOR_MAX];
	struct core_ctx as = *c;
	if (!rc) {
		snprintf(actor, sizeof actor, "user:%s", u.user_id);
		as.key_id = actor;
		as.role = u.role;
	}
	if (!rc && !ok) {
		/* The failure is counted and audited, and committed: the answer is
		 * still a refusal. */
		u.failures++;
		rc = store_user_put(c->store, &u);
		if (!rc)
			rc = append(&as, "user.signin", "unauthorized", u.user_id, NULL);
		rc = core_end(c, rc);
		sodium_memzero(&u, sizeof u);
		return rc ? rc : err_set(eb, RC_UNAUTHORIZED, "the e-mail, password or code is not right");
	}
	if (rc) {
		store_rollback(c->store);
		sodium_memzero(&u, sizeof u);
		if (rc != RC_UNAUTHORIZED)
			return rc;
		(void)password_verify(nobody_hash, password);
		return err_set(eb, RC_UNAUTHORIZED, "the e-mail, password or code is not right");
	}
	u.failures = 0;
	u.totp_last_step = step;
	struct store_session x = {.tenant_id = u.tenant_id, .created_at = now, .last_seen = now};
	memcpy(x.user_id, u.user_id, sizeof x.user_id);
	char csrf[USER_TOKEN_LEN + 1];
	secret_new(session);
	secret_new(csrf);
	(void)secret_hash(session, x.hash);
	snprintf(x.csrf, sizeof x.csrf, "%s", csrf);
	rc = store_user_put(c->store, &u);
	if (!rc) /* the tenant's idle sessions go as a new one comes */
		rc = store_session_delete(c->store, u.tenant_id, NULL, NULL, now - USER_SESSION_IDLE);
	if (!rc)
		rc = store_session_put(c->store, &x);
	if (!rc)
		rc = append(&as, "user.signin", "ok", u.user_id, NULL);
	rc = core_end(c, rc);
	if (!rc)
		identity(&u, csrf, who);
	else
		sodium_memzero(session, USER_TOKEN_LEN + 1);
	sodium_memzero(&u, sizeof u);
	return rc;
}

enum rc user_session(struct store *s, const char *session, int64_t now, struct user_identity *who)
{
	unsigned char hash[TOKEN_HASH_LEN];
	struct store_session x;
	if (!secret_hash(session, hash))
		return RC_UNAUTHORIZED;
	enum rc rc = store_session_get(s, hash, &x);
	if (rc == RC_NOT_FOUND)
		return RC_UNAUTHORIZED;
	if (rc)
		return rc;
	if (strcmp(x.status, "active") || x.last_seen + USER_SESSION_IDLE <= now || apikey_role(x.role) < 0)
		return RC_UNAUTHORIZED;
	if (now - x.last_seen >= USER_SESSION_TOUCH) {
		x.last_seen = now;
		rc = store_begin(s);
		if (!rc)
			rc = store_session_put(s, &x);
		rc = rc ? (store_rollback(s), rc) : store_commit(s);
		if (rc)
			return rc;
	}
	who->tenant_id = x.tenant_id;
	memcpy(who->user_id, x.user_id, sizeof who->user_id);
	snprintf(who->actor, sizeof who->actor, "user:%s", x.user_id);
	who->role = (enum role)apikey_role(x.role);
	memcpy(who->csrf, x.csrf, sizeof who->csrf);
	return RC_OK;
}

enum rc user_sign_out(const struct core_ctx *c, const char *session)
{
	unsigned char hash[TOKEN_HASH_LEN];
	if (!secret_hash(session, hash))
		return RC_OK;
	enum rc rc = store_begin(c->store);
	if (!rc)
		rc = store_session_delete(c->store, c->tenant->id, hash, NULL, core_now(c) - USER_SESSION_IDLE);
	if (!rc && c->key_id)
		rc = append(c, "user.signout", "ok", c->key_id + 5, NULL);
	return core_end(c, rc);
}
