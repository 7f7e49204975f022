/*
 * arena: a region allocator for data that lives and dies together (a parsed
 * policy and all its strings). Freeing the arena frees everything in it.
 */
#ifndef PRIVREG_ARENA_H
#define PRIVREG_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
};

void arena_init(struct arena *a);
void arena_fini(struct arena *a);
/* Zeroed, aligned for any type. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);

#endif
