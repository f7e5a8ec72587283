// SPDX-License-Identifier: MIT
#include "agent/elfsym.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>

/* A virtual address in the file's image -> offset in the file, through the
 * loadable segment that maps it (uprobes take file offsets). */
static uint64_t vaddr_to_offset(Elf *elf, uint64_t vaddr)
{
	size_t nphdr;

	if (elf_getphdrnum(elf, &nphdr))
		return 0;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_memsz)
			return vaddr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

static int scan_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, const char *const *names,
		       size_t n, uint64_t *offsets)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t count, found = 0;

	if (!data || !sh->sh_entsize)
		return 0;
	count = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym))
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC && GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC)
			continue;
		if (sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (!offsets[k] && strcmp(name, names[k]) == 0) {
				offsets[k] = vaddr_to_offset(elf, sym.st_value);
				if (offsets[k])
					found++;
			}
		}
	}
	return (int)found;
}

int elf_find_funcs(const char *path, const char *const *names, size_t n, uint64_t *offsets)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd, found = 0, pass;

	memset(offsets, 0, n * sizeof(*offsets));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(fd);
		return -ENOEXEC;
	}
	/* exported symbols first: a stripped library has only .dynsym */
	for (pass = 0; pass < 2; pass++) {
		Elf32_Word want = pass == 0 ? SHT_DYNSYM : SHT_SYMTAB;

		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != want)
				continue;
			found += scan_symtab(elf, scn, &sh, names, n, offsets);
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}
