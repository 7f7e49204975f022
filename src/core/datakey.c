/* datakey: a subject's data key and whether its data may be used (see datakey.h). */
#include "core/datakey.h"

#include <string.h>

#include "base/log.h"
#include "store/store.h"

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
