"""The whole-file seal whatif appends to the HDF5 files it writes (core/src/util/file_seal.hpp):
a 64-byte trailer holding the CRC-32 and length of everything before it. Tests that edit a
whatif file reseal it, so the reader's later checks are what meet it, as they would meet a
well-formed but foreign file."""
import zlib

import h5py


def unseal(path):
    b = open(path, "rb").read()
    if len(b) >= 64 and b[-64:].startswith(b"\nwhatif-seal v1 crc32 "):
        open(path, "wb").write(b[:-64])


def seal(path):
    b = open(path, "rb").read()
    t = ("\nwhatif-seal v1 crc32 %08x length %020d" % (zlib.crc32(b), len(b))).ljust(63).encode() + b"\n"
    open(path, "ab").write(t)


def edited(path, edit):
    unseal(path)
    with h5py.File(path, "r+") as f:
        edit(f)
    seal(path)
