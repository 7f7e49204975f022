/* store: picks a backend by URL scheme and frees the row structs all backends share. */
#include "store/store.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/xalloc.h"

static const struct store_ops *const backends[] = {
	&store_sqlite_ops,
	&store_postgres_ops,
};

struct store_pool {
	const struct store_ops *ops;
	char *location;
	struct store_shared *shared;
	enum store_mode mode;
};

enum rc store_library_init(void)
{
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		enum rc rc = backends[i]->library_init ? backends[i]->library_init() : RC_OK;
		if (rc)
			return rc;
	}
	return RC_OK;
}

int64_t store_library_memory(void)
{
	int64_t sum = 0;
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
		sum += backends[i]->library_memory ? backends[i]->library_memory() : 0;
	return sum;
}

bool store_url_shared(const char *url)
{
	return !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11);
}

enum rc store_pool_new(const char *url, struct store_pool **out, struct errbuf *eb)
{
	const struct store_ops *ops = NULL;
	const char *loc = url, *colon = strchr(url, ':');
	*out = NULL;
	if (!colon || colon == url || (strchr(url, '/') && strchr(url, '/') < colon)) {
		ops = &store_sqlite_ops; /* a bare path */
	} else if (store_url_shared(url)) {
		/* libpq reads the whole URL, scheme included. */
		ops = &store_postgres_ops;
	} else {
		size_t sl = (size_t)(colon - url);
		for (size_t i = 0; !ops && i < sizeof backends / sizeof backends[0]; i++)
			if (strlen(backends[i]->name) == sl && !strncmp(url, backends[i]->name, sl))
				ops = backends[i];
		if (!ops)
			return err_set(eb, RC_INVALID, "unknown store '%.*s' (supported: sqlite:PATH, postgresql://USER@HOST:PORT/DB)", (int)sl, url);
		loc = colon + 1;
		if (!strncmp(loc, "//", 2) && ops == &store_sqlite_ops)
			loc += 2;
	}
	if (ops->check) {
		enum rc rc = ops->check(loc, eb);
		if (rc)
			return rc;
	}
	struct store_pool *p = xcalloc(1, sizeof *p);
	p->ops = ops;
	p->location = xstrdup(loc);
	p->shared = ops->shared_new(loc);
	*out = p;
	return RC_OK;
}

void store_pool_free(struct store_pool *p)
{
	if (!p)
		return;
	p->ops->shared_free(p->shared);
	free(p->location);
	free(p);
}

void store_pool_cache(struct store_pool *p, unsigned mib)
{
	if (p->ops->shared_cache)
		p->ops->shared_cache(p->shared, mib > STORE_CACHE_MIB_MAX ? STORE_CACHE_MIB_MAX : mib);
}

enum rc store_mode_check(enum store_mode mode, int schema, int tenants, int tombs, const char *where,
                         const char *why, struct errbuf *eb)
{
	if (schema < 0 || tenants < 0 || tombs < 0)
		return err_set(eb, RC_DB, "cannot read the database %s: %s (is it a privreg register?)", where, why);
	if (mode == STORE_NEW && tenants)
		return err_set(eb, RC_EXISTS, "the database %s holds a privreg register already (it has tenants)", where);
	if (mode != STORE_EXISTING)
		return RC_OK;
	if (!schema)
		return err_set(eb, RC_NOT_FOUND, "the database %s holds no privreg register (no privreg schema)", where);
	if (!tenants && !tombs)
		return err_set(eb, RC_GONE, "the database %s holds a privreg schema but no tenant", where);
	return RC_OK;
}

void store_pool_mode(struct store_pool *p, enum store_mode mode)
{
	p->mode = mode;
}

enum rc store_pool_open(struct store_pool *p, struct store **out, struct errbuf *eb)
{
	*out = NULL;
	return p->ops->open(p->location, p->shared, p->mode, out, eb);
}

enum rc store_open(const char *url, struct store **out, struct errbuf *eb)
{
	return store_open_mode(url, STORE_CREATE, out, eb);
}

enum rc store_open_mode(const char *url, enum store_mode mode, struct store **out, struct errbuf *eb)
{
	struct store_pool *p = NULL;
	enum rc rc = store_pool_new(url, &p, eb);
	if (!rc) {
		p->mode = mode;
		rc = store_pool_open(p, out, eb);
	}
	if (rc) {
		store_pool_free(p);
		return rc;
	}
	(*out)->own_pool = p;
	return RC_OK;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	struct store_pool *own = s->own_pool;
	s->ops->close(s);
	store_pool_free(own);
}

#ifdef PRIVREG_FAULTS
void store_fault_arm(struct store *s, const char *op)
{
	if (fault_store()) {
		log_warn("fault injected: store %s fails", op);
		s->fault = true;
	}
}
#endif

void store_tenant_fini(struct store_tenant *t)
{
	if (t) {
		free(t->name);
		t->name = NULL;
	}
}

void store_tenants_free(struct store_tenant *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_tenant_fini(&v[i]);
	free(v);
}

void store_subject_fini(struct store_subject *s)
{
	if (!s)
		return;
	if (s->wrapped_key)
		sodium_memzero(s->wrapped_key, s->wrapped_len);
	free(s->wrapped_key);
	s->wrapped_key = NULL;
}

void store_record_fini(struct store_record *r)
{
	if (!r)
		return;
	free(r->kind);
	free(r->state);
	free(r->data);
	free(r->lookups);
	for (size_t i = 0; i < r->nevents; i++)
		free(r->events[i].name);
	free(r->events);
	memset(r, 0, sizeof *r);
}

void store_records_free(struct store_record *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_record_fini(&v[i]);
	free(v);
}

void store_apikey_fini(struct store_apikey *k)
{
	if (k) {
		free(k->role);
		k->role = NULL;
	}
}

void store_apikeys_free(struct store_apikey *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_apikey_fini(&v[i]);
	free(v);
}

void store_audit_fini(struct store_audit *e)
{
	if (!e)
		return;
	free(e->key_id);
	free(e->role);
	free(e->action);
	free(e->subject_id);
	free(e->record_id);
	free(e->purpose);
	free(e->outcome);
	free(e->detail);
	memset(e, 0, sizeof *e);
}

void store_audits_free(struct store_audit *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_audit_fini(&v[i]);
	free(v);
}

void store_consent_events_free(struct store_consent_event *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].purpose);
		free(v[i].action);
		free(v[i].source);
		free(v[i].channel);
		free(v[i].policy_version);
		free(v[i].wording);
		free(v[i].actor);
		free(v[i].evidence);
	}
	free(v);
}

void store_consent_states_free(struct store_consent_state *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].purpose);
	free(v);
}

void store_messages_free(struct store_message *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].kind);
		free(v[i].target);
		free(v[i].event);
		free(v[i].last_error);
		free(v[i].waive_reason);
		free(v[i].waive_note);
		if (v[i].sealed)
			sodium_memzero(v[i].sealed, v[i].sealed_len);
		free(v[i].sealed);
	}
	free(v);
}

void store_request_fini(struct store_request *r)
{
	if (!r)
		return;
	free(r->type);
	free(r->status);
	free(r->channel);
	free(r->extension_reason);
	free(r->outcome);
	free(r->refusal_reason);
	free(r->verified_by);
	free(r->details);
	free(r->notes);
	memset(r, 0, sizeof *r);
}

void store_requests_free(struct store_request *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_request_fini(&v[i]);
	free(v);
}

void store_holds_free(struct store_hold *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].reason);
		free(v[i].key_id);
		free(v[i].sealed);
	}
	free(v);
}

void store_disclosures_free(struct store_disclosure *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].recipient);
		free(v[i].purpose);
		free(v[i].fields);
		free(v[i].legal_reference);
		free(v[i].key_id);
	}
	free(v);
}

void store_requester_fini(struct store_requester *r)
{
	if (!r)
		return;
	free(r->contact);
	sodium_memzero(r, sizeof *r);
}

void store_idempotency_fini(struct store_idempotency *e)
{
	if (!e)
		return;
	free(e->answer);
	sodium_memzero(e, sizeof *e);
}

void store_policy_versions_free(struct store_policy_version *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].version);
		free(v[i].source);
	}
	free(v);
}
