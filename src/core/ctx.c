/* ctx: the clock, links and the end of a transaction (see ctx.h). */
#include "core/ctx.h"

#include <stdio.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "store/store.h"

int64_t core_now(const struct core_ctx *c)
{
	return c->now ? c->now : timeutil_now();
}

static const char *link_base(const struct core_ctx *c)
{
	return c->links && c->links->base ? c->links->base : "http://127.0.0.1:8080";
}

enum rc core_link(const struct core_ctx *c, enum core_link which, const char *token, char out[CORE_LINK_MAX])
{
	out[0] = '\0';
	if (!c->links || which >= CORE_LINK__COUNT || !c->links->prefix[which]) {
		log_error("core_link: no route for link %d", (int)which);
		return RC_INTERNAL;
	}
	int n = snprintf(out, CORE_LINK_MAX, "%s%s%s", link_base(c), c->links->prefix[which], token);
	if (n < 0 || n >= CORE_LINK_MAX) {
		/* A cut link would lead nowhere: refuse it loudly. */
		log_error("core_link: link longer than %d bytes", CORE_LINK_MAX);
		out[0] = '\0';
		return RC_TOO_LARGE;
	}
	return RC_OK;
}

enum rc core_end(const struct core_ctx *c, enum rc rc)
{
	if (!rc)
		return store_commit(c->store);
	store_rollback(c->store);
	return rc;
}

bool core_store_shared(const char *url)
{
	return store_url_shared(url);
}

enum rc core_register_open(const char *url, struct store **out, struct errbuf *eb)
{
	return store_open_mode(url, STORE_EXISTING, out, eb);
}

enum rc core_register_create(const char *url, struct store **out, struct errbuf *eb)
{
	return store_open_mode(url, STORE_NEW, out, eb);
}

enum rc core_register_pool_new(const char *url, struct store_pool **out, struct errbuf *eb)
{
	enum rc rc = store_pool_new(url, out, eb);
	if (!rc)
		store_pool_mode(*out, STORE_EXISTING);
	return rc;
}

int64_t core_store_memory(void)
{
	return store_library_memory();
}
