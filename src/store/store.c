/* store: picks a backend by URL scheme and frees the row structs all backends share. */
#include "store/store.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const struct store_ops *const backends[] = {
	&store_sqlite_ops,
};

enum rc store_open(const char *url, struct store **out, struct errbuf *eb)
{
	*out = NULL;
	const char *colon = strchr(url, ':');
	if (!colon || colon == url || strchr(url, '/') < colon) /* a bare path */
		return store_sqlite_ops.open(url, out, eb);
	size_t sl = (size_t)(colon - url);
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		if (strlen(backends[i]->name) == sl && !strncmp(url, backends[i]->name, sl)) {
			const char *loc = colon + 1;
			if (!strncmp(loc, "//", 2) && backends[i] == &store_sqlite_ops)
				loc += 2;
			return backends[i]->open(loc, out, eb);
		}
	}
	return err_set(eb, RC_INVALID, "unknown store '%.*s' (supported: sqlite:PATH)", (int)sl, url);
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

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
