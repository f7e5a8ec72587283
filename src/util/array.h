/* SPDX-License-Identifier: MIT */
/* Growing arrays: room for one more element, the capacity doubling. */
#ifndef INFERTRACE_ARRAY_H
#define INFERTRACE_ARRAY_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static inline int array_grow_(void *ptr_var, void *old, size_t *cap, size_t elem, size_t first)
{
	size_t c = *cap ? *cap * 2 : first;
	void *nv = realloc(old, c * elem);

	if (!nv)
		return -1;
	memcpy(ptr_var, &nv, sizeof(nv)); /* v = nv, whatever v's type */
	*cap = c;
	return 0;
}

/*
 * Make room for element n of array v (capacity cap, `first` elements at
 * the first allocation). Returns 0, or -1 when out of memory, the array
 * unchanged.
 */
#define ARRAY_RESERVE(v, n, cap, first)                                                         \
	((n) < (cap) ? 0 : array_grow_(&(v), (v), &(cap), sizeof(*(v)), (first)))

#endif
