
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
from struct import calcsize, unpack, unpack_from

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
    The input ends inside the stream (kind KIND_Truncated). Also an IOError
    (OSError), which is what Xen's own verifier raises, so code written
    for that keeps working.
    """

    def __init__(self, offset):
        MigrationError.__init__(self, "Stream truncated", KIND_Truncated, offset)


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
        KIND_Truncated) when the input ends first. Short reads, as pipes give,
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
        Raises StreamError with kind KIND_TrailingData otherwise.
        """
        extra = self.read(1)
        if extra:
            raise StreamError("data follows the end of the stream at offset %d"
                              % (self.offset, ), KIND_TrailingData, self.offset)


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



#
# The blobs inside records (domain_context.DC_BLOB, hvm_context.HVM_BLOB):
# a run of entries, each a descriptor (type code, instance, length) and a
# body, the first a HEADER, the last an END. Their formats are tables
# written from the Rust description; walk_blob and check_blob interpret
# them, rule by rule, in the tables' order.
#


class BlobEntry(object):
    """One entry of a blob: where it is, its descriptor, the octets of its
    body (padding excluded) and the fields of its body."""

    def __init__(self, index, offset, typecode, instance, length):
        self.index = index
        self.offset = offset
        self.typecode = typecode
        self.instance = instance
        self.length = length
        self.body_len = length
        self.fields = {}


def _blob_allowed(constraint, value):
    """Whether ``value`` meets a field's constraint (kind, argument)."""
    kind, arg = constraint
    if kind == "equals":
        return value == arg
    if kind == "one_of":
        return value in arg
    if kind == "reserved_bits":
        return not value & arg
    if kind == "reserved":
        return value == 0
    if kind == "at_most":
        return value <= arg
    return True


def _blob_wanted(constraint):
    """What a field's constraint wants, in words."""
    kind, arg = constraint
    if kind == "equals":
        return "0x%x" % (arg, )
    if kind == "one_of":
        return "one of %s" % (", ".join("%d" % v for v in sorted(arg)), )
    if kind == "reserved_bits":
        return "no bit of 0x%x set" % (arg, )
    if kind == "at_most":
        return "at most %d" % (arg, )
    return "zero"


def _blob_count(fmt, blob, endian, e, size):
    """The count field of a counted body (0 for other sizes)."""
    kind, numbers = size
    if kind != "counted":
        return 0
    at = e.offset + fmt["desc_size"] + numbers[1]
    if at + 4 > len(blob):
        return 0
    return unpack_from(endian + "I", blob, at)[0]


def _blob_body_len(size, length, count):
    """Octets of body (padding excluded) of an entry of ``length``."""
    kind, numbers = size
    if kind == "fixed":
        return numbers[0]
    if kind == "counted":
        return numbers[0] + count * numbers[2]
    return length


def _blob_descriptor_rule(fmt, check, arg, blob, e, seen):
    """The checks of _blob_rule that need no entry type."""
    type_at = e.offset + fmt["type_at"]
    if check == "known_type":
        if e.typecode not in fmt["entries"]:
            return type_at, e.index, "unknown type code %d" % (e.typecode, )
    elif check == "header_first":
        if e.index == 0 and e.typecode != fmt["header"]:
            return (type_at, e.index, "the first entry has type %d, not "
                    "HEADER" % (e.typecode, ))
    elif check == "header_once":
        if e.index > 0 and e.typecode == fmt["header"]:
            return type_at, e.index, "a second HEADER"
    elif check == "descriptor_field":
        item, at, constraint = arg
        value = getattr(e, item)
        if not _blob_allowed(constraint, value):
            return (e.offset + at, e.index, "%s is %d, expected %s"
                    % (item, value, _blob_wanted(constraint)))
    elif check == "length_aligned":
        if fmt["align"] and e.length % fmt["align"]:
            return (e.offset + fmt["length_at"], e.index, "length %d is not "
                    "a multiple of %d" % (e.length, fmt["align"]))
    elif check == "nothing_after_end":
        end = e.offset + fmt["desc_size"] + e.length
        if e.typecode == fmt["end"] and end < len(blob):
            return (end, e.index + 1, "%d octets follow the END entry"
                    % (len(blob) - end, ))
    return None


def _blob_rule(fmt, rule, blob, endian, e, seen):
    """
    Check ``rule`` of ``fmt`` on entry ``e`` (``seen``: the types met so
    far); None, or (offset, entry index, message) when it is broken.
    """
    check, arg = rule[1], rule[3]
    t = fmt["entries"].get(e.typecode)
    if t is None:
        return _blob_descriptor_rule(fmt, check, arg, blob, e, seen)
    name = fmt["names"][e.typecode]
    body_at = e.offset + fmt["desc_size"]
    size, numbers = t["size"]
    if check == "min_body":
        if e.length < t["min"]:
            return (e.offset, e.index, "%s entry has length %d, shorter "
                    "than its %d-octet body" % (name, e.length, t["min"]))
    elif check == "body_size":
        if (e.length not in numbers if size == "fixed"
                else e.length < numbers[0]):
            return (e.offset + fmt["length_at"], e.index,
                    "%s entry has length %d, expected %s %r"
                    % (name, e.length, size, numbers))
    elif check == "body_field":
        typecode, item, at, constraint = arg
        value = e.fields.get(item, 0)
        if typecode == e.typecode and not _blob_allowed(constraint, value):
            return (body_at + at, e.index, "%s %s is 0x%x, expected %s"
                    % (name, item, value, _blob_wanted(constraint)))
    elif check in ("count_fits", "count_matches") and size == "counted":
        fixed, count_at, element = numbers
        count = _blob_count(fmt, blob, endian, e, t["size"])
        space = max(e.length - fixed, 0)
        if check == "count_fits" and count * element > space:
            return (body_at + count_at, e.index, "%s count %d exceeds the "
                    "%d octets the entry provides" % (name, count, space))
        if check == "count_matches" and count * element + fixed != e.length:
            return (body_at + count_at, e.index, "%s count %d does not "
                    "match length %d" % (name, count, e.length))
    elif check == "padding_zero":
        body_end = body_at + min(e.body_len, e.length)
        padding = bytearray(blob[body_end:body_at + e.length])
        for i, octet in enumerate(padding):
            if octet:
                return (body_end + i, e.index, "padding octet is 0x%02x"
                        % (octet, ))
    elif check == "length_exact":
        align = fmt["align"] or 1
        expected = (e.body_len + align - 1) // align * align
        if e.length != expected:
            at = e.offset + fmt["length_at"]
            if size == "counted":
                at = body_at + numbers[1]
            return (at, e.index, "%s entry has length %d, expected %d for "
                    "its body" % (name, e.length, expected))
    elif check == "at_most_once":
        if t["once"] and e.typecode in seen:
            return (e.offset + fmt["type_at"], e.index, "a second %s entry"
                    % (name, ))
        seen.add(e.typecode)
    else:
        return _blob_descriptor_rule(fmt, check, arg, blob, e, seen)
    return None


def _blob_entry(fmt, blob, endian, pos, index, fail, entry_class):
    """The entry whose descriptor is at ``pos``, its framing checked and
    its body's fields decoded."""
    by_check = dict((r[1], r[0]) for r in fmt["rules"])
    desc = fmt["desc_size"]
    rest = len(blob) - pos
    if rest == 0:
        fail(by_check["missing_end"], pos, index,
             "the blob ends without an END entry")
    if rest < desc:
        fail(by_check["truncated_descriptor"], pos, index,
             "only %d octets remain for a descriptor" % (rest, ))
    d = dict(zip(fmt["desc_items"],
                 unpack_from(endian + fmt["desc_format"], blob, pos)))
    length = d["length"]
    if length > rest - desc:
        fail(by_check["overrun"], pos, index,
             "length %d runs past the end of the blob (%d octets follow)"
             % (length, rest - desc))
    e = entry_class(index, pos, d["typecode"], d["instance"], length)
    t = fmt["entries"].get(e.typecode)
    if t is not None:
        body = t["format"]
        if body is not None and calcsize(endian + body) <= length:
            e.fields = dict(zip(t["items"],
                                unpack_from(endian + body, blob, pos + desc)))
        count = _blob_count(fmt, blob, endian, e, t["size"])
        e.body_len = _blob_body_len(t["size"], length, count)
    return e


def walk_blob(fmt, blob, endian, fail, entry_class=BlobEntry):
    """
    Walk ``blob`` (byte order ``endian``, "<" or ">") entry by entry under
    the rules of ``fmt`` a restore applies (strict False), and return its
    entries (``entry_class`` objects) up to END; octets after END are not
    looked at. A broken rule calls ``fail(kind, offset, entry index,
    message)``, which raises.
    """
    rules = [r for r in fmt["rules"] if not r[2]]
    entries = []
    seen = set()
    pos = 0
    while True:
        e = _blob_entry(fmt, blob, endian, pos, len(entries), fail,
                        entry_class)
        for rule in rules:
            broken = _blob_rule(fmt, rule, blob, endian, e, seen)
            if broken is not None:
                fail(rule[0], *broken)
        entries.append(e)
        pos += fmt["desc_size"] + e.length
        if e.typecode == fmt["end"]:
            return entries


def check_blob(fmt, blob, endian, entries, fail):
    """
    Apply the strict rules of ``fmt`` (strict True) to the ``entries`` that
    walk_blob returned for ``blob``, entry by entry, rule by rule, in the
    table's order. A broken rule calls ``fail`` as walk_blob does.
    """
    rules = [r for r in fmt["rules"] if r[2]]
    seen = set()
    for e in entries:
        for rule in rules:
            broken = _blob_rule(fmt, rule, blob, endian, e, seen)
            if broken is not None:
                fail(rule[0], *broken)
    return entries
