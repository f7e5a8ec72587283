// SPDX-License-Identifier: MIT
#include "agent/probesite.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <capstone/capstone.h>

#define LOOKAHEAD 32

ssize_t file_read_at(const char *path, uint64_t off, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	return n;
}

/* The instructions arch/x86/kernel/uprobes.c emulates instead of
 * single-stepping: jmp/call rel, jcc, nop (0x90) and push reg. */
static int insn_emulated(csh h, const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	switch (in->id) {
	case X86_INS_JMP:
	case X86_INS_CALL:
		return x->op_count == 1 && x->operands[0].type == X86_OP_IMM;
	case X86_INS_NOP:
		return in->size == 1;
	case X86_INS_PUSH:
		return x->op_count == 1 && x->operands[0].type == X86_OP_REG;
	default:
		return cs_insn_group(h, in, X86_GRP_JUMP) && x->op_count == 1 &&
		       x->operands[0].type == X86_OP_IMM;
	}
}

/* Does the instruction leave every argument register, %rsp and memory as
 * they were (so the arguments read at a later site are the entry's)? */
static int insn_harmless(csh h, const cs_insn *in)
{
	static const x86_reg args[] = {
		X86_REG_RDI, X86_REG_RSI, X86_REG_RDX, X86_REG_RCX, X86_REG_R8, X86_REG_R9,
		X86_REG_EDI, X86_REG_ESI, X86_REG_EDX, X86_REG_ECX, X86_REG_R8D, X86_REG_R9D,
		X86_REG_RSP, X86_REG_ESP,
	};
	const cs_x86 *x = &in->detail->x86;
	cs_regs rd, wr;
	uint8_t nrd, nwr;

	if (in->id != X86_INS_CMP && in->id != X86_INS_TEST)
		return 0; /* only comparisons: they write flags alone */
	if (cs_regs_access(h, in, rd, &nrd, wr, &nwr) != CS_ERR_OK)
		return 0;
	for (uint8_t i = 0; i < nwr; i++)
		for (size_t k = 0; k < sizeof(args) / sizeof(args[0]); k++)
			if (wr[i] == args[k])
				return 0;
	for (uint8_t i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && (x->operands[i].access & CS_AC_WRITE))
			return 0;
	return 1;
}

int probe_site_choose(const uint8_t *code, size_t len, uint64_t entry_off, struct probe_site *s)
{
	cs_insn *insn = NULL;
	size_t n, off = 0;
	csh h;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	s->offset = entry_off;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -1;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(h, code, len < LOOKAHEAD ? len : LOOKAHEAD, entry_off, 0, &insn);
	if (!n) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (insn_emulated(h, &insn[i])) {
			s->offset = entry_off + off;
			s->skipped = (uint32_t)off;
			s->emulated = 1;
			snprintf(s->insn, sizeof(s->insn), "%.15s %.30s", insn[i].mnemonic, insn[i].op_str);
			goto out;
		}
		if (!insn_harmless(h, &insn[i]))
			break;
		off += insn[i].size;
	}
	/* nothing better: the entry, whatever it is */
	snprintf(s->insn, sizeof(s->insn), "%.15s %.30s", insn[0].mnemonic, insn[0].op_str);
out:
	if (insn)
		cs_free(insn, n);
	cs_close(&h);
	return rc;
}
