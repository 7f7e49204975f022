/*
 * store/copy.c: what both backends share for copying a register between
 * them: the table list of store/copy.def and the check that a backend's
 * schema has exactly those tables and columns, so that a table added by a
 * later migration cannot be left behind by `privreg migrate`.
 */
#include <string.h>

#include "store/store.h"

const struct store_copy_info store_copy_tables[STORE_COPY_TABLES] = {
#define COPY_TABLE(name, columns, types, marks) \
	[STORE_COPY_##name] = {#name, columns, types},
#include "store/copy.def"
#undef COPY_TABLE
};

#define COPY_TABLE(name, columns, types, marks) \
	_Static_assert(sizeof types - 1 <= STORE_COPY_COLUMNS_MAX, "raise STORE_COPY_COLUMNS_MAX for " #name); \
	_Static_assert(sizeof marks == 2 * (sizeof types - 1), "one ? per column of " #name);
#include "store/copy.def"
#undef COPY_TABLE

int store_copy_column(enum store_copy_table t, const char *column)
{
	size_t len = strlen(column);
	int i = 0;
	for (const char *p = store_copy_tables[t].columns; *p; i++) {
		size_t n = strcspn(p, ",");
		if (n == len && !memcmp(p, column, len))
			return i;
		p += n;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return -1;
}

void store_copy_schema_column(struct store_copy_schema *sc, const char *table, const char *column, char type,
                              struct errbuf *eb)
{
	if (sc->rc)
		return;
	size_t t = 0;
	while (t < STORE_COPY_TABLES && strcmp(store_copy_tables[t].name, table))
		t++;
	if (t == STORE_COPY_TABLES) {
		sc->rc = err_set(eb, RC_INTERNAL, "table %s is not in the list of tables to copy (src/store/copy.def)",
		                 table);
		return;
	}
	int c = store_copy_column((enum store_copy_table)t, column);
	if (c < 0) {
		sc->rc = err_set(eb, RC_INTERNAL, "column %s.%s is not in the list of columns to copy (src/store/copy.def)",
		                 table, column);
		return;
	}
	if (store_copy_tables[t].types[c] != type) {
		sc->rc = err_set(eb, RC_INTERNAL, "column %s.%s has another type than src/store/copy.def says", table,
		                 column);
		return;
	}
	sc->seen[t][c] = true;
}

enum rc store_copy_schema_end(struct store_copy_schema *sc, struct errbuf *eb)
{
	for (size_t t = 0; !sc->rc && t < STORE_COPY_TABLES; t++) {
		const struct store_copy_info *ti = &store_copy_tables[t];
		for (size_t c = 0; !sc->rc && c < strlen(ti->types); c++)
			if (!sc->seen[t][c])
				sc->rc = err_set(eb, RC_INTERNAL, "src/store/copy.def names column %zu of table %s, which the "
				                 "schema does not have", c + 1, ti->name);
	}
	return sc->rc;
}
