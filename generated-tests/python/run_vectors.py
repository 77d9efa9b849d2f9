#!/usr/bin/env python3
"""
Run the generated VerifyLibxc on every test vector of a manifest and print
one tab-separated verdict line per vector:

    name  ACCEPT|REJECT  class  kind  warnings  message

The manifest has one "name<TAB>path" line per vector. Each stream is a bare
libxc stream: after the END record nothing may follow.
"""

import sys

from xen.migration.verify import StreamError, RecordError
from xen.migration.libxc import VerifyLibxc


def run_one(path):
    messages = []
    with open(path, "rb") as fin:
        verifier = VerifyLibxc(messages.append, fin.read)
        try:
            verifier.verify()
            verifier.verify_end_of_stream()
        except (IOError, StreamError, RecordError) as e:
            return ("REJECT", type(e).__name__, str(getattr(e, "kind", "")),
                    messages, str(e))
    return ("ACCEPT", "", "", messages, "")


def main(manifest):
    with open(manifest) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    for name, path in lines:
        verdict, cls, kind, messages, text = run_one(path)
        warnings = " | ".join(m for m in messages if m.startswith("Warning:"))
        row = [name, verdict, cls, kind, warnings, text]
        print("\t".join(x.replace("\t", " ").replace("\n", " ") for x in row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
