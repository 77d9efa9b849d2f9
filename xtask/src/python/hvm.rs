//! `hvm_context.py`: the HVM context blob inside the HVM_CONTEXT record of
//! an x86 HVM guest's libxc stream, its constants, struct formats, entry
//! types, and its format's tables (`format_spec::hvm_context::HVM_FORMAT`,
//! the sizes from `HVM_TYPE_RULES`), which the blob interpreter of
//! `verify.py` reads.
//!
//! Like the DOMAIN_CONTEXT blob (see `dc.rs`) it gets a module of its own:
//! Xen's Python package has no name for anything inside the blob (the
//! `HVM_*` names here follow Xen's C ones in `public/hvm/save.h` but are
//! this package's choice), so `libxc.py` keeps Xen's namespace and a tool
//! can check a blob without a stream around it.
//!
//! Names, values, formats, field offsets, the size table and the rules
//! (their order, KINDs and strictness) all come from the description;
//! the tests compare the two verifiers' verdicts on one vector per rule.

use format_spec::hvm_context::{
    HvmDescriptor, HvmType, HVM_CONTEXT_CONSTANTS, HVM_CONTEXT_STRUCTS, HVM_FORMAT,
};
use format_spec::layout::{SpecEnum, Wire};

use super::banner;
use super::blob::{tables, Names};
use super::emit::*;
use crate::template::fill;

/// The generated module: template `python/hvm_context.py`.
pub(super) fn hvm_context_py() -> String {
    let note = |code: u16| HvmType::from_value(u64::from(code)).map_or("", |t| t.rule().note);
    let names = Names {
        prefix: "HVM",
        types: &HvmType::LAYOUT,
        consts: HVM_CONTEXT_CONSTANTS,
        note: &note,
    };
    let values = [
        ("descriptor_size", HvmDescriptor::LAYOUT.size.to_string()),
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
        ("tables", tables(&HVM_FORMAT, &names)),
    ];
    banner() + &fill(crate::template!("python/hvm_context.py"), &values)
}
