"""
The floor of the Python verifier benchmark: what Xen's verify-stream-v2 -f xl
costs at the least with the generated modules, when nothing is checked.

It imports the modules verify-stream-v2 imports, opens the file the way the
script does (unbuffered), and then only frames the save file: the xl header,
the libxl records, the libxc headers and records. Of a PAGE_DATA record it
reads the pfn array, counts the entries with page contents from their type
octets, and seeks over the contents. It checks no rule. The constants come
from the generated package, so the floor follows the description.

Usage: python framing_floor.py SAVE-FILE   (prints the record counts)
"""

import sys
from struct import calcsize, unpack, unpack_from

from xen.migration import libxc, libxl, xl  # noqa: F401 (as the script)


def read_exact(f, n):
    data = f.read(n)
    if len(data) != n:
        raise SystemExit("truncated")
    return data


def padded(n, align):
    return (n + align - 1) & ~(align - 1)


def libxc_records(f):
    """Frame a libxc stream; return its record count."""
    read_exact(f, calcsize(libxc.IHDR_FORMAT))
    read_exact(f, calcsize(libxc.DHDR_FORMAT))
    head = "<" + libxc.RH_FORMAT
    head_size = calcsize(head)
    fixed = calcsize("<" + libxc.PAGE_DATA_FORMAT)
    # The most significant octet of an entry holds its type.
    without = [bytes(bytearray([t >> 56]))
               for t in libxc.PAGE_DATA_TYPES_WITHOUT_DATA]
    page = 1 << libxc.PAGE_SHIFT
    records = 0
    while True:
        rtype, length = unpack(head, read_exact(f, head_size))
        records += 1
        if rtype == libxc.REC_TYPE_page_data:
            count = unpack_from("<I", read_exact(f, fixed))[0]
            types = read_exact(f, count * 8)[7::8]
            empty = sum(types.count(t) for t in without)
            rest = padded(length, libxc.REC_ALIGN) - fixed - count * 8
            f.seek(rest, 1)
            assert rest == (count - empty) * page
        else:
            read_exact(f, padded(length, libxc.REC_ALIGN))
        if rtype == libxc.REC_TYPE_end:
            return records


def main():
    f = open(sys.argv[1], "rb", 0)
    read_exact(f, len(xl.MAGIC))
    header = unpack(xl.HEADER_FORMAT, read_exact(f, calcsize(xl.HEADER_FORMAT)))
    read_exact(f, header[-1])
    read_exact(f, calcsize(libxl.HDR_FORMAT))
    head = "<" + libxl.RH_FORMAT
    outer = inner = 0
    while True:
        rtype, length = unpack(head, read_exact(f, calcsize(head)))
        outer += 1
        read_exact(f, padded(length, libxl.REC_ALIGN))
        if rtype == libxl.REC_TYPE_libxc_context:
            inner += libxc_records(f)
        if rtype == libxl.REC_TYPE_end:
            break
    print("%d libxl records, %d libxc records" % (outer, inner))


main()
