// SPDX-License-Identifier: MIT
/* The hash table under insert/delete churn, checked against a plain array. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "util/htab.h"

static void test_put_get_del(void **state)
{
	struct htab *h = htab_new();
	int a = 1, b = 2;

	(void)state;
	assert_non_null(h);
	assert_null(htab_get(h, 42));
	assert_int_equal(htab_put(h, 42, &a), 0);
	assert_ptr_equal(htab_get(h, 42), &a);
	assert_int_equal(htab_put(h, 42, &b), 0); /* replace */
	assert_int_equal(htab_count(h), 1);
	assert_ptr_equal(htab_del(h, 42), &b);
	assert_null(htab_get(h, 42));
	assert_null(htab_del(h, 42));
	assert_int_equal(htab_count(h), 0);
	assert_int_not_equal(htab_put(h, 1, NULL), 0); /* NULL means empty */
	htab_free(h);
}

/* Random churn over a small key space forces long probe runs, growth and
 * backward-shift deletions across the wrap-around. */
static void test_churn_matches_model(void **state)
{
	enum { KEYS = 5000, OPS = 200000 };
	static char present[KEYS];
	static int vals[KEYS];
	struct htab *h = htab_new();
	size_t model = 0, it = 0, seen = 0;
	uint64_t k;
	void *v;

	(void)state;
	srand(7);
	for (int i = 0; i < OPS; i++) {
		int key = rand() % KEYS;

		if (rand() % 3) {
			if (!present[key])
				model++;
			present[key] = 1;
			assert_int_equal(htab_put(h, (uint64_t)key * 0x10001ULL, &vals[key]), 0);
		} else {
			void *got = htab_del(h, (uint64_t)key * 0x10001ULL);

			assert_ptr_equal(got, present[key] ? &vals[key] : NULL);
			if (present[key])
				model--;
			present[key] = 0;
		}
	}
	assert_int_equal(htab_count(h), model);
	for (int key = 0; key < KEYS; key++)
		assert_ptr_equal(htab_get(h, (uint64_t)key * 0x10001ULL), present[key] ? &vals[key] : NULL);
	while (htab_next(h, &it, &k, &v)) {
		assert_true(present[k / 0x10001ULL]);
		seen++;
	}
	assert_int_equal(seen, model);
	htab_free(h);
}

static int odd_key(void *ctx, uint64_t key, void *val)
{
	(void)val;
	++*(int *)ctx;
	return key & 1;
}

static int released;

static void count_release(void *val)
{
	(void)val;
	released++;
}

/* More matches than one pass takes (256): every odd key goes, no even one. */
static void test_remove_if(void **state)
{
	struct htab *h = htab_new();
	int dummy = 0, calls = 0;

	(void)state;
	for (uint64_t k = 1; k <= 1000; k++)
		assert_int_equal(htab_put(h, k, &dummy), 0);
	released = 0;
	assert_int_equal(htab_remove_if(h, odd_key, &calls, count_release), 500);
	assert_int_equal(released, 500);
	assert_int_equal(htab_count(h), 500);
	for (uint64_t k = 1; k <= 1000; k++)
		assert_true((htab_get(h, k) != NULL) == !(k & 1));
	htab_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_churn_matches_model),
		cmocka_unit_test(test_remove_if),
	};

	return cmocka_run_group_tests_name("htab", tests, NULL, NULL);
}
