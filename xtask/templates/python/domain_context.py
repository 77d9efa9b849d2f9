
"""
The DOMAIN_CONTEXT blob carried by the DOMAIN_CONTEXT record of a version SLOT_dc_since
libxc stream: a run of 8-octet aligned entries (descriptor, body, zero
padding) starting with HEADER and ending with END. Xen defines no names for
it; the DC_* names below are this package's own.

verify_blob(blob, endian) applies every rule of the format and raises
DomainContextError, whose ``kind`` names the rule (the same names as the
Rust verifier's DcErrorKind) and whose ``offset`` is relative to the blob.
"""

from struct import unpack_from

from xen.migration.verify import MigrationError

#
# Constants
#

SLOT_constants
#
# Struct formats (without byte-order prefix)
#

SLOT_formats
#
# Entry types
#

SLOT_entry_types
# Octets of the fixed part of each entry type's body.
DC_BODY_MIN = {
    SLOT_body_min
}

# Size of an entry descriptor.
DC_DESC_SIZE = SLOT_desc_size


class DomainContextError(MigrationError):
    """A DOMAIN_CONTEXT blob breaks a rule of its format."""

    def __init__(self, msg, kind, offset, entry):
        MigrationError.__init__(self, msg, kind, offset)
        self.entry = entry


class DcEntry(object):
    """One entry of a blob: where it is, its descriptor and its fields."""

    def __init__(self, index, offset, typecode, instance, length, body_len,
                 fields):
        self.index = index
        self.offset = offset
        self.typecode = typecode
        self.instance = instance
        self.length = length
        self.body_len = body_len
        self.fields = fields


def _fail(kind, offset, entry, msg):
    raise DomainContextError("entry %d at blob offset %d: %s (%s)"
                             % (entry, offset, msg, kind),
                             kind, offset, entry)


def _align_up(n):
    return (n + DC_ALIGN - 1) & ~(DC_ALIGN - 1)


def describe_entry(entry):
    """A one-line description of an entry."""
    name = dc_type_to_str.get(entry.typecode, "Unknown")
    fields = ", ".join("%s %d" % kv for kv in sorted(entry.fields.items()))
    return "%s, length %d%s" % (name, entry.length,
                                 fields and ": " + fields)


def parse_blob(blob, endian):
    """
    Walk a blob in byte order ``endian`` ("<" or ">") under the rules a
    restore applies: descriptors and bodies within the blob, HEADER first
    (magic and version) and only once, known types, instance 0, bodies
    holding their fixed part, SHARED_INFO buffer_size within the entry, and
    an END entry (octets after it are not looked at). Returns the entries.
    """
    entries = []
    pos = 0
    index = 0
    while True:
        rest = len(blob) - pos
        if rest == 0:
            _fail("MissingEnd", pos, index,
                  "the blob ends without an END entry")
        if rest < DC_DESC_SIZE:
            _fail("TruncatedDescriptor", pos, index,
                  "only %d octets remain for a descriptor" % (rest, ))
        SLOT_unpack_desc
        if length > rest - DC_DESC_SIZE:
            _fail("Overrun", pos, index,
                  "length %d runs past the end of the blob (%d octets follow)"
                  % (length, rest - DC_DESC_SIZE))
        SLOT_typecode_check
        if index == 0 and typecode != SLOT_header:
            _fail("HeaderNotFirst", pos + SLOT_type_off, index,
                  "the first entry has type %d, not HEADER" % (typecode, ))
        if index > 0 and typecode == SLOT_header:
            _fail("DuplicateHeader", pos + SLOT_type_off, index,
                  "a second HEADER")
        SLOT_instance_check
        body_at = pos + DC_DESC_SIZE
        body_len = DC_BODY_MIN[typecode]
        if length < body_len:
            _fail("BodyTooShort", pos, index,
                  "%s entry has length %d, shorter than its %d-octet body"
                  % (dc_type_to_str[typecode], length, body_len))
        fields = {}
        if typecode == SLOT_header:
            SLOT_unpack_hdr
            SLOT_header_checks
            fields = dict(xen_major=xen_major, xen_minor=xen_minor,
                          version=version)
        elif typecode == SLOT_si:
            SLOT_unpack_si
            if buffer_size > length - SLOT_si_fixed:
                _fail("BufferOverrun", body_at + SLOT_size_off, index,
                      "SHARED_INFO buffer_size %d exceeds the %d octets "
                      "the entry provides"
                      % (buffer_size, length - SLOT_si_fixed))
            body_len = SLOT_si_fixed + buffer_size
            fields = dict(flags=flags, buffer_size=buffer_size)
        elif typecode == SLOT_tsc:
            SLOT_unpack_tsc
            fields = dict(
                SLOT_tsc_fields)
        entries.append(DcEntry(index, pos, typecode, instance, length,
                               body_len, fields))
        pos = body_at + length
        index += 1
        if typecode == SLOT_end:
            return entries


def verify_blob(blob, endian):
    """
    Check every rule of the format (parse_blob's, then: lengths multiples
    of DC_ALIGN, zero padding, each length exactly its body rounded up,
    reserved SHARED_INFO flags clear, SHARED_INFO and TSC_INFO at most
    once) and return the entries. Octets after END are not an error (a
    loader never reads them; see after_end). The TSC_INFO tail
    (_pad) is not checked: Xen never cleared it.
    """
    entries = parse_blob(blob, endian)
    seen = set()
    for e in entries:
        index = e.index
        if e.length % DC_ALIGN:
            _fail("Misaligned", e.offset + SLOT_len_off, index,
                  "length %d is not a multiple of %d" % (e.length, DC_ALIGN))
        body_at = e.offset + DC_DESC_SIZE
        body_end = body_at + e.body_len
        padding = blob[body_end:body_at + e.length]
        if padding.strip(b"\x00"):
            first = len(padding) - len(padding.lstrip(b"\x00"))
            _fail("PaddingNonZero", body_end + first, index,
                  "padding octet is 0x%02x" % (padding[first], ))
        expected = _align_up(e.body_len)
        if e.length != expected:
            at = e.offset + SLOT_len_off
            if e.typecode == SLOT_si:
                at = body_at + SLOT_size_off
            _fail("LengthMismatch", at, index,
                  "%s entry has length %d, expected %d for its body"
                  % (dc_type_to_str[e.typecode], e.length, expected))
        if e.typecode == SLOT_si:
            flags = e.fields["flags"]
            SLOT_flags_check
        if e.typecode in (SLOT_si, SLOT_tsc):
            if e.typecode in seen:
                _fail("Duplicate", e.offset + SLOT_type_off, index,
                      "a second %s entry" % (dc_type_to_str[e.typecode], ))
            seen.add(e.typecode)
    return entries


def after_end(blob, entries):
    """
    The octets of blob after its END entry (entries as parse_blob or
    verify_blob returned them): (offset, count), or None when the blob
    ends with END. A loader never reads them: not an error.
    """
    for e in entries:
        if e.typecode == SLOT_end:
            end = e.offset + DC_DESC_SIZE + e.length
            if end < len(blob):
                return (end, len(blob) - end)
    return None
