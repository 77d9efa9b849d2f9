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

use format_spec::hvm_context::{
    HvmDescriptor, HvmHeader, HvmSize, HvmType, HVM_CONTEXT_CONSTANTS, HVM_CONTEXT_STRUCTS,
    HVM_TYPE_RULES,
};
use format_spec::layout::{SpecEnum, StructLayout, Wire};

use super::banner;
use super::emit::*;
use crate::template::fill;

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

/// The generated module: template `python/hvm_context.py`.
pub(super) fn hvm_context_py() -> String {
    let desc = &HvmDescriptor::LAYOUT;
    let hdr = &HvmHeader::LAYOUT;
    let type_sizes = written(4, |w| {
        for r in HVM_TYPE_RULES {
            w.comment(&py_doc(r.note))
                .line(format!("{}: {},", ty(r.typ), size_rule(r.size)));
        }
    });
    let hdr_vars: Vec<String> = items(hdr).into_iter().map(|i| i.var).collect();
    let hdr_fields: Vec<String> = items(hdr)
        .into_iter()
        .map(|i| format!("{}={}", i.field, i.var))
        .collect();
    let values = [
        (
            "constants",
            written(0, |w| emit_consts(w, HVM_CONTEXT_CONSTANTS)),
        ),
        (
            "formats",
            written(0, |w| emit_formats(w, HVM_CONTEXT_STRUCTS)),
        ),
        (
            "entry_types",
            written(0, |w| emit_enum(w, &HvmType::LAYOUT, 0)),
        ),
        ("type_sizes", type_sizes),
        ("desc_size", desc.size.to_string()),
        ("end", ty(HvmType::End).to_string()),
        ("header", ty(HvmType::Header).to_string()),
        ("msr", ty(HvmType::CpuMsr).to_string()),
        ("type_off", off(desc, "typecode").to_string()),
        ("len_off", off(desc, "length").to_string()),
        ("magic_off", off(hdr, "magic").to_string()),
        ("version_off", off(hdr, "version").to_string()),
        ("hdr_vars", hdr_vars.join(", ")),
        ("hdr_fields", wrap_code(&hdr_fields.join(", "), 16)),
    ];
    banner() + &fill(crate::template!("python/hvm_context.py"), &values)
}
