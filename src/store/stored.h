/*
 * store/stored.h: how both backends store the values nearly every record
 * has (SQLite schema 23, PostgreSQL 9): state 'active' as '', and an
 * updated_at equal to created_at (never rectified) as 0. Every writer of
 * records rows stores them through these functions and every reader reads
 * them back through these expressions, so that rows written before (with
 * the values spelt out) read the same. A record updated at the epoch's
 * first second and made at another would read as never updated: no clock
 * of a running register says 0.
 */
#ifndef PRIVREG_STORE_STORED_H
#define PRIVREG_STORE_STORED_H

#include <stdint.h>
#include <string.h>

#include "store/store.h"

static inline const char *stored_state(const char *state)
{
	return !state || !strcmp(state, "active") ? "" : state;
}

static inline int64_t stored_updated(const struct store_record *r)
{
	return r->updated_at == r->created_at ? 0 : r->updated_at;
}

/* The stored columns read back, for SQL text; p is a table prefix ("" or "r."). */
#define STORED_STATE_READ(p) "CASE " p "state WHEN '' THEN 'active' ELSE " p "state END"
#define STORED_UPDATED_READ(p) "CASE " p "updated_at WHEN 0 THEN " p "created_at ELSE " p "updated_at END"

#endif
