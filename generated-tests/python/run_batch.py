#!/usr/bin/env python3
"""
Run the generated VerifyLibxc on many bare libxc streams read from standard
input, in one process, and print one tab-separated verdict line per stream:

    index  ACCEPT|REJECT  class  kind  offset  warnings  detail  message

Input framing (binary, little-endian), repeated until end of input:

    u32 length of the stream, then that many octets of the stream.

Each stream is verified strictly, as a bare stream: after END nothing may
follow. `offset` is the error's ``offset`` attribute ("-" when accepted).
`warnings` counts the "Warning:" messages passed to ``info``. `detail` is
the blob rule of a DomainContext or HvmContext error (else empty).
"""

import io
import struct
import sys

from xen.migration.verify import StreamError, RecordError
from xen.migration.libxc import VerifyLibxc


def verdict(data):
    messages = []
    stream = io.BytesIO(data)
    verifier = VerifyLibxc(messages.append, stream.read)
    try:
        verifier.verify()
        verifier.verify_end_of_stream()
    except (IOError, StreamError, RecordError) as e:
        return ("REJECT", type(e).__name__, str(getattr(e, "kind", "")),
                str(getattr(e, "offset", "")), messages,
                str(getattr(e, "detail", "") or ""), str(e))
    return ("ACCEPT", "", "", "-", messages, "", "")


def read_exact(fin, n):
    data = fin.read(n)
    if len(data) != n:
        raise SystemExit("run_batch.py: input ends inside a frame")
    return data


def main():
    fin = sys.stdin.buffer
    out = sys.stdout
    index = 0
    while True:
        head = fin.read(4)
        if not head:
            break
        if len(head) != 4:
            raise SystemExit("run_batch.py: input ends inside a frame")
        (length, ) = struct.unpack("<I", head)
        data = read_exact(fin, length)
        result, cls, kind, offset, messages, detail, text = verdict(data)
        warnings = sum(1 for m in messages if m.startswith("Warning:"))
        row = [str(index), result, cls, kind, offset, str(warnings), detail,
               text]
        out.write("\t".join(x.replace("\t", " ").replace("\n", " ")
                            for x in row) + "\n")
        index += 1
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
