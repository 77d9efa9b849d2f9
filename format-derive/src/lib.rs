//! Derive macros for the Xen migration stream description in `format-spec`.
//!
//! Each derive works in three passes, in the manner of serde_derive:
//! 1. parse every attribute into typed values, collecting *all* errors with
//!    their spans instead of stopping at the first;
//! 2. check the parsed item as a whole (field alignment, count fields that
//!    exist, unique record codes, ...);
//! 3. emit code: binrw `BinRead`/`BinWrite` impls and `const` layout
//!    descriptors (`format_spec::layout`) that the generators walk.
//!
//! * [`Wire`]: a header or record body struct.
//! * [`SpecEnum`]: an enumeration of numeric values (domain types, page types).
//! * [`RecordSet`]: the table of record types of one stream layer.
//!
//! The generated code names `::format_spec`, so the derives are meant to be
//! used through that crate (which re-exports them).

mod attr;
mod records;
mod spec_enum;
mod wire;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `format_spec::layout::Wire`, binrw `BinRead`/`BinWrite` and
/// `format_spec::body::RecordBody` for a struct of fixed-width integers.
///
/// Struct attributes, `#[wire(...)]`:
/// * `c_name = "xc_sr_ihdr"`: the C struct name (omitted when the C header
///   has no struct for the body, like the CPUID policy array);
/// * `c_typedef`: the C header also typedefs it to its own name;
/// * `c_external`: the C type is defined by Xen's public headers, not ours;
/// * `py_format = "IHDR_FORMAT"`: name of the Python format constant;
/// * `py_format_override = "QII"`: Xen's historical spelling of the format;
/// * `byte_order = big | stream | native` (default `stream`).
///
/// Field attributes, `#[wire(...)]`:
/// * `reserved`: zero on save (integers or integer arrays);
/// * `equals = EXPR`, `one_of = [A, B]`, `values = EnumType`,
///   `reserved_bits = EXPR`: value constraints;
/// * `at_most = EXPR`: an upper bound on an integer field (below the
///   largest value the field's type holds), a value rule;
/// * `error = "BadMarker"`: the KIND a broken rule of the field reports;
/// * `lenient`: lenient mode reports a broken reserved rule too (value
///   rules always are; without it a reserved rule is strict only);
/// * `count = field` on a trailing `Vec`: the element count is that field;
///   without it the array takes the rest of the body.
#[proc_macro_derive(Wire, attributes(wire))]
pub fn derive_wire(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    wire::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `format_spec::layout::SpecEnum` for a field-less enum whose
/// variants have explicit integer discriminants.
///
/// Enum attributes, `#[spec(...)]`: `py_shift = N` (Python values are shifted
/// left by N), `py_table = "name"` (the Python dict of human names).
/// Variant attributes, `#[spec(...)]`: `human = "x86 PV"` (required),
/// `c = "C_NAME"`, `py = "py_name"`.
#[proc_macro_derive(SpecEnum, attributes(spec))]
pub fn derive_spec_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    spec_enum::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives a record table for an enum whose variants are the record types
/// of one stream layer.
///
/// Enum attributes, `#[records(c_prefix = "REC_TYPE_", py_prefix = "REC_TYPE_")]`.
/// Variant attributes, `#[record(...)]`:
/// * `code = 0x01`, `name = "PAGE_DATA"`, `human = "Page data"` (required);
/// * `py = "tsc_info"`: Python suffix when not the lower-cased spec name;
/// * `optional`: bit 31 of the code is set;
/// * `since = 3`, `deprecated = 4` (`deprecated = 0`: from the start);
/// * `length = non_empty | page_data | exact(N)`: overrides the length rule
///   that the body layout implies.
///
/// A variant is either a unit (empty body) or holds one body type
/// implementing `format_spec::body::RecordBody`.
#[proc_macro_derive(RecordSet, attributes(records, record))]
pub fn derive_record_set(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    records::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
