#!/usr/bin/env python3
"""
Verify a bare libxc migration stream with the generated xen.migration
package, in the manner of Xen's verify-stream-v2.

    verify_stream.py [-v] [-q] [--offset N] [--embedded] [FILE]

FILE defaults to standard input ("-" too). Exit status: 0 when the stream
is valid, 1 when it is not (or is truncated), 2 on a usage or script error.
"""

import argparse
import os
import sys
import traceback

from xen.migration.verify import StreamError, RecordError
from xen.migration.libxc import VerifyLibxc


def main(argv):
    parser = argparse.ArgumentParser(
        description="Verify a libxc migration stream (versions 2 to 4)")
    parser.add_argument("file", nargs="?", default="-",
                        help="stream to verify (default: standard input)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print what the stream holds")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print nothing, not even errors")
    parser.add_argument("--offset", type=int, default=0,
                        help="skip this many octets before the stream")
    parser.add_argument("--embedded", action="store_true",
                        help="the stream is part of a larger file: stop at "
                             "its END record instead of requiring end of input")
    opts = parser.parse_args(argv)

    def info(msg):
        if opts.verbose and not opts.quiet:
            print(msg)

    def err(msg):
        if not opts.quiet:
            sys.stderr.write(msg + "\n")

    # Unbuffered, as Xen's script reads: a pipe then gives short reads,
    # which the verifier must retry.
    if opts.file == "-":
        fin = os.fdopen(sys.stdin.fileno(), "rb", 0)
    else:
        try:
            fin = open(opts.file, "rb", 0)
        except (IOError, OSError) as e:
            err("cannot open %s: %s" % (opts.file, e))
            return 2

    if opts.offset:
        left = opts.offset
        while left:
            chunk = fin.read(min(left, 1 << 20))
            if not chunk:
                err("input ends before offset %d" % (opts.offset, ))
                return 1
            left -= len(chunk)

    verifier = VerifyLibxc(info, fin.read)
    try:
        verifier.verify()
        if not opts.embedded:
            verifier.verify_end_of_stream()
    except (IOError, StreamError, RecordError) as e:
        kind = getattr(e, "kind", None)
        where = getattr(e, "offset", None)
        err("Stream error (%s%s): %s"
            % (kind, "" if where is None else ", offset %d" % (where + opts.offset, ),
               e))
        return 1
    except Exception:
        err("Script error:\n" + traceback.format_exc())
        return 2

    info("Valid libxc v%d stream: %d records, END at offset %d"
         % (verifier.version, verifier.record_index + 1,
            verifier.offset + opts.offset))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
