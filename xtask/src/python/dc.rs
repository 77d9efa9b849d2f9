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

use format_spec::domain_context::{
    DcDescriptor, DcHeader, DcSharedInfo, DcTscInfo, DcType, DOMAIN_CONTEXT_CONSTANTS,
    DOMAIN_CONTEXT_STRUCTS,
};
use format_spec::layout::{SpecEnum, StructLayout, Wire};
use format_spec::libxc::LibxcRecord;

use super::banner;
use super::emit::*;
use crate::template::fill;
use crate::writer::Writer;

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

/// Writes the checks of `pass` over the items of `st` named in `fields`,
/// raising through `_fail` with the item's offset from `base` (a Python
/// expression).
fn checks(w: &mut Writer, st: &StructLayout, fields: &[&str], pass: Pass, base: &str) {
    let its: Vec<Item> = items(st)
        .into_iter()
        .filter(|i| fields.contains(&i.field))
        .collect();
    for it in &its {
        let Some(v) = violation(it, pass, DOMAIN_CONTEXT_CONSTANTS) else {
            continue;
        };
        let kind = constraint_kind(it.owner, it.field, pass);
        w.block(format!("if {}:", v.cond), |w| {
            w.line(format!(
                "_fail(\"{kind}\", {base} + {}, index,\n      \"{}: {}\"\n      % ({}, ))",
                it.offset,
                st.rust_name,
                v.fmt,
                v.args.join(", ")
            ));
        });
    }
}

/// The block slot unpacking all items of `st` from `src` at `at` into
/// their locals, at `column`.
fn unpack(st: &StructLayout, src: &str, at: &str, column: usize) -> String {
    let vars: Vec<String> = items(st).into_iter().map(|i| i.var).collect();
    written(column, |w| {
        w.line(format!(
            "{} = \\\n    unpack_from(endian + {}, {src}, {at})",
            vars.join(", "),
            st.py_format_name.expect("blob structs have a format name")
        ));
    })
}

/// The block slot of [`checks`] at `column`.
fn checked(column: usize, st: &StructLayout, fields: &[&str], pass: Pass, base: &str) -> String {
    written(column, |w| checks(w, st, fields, pass, base))
}

/// The generated module: template `python/domain_context.py`.
pub(super) fn domain_context_py() -> String {
    let mut values = table_slots();
    values.extend(verifier_slots());
    banner() + &fill(crate::template!("python/domain_context.py"), &values)
}

/// The slots of the constants, formats and entry types.
fn table_slots() -> Vec<(&'static str, String)> {
    let body_min: String = DcType::LAYOUT
        .variants
        .iter()
        .map(|v| {
            let t = DcType::from_value(v.value).expect("variant");
            format!("    {}: {},\n", ty(t), body_of(t).map_or(0, |b| b.size))
        })
        .collect();
    let dc = LibxcRecord::LAYOUT
        .by_code(LibxcRecord::DOMAIN_CONTEXT)
        .expect("DOMAIN_CONTEXT");
    vec![
        ("dc_since", dc.since.to_string()),
        (
            "constants",
            written(0, |w| emit_consts(w, DOMAIN_CONTEXT_CONSTANTS)),
        ),
        (
            "formats",
            written(0, |w| emit_formats(w, DOMAIN_CONTEXT_STRUCTS)),
        ),
        (
            "entry_types",
            written(0, |w| emit_enum(w, &DcType::LAYOUT, 0)),
        ),
        ("body_min", body_min),
        ("desc_size", DcDescriptor::LAYOUT.size.to_string()),
    ]
}

/// The slots of `parse_blob` and `verify_blob`.
fn verifier_slots() -> Vec<(&'static str, String)> {
    let desc = &DcDescriptor::LAYOUT;
    let hdr = &DcHeader::LAYOUT;
    let si = &DcSharedInfo::LAYOUT;
    let tsc = &DcTscInfo::LAYOUT;
    let hdr_fields: Vec<&str> = hdr.fields.iter().map(|f| f.name).collect();
    let tsc_fields = items(tsc)
        .iter()
        .map(|i| format!("{}={}", i.field, i.var))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        ("unpack_desc", unpack(desc, "blob", "pos", 8)),
        (
            "typecode_check",
            checked(8, desc, &["typecode"], Pass::Values, "pos"),
        ),
        (
            "instance_check",
            checked(8, desc, &["instance"], Pass::Values, "pos"),
        ),
        ("unpack_hdr", unpack(hdr, "blob", "body_at", 12)),
        (
            "header_checks",
            checked(12, hdr, &hdr_fields, Pass::Values, "body_at"),
        ),
        ("unpack_si", unpack(si, "blob", "body_at", 12)),
        ("unpack_tsc", unpack(tsc, "blob", "body_at", 12)),
        ("tsc_fields", wrap_code(&tsc_fields, 16)),
        (
            "flags_check",
            checked(12, si, &["flags"], Pass::Reserved, "body_at"),
        ),
        ("header", ty(DcType::Header).to_string()),
        ("si", ty(DcType::SharedInfo).to_string()),
        ("tsc", ty(DcType::TscInfo).to_string()),
        ("end", ty(DcType::End).to_string()),
        ("si_fixed", si.size.to_string()),
        ("size_off", off(si, "buffer_size").to_string()),
        ("len_off", off(desc, "length").to_string()),
        ("type_off", off(desc, "typecode").to_string()),
    ]
}
