
"""
The HVM context blob carried by the HVM_CONTEXT record of an x86 HVM
guest's libxc stream (what XEN_DOMCTL_gethvmcontext returns): a run of
entries, each a descriptor of SLOT_descriptor_size octets (type code, instance,
length) followed by exactly ``length`` octets of body and no padding,
starting with HEADER and ending with END. The HVM_* names follow Xen's
public/hvm/save.h but are this package's own.

verify_blob(blob, endian) applies every rule of the format and raises
HvmContextError, whose ``kind`` names the rule (the same names as the Rust
verifier's HvmErrorKind) and whose ``offset`` is relative to the blob.
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
# The blob's format, from the description (format_spec::hvm_context):
# the tables walk_blob and check_blob (xen.migration.verify) interpret.
#

SLOT_tables

#
# Body length of each entry type: (kind, sizes). HVM_SIZE_FIXED: one
# of ``sizes`` (the current size first, then sizes older Xen wrote);
# HVM_SIZE_AT_LEAST: at least sizes[0]; HVM_SIZE_MSR_LIST: sizes[0]
# octets of fixed part holding a 32-bit count at offset sizes[1], then
# exactly count elements of sizes[2] octets.
#

HVM_SIZE_FIXED = "fixed"
HVM_SIZE_AT_LEAST = "at_least"
HVM_SIZE_MSR_LIST = "counted"

HVM_TYPE_SIZES = dict((t, e["size"]) for t, e in HVM_ENTRIES.items())

# Size of an entry descriptor.
HVM_DESC_SIZE = HVM_BLOB["desc_size"]


class HvmContextError(MigrationError):
    """An HVM context blob breaks a rule of its format."""

    def __init__(self, msg, kind, offset, entry):
        MigrationError.__init__(self, msg, kind, offset)
        self.entry = entry


class HvmEntry(BlobEntry):
    """One entry of a blob: where it is, its descriptor and, for HEADER,
    its fields."""


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
    framing (the rules of HVM_RULES with strict False: every descriptor
    and body within the blob, and an END entry; octets after it are not
    looked at). Returns the entries.
    """
    return walk_blob(HVM_BLOB, blob, endian, _fail, HvmEntry)


def verify_blob(blob, endian):
    """
    Check every rule of the format (parse_blob's, then for each entry in
    order those of HVM_RULES with strict True: a known type code, HEADER
    first and only there, a body length its type allows (HVM_TYPE_SIZES),
    HEADER magic and version, a CPU_MSR count matching its length, nothing
    after END) and return the entries.
    """
    return check_blob(HVM_BLOB, blob, endian, parse_blob(blob, endian),
                      _fail)
