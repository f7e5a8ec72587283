/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * Inputs that carry several fields (a sequence of calls, host/path/bodies)
 * are cut at a 4-byte separator, FUZZ_SEP, rather than length-prefixed: a
 * mutation that grows or shrinks one field then leaves the others intact.
 * The separator is in the dictionaries so libFuzzer can insert it.
 */
#ifndef INFERTRACE_FUZZ_COMMON_H
#define INFERTRACE_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_SEP "\xff\xfe\xfd\xfc"
#define FUZZ_SEP_LEN 4

struct fuzz_reader {
	const uint8_t *p;
	size_t n;
	bool done;
};

static inline void fuzz_reader_init(struct fuzz_reader *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->n = n;
	r->done = false;
}

/* The next field (the rest of the input for the last one); false at the end. */
static inline bool fuzz_next(struct fuzz_reader *r, const uint8_t **field, size_t *len)
{
	const uint8_t *sep;

	if (r->done)
		return false;
	sep = r->n >= FUZZ_SEP_LEN ? memmem(r->p, r->n, FUZZ_SEP, FUZZ_SEP_LEN) : NULL;
	*field = r->p;
	if (!sep) {
		*len = r->n;
		r->p += r->n;
		r->n = 0;
		r->done = true;
		return true;
	}
	*len = (size_t)(sep - r->p);
	r->n -= *len + FUZZ_SEP_LEN;
	r->p = sep + FUZZ_SEP_LEN;
	return true;
}

/* An exact-size heap copy with a NUL after it: ASan sees any read past n + 1. */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* An exact-size heap copy without a terminator (NULL for n == 0 is avoided). */
static inline uint8_t *fuzz_memdup(const uint8_t *p, size_t n)
{
	uint8_t *s = malloc(n ? n : 1);

	if (!s)
		abort();
	if (n)
		memcpy(s, p, n);
	return s;
}

/* A broken promise of the code under test: print why, then crash so that
 * libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...)                                                                  \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s: ", __FILE__, __LINE__, \
				#cond);                                                        \
			fprintf(stderr, __VA_ARGS__);                                          \
			fputc('\n', stderr);                                                   \
			abort();                                                               \
		}                                                                              \
	} while (0)

/* FNV-1a, to compare byte streams delivered in different pieces. */
static inline uint64_t fuzz_hash(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}
#define FUZZ_HASH_INIT 14695981039346656037ull

#endif
