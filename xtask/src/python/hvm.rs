//! `hvm_context.py`: the HVM context blob inside the HVM_CONTEXT record of
//! an x86 HVM guest's libxc stream, its constants, struct formats, entry
//! types, body size table and a verifier that applies the rules of
//! `format_spec::hvm_context::verify`.
//!
//! Like the DOMAIN_CONTEXT blob (see `dc.rs`) it gets a module of its own:
//! Xen's Python package has no name for anything inside the blob (the
//! `HVM_*` names here follow Xen's C ones in `public/hvm/save.h` but are
//! this package's choice), so `libxc.py` keeps Xen's namespace and a tool
//! can check a blob without a stream around it.
//!
//! Names, values, formats, field offsets and the size table come from the
//! descriptors (`HvmType`, `HvmDescriptor`, `HvmHeader`,
//! `HVM_TYPE_RULES`). What the description does not carry is the order in
//! which the Rust verifier applies its rules and the names of its
//! `HvmErrorKind` variants; both are written here, once, and the tests
//! compare the two verifiers' verdicts on one vector per rule.

use std::fmt::Write as _;

use format_spec::hvm_context::{
    HvmDescriptor, HvmHeader, HvmSize, HvmType, HVM_CONTEXT_CONSTANTS, HVM_CONTEXT_STRUCTS,
    HVM_TYPE_RULES,
};
use format_spec::layout::{SpecEnum, StructLayout, Wire};

use super::banner;
use super::emit::*;

/// The Python name of an entry type.
fn ty(t: HvmType) -> &'static str {
    HvmType::LAYOUT
        .variant(t as u64)
        .and_then(|v| v.py_name)
        .expect("entry type has a Python name")
}

/// Offset of a field within its struct.
fn off(st: &StructLayout, field: &str) -> usize {
    st.field(field)
        .unwrap_or_else(|| panic!("{}.{field}", st.rust_name))
        .offset
}

/// The Python value of a size rule: `(kind, sizes)`.
fn size_rule(size: HvmSize) -> String {
    let tuple = |v: &[usize]| {
        let items: Vec<String> = v.iter().map(|n| n.to_string()).collect();
        format!("({}, )", items.join(", "))
    };
    match size {
        HvmSize::Fixed { size, older } => {
            let mut all = vec![size];
            all.extend_from_slice(older);
            format!("(HVM_SIZE_FIXED, {})", tuple(&all))
        }
        HvmSize::AtLeast(n) => format!("(HVM_SIZE_AT_LEAST, {})", tuple(&[n])),
        HvmSize::MsrList { fixed, element } => {
            format!("(HVM_SIZE_MSR_LIST, {})", tuple(&[fixed, element]))
        }
    }
}

/// The generated module.
pub(super) fn hvm_context_py() -> String {
    let desc = &HvmDescriptor::LAYOUT;
    let hdr = &HvmHeader::LAYOUT;
    let mut s = banner();
    s.push_str(
        r#"
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

"#,
    );
    emit_consts(&mut s, HVM_CONTEXT_CONSTANTS);
    s.push_str("#\n# Struct formats (without byte-order prefix)\n#\n\n");
    emit_formats(&mut s, HVM_CONTEXT_STRUCTS);
    s.push_str("#\n# Entry types\n#\n\n");
    emit_enum(&mut s, &HvmType::LAYOUT, 0);
    s.push_str(
        "#\n# Body length of each entry type: (kind, sizes). HVM_SIZE_FIXED: one\n\
         # of ``sizes`` (the current size first, then sizes older Xen wrote);\n\
         # HVM_SIZE_AT_LEAST: at least sizes[0]; HVM_SIZE_MSR_LIST: a 32-bit\n\
         # count at offset 0, sizes[0] octets of fixed part, then exactly count\n\
         # elements of sizes[1] octets.\n#\n\n",
    );
    s.push_str(
        "HVM_SIZE_FIXED = \"fixed\"\nHVM_SIZE_AT_LEAST = \"at_least\"\n\
         HVM_SIZE_MSR_LIST = \"msr_list\"\n\n",
    );
    s.push_str("HVM_TYPE_SIZES = {\n");
    for r in HVM_TYPE_RULES {
        if !r.note.is_empty() {
            s.push_str(&wrap(r.note, "    # ", 79));
        }
        writeln!(s, "    {}: {},", ty(r.typ), size_rule(r.size)).unwrap();
    }
    s.push_str("}\n\n");
    writeln!(
        s,
        "# Size of an entry descriptor.\nHVM_DESC_SIZE = {}\n",
        desc.size
    )
    .unwrap();

    let hdr_vars: Vec<String> = items(hdr).into_iter().map(|i| i.var).collect();
    let hdr_fields: Vec<String> = items(hdr)
        .into_iter()
        .map(|i| format!("{}={}", i.field, i.var))
        .collect();
    write!(
        s,
        r#"
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
        self.fields = {{}}


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
        if typecode == {end}:
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
            _fail("UnknownType", e.offset + {type_off}, index,
                  "unknown type code %d" % (e.typecode, ))
        if index == 0 and e.typecode != {header}:
            _fail("HeaderNotFirst", e.offset + {type_off}, index,
                  "the first entry has type %d, not HEADER" % (e.typecode, ))
        if index > 0 and e.typecode == {header}:
            _fail("DuplicateHeader", e.offset + {type_off}, index,
                  "a second HEADER")
        rule = HVM_TYPE_SIZES[e.typecode]
        if not _length_ok(rule, e.length):
            _fail("BadLength", e.offset + {len_off}, index,
                  "%s entry has length %d, expected %s %r"
                  % (hvm_type_to_str[e.typecode], e.length, rule[0], rule[1]))
        body_at = e.offset + HVM_DESC_SIZE
        if e.typecode == {header}:
            {hdr_vars} = \
                unpack_from(endian + HVM_HEADER_FORMAT, blob, body_at)
            if magic != HVM_FILE_MAGIC:
                _fail("BadMagic", body_at + {magic_off}, index,
                      "HEADER magic is 0x%08x, expected 0x%08x"
                      % (magic, HVM_FILE_MAGIC))
            if version != HVM_FILE_VERSION:
                _fail("BadVersion", body_at + {version_off}, index,
                      "HEADER version is %d, expected %d"
                      % (version, HVM_FILE_VERSION))
            e.fields = dict(
                {hdr_fields})
        elif e.typecode == {msr}:
            fixed, element = rule[1]
            count, = unpack_from(endian + "I", blob, body_at)
            if count * element + fixed != e.length:
                _fail("MsrCount", body_at, index,
                      "CPU_MSR count %d does not match length %d"
                      % (count, e.length))
        elif e.typecode == {end}:
            end = body_at + e.length
            if end < len(blob):
                _fail("TrailingData", end, index + 1,
                      "%d octets follow the END entry" % (len(blob) - end, ))
    return entries
"#,
        end = ty(HvmType::End),
        header = ty(HvmType::Header),
        msr = ty(HvmType::CpuMsr),
        type_off = off(desc, "typecode"),
        len_off = off(desc, "length"),
        magic_off = off(hdr, "magic"),
        version_off = off(hdr, "version"),
        hdr_vars = hdr_vars.join(", "),
        hdr_fields = wrap(&hdr_fields.join(", "), "                ", 79)
            .trim_start()
            .trim_end(),
    )
    .unwrap();
    s
}
