//! `domain_context.py`: the DOMAIN_CONTEXT blob of a version 4 libxc
//! stream, its constants, struct formats, entry types and a verifier that
//! applies the rules of `format_spec::domain_context::verify`.
//!
//! The blob gets a module of its own rather than more names in `libxc.py`:
//! Xen never defined any name for it (every `DC_*` name is this project's
//! invention, see `format_spec::domain_context`), so keeping them apart
//! leaves `libxc.py` a drop-in whose namespace stays Xen's plus the v4
//! record, and lets a tool check a blob without a stream around it.
//!
//! Names, values, formats, sizes, field offsets and the field rules come
//! from the descriptors. What the description does not carry is the order
//! in which the Rust verifier applies its rules and the KIND names of its
//! `DcErrorKind` variants; both are written here, once, and the tests
//! compare the verdicts of the two verifiers on one vector per rule.

use std::fmt::Write as _;

use format_spec::domain_context::{
    DcDescriptor, DcHeader, DcSharedInfo, DcTscInfo, DcType, DOMAIN_CONTEXT_CONSTANTS,
    DOMAIN_CONTEXT_STRUCTS,
};
use format_spec::layout::{SpecEnum, StructLayout, Wire};

use super::banner;
use super::emit::*;

/// The Python name of a blob entry type.
fn ty(t: DcType) -> &'static str {
    DcType::LAYOUT
        .variant(t as u64)
        .and_then(|v| v.py_name)
        .expect("entry type has a Python name")
}

/// The body layout of an entry type (`None`: no body).
fn body_of(t: DcType) -> Option<&'static StructLayout> {
    match t {
        DcType::End => None,
        DcType::Header => Some(&DcHeader::LAYOUT),
        DcType::SharedInfo => Some(&DcSharedInfo::LAYOUT),
        DcType::TscInfo => Some(&DcTscInfo::LAYOUT),
    }
}

/// Offset of a field within its struct.
fn off(st: &StructLayout, field: &str) -> usize {
    st.field(field)
        .unwrap_or_else(|| panic!("{}.{field}", st.rust_name))
        .offset
}

/// The checks of `pass` over the items of `st` named in `fields`, raising
/// through `_fail` with the item's offset from `base` (a Python
/// expression).
fn checks(
    out: &mut String,
    indent: &str,
    st: &StructLayout,
    fields: &[&str],
    pass: Pass,
    base: &str,
) {
    let its: Vec<Item> = items(st)
        .into_iter()
        .filter(|i| fields.contains(&i.field))
        .collect();
    for it in &its {
        let Some(v) = violation(it, pass, DOMAIN_CONTEXT_CONSTANTS) else {
            continue;
        };
        let kind = constraint_kind(it.owner, it.field, pass);
        writeln!(out, "{indent}if {}:", v.cond).unwrap();
        writeln!(
            out,
            "{indent}    _fail(\"{kind}\", {base} + {}, index,\n\
             {indent}          \"{}: {}\"\n\
             {indent}          % ({}, ))",
            it.offset,
            st.rust_name,
            v.fmt,
            v.args.join(", ")
        )
        .unwrap();
    }
}

/// Unpacks all items of `st` from `src` at `at` into their locals (two
/// lines, the second indented by `indent`).
fn unpack(st: &StructLayout, src: &str, at: &str, indent: &str) -> String {
    let vars: Vec<String> = items(st).into_iter().map(|i| i.var).collect();
    format!(
        "{} = \\\n{indent}    unpack_from(endian + {}, {src}, {at})",
        vars.join(", "),
        st.py_format_name.expect("blob structs have a format name")
    )
}

/// The generated module.
pub(super) fn domain_context_py() -> String {
    let desc = &DcDescriptor::LAYOUT;
    let hdr = &DcHeader::LAYOUT;
    let si = &DcSharedInfo::LAYOUT;
    let tsc = &DcTscInfo::LAYOUT;
    let mut s = banner();
    s.push_str(
        r#"
"""
The DOMAIN_CONTEXT blob carried by the DOMAIN_CONTEXT record of a version 4
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

"#,
    );
    emit_consts(&mut s, DOMAIN_CONTEXT_CONSTANTS);
    s.push_str("#\n# Struct formats (without byte-order prefix)\n#\n\n");
    emit_formats(&mut s, DOMAIN_CONTEXT_STRUCTS);
    s.push_str("#\n# Entry types\n#\n\n");
    emit_enum(&mut s, &DcType::LAYOUT, 0);
    s.push_str("# Octets of the fixed part of each entry type's body.\n");
    s.push_str("DC_BODY_MIN = {\n");
    for v in DcType::LAYOUT.variants {
        let t = DcType::from_value(v.value).expect("variant");
        writeln!(s, "    {}: {},", ty(t), body_of(t).map_or(0, |b| b.size)).unwrap();
    }
    s.push_str("}\n\n");
    writeln!(
        s,
        "# Size of an entry descriptor.\nDC_DESC_SIZE = {}\n",
        desc.size
    )
    .unwrap();

    write!(
        s,
        r#"
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
        {unpack_desc}
        if length > rest - DC_DESC_SIZE:
            _fail("Overrun", pos, index,
                  "length %d runs past the end of the blob (%d octets follow)"
                  % (length, rest - DC_DESC_SIZE))
"#,
        unpack_desc = unpack(desc, "blob", "pos", "        "),
    )
    .unwrap();
    checks(&mut s, "        ", desc, &["typecode"], Pass::Values, "pos");
    write!(
        s,
        r#"        if index == 0 and typecode != {header}:
            _fail("HeaderNotFirst", pos + {type_off}, index,
                  "the first entry has type %d, not HEADER" % (typecode, ))
        if index > 0 and typecode == {header}:
            _fail("DuplicateHeader", pos + {type_off}, index,
                  "a second HEADER")
"#,
        header = ty(DcType::Header),
        type_off = off(desc, "typecode"),
    )
    .unwrap();
    checks(&mut s, "        ", desc, &["instance"], Pass::Values, "pos");
    write!(
        s,
        r#"        body_at = pos + DC_DESC_SIZE
        body_len = DC_BODY_MIN[typecode]
        if length < body_len:
            _fail("BodyTooShort", pos, index,
                  "%s entry has length %d, shorter than its %d-octet body"
                  % (dc_type_to_str[typecode], length, body_len))
        fields = {{}}
        if typecode == {header}:
            {unpack_hdr}
"#,
        header = ty(DcType::Header),
        unpack_hdr = unpack(hdr, "blob", "body_at", "            "),
    )
    .unwrap();
    let hdr_fields: Vec<&str> = hdr.fields.iter().map(|f| f.name).collect();
    checks(
        &mut s,
        "            ",
        hdr,
        &hdr_fields,
        Pass::Values,
        "body_at",
    );
    write!(
        s,
        r#"            fields = dict(xen_major=xen_major, xen_minor=xen_minor,
                          version=version)
        elif typecode == {si}:
            {unpack_si}
            if buffer_size > length - {si_fixed}:
                _fail("BufferOverrun", body_at + {size_off}, index,
                      "SHARED_INFO buffer_size %d exceeds the %d octets "
                      "the entry provides"
                      % (buffer_size, length - {si_fixed}))
            body_len = {si_fixed} + buffer_size
            fields = dict(flags=flags, buffer_size=buffer_size)
        elif typecode == {tsc}:
            {unpack_tsc}
            fields = dict(
                {tsc_fields})
        entries.append(DcEntry(index, pos, typecode, instance, length,
                               body_len, fields))
        pos = body_at + length
        index += 1
        if typecode == {end}:
            return entries


def verify_blob(blob, endian):
    """
    Check every rule of the format (parse_blob's, then: lengths multiples
    of DC_ALIGN, zero padding, each length exactly its body rounded up,
    reserved SHARED_INFO flags clear, SHARED_INFO and TSC_INFO at most
    once, nothing after END) and return the entries. The TSC_INFO tail
    (_pad) is not checked: Xen never cleared it.
    """
    entries = parse_blob(blob, endian)
    seen = set()
    for e in entries:
        index = e.index
        if e.length % DC_ALIGN:
            _fail("Misaligned", e.offset + {len_off}, index,
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
            at = e.offset + {len_off}
            if e.typecode == {si}:
                at = body_at + {size_off}
            _fail("LengthMismatch", at, index,
                  "%s entry has length %d, expected %d for its body"
                  % (dc_type_to_str[e.typecode], e.length, expected))
        if e.typecode == {si}:
            flags = e.fields["flags"]
"#,
        si = ty(DcType::SharedInfo),
        tsc = ty(DcType::TscInfo),
        end = ty(DcType::End),
        unpack_si = unpack(si, "blob", "body_at", "            "),
        unpack_tsc = unpack(tsc, "blob", "body_at", "            "),
        tsc_fields = wrap(
            &items(tsc)
                .iter()
                .map(|i| format!("{}={}", i.field, i.var))
                .collect::<Vec<_>>()
                .join(", "),
            "                ",
            79
        )
        .trim_start()
        .trim_end(),
        si_fixed = si.size,
        size_off = off(si, "buffer_size"),
        len_off = off(desc, "length"),
    )
    .unwrap();
    checks(
        &mut s,
        "            ",
        si,
        &["flags"],
        Pass::Reserved,
        "body_at",
    );
    write!(
        s,
        r#"        if e.typecode in ({si}, {tsc}):
            if e.typecode in seen:
                _fail("Duplicate", e.offset + {type_off}, index,
                      "a second %s entry" % (dc_type_to_str[e.typecode], ))
            seen.add(e.typecode)
        if e.typecode == {end}:
            end = body_at + e.length
            if end < len(blob):
                _fail("TrailingData", end, index + 1,
                      "%d octets follow the END entry" % (len(blob) - end, ))
    return entries
"#,
        si = ty(DcType::SharedInfo),
        tsc = ty(DcType::TscInfo),
        end = ty(DcType::End),
        type_off = off(desc, "typecode"),
    )
    .unwrap();
    s
}
