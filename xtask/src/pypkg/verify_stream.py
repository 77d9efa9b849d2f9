"""
Verify a migration stream or a whole save file with the xen.migration
package, in the manner of Xen's verify-stream-v2. Installed as the console
script ``xen-verify-stream``; also ``python -m xen.migration.verify_stream``.

    xen-verify-stream [-v] [-q] [-f auto|xl|libxl|libxc] [--offset N]
                      [--embedded] [FILE]

FILE defaults to standard input ("-" too). The format defaults to "auto",
which tells an xl save file, a libxl stream and a bare libxc stream apart
by their first eight octets. Exit status: 0 when the stream is valid, 1
when it is not (or is truncated), 2 on a usage or script error.
"""

import argparse
import os
import sys
import traceback
from struct import pack

from xen.migration.verify import MigrationError, StreamError, VerifyBase, \
    prepend
from xen.migration import libxc, libxl, xl

FORMATS = ("auto", "xl", "libxl", "libxc")

# What each format starts with.
SIGNATURES = (
    ("xl", xl.MAGIC[:SLOT_detect]),
    ("libxl", pack("SLOT_ident_fmt", libxl.HDR_IDENT)),
    ("libxc", pack("SLOT_marker_fmt", libxc.IHDR_MARKER)),
)

VERIFIERS = {
    "xl": xl.VerifyXl,
    "libxl": libxl.VerifyLibxl,
    "libxc": libxc.VerifyLibxc,
}


def make_verifier(fmt, info, read):
    """
    The verifier of format ``fmt`` reading through ``read``; with "auto",
    the first SLOT_detect octets choose it (raising StreamError of kind
    KIND_UnknownFormat when none matches). Returns (verifier, format).
    """
    if fmt == "auto":
        first = VerifyBase(info, read).rdexact(SLOT_detect)
        for name, signature in SIGNATURES:
            if first == signature:
                fmt = name
                break
        else:
            raise StreamError("unknown stream format at offset 0: the first "
                              "octets %r are neither an xl header, "
                              "\"LibxlFmt\" nor a libxc marker" % (first, ),
                              KIND_UnknownFormat, 0)
        read = prepend(first, read)
    return VERIFIERS[fmt](info, read), fmt


def verify(fmt, info, read, embedded=False):
    """
    Verify one stream of format ``fmt``; unless ``embedded``, nothing may
    follow it. Returns (verifier, format); raises the verifier's errors.
    """
    verifier, fmt = make_verifier(fmt, info, read)
    verifier.verify()
    if not embedded:
        verifier.verify_end_of_stream()
    return verifier, fmt


def main(argv=None):
    """The console script: verifies the stream ``argv`` names (default:
    the command line) and returns the exit status."""
    if argv is None:
        argv = sys.argv[1:]
    parser = argparse.ArgumentParser(
        description="Verify a migration stream (libxc versions SLOT_revisions, "
                    "libxl, or a whole xl save file)")
    parser.add_argument("file", nargs="?", default="-",
                        help="stream to verify (default: standard input)")
    parser.add_argument("-f", "--format", choices=FORMATS, default="auto",
                        help="format of the stream (default: auto, from its "
                             "first eight octets)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print what the stream holds")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print nothing, not even errors")
    parser.add_argument("--offset", type=int, default=0,
                        help="skip this many octets before the stream")
    parser.add_argument("--embedded", action="store_true",
                        help="the stream is part of a larger file: stop "
                             "at its END record instead of requiring end "
                             "of input")
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

    try:
        verifier, fmt = verify(opts.format, info, fin.read, opts.embedded)
    except (MigrationError, IOError) as e:
        kind = getattr(e, "kind", None)
        where = getattr(e, "offset", None)
        at = "" if where is None else ", offset %d" % (where + opts.offset, )
        err("Stream error (%s%s): %s" % (kind, at, e))
        return 1
    except Exception:
        err("Script error:\n" + traceback.format_exc())
        return 2

    if fmt == "libxc":
        info("Valid libxc v%d stream: %d records, END at offset %d"
             % (verifier.version, verifier.record_index + 1,
                verifier.offset + opts.offset))
    else:
        info("Valid %s stream, END at offset %d"
             % (fmt, verifier.offset + opts.offset))
    return 0


if __name__ == "__main__":
    sys.exit(main())
