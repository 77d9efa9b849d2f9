
"""
Common verification machinery for migration v2 streams.

Every error raised by a verifier is a MigrationError and carries ``kind``,
a stable name of the rule that failed (the same names the Rust verifier
uses), and ``offset``, the byte offset in the verified stream (from the
start of what the verifier read) where the offending item starts. Catch
MigrationError for all of them: StreamError, RecordError, TruncatedError
and the blob errors of domain_context and hvm_context.
"""

import os
import stat
from struct import calcsize, unpack

# Skips of at least this many octets seek (where the input can) instead of
# reading through: shorter ones cost less to read than a seek and its
# checks.
SKIP_SEEK_MIN = 4096

# Skipped octets are read in chunks of at most this many.
SKIP_CHUNK = 1 << 20


class MigrationError(Exception):
    """The base class of every error the xen.migration verifiers raise."""

    def __init__(self, msg="", kind=None, offset=None):
        Exception.__init__(self, msg)
        self.kind = kind
        self.offset = offset


class StreamError(MigrationError):
    """The stream breaks a rule of its headers, framing or record order."""


class RecordError(MigrationError):
    """The body of one record breaks a rule."""


class TruncatedError(MigrationError, IOError):
    """
    The input ends inside the stream (kind "Truncated"). Also an IOError
    (OSError), which is what Xen's own verifier raises, so code written
    for that keeps working.
    """

    def __init__(self, offset):
        MigrationError.__init__(self, "Stream truncated", "Truncated", offset)


class VerifyBase(object):
    """
    Reads a stream through ``read`` (a callable like ``file.read``) and
    reports progress through ``info`` (a callable taking one string).
    ``offset`` counts the octets consumed so far.
    """

    def __init__(self, info, read):
        self.info = info
        self.read = read
        self.offset = 0
        self.seek_file = seekable_file(read)

    def rdexact(self, nr_bytes):
        """
        Read exactly nr_bytes octets; raise TruncatedError (an IOError, kind
        "Truncated") when the input ends first. Short reads, as pipes give,
        are retried.
        """
        data = self.read(nr_bytes)
        if data is None:
            data = b""
        if len(data) < nr_bytes:
            parts = [data]
            got = len(data)
            while got < nr_bytes:
                more = self.read(nr_bytes - got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        if len(data) != nr_bytes:
            raise TruncatedError(self.offset + len(data))
        self.offset += nr_bytes
        return data

    def skip(self, nr_bytes):
        """
        Consume nr_bytes octets without keeping them: with a seek where
        the input is a regular file (see seekable_file), else by reading
        them in chunks. The input ending first raises TruncatedError at
        the same offset as rdexact would.
        """
        f = self.seek_file
        if f is not None and nr_bytes >= SKIP_SEEK_MIN:
            try:
                here = f.tell()
                left = os.fstat(f.fileno()).st_size - here
            except (IOError, OSError, ValueError):
                left = None
            if left is not None and left < nr_bytes:
                raise TruncatedError(self.offset + max(left, 0))
            if left is not None:
                f.seek(nr_bytes, 1)
                self.offset += nr_bytes
                return
        while nr_bytes > 0:
            chunk = min(nr_bytes, SKIP_CHUNK)
            self.rdexact(chunk)
            nr_bytes -= chunk

    def unpack_exact(self, fmt):
        """Read and unpack one struct format string."""
        return unpack(fmt, self.rdexact(calcsize(fmt)))

    def verify_end_of_stream(self):
        """
        Strict check for a bare stream: nothing may follow its last record.
        Raises StreamError with kind "TrailingData" otherwise.
        """
        extra = self.read(1)
        if extra:
            raise StreamError("data follows the end of the stream at offset %d"
                              % (self.offset, ), "TrailingData", self.offset)


def seekable_file(read):
    """
    The regular file ``read`` reads from, when it can be found and seeks,
    else None: ``read`` is a bound ``read`` method of a file, or a function
    reading the global ``fin`` of its module (as Xen's verify-stream-v2
    hands its ``stream_read`` to the verifiers). Pipes and sockets give
    None: they are read through.
    """
    f = getattr(read, "__self__", None)
    if f is None:
        code = getattr(read, "__code__", None)
        names = getattr(code, "co_names", ())
        if "fin" in names and "read" in names:
            f = getattr(read, "__globals__", {}).get("fin")
    if f is None or getattr(f, "read", None) is None:
        return None
    try:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        f.tell()
    except (AttributeError, IOError, OSError, ValueError):
        return None
    return f


def prepend(data, read):
    """
    A read callable that first returns ``data`` (octets already read, for
    example to detect a format) and then reads on through ``read``.
    """
    pending = [data]

    def read_with_pending(nr_bytes):
        head = pending[0]
        if not head:
            return read(nr_bytes)
        out, pending[0] = head[:nr_bytes], head[nr_bytes:]
        return out

    return read_with_pending


def iter_unpack(fmt, data):
    """
    Unpack ``data`` as consecutive structs of ``fmt``, like Python 3's
    struct.iter_unpack (which Python 2.7 lacks); a partial struct at the
    end raises struct.error, as there.
    """
    size = calcsize(fmt)
    for at in range(0, len(data), size):
        yield unpack(fmt, data[at:at + size])
