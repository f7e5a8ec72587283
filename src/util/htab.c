// SPDX-License-Identifier: MIT
#include "util/htab.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

struct slot {
	uint64_t key;
	void *val; /* NULL = empty */
};

struct htab {
	struct slot *slots;
	size_t cap; /* power of two */
	size_t count;
};

static size_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return (size_t)k;
}

struct htab *htab_new(void)
{
	struct htab *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cap = 64;
	h->slots = calloc(h->cap, sizeof(*h->slots));
	if (!h->slots) {
		free(h);
		return NULL;
	}
	return h;
}

void htab_free(struct htab *h)
{
	if (!h)
		return;
	free(h->slots);
	free(h);
}

size_t htab_count(const struct htab *h)
{
	return h->count;
}

static size_t find(const struct htab *h, uint64_t key, bool *found)
{
	size_t mask = h->cap - 1, i = hash64(key) & mask;

	while (h->slots[i].val) {
		if (h->slots[i].key == key) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

void *htab_get(const struct htab *h, uint64_t key)
{
	bool found;
	size_t i = find(h, key, &found);

	return found ? h->slots[i].val : NULL;
}

static int grow(struct htab *h)
{
	struct htab bigger = { .cap = h->cap * 2 };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++) {
		bool found;

		if (!h->slots[i].val)
			continue;
		bigger.slots[find(&bigger, h->slots[i].key, &found)] = h->slots[i];
	}
	free(h->slots);
	h->slots = bigger.slots;
	h->cap = bigger.cap;
	return 0;
}

int htab_put(struct htab *h, uint64_t key, void *val)
{
	bool found;
	size_t i;

	if (!val)
		return -EINVAL;
	if ((h->count + 1) * 10 > h->cap * 7 && grow(h))
		return -ENOMEM;
	i = find(h, key, &found);
	h->slots[i].key = key;
	h->slots[i].val = val;
	if (!found)
		h->count++;
	return 0;
}

void *htab_del(struct htab *h, uint64_t key)
{
	size_t mask = h->cap - 1, i, j;
	bool found;
	void *val;

	i = find(h, key, &found);
	if (!found)
		return NULL;
	val = h->slots[i].val;
	/* backward-shift: move later members of the probe run into the hole */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!h->slots[j].val)
			break;
		home = hash64(h->slots[j].key) & mask;
		/* slot j may move to i only if its home is not in (i, j] cyclically */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			h->slots[i] = h->slots[j];
			i = j;
		}
	}
	h->slots[i].val = NULL;
	h->slots[i].key = 0;
	h->count--;
	return val;
}

int htab_next(const struct htab *h, size_t *iter, uint64_t *key, void **val)
{
	while (*iter < h->cap) {
		struct slot *s = &h->slots[(*iter)++];

		if (s->val) {
			if (key)
				*key = s->key;
			if (val)
				*val = s->val;
			return 1;
		}
	}
	return 0;
}

size_t htab_remove_if(struct htab *h, int (*drop)(void *ctx, uint64_t key, void *val), void *ctx,
		      void (*release)(void *val))
{
	size_t removed = 0;

	/* in passes of up to 256 keys: collected first, then deleted, since a
	 * deletion moves entries under the iterator */
	for (;;) {
		uint64_t keys[256];
		size_t it = 0, n = 0;
		uint64_t k;
		void *v;

		while (n < 256 && htab_next(h, &it, &k, &v))
			if (drop(ctx, k, v))
				keys[n++] = k;
		for (size_t i = 0; i < n; i++) {
			v = htab_del(h, keys[i]);
			if (release)
				release(v);
		}
		removed += n;
		if (n < 256)
			return removed;
	}
}
