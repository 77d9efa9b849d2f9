
"""
The DOMAIN_CONTEXT blob carried by the DOMAIN_CONTEXT record of a version SLOT_dc_since
libxc stream: a run of SLOT_dc_align-octet aligned entries (descriptor, body, zero
padding) starting with HEADER and ending with END. Xen defines no names for
it; the DC_* names below are this package's own.

verify_blob(blob, endian) applies every rule of the format and raises
DomainContextError, whose ``kind`` names the rule (the same names as the
Rust verifier's DcErrorKind) and whose ``offset`` is relative to the blob.
"""

from xen.migration.verify import BlobEntry, MigrationError, check_blob, \
    walk_blob

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
# The blob's format, from the description (format_spec::domain_context):
# the tables walk_blob and check_blob (xen.migration.verify) interpret.
#

SLOT_tables

# Octets of the fixed part of each entry type's body.
DC_BODY_MIN = dict((t, e["min"]) for t, e in DC_ENTRIES.items())

# Size of an entry descriptor.
DC_DESC_SIZE = DC_BLOB["desc_size"]


class DomainContextError(MigrationError):
    """A DOMAIN_CONTEXT blob breaks a rule of its format."""

    def __init__(self, msg, kind, offset, entry):
        MigrationError.__init__(self, msg, kind, offset)
        self.entry = entry


class DcEntry(BlobEntry):
    """One entry of a blob: where it is, its descriptor, the octets of its
    body (padding excluded) and its fields."""


def _fail(kind, offset, entry, msg):
    raise DomainContextError("entry %d at blob offset %d: %s (%s)"
                             % (entry, offset, msg, kind),
                             kind, offset, entry)


def describe_entry(entry):
    """A one-line description of an entry."""
    name = dc_type_to_str.get(entry.typecode, "Unknown")
    fields = ", ".join("%s %d" % kv for kv in sorted(entry.fields.items()))
    return "%s, length %d%s" % (name, entry.length,
                                 fields and ": " + fields)


def parse_blob(blob, endian):
    """
    Walk a blob in byte order ``endian`` ("<" or ">") under the rules a
    restore applies (those of DC_RULES with strict False: descriptors and
    bodies within the blob, HEADER first (magic and version) and only
    once, known types, instance 0, bodies holding their fixed part,
    SHARED_INFO buffer_size within the entry, and an END entry; octets
    after it are not looked at). Returns the entries.
    """
    return walk_blob(DC_BLOB, blob, endian, _fail, DcEntry)


def verify_blob(blob, endian):
    """
    Check every rule of the format (parse_blob's, then those of DC_RULES
    with strict True: lengths multiples of DC_ALIGN, zero padding, each
    length exactly its body rounded up, reserved SHARED_INFO flags clear,
    SHARED_INFO and TSC_INFO at most once) and return the entries. Octets
    after END are not an error (a loader never reads them; see
    after_end). The TSC_INFO tail (_pad) is not checked: Xen never
    cleared it.
    """
    return check_blob(DC_BLOB, blob, endian, parse_blob(blob, endian),
                      _fail)


def after_end(blob, entries):
    """
    The octets of blob after its END entry (entries as parse_blob or
    verify_blob returned them): (offset, count), or None when the blob
    ends with END. A loader never reads them: not an error.
    """
    for e in entries:
        if e.typecode == DC_BLOB["end"]:
            end = e.offset + DC_DESC_SIZE + e.length
            if end < len(blob):
                return (end, len(blob) - end)
    return None
