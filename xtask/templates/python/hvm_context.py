
"""
The HVM context blob carried by the HVM_CONTEXT record of an x86 HVM
guest's libxc stream (what XEN_DOMCTL_gethvmcontext returns): a run of
entries, each an 8-octet descriptor (type code, instance, length) followed
by exactly ``length`` octets of body and no padding, starting with HEADER
and ending with END. The HVM_* names follow Xen's public/hvm/save.h but are
this package's own.

verify_blob(blob, endian) applies every rule of the format and raises
HvmContextError, whose ``kind`` names the rule (the same names as the Rust
verifier's HvmErrorKind) and whose ``offset`` is relative to the blob.
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
#
# Body length of each entry type: (kind, sizes). HVM_SIZE_FIXED: one
# of ``sizes`` (the current size first, then sizes older Xen wrote);
# HVM_SIZE_AT_LEAST: at least sizes[0]; HVM_SIZE_MSR_LIST: a 32-bit
# count at offset 0, sizes[0] octets of fixed part, then exactly count
# elements of sizes[1] octets.
#

HVM_SIZE_FIXED = "fixed"
HVM_SIZE_AT_LEAST = "at_least"
HVM_SIZE_MSR_LIST = "msr_list"

HVM_TYPE_SIZES = {
    SLOT_type_sizes
}

# Size of an entry descriptor.
HVM_DESC_SIZE = SLOT_desc_size


class HvmContextError(MigrationError):
    """An HVM context blob breaks a rule of its format."""

    def __init__(self, msg, kind, offset, entry):
        MigrationError.__init__(self, msg, kind, offset)
        self.entry = entry


class HvmEntry(object):
    """One entry of a blob: where it is, its descriptor and, for HEADER,
    its fields."""

    def __init__(self, index, offset, typecode, instance, length):
        self.index = index
        self.offset = offset
        self.typecode = typecode
        self.instance = instance
        self.length = length
        self.fields = {}


def _fail(kind, offset, entry, msg):
    raise HvmContextError("entry %d at blob offset %d: %s (%s)"
                          % (entry, offset, msg, kind),
                          kind, offset, entry)


def describe_entry(entry):
    """A one-line description of an entry."""
    name = hvm_type_to_str.get(entry.typecode, "Unknown")
    fields = ", ".join("%s %d" % kv for kv in sorted(entry.fields.items()))
    return "%s instance %d, length %d%s" % (name, entry.instance,
                                            entry.length,
                                            fields and ": " + fields)


def parse_blob(blob, endian):
    """
    Walk a blob in byte order ``endian`` ("<" or ">"), checking only the
    framing: every descriptor and body within the blob, and an END entry
    (octets after it are not looked at). Returns the entries.
    """
    entries = []
    pos = 0
    index = 0
    while True:
        rest = len(blob) - pos
        if rest == 0:
            _fail("MissingEnd", pos, index,
                  "the blob ends without an END entry")
        if rest < HVM_DESC_SIZE:
            _fail("TruncatedDescriptor", pos, index,
                  "only %d octets remain for a descriptor" % (rest, ))
        typecode, instance, length = \
            unpack_from(endian + HVM_DESC_FORMAT, blob, pos)
        if length > rest - HVM_DESC_SIZE:
            _fail("Overrun", pos, index,
                  "length %d runs past the end of the blob (%d octets follow)"
                  % (length, rest - HVM_DESC_SIZE))
        entries.append(HvmEntry(index, pos, typecode, instance, length))
        pos += HVM_DESC_SIZE + length
        index += 1
        if typecode == SLOT_end:
            return entries


def _length_ok(rule, length):
    kind, sizes = rule
    if kind == HVM_SIZE_FIXED:
        return length in sizes
    return length >= sizes[0]


def verify_blob(blob, endian):
    """
    Check every rule of the format (parse_blob's, then for each entry in
    order: a known type code, HEADER first and only there, a body length
    its type allows (HVM_TYPE_SIZES), HEADER magic and version, a CPU_MSR
    count matching its length, nothing after END) and return the entries.
    """
    entries = parse_blob(blob, endian)
    for e in entries:
        index = e.index
        if e.typecode not in hvm_type_to_str:
            _fail("UnknownType", e.offset + SLOT_type_off, index,
                  "unknown type code %d" % (e.typecode, ))
        if index == 0 and e.typecode != SLOT_header:
            _fail("HeaderNotFirst", e.offset + SLOT_type_off, index,
                  "the first entry has type %d, not HEADER" % (e.typecode, ))
        if index > 0 and e.typecode == SLOT_header:
            _fail("DuplicateHeader", e.offset + SLOT_type_off, index,
                  "a second HEADER")
        rule = HVM_TYPE_SIZES[e.typecode]
        if not _length_ok(rule, e.length):
            _fail("BadLength", e.offset + SLOT_len_off, index,
                  "%s entry has length %d, expected %s %r"
                  % (hvm_type_to_str[e.typecode], e.length, rule[0], rule[1]))
        body_at = e.offset + HVM_DESC_SIZE
        if e.typecode == SLOT_header:
            SLOT_hdr_vars = \
                unpack_from(endian + HVM_HEADER_FORMAT, blob, body_at)
            if magic != HVM_FILE_MAGIC:
                _fail("BadMagic", body_at + SLOT_magic_off, index,
                      "HEADER magic is 0x%08x, expected 0x%08x"
                      % (magic, HVM_FILE_MAGIC))
            if version != HVM_FILE_VERSION:
                _fail("BadVersion", body_at + SLOT_version_off, index,
                      "HEADER version is %d, expected %d"
                      % (version, HVM_FILE_VERSION))
            e.fields = dict(
                SLOT_hdr_fields)
        elif e.typecode == SLOT_msr:
            fixed, element = rule[1]
            count, = unpack_from(endian + "I", blob, body_at)
            if count * element + fixed != e.length:
                _fail("MsrCount", body_at, index,
                      "CPU_MSR count %d does not match length %d"
                      % (count, e.length))
        elif e.typecode == SLOT_end:
            end = body_at + e.length
            if end < len(blob):
                _fail("TrailingData", end, index + 1,
                      "%d octets follow the END entry" % (len(blob) - end, ))
    return entries
