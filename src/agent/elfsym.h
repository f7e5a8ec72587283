/* SPDX-License-Identifier: MIT */
/* Function symbols of an ELF file, as file offsets a uprobe attaches to. */
#ifndef INFERTRACE_ELFSYM_H
#define INFERTRACE_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Look up each of names[0..n) among the defined function symbols of the
 * ELF file at path (.dynsym first, then .symtab) and store its file offset
 * in offsets[i], or 0 when absent. Returns the number found, or -errno
 * (-ENOEXEC for a file that is not ELF).
 */
int elf_find_funcs(const char *path, const char *const *names, size_t n, uint64_t *offsets);

#endif
