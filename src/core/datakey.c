/* datakey: a subject's data key and whether its data may be used (see datakey.h). */
#include "core/datakey.h"

#include <string.h>

#include "base/log.h"
#include "store/store.h"

static const char *const state_names[] = {
#define X(id, name) [CONSENT_STATE_##id] = name,
	CONSENT_STATES(X)
#undef X
};

const char *consent_state_name(enum consent_state st)
{
	return st < CONSENT_STATE__COUNT ? state_names[st] : "unknown";
}

enum consent_state consent_state_parse(const char *name)
{
	if (!name || !*name)
		return CONSENT_STATE_NONE;
	for (int i = 0; i < CONSENT_STATE__COUNT; i++)
		if (!strcmp(state_names[i], name))
			return (enum consent_state)i;
	return CONSENT_STATE_UNKNOWN;
}

bool consent_allows(const struct policy_purpose *u, enum consent_state st)
{
	switch (st) {
	case CONSENT_STATE_OBJECTED:
	case CONSENT_STATE_RESTRICTED:
	case CONSENT_STATE_UNKNOWN:
		return false;
	default:
		return u->basis == BASIS_CONSENT ? st == CONSENT_STATE_GRANTED : true;
	}
}

enum rc datakey_unwrap(const struct core_ctx *c, const char *subject_id, struct subject_key *key,
                       struct errbuf *eb)
{
	struct store_subject s;
	enum rc rc = store_subject_get(c->store, c->tenant->id, subject_id, &s);
	if (rc == RC_NOT_FOUND)
		return err_set(eb, rc, "no such subject");
	if (!rc) {
		rc = vault_subject_key_unwrap(&c->tenant->vault, subject_id, s.wrapped_key, s.wrapped_len, key);
		if (rc == RC_CRYPTO)
			log_error("subject key does not unwrap tenant=%lld subject=%s", (long long)c->tenant->id, subject_id);
	}
	store_subject_fini(&s);
	return rc;
}

enum rc datakey_usable(const struct core_ctx *c, const char *subject_id, struct errbuf *eb)
{
	struct store_subject s;
	enum rc rc = store_subject_get(c->store, c->tenant->id, subject_id, &s);
	bool restricted = !rc && s.restricted;
	store_subject_fini(&s);
	if (rc)
		return rc == RC_NOT_FOUND ? err_set(eb, rc, "no such subject") : rc;
	/* Who may still use restricted data: legal claims (admin, dpo), and the
	 * subject's own access. */
	bool legal = !c->role || !strcmp(c->role, "admin") || !strcmp(c->role, "dpo") || !strcmp(c->role, "subject");
	if (restricted && !legal)
		return err_set(eb, RC_CONFLICT, "the subject's data is restricted (Art. 18): it is only stored");
	return RC_OK;
}

enum rc datakey_purpose_state(const struct core_ctx *c, const char *subject_id, const struct policy_purpose *u,
                              enum consent_state *out)
{
	char state[16] = "";
	enum rc rc = store_consent_state_get(c->store, c->tenant->id, subject_id, u->name, state);
	if (rc == RC_NOT_FOUND)
		rc = RC_OK, state[0] = '\0';
	*out = rc ? CONSENT_STATE_UNKNOWN : consent_state_parse(state);
	return rc;
}

enum rc datakey_purpose_usable(const struct core_ctx *c, const char *subject_id, struct errbuf *eb)
{
	const struct policy_purpose *u = c->purpose ? policy_purpose(c->tenant->policy, c->purpose) : NULL;
	if (!u)
		return RC_OK;
	enum consent_state st;
	enum rc rc = datakey_purpose_state(c, subject_id, u, &st);
	if (rc)
		return rc;
	if (st == CONSENT_STATE_OBJECTED || st == CONSENT_STATE_WITHDRAWN)
		return err_set(eb, RC_CONFLICT, "the subject has %s purpose %s: their data is not processed for it",
		               st == CONSENT_STATE_OBJECTED ? "objected to" : "withdrawn consent to", u->name);
	return RC_OK;
}
