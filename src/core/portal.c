/*
 * portal: the privacy center's sign-in links and sessions (see portal.h).
 * The sign-in mail takes one path for every address: the lookup, the
 * signing, the mail (sealed under the tenant's mail key, as no subject key
 * may exist) and the audit entry happen alike, so neither the answer nor
 * the work tells a known address from an unknown one.
 */
#include "core/portal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/mail.h"
#include "core/subject.h"

const struct policy_field *portal_email_field(const struct policy *p)
{
	for (size_t i = 0; i < p->nfields; i++)
		if (p->fields[i].type == FT_EMAIL && p->fields[i].lookup)
			return &p->fields[i];
	return NULL;
}

/* The address's canonical form (what mail is sent to) and its keyed hash
 * (what the link and the session carry). */
static enum rc address(const struct core_ctx *c, const struct policy_field *f, const char *email, char canon[256],
                       unsigned char hash[VAULT_HASH_LEN], struct errbuf *eb)
{
	if (strlen(email) > 254)
		return err_set(eb, RC_UNPROCESSABLE, "email: at most 254 characters");
	struct buf b, form;
	buf_init(&b, FIELD_VALUE_MAX);
	buf_init(&form, FIELD_VALUE_MAX);
	struct field_value v = {VAL_STRING, email, strlen(email)};
	enum rc rc = field_normalize(f, &v, &b, eb);
	if (!rc && b.len >= 256)
		rc = err_set(eb, RC_UNPROCESSABLE, "email: at most 254 characters");
	if (!rc)
		rc = field_lookup_form(f, b.data, b.len, &form);
	if (!rc) {
		memcpy(canon, b.data, b.len);
		canon[b.len] = '\0';
		vault_lookup_hash(&c->tenant->vault, f->name, form.data, form.len, hash);
	}
	buf_fini(&b);
	buf_fini(&form);
	return rc == RC_INVALID ? err_set(eb, RC_UNPROCESSABLE, "email: not an e-mail address") : rc;
}

static const char *language(const struct policy *p, const char *lang)
{
	for (size_t i = 0; lang && i < p->nlanguages; i++)
		if (!strcmp(p->languages[i], lang))
			return p->languages[i];
	return p->languages[0];
}

enum rc portal_signin_mail(const struct core_ctx *c, const char *email, const char *lang, struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	const struct policy_field *f = portal_email_field(p);
	if (!f)
		return err_set(eb, RC_NOT_FOUND, "this register has no privacy center: its policy has no e-mail lookup field");
	char canon[256], ids[2][TOKEN_ID_MAX], token[TOKEN_LINK_MAX], path[TENANT_NAME_MAX + TOKEN_LINK_MAX + 4],
		link[CORE_LINK_MAX];
	unsigned char hash[VAULT_HASH_LEN];
	size_t n = 0;
	enum rc rc = address(c, f, email, canon, hash, eb);
	if (!rc) {
		struct field_value v = {VAL_STRING, canon, strlen(canon)};
		rc = subject_find(c, f->name, &v, ids, 2, &n, eb);
	}
	if (rc)
		return rc;
	/* Nobody's records carry it: a link all the same, for an id no subject has. */
	struct token_link l = {.kind = 'p', .tenant_id = c->tenant->id, .expires = core_now(c) + PORTAL_LINK_TTL};
	if (n)
		memcpy(l.subject_id, ids[0], sizeof l.subject_id);
	else
		token_id_new(TOKEN_PREFIX_SUBJECT, l.subject_id);
	sodium_bin2hex(l.purpose, sizeof l.purpose, hash, sizeof hash);
	rc = token_link_sign(&l, c->tenant->vault.token_key, token);
	if (!rc) {
		/* The secret rides after '#': browsers never send it in a request line or a Referer. */
		snprintf(path, sizeof path, "%s/#%s", c->tenant->name, token);
		rc = core_link(c, CORE_LINK_PORTAL, path, link);
	}
	if (!rc)
		rc = store_begin(c->store);
	if (!rc) {
		struct mail_args a = {.kind = MAIL_PORTAL_SIGNIN, .to = canon, .lang = language(p, lang), .link = link};
		rc = mail_queue(c, l.subject_id, NULL, &a);
		struct audit_event e = {"portal.link", n ? l.subject_id : NULL, NULL, "ok", n ? "known=yes" : "known=no"};
		if (!rc)
			rc = audit_append(c, &e);
		rc = core_end(c, rc);
	}
	sodium_memzero(canon, sizeof canon);
	return rc;
}

static void session_hash(const char *session, unsigned char out[TOKEN_HASH_LEN])
{
	crypto_generichash(out, TOKEN_HASH_LEN, (const unsigned char *)session, strlen(session), NULL, 0);
}

static void identity(const struct store_portal_session *x, struct portal_identity *who)
{
	memset(who, 0, sizeof *who);
	memcpy(who->subject_id, x->subject_id, sizeof who->subject_id);
	who->known = x->known;
	snprintf(who->actor, sizeof who->actor, "subject:%s", x->subject_id);
	memcpy(who->csrf, x->csrf, sizeof who->csrf);
	memcpy(who->address, x->address, sizeof who->address);
}

/* Whether the subject still exists with its key (not erased). */
static bool subject_alive(const struct core_ctx *c, const char *subject_id)
{
	struct store_subject s;
	enum rc rc = store_subject_get(c->store, c->tenant->id, subject_id, &s);
	bool alive = !rc && s.wrapped_key;
	if (!rc)
		store_subject_fini(&s);
	return alive;
}

enum rc portal_sign_in(const struct core_ctx *c, const char *link, char session[PORTAL_TOKEN_LEN + 1],
                       struct portal_identity *who, struct errbuf *eb)
{
	struct token_link l;
	int64_t tenant;
	struct store_portal_session x = {.tenant_id = c->tenant->id, .created_at = core_now(c), .last_seen = core_now(c)};
	enum rc rc = strlen(link) < TOKEN_LINK_MAX ? token_link_tenant(link, &tenant) : RC_NOT_FOUND;
	if (!rc && tenant != c->tenant->id)
		rc = RC_NOT_FOUND;
	if (!rc)
		rc = token_link_verify(link, c->tenant->vault.token_key, core_now(c), &l);
	if (!rc && (l.kind != 'p' || strlen(l.purpose) != 2 * VAULT_HASH_LEN ||
	            sodium_hex2bin(x.address, sizeof x.address, l.purpose, strlen(l.purpose), NULL, NULL, NULL)))
		rc = RC_NOT_FOUND;
	if (rc == RC_GONE)
		return err_set(eb, rc, "the sign-in link has expired: ask for a new one");
	if (rc)
		return err_set(eb, RC_NOT_FOUND, "the sign-in link is not valid: ask for a new one");
	memcpy(x.subject_id, l.subject_id, sizeof x.subject_id);
	x.known = subject_alive(c, l.subject_id);
	unsigned char raw[32], csrf[24];
	randombytes_buf(raw, sizeof raw);
	randombytes_buf(csrf, sizeof csrf);
	sodium_bin2base64(session, PORTAL_TOKEN_LEN + 1, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2base64(x.csrf, sizeof x.csrf, csrf, sizeof csrf, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	session_hash(session, x.hash);
	identity(&x, who);
	struct core_ctx me = *c;
	me.key_id = who->actor;
	me.role = "subject";
	rc = store_begin(c->store);
	if (!rc) {
		rc = store_token_use(c->store, c->tenant->id, l.used, core_now(c));
		if (rc == RC_EXISTS)
			rc = err_set(eb, RC_GONE, "the sign-in link was used already: ask for a new one");
		if (!rc)
			rc = store_portal_session_delete(c->store, c->tenant->id, NULL, NULL, core_now(c) - PORTAL_SESSION_IDLE);
		if (!rc)
			rc = store_portal_session_put(c->store, &x);
		struct audit_event e = {"portal.signin", x.known ? x.subject_id : NULL, NULL, "ok",
		                        x.known ? "known=yes" : "known=no"};
		if (!rc)
			rc = audit_append(&me, &e);
		rc = core_end(c, rc);
	}
	if (rc)
		sodium_memzero(session, PORTAL_TOKEN_LEN + 1);
	return rc;
}

enum rc portal_session(const struct core_ctx *c, const char *session, struct portal_identity *who)
{
	struct store_portal_session x;
	unsigned char hash[TOKEN_HASH_LEN];
	if (strlen(session) != PORTAL_TOKEN_LEN)
		return RC_UNAUTHORIZED;
	session_hash(session, hash);
	enum rc rc = store_portal_session_get(c->store, c->tenant->id, hash, &x);
	if (rc == RC_NOT_FOUND)
		return RC_UNAUTHORIZED;
	if (rc)
		return rc;
	int64_t now = core_now(c);
	bool ended = now - x.last_seen > PORTAL_SESSION_IDLE || (x.known && !subject_alive(c, x.subject_id));
	if (ended || now - x.last_seen >= PORTAL_SESSION_TOUCH) {
		x.last_seen = now;
		rc = store_begin(c->store);
		if (!rc) {
			rc = ended ? store_portal_session_delete(c->store, c->tenant->id, hash, NULL, 0)
			           : store_portal_session_put(c->store, &x);
			rc = core_end(c, rc);
		}
	}
	if (rc)
		return rc;
	if (ended)
		return RC_UNAUTHORIZED;
	identity(&x, who);
	return RC_OK;
}

enum rc portal_sign_out(const struct core_ctx *c, const char *session)
{
	unsigned char hash[TOKEN_HASH_LEN];
	session_hash(session, hash);
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_portal_session_delete(c->store, c->tenant->id, hash, NULL, core_now(c) - PORTAL_SESSION_IDLE);
	struct audit_event e = {"portal.signout", NULL, NULL, "ok", NULL};
	if (!rc)
		rc = audit_append(c, &e);
	return core_end(c, rc);
}

static int newest_first(const void *a, const void *b)
{
	const struct store_request *x = a, *y = b;
	return x->received_at < y->received_at ? 1 : x->received_at > y->received_at ? -1 : strcmp(y->id, x->id);
}

enum rc portal_requests(const struct core_ctx *c, const struct portal_identity *who, struct store_request **out,
                        size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!who->known)
		return RC_OK;
	enum rc rc = store_requests_for_subject(c->store, c->tenant->id, who->subject_id, out, n);
	if (!rc && *n > 1)
		qsort(*out, *n, sizeof **out, newest_first);
	return rc;
}

enum rc portal_request(const struct core_ctx *c, const struct portal_identity *who, const char *type,
                       const char *details, const char *email, const char *lang, struct store_request *out,
                       struct errbuf *eb)
{
	memset(out, 0, sizeof *out);
	struct request_input in = {.type = type, .channel = "portal", .details = details};
	if (who->known) {
		in.subject_id = who->subject_id;
		in.verified_by = PORTAL_VERIFIED_BY;
		return request_create(c, &in, out, eb);
	}
	const struct policy_field *f = portal_email_field(c->tenant->policy);
	char canon[256];
	unsigned char hash[VAULT_HASH_LEN];
	if (!f)
		return RC_INTERNAL;
	if (!email)
		return err_set(eb, RC_UNPROCESSABLE, "email: give the address you signed in with, for the answer");
	enum rc rc = address(c, f, email, canon, hash, eb);
	if (!rc && sodium_memcmp(hash, who->address, sizeof hash))
		rc = err_set(eb, RC_UNPROCESSABLE, "email: this is not the address you signed in with");
	if (rc)
		return rc;
	in.lookup_field = f->name;
	in.lookup_value = canon;
	in.log_if_unknown = true;
	in.language = language(c->tenant->policy, lang);
	rc = request_create(c, &in, out, eb);
	sodium_memzero(canon, sizeof canon);
	return rc;
}
