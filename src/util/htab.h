/* SPDX-License-Identifier: MIT */
/* A hash table from 64-bit keys to pointers: open addressing, linear probing,
 * backward-shift deletion (no tombstones), grows at 70% load. */
#ifndef INFERTRACE_HTAB_H
#define INFERTRACE_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab;

struct htab *htab_new(void);
void htab_free(struct htab *h);
size_t htab_count(const struct htab *h);
void *htab_get(const struct htab *h, uint64_t key);
/* Insert or replace. Returns 0, or -ENOMEM (the table is unchanged). */
int htab_put(struct htab *h, uint64_t key, void *val);
/* Remove; returns the value that was stored, or NULL. */
void *htab_del(struct htab *h, uint64_t key);

/* Iteration: for (size_t it = 0; htab_next(h, &it, &k, &v);) ...
 * Deleting the current key during iteration may skip or repeat entries:
 * collect keys first when deleting. */
int htab_next(const struct htab *h, size_t *iter, uint64_t *key, void **val);

/* Remove every entry drop() chooses, passing each removed value to
 * release (NULL: none). Safe where deleting while iterating is not.
 * Returns how many were removed. */
size_t htab_remove_if(struct htab *h, int (*drop)(void *ctx, uint64_t key, void *val), void *ctx,
		      void (*release)(void *val));

/* Mix two 64-bit values into one key (for composite keys). */
static inline uint64_t htab_key2(uint64_t a, uint64_t b)
{
	return a * 0x9e3779b97f4a7c15ULL ^ (b + 0x7f4a7c159e3779b9ULL + (a << 6) + (a >> 2));
}

#endif
