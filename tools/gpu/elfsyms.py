#!/usr/bin/env python3
"""Print exported function symbols of an ELF shared library that match a
prefix, with their file offsets and the first bytes of each (to see which
instruction a uprobe at the entry would hit). Standard library only: runs on
machines without binutils.

    python3 tools/gpu/elfsyms.py /usr/lib/x86_64-linux-gnu/libcuda.so.1 cu 16
"""
import struct
import sys


def main():
    path, prefix = sys.argv[1], sys.argv[2]
    nbytes = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        sys.exit("%s: not a 64-bit ELF file" % path)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads = []
    for i in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == 1:
            loads.append((p_vaddr, p_memsz, p_offset))
    out = []
    for s in secs:
        if s[1] != 11:  # SHT_DYNSYM
            continue
        strtab = secs[s[6]]
        for off in range(s[4], s[4] + s[5], 24):
            st_name, st_info, _, st_shndx, st_value, st_size = struct.unpack_from("<IBBHQQ", data, off)
            if st_info & 0xF != 2 or st_shndx == 0 or not st_value:
                continue
            end = data.index(b"\0", strtab[4] + st_name)
            name = data[strtab[4] + st_name:end].decode()
            if not name.startswith(prefix):
                continue
            foff = next((st_value - va + po for va, ms, po in loads if va <= st_value < va + ms), None)
            if foff is None:
                continue
            out.append((name, foff, st_size, data[foff:foff + nbytes].hex()))
    for name, foff, size, hexb in sorted(out):
        print("%-40s off=0x%08x size=%-5d %s" % (name, foff, size, hexb))
    print("# %d symbols with prefix %r in %s" % (len(out), prefix, path))


if __name__ == "__main__":
    main()
