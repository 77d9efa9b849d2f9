#!/usr/bin/env python3
"""
Run the generated verifiers on every test vector of a manifest and print
one tab-separated verdict line per vector:

    name  ACCEPT|REJECT  class  kind  warnings  message  detail  offset

    run_vectors.py MANIFEST [xl|libxl|libxc|auto]

The manifest has one "name<TAB>path" line per vector. Each file is one
whole stream of the given format (default: a bare libxc stream, "auto"
detects it): after its last END record nothing may follow. ``detail`` is
the finer rule of a xenstore error, ``offset`` where the error points.
"""

import sys

from xen.migration.verify import StreamError, RecordError

from xen.migration.verify_stream import verify


def run_one(path, fmt):
    messages = []
    with open(path, "rb") as fin:
        try:
            verify(fmt, messages.append, fin.read)
        except (IOError, StreamError, RecordError) as e:
            return ("REJECT", type(e).__name__, str(getattr(e, "kind", "")),
                    messages, str(e), str(getattr(e, "detail", "")),
                    str(getattr(e, "offset", "")))
    return ("ACCEPT", "", "", messages, "", "", "")


def main(manifest, fmt):
    with open(manifest) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    for name, path in lines:
        verdict, cls, kind, messages, text, detail, offset = \
            run_one(path, fmt)
        warnings = " | ".join(m for m in messages if m.startswith("Warning:"))
        row = [name, verdict, cls, kind, warnings, text, detail, offset]
        print("\t".join(x.replace("\t", " ").replace("\n", " ") for x in row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "libxc"))
