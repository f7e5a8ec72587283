/* SPDX-License-Identifier: MIT */
/*
 * Where to put an entry uprobe in a function. A probe on an instruction the
 * kernel cannot emulate is single-stepped out of line, about ten times the
 * cost of an emulated one here (jmp, call, jcc, nop and push are emulated).
 * NVIDIA's 535 driver stubs begin with `cmp [rip+X], imm32` then `je`:
 * probing the `je` keeps every argument intact at a tenth of the cost.
 */
#ifndef INFERTRACE_PROBESITE_H
#define INFERTRACE_PROBESITE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct probe_site {
	uint64_t offset;      /* file offset to attach at */
	uint32_t skipped;     /* bytes past the function's entry */
	char insn[48];        /* the instruction there, e.g. "je 0x3270" */
	int emulated;         /* 1 if the kernel emulates it */
};

/*
 * Choose the site for a function whose code starts at code[0] (file offset
 * entry_off). Moves past instructions that change no argument register, no
 * stack pointer and no memory, to the first emulated one within the first
 * 32 bytes; otherwise stays at the entry. Returns 0, or -1 when the bytes
 * cannot be decoded (the entry is used).
 */
int probe_site_choose(const uint8_t *code, size_t len, uint64_t entry_off, struct probe_site *s);

/* Read len bytes at file offset off of path. Returns bytes read or -1. */
ssize_t file_read_at(const char *path, uint64_t off, uint8_t *buf, size_t len);

#endif
