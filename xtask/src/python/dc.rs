//! `domain_context.py`: the DOMAIN_CONTEXT blob of a version 4 libxc
//! stream, its constants, struct formats, entry types, and its format's
//! tables (`format_spec::domain_context::DC_FORMAT`), which the blob
//! interpreter of `verify.py` reads.
//!
//! The blob gets a module of its own rather than more names in `libxc.py`:
//! Xen never defined any name for it (every `DC_*` name is this project's
//! invention, see `format_spec::domain_context`), so keeping them apart
//! leaves `libxc.py` a drop-in whose namespace stays Xen's plus the v4
//! record, and lets a tool check a blob without a stream around it.
//!
//! Names, values, formats, sizes, field offsets, the entry types and the
//! rules (their order, KINDs and strictness) all come from the
//! description; the tests compare the verdicts of the two verifiers on
//! one vector per rule.

use format_spec::domain_context::{
    DcType, DC_ALIGN, DC_FORMAT, DOMAIN_CONTEXT_CONSTANTS, DOMAIN_CONTEXT_STRUCTS,
};
use format_spec::layout::SpecEnum;
use format_spec::libxc::LibxcRecord;

use super::banner;
use super::blob::{tables, Names};
use super::emit::*;
use crate::template::fill;

/// The generated module: template `python/domain_context.py`.
pub(super) fn domain_context_py() -> String {
    let dc = LibxcRecord::LAYOUT
        .by_code(LibxcRecord::DOMAIN_CONTEXT)
        .expect("the record table holds its own code");
    let names = Names {
        prefix: "DC",
        types: &DcType::LAYOUT,
        consts: DOMAIN_CONTEXT_CONSTANTS,
        note: &|_| "",
    };
    let values = [
        ("dc_since", dc.since.to_string()),
        ("dc_align", DC_ALIGN.to_string()),
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
        ("tables", tables(&DC_FORMAT, &names)),
    ];
    banner() + &fill(crate::template!("python/domain_context.py"), &values)
}
