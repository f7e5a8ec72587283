// SPDX-License-Identifier: MIT
/* Parsers behind target discovery, and ELF symbol offsets checked against
 * what binutils' nm says about real libraries on this machine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/discovery.h"
#include "agent/elfsym.h"
#include "agent/probes.h"

static void test_maps_line(void **state)
{
	char l1[] = "7f1c2a400000-7f1c2a47e000 r-xp 00022000 fd:01 1837602                    "
		    "/usr/lib/x86_64-linux-gnu/libssl.so.3\n";
	char l2[] = "7ffd1b5f2000-7ffd1b613000 rw-p 00000000 00:00 0                          [stack]\n";
	char l3[] = "55d0c0a00000-55d0c0a01000 r-xp 00000000 00:1f 42   /tmp/my lib (1).so\n";
	char l4[] = "garbage\n";
	struct maps_entry e;

	(void)state;
	assert_int_equal(maps_parse_line(l1, &e), 0);
	assert_int_equal(e.start, 0x7f1c2a400000ULL);
	assert_int_equal(e.end, 0x7f1c2a47e000ULL);
	assert_int_equal(e.offset, 0x22000);
	assert_string_equal(e.perms, "r-xp");
	assert_int_equal(e.inode, 1837602);
	assert_string_equal(e.path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
	assert_int_equal(maps_parse_line(l2, &e), 0);
	assert_null(e.path);
	assert_int_equal(maps_parse_line(l3, &e), 0);
	assert_string_equal(e.path, "/tmp/my lib (1).so"); /* spaces kept */
	assert_int_equal(maps_parse_line(l4, &e), -1);
}

static void test_library_names(void **state)
{
	(void)state;
	assert_true(tls_library_name("/usr/lib/x86_64-linux-gnu/libssl.so.3"));
	assert_true(tls_library_name("/opt/x/libssl.so.1.1"));
	assert_true(tls_library_name("libgnutls.so.30"));
	assert_false(tls_library_name("/usr/lib/x86_64-linux-gnu/libssl3.so")); /* NSS */
	assert_false(tls_library_name("/usr/lib/libgnutls-openssl.so.27"));
	assert_false(tls_library_name("/usr/lib/libcrypto.so.3"));
}

static void test_ldcache_line(void **state)
{
	char l1[] = "\tlibssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3\n";
	char l2[] = "1234 libs found in cache `/etc/ld.so.cache'\n";

	(void)state;
	assert_string_equal(ldcache_parse_line(l1), "/lib/x86_64-linux-gnu/libssl.so.3");
	assert_null(ldcache_parse_line(l2));
}

static void test_proc_net_tcp(void **state)
{
	const char *v4 = "   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
			 "00000000     0        0 123456 1 0000000000000000 100 0 0 10 0\n";
	const char *v6 = "   0: 00000000000000000000000001000000:C350 "
			 "00000000000000000000000001000000:01BB 01 00000000:00000000 "
			 "00:00000000 00000000  1000        0 98765 1 0000000000000000 20 4 30 10 -1\n";
	const char *hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
			  "retrnsmt   uid  timeout inode\n";
	uint16_t lp, rp;
	unsigned st;
	uint64_t ino;

	(void)state;
	assert_int_equal(proc_net_tcp_parse(v4, &lp, &rp, &st, &ino), 0);
	assert_int_equal(lp, 8080);
	assert_int_equal(rp, 0);
	assert_int_equal(st, 0x0A);
	assert_int_equal(ino, 123456);
	assert_int_equal(proc_net_tcp_parse(v6, &lp, &rp, &st, &ino), 0);
	assert_int_equal(lp, 50000);
	assert_int_equal(rp, 443);
	assert_int_equal(st, 1);
	assert_int_equal(ino, 98765);
	assert_int_equal(proc_net_tcp_parse(hdr, &lp, &rp, &st, &ino), -1);
}

/* File offset of a symbol according to nm (virtual address) and the
 * program headers (readelf), computed independently of elfsym.c. */
static uint64_t nm_file_offset(const char *path, const char *sym)
{
	char cmd[512], line[512];
	unsigned long long vaddr = 0, off = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm -D --defined-only %s 2>/dev/null", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char name[256], type;
		unsigned long long v;

		if (sscanf(line, "%llx %c %255s", &v, &type, name) == 3 && (type == 'T' || type == 't') &&
		    (strcmp(name, sym) == 0 || (strncmp(name, sym, strlen(sym)) == 0 &&
						 name[strlen(sym)] == '@')))
			vaddr = v;
	}
	pclose(p);
	if (!vaddr)
		return 0;
	snprintf(cmd, sizeof(cmd), "readelf -lW %s", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long o, va, pa, fs, ms;
		char flags[8] = "";

		if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx %7[RWE ]", &o, &va, &pa, &fs,
			   &ms, flags) >= 5 && vaddr >= va && vaddr < va + ms)
			off = vaddr - va + o;
	}
	pclose(p);
	return off;
}

static void check_library(const char *path, int first, int last)
{
	uint64_t offs[TLS_NFUNCS];
	int n;

	if (access(path, R_OK) != 0)
		fail_msg("%s is missing: run tools/deps.sh", path);
	n = elf_find_funcs(path, tls_func_names, TLS_NFUNCS, offs);
	assert_int_equal(n, last - first + 1);
	for (int i = first; i <= last; i++) {
		uint64_t want = nm_file_offset(path, tls_func_names[i]);

		if (!want || offs[i] != want)
			fail_msg("%s %s: expected offset 0x%llx (nm+readelf), saw 0x%llx", path,
				 tls_func_names[i], (unsigned long long)want,
				 (unsigned long long)offs[i]);
	}
}

static void test_elf_offsets_real_libraries(void **state)
{
	(void)state;
	check_library("/usr/lib/x86_64-linux-gnu/libssl.so.3", TLS_SSL_WRITE, TLS_SSL_READ_EX);
	check_library("/usr/lib/x86_64-linux-gnu/libgnutls.so.30", TLS_GNUTLS_SEND, TLS_GNUTLS_RECV);
}

static void test_elf_errors(void **state)
{
	uint64_t offs[TLS_NFUNCS];

	(void)state;
	assert_int_equal(elf_find_funcs("/nonexistent/x.so", tls_func_names, TLS_NFUNCS, offs),
			 -ENOENT);
	assert_int_equal(elf_find_funcs("/etc/hostname", tls_func_names, TLS_NFUNCS, offs),
			 -ENOEXEC);
	/* libc is ELF without TLS functions */
	assert_int_equal(elf_find_funcs("/lib/x86_64-linux-gnu/libc.so.6", tls_func_names,
					TLS_NFUNCS, offs),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_line),
		cmocka_unit_test(test_library_names),
		cmocka_unit_test(test_ldcache_line),
		cmocka_unit_test(test_proc_net_tcp),
		cmocka_unit_test(test_elf_offsets_real_libraries),
		cmocka_unit_test(test_elf_errors),
	};

	return cmocka_run_group_tests_name("discovery", tests, NULL, NULL);
}
