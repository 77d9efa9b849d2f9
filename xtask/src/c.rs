//! The C headers: `xg_sr_stream_format.h` (libxc stream) and
//! `libxl_sr_stream_format.h` (libxl stream), drop-in replacements for the
//! ones in Xen's `tools/libs/guest` and `tools/libs/light`, generated from
//! the descriptors of `format_spec`.
//!
//! One generator writes both. A header is described by a [`HeaderSpec`]
//! (path, include guard, include, sources, opening comment) made of
//! [`Section`]s; a section is the structs, constants, record types and
//! enumerations of one layer of the format. The libxc header has three
//! sections: the stream itself, the DOMAIN_CONTEXT blob and the type codes
//! of the HVM_CONTEXT blob; the libxl header has one.
//!
//! Every name, value, size and comment comes from the descriptors. What this
//! module decides is presentation only: the order of the blocks, which
//! constants sit after which struct, the spelling of numbers, the comment
//! layout and Xen's file conventions (include guard, Emacs footer).
//!
//! Constants are placed by a naming rule rather than by a table: after a
//! struct come the constants whose C name starts with the struct's stem
//! (`IHDR_` for `xc_sr_ihdr`, `XC_SR_DC_SHARED_INFO_` for
//! `xc_sr_dc_shared_info`, the record's spec name such as `PAGE_DATA_` for a
//! record body), and the values of the enumerations its fields take; after
//! the record header come the constants of the record-type family (`REC_`)
//! and the record type codes. A section may name a different stem for a
//! struct whose constants Xen spells otherwise (`RESTORE_` for
//! `libxl__sr_hdr`). Whatever no rule places is emitted at the end of its
//! section, so no constant can be lost.
//!
//! A macro that a header shares with a header it is included beside (the
//! libxl header's `REC_ALIGN` and `REC_TYPE_END` also exist in the libxc
//! header) is spelled exactly as there: C allows a macro to be defined
//! twice only with the same replacement text.

use format_spec::domain_context::{DcType, DOMAIN_CONTEXT_CONSTANTS, DOMAIN_CONTEXT_STRUCTS};
use format_spec::hvm_context::{HvmType, HVM_CONTEXT_CONSTANTS, HVM_CONTEXT_STRUCTS};
use format_spec::layout::{
    ConstLayout, Constraint, EnumLayout, FieldKind, LengthRule, Prim, RecordLayout, StructLayout,
};
use format_spec::layout::{SpecEnum, Wire};
use format_spec::libxc::{
    DomainType, LibxcRecord, PageType, RecordHeader, CURRENT_VERSION, LIBXC_CONSTANTS,
    LIBXC_STRUCTS, SUPPORTED_VERSIONS,
};
use format_spec::libxl::{
    CheckpointStateId, EmulatorId, LibxlRecord, LibxlRecordHeader, HDR_VERSION, LIBXL_CONSTANTS,
    LIBXL_STRUCTS,
};

use crate::text::{doc_paragraphs, rename_links, wrap};
use crate::writer::{Writer, C_WIDTH};
use crate::Output;

/// Where the libxc header lives in a Xen tree (and under `generated/`).
pub const LIBXC_HEADER_PATH: &str = "tools/libs/guest/xg_sr_stream_format.h";

/// Where the libxl header lives in a Xen tree (and under `generated/`).
pub const LIBXL_HEADER_PATH: &str = "tools/libs/light/libxl_sr_stream_format.h";

/// The files (relative to the repository) that hold the description of
/// the libxc header's contents.
const LIBXC_SOURCES: &[&str] = &[
    "format-spec/src/libxc.rs",
    "format-spec/src/domain_context.rs",
    "format-spec/src/hvm_context.rs",
];

/// The file that holds the description of the libxl header's contents.
const LIBXL_SOURCES: &[&str] = &["format-spec/src/libxl.rs"];

/// The C outputs.
pub fn outputs() -> Vec<Output> {
    vec![
        Output {
            path: LIBXC_HEADER_PATH,
            contents: libxc_header(),
        },
        Output {
            path: LIBXL_HEADER_PATH,
            contents: libxl_header(),
        },
    ]
}

/// What one generated header holds and how it opens.
pub struct HeaderSpec {
    /// Path in a Xen tree.
    pub path: &'static str,
    /// The include guard macro.
    pub guard: &'static str,
    /// The system header it includes, with its brackets.
    pub include: &'static str,
    /// The description files the banner points to.
    pub sources: &'static [&'static str],
    /// Paragraphs of the comment after the include guard.
    pub intro: Vec<String>,
    /// The blocks of the header, in order.
    pub sections: Vec<Section>,
    /// Constants of headers that may be included in the same translation
    /// unit; a macro defined there too is spelled as there.
    pub siblings: Vec<&'static [ConstLayout]>,
    /// The column of each macro's value, as Xen's header lines them up:
    /// the first rule whose name matches (a name ending in `_` matches
    /// every macro it starts; `""` matches all); unmatched macros line up
    /// one column after the longest name of their block.
    pub columns: &'static [(&'static str, Align)],
    /// Whether the closing `#endif` names the guard, as some Xen headers do.
    pub endif_comment: bool,
    /// The editor settings the file ends with, as in Xen's file.
    pub footer: &'static str,
}

/// Where the values of a block of macros start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Names are padded to this many columns.
    At(usize),
    /// This many columns after the longest name the rule covers in the block.
    Widest(usize),
}

/// The SPDX line of Xen's LGPL-2.1 tools libraries (libxenguest and
/// libxenlight, where the two headers live).
pub const SPDX: &str = "/* SPDX-License-Identifier: LGPL-2.1-only */";

/// One layer of the format inside a header.
pub struct Section {
    /// Paragraphs of the comment that opens the section (none for the
    /// first section, which the header's own comment introduces).
    pub intro: Vec<String>,
    /// The wire structs, in the order they are emitted (only those with a
    /// C name that Xen's public headers do not already provide).
    pub structs: Vec<&'static StructLayout>,
    /// Whether the struct declarations are written; when not, the structs
    /// only decide where their constants go and how wide enum values are.
    pub emit_structs: bool,
    /// The named constants.
    pub constants: &'static [ConstLayout],
    /// The record types, written after `record_header`.
    pub records: &'static [RecordLayout],
    /// The struct after which the record type codes are written.
    pub record_header: Option<&'static StructLayout>,
    /// The lowest stream version of the records (record comments mention
    /// later ones).
    pub first_version: u32,
    /// Every enumeration whose values the section defines; those no field
    /// refers to are written at the end of the section.
    pub enums: Vec<&'static EnumLayout>,
    /// Structs whose constants use another stem than the struct's name:
    /// (C name of the struct, stem).
    pub stems: &'static [(&'static str, &'static str)],
}

/// The structs of `all` that a generated header declares.
fn declared(all: &[&'static StructLayout]) -> Vec<&'static StructLayout> {
    all.iter()
        .copied()
        .filter(|s| s.c_name.is_some() && !s.c_external)
        .collect()
}

/// The record of `set` with type code `code`.
fn record_of(set: &'static [RecordLayout], code: u32) -> &'static RecordLayout {
    set.iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("no record 0x{code:x} in the description"))
}

/// What `xg_sr_stream_format.h` holds.
pub fn libxc_spec() -> HeaderSpec {
    let versions: Vec<String> = SUPPORTED_VERSIONS.iter().map(|v| v.to_string()).collect();
    let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
    let records = LibxcRecord::LAYOUT.records;
    let dc_record = record_of(records, LibxcRecord::DOMAIN_CONTEXT);
    let hvm_record = record_of(records, LibxcRecord::HVM_CONTEXT);
    let dc_structs = declared(DOMAIN_CONTEXT_STRUCTS);
    let dc_desc = dc_structs[0].c_type();
    let dc_prefix = common_prefix(dc_structs.iter().filter_map(|s| s.c_name));
    let hvm_prefix = common_prefix(HVM_CONTEXT_STRUCTS.iter().filter_map(|s| s.c_name));
    HeaderSpec {
        path: LIBXC_HEADER_PATH,
        guard: "__STREAM_FORMAT__H",
        include: "<inttypes.h>",
        sources: LIBXC_SOURCES,
        intro: vec![
            format!(
                "Wire layout of the libxc migration stream, revision {CURRENT_VERSION} of \
                 docs/specs/libxc-migration-stream.pandoc (streams of version {} are read).",
                join_list(&versions)
            ),
            format!(
                "Every record is a {}, then its body, then zero padding to a multiple of \
                 REC_ALIGN octets.",
                RecordHeader::LAYOUT.c_type()
            ),
        ],
        sections: vec![
            Section {
                intro: Vec::new(),
                structs: declared(LIBXC_STRUCTS),
                emit_structs: true,
                constants: LIBXC_CONSTANTS,
                records,
                record_header: Some(&RecordHeader::LAYOUT),
                first_version: first_version(),
                enums: vec![&DomainType::LAYOUT, &PageType::LAYOUT],
                stems: &[],
            },
            Section {
                intro: vec![
                    format!(
                        "The {} blob: the body of a {} record. It is a run of \
                         entries, each a {dc_desc} followed by the entry's body and zero \
                         padding; every integer is in the byte order of the stream.",
                        dc_record.spec_name, dc_record.c_name
                    ),
                    format!(
                        "Xen has no C names for this blob (the hypercall that makes it was \
                         never merged): the {dc_prefix} and {} names are this project's own.",
                        dc_prefix.to_uppercase()
                    ),
                ],
                structs: dc_structs,
                emit_structs: true,
                constants: DOMAIN_CONTEXT_CONSTANTS,
                records: &[],
                record_header: None,
                first_version: CURRENT_VERSION,
                enums: vec![&DcType::LAYOUT],
                stems: &[],
            },
            Section {
                intro: vec![
                    format!(
                        "Magic and entry type codes of the {} blob, the body of a {} \
                         record, under this project's {} names.",
                        hvm_record.spec_name,
                        hvm_record.c_name,
                        hvm_prefix.to_uppercase()
                    ),
                    "Xen's public/hvm/save.h has the same values under its own names \
                     (HVM_FILE_MAGIC, HVM_SAVE_CODE(), struct hvm_save_descriptor, ...). The \
                     names here cannot clash with those, so both headers can be included \
                     together; the blob's structs are left to Xen's header."
                        .to_string(),
                ],
                structs: declared(HVM_CONTEXT_STRUCTS),
                emit_structs: false,
                constants: HVM_CONTEXT_CONSTANTS,
                records: &[],
                record_header: None,
                first_version: CURRENT_VERSION,
                enums: vec![&HvmType::LAYOUT],
                stems: &[],
            },
        ],
        siblings: Vec::new(),
        columns: &[
            ("IHDR_MARKER", Align::At(13)),
            ("IHDR_ID", Align::At(13)),
            ("_IHDR_OPT_ENDIAN", Align::At(17)),
            ("REC_ALIGN", Align::At(30)),
            ("REC_LENGTH_MAX", Align::At(30)),
            ("REC_TYPE_OPTIONAL", Align::At(30)),
            ("REC_TYPE_", Align::Widest(2)),
        ],
        endif_comment: false,
        footer: EMACS_FOOTER,
    }
}

/// What `libxl_sr_stream_format.h` holds.
pub fn libxl_spec() -> HeaderSpec {
    let records = LibxlRecord::LAYOUT.records;
    let libxc_context = record_of(records, LibxlRecord::LIBXC_CONTEXT);
    HeaderSpec {
        path: LIBXL_HEADER_PATH,
        guard: "LIBXL__SR_STREAM_FORMAT_H",
        include: "<stdint.h>",
        sources: LIBXL_SOURCES,
        intro: vec![
            format!(
                "Wire layout of the libxl migration stream, version {HDR_VERSION} of \
                 docs/specs/libxl-migration-stream.pandoc."
            ),
            format!(
                "Every record is a {}, then its body, then zero padding to a multiple of \
                 REC_ALIGN octets. A {} record is followed directly by a libxc stream (see \
                 xg_sr_stream_format.h); the libxl records resume after its END record.",
                LibxlRecordHeader::LAYOUT.c_type(),
                libxc_context.c_name
            ),
        ],
        sections: vec![Section {
            intro: Vec::new(),
            structs: declared(LIBXL_STRUCTS),
            emit_structs: true,
            constants: LIBXL_CONSTANTS,
            records,
            record_header: Some(&LibxlRecordHeader::LAYOUT),
            first_version: HDR_VERSION,
            enums: vec![&EmulatorId::LAYOUT, &CheckpointStateId::LAYOUT],
            // Xen names the stream header's constants RESTORE_*.
            stems: &[("libxl__sr_hdr", "RESTORE")],
        }],
        siblings: vec![LIBXC_CONSTANTS],
        columns: &[("REC_TYPE_", Align::Widest(1)), ("", Align::At(29))],
        endif_comment: true,
        footer: EMACS_FOOTER_SHORT,
    }
}

/// The C spelling of every Rust item a doc comment may link to: constants
/// and structs by their C names, enumerations by the family of their
/// values (`EMULATOR_*`).
fn c_names() -> Vec<(&'static str, String)> {
    let mut names = Vec::new();
    for table in [
        LIBXC_CONSTANTS,
        LIBXL_CONSTANTS,
        DOMAIN_CONTEXT_CONSTANTS,
        HVM_CONTEXT_CONSTANTS,
    ] {
        for c in table {
            if let Some(name) = c.c_name {
                names.push((c.rust_name, name.to_string()));
            }
        }
    }
    for table in [
        LIBXC_STRUCTS,
        LIBXL_STRUCTS,
        DOMAIN_CONTEXT_STRUCTS,
        HVM_CONTEXT_STRUCTS,
    ] {
        for s in table {
            if s.c_name.is_some() {
                names.push((s.rust_name, s.c_type()));
            }
        }
    }
    for e in [
        &DomainType::LAYOUT,
        &PageType::LAYOUT,
        &EmulatorId::LAYOUT,
        &CheckpointStateId::LAYOUT,
        &DcType::LAYOUT,
        &HvmType::LAYOUT,
    ] {
        let prefix = common_prefix(e.variants.iter().filter_map(|v| v.c_name));
        if !prefix.is_empty() {
            names.push((e.rust_name, format!("{prefix}*")));
        }
    }
    names
}

/// Plain paragraphs of a doc comment for a C comment: intra-doc links to
/// items with a C name (`` [`DC_MAGIC`] ``) are spelled with that name
/// (`XC_SR_DC_MAGIC`); other markup is removed as for every output.
fn c_doc(doc: &str) -> Vec<String> {
    doc_paragraphs(&rename_links(doc, &c_names()))
}

/// The C integer suffix for a value of `size` octets.
fn suffix(size: usize) -> &'static str {
    if size > 4 {
        "ULL"
    } else {
        "U"
    }
}

/// A number of `size` octets as C source: hex, with the suffix of its width.
fn c_number(value: u64, size: usize) -> String {
    format!("0x{value:x}{}", suffix(size))
}

/// A number zero-padded to the full width of its type, as Xen spells record
/// and domain type codes (`0x00000001U`).
fn c_number_padded(value: u64, size: usize) -> String {
    format!("0x{value:0width$x}{}", suffix(size), width = size * 2)
}

/// One `#define`: its comment, name, value and same-line remark.
struct Macro {
    name: &'static str,
    value: String,
    doc: Vec<String>,
    note: Option<&'static str>,
}

impl Macro {
    fn new(name: &'static str, value: String, doc: Vec<String>) -> Macro {
        Macro {
            name,
            value,
            doc,
            note: None,
        }
    }
}

/// The rule of `columns` that places macro `name`, if any.
fn align_rule(columns: &[(&str, Align)], name: &str) -> Option<usize> {
    columns.iter().position(|(rule, _)| {
        rule.is_empty() || *rule == name || (rule.ends_with('_') && name.starts_with(rule))
    })
}

/// Writes a block of macros with their values lined up as `columns` says.
fn macro_block(w: &mut Writer, macros: &[Macro], columns: &[(&str, Align)]) {
    if macros.is_empty() {
        return;
    }
    let rules: Vec<Option<usize>> = macros.iter().map(|m| align_rule(columns, m.name)).collect();
    let widest = |rule: Option<usize>| {
        macros
            .iter()
            .zip(&rules)
            .filter(|(_, r)| **r == rule)
            .map(|(m, _)| m.name.len())
            .max()
            .unwrap_or(0)
    };
    w.blank();
    for (m, rule) in macros.iter().zip(&rules) {
        let col = match rule.map(|i| columns[i].1) {
            Some(Align::At(n)) => n,
            Some(Align::Widest(extra)) => widest(*rule) + extra,
            None => widest(None) + 1,
        };
        let note = m.note.map(|n| format!(" /* {n} */")).unwrap_or_default();
        w.comment_paragraphs(&m.doc)
            .line(format!("#define {:<col$}{}{note}", m.name, m.value));
    }
}

/// How a constant's value is spelled in C.
fn const_value(c: &ConstLayout) -> String {
    match c.c_expr {
        Some(e) => e.to_string(),
        None => c_number(c.value, c.size),
    }
}

/// The macro of a named constant, if the C header has one. A constant whose
/// C name one of `siblings` also defines is spelled as there.
fn const_macro(c: &ConstLayout, siblings: &[&[ConstLayout]]) -> Option<Macro> {
    let name = c.c_name?;
    let shared = siblings
        .iter()
        .flat_map(|table| table.iter())
        .find(|o| o.c_name == Some(name));
    let value = const_value(shared.unwrap_or(c));
    Some(Macro::new(name, value, c_doc(c.doc)))
}

/// The lowest stream version this description reads.
fn first_version() -> u32 {
    SUPPORTED_VERSIONS
        .iter()
        .copied()
        .min()
        .unwrap_or(CURRENT_VERSION)
}

/// The macro of a record type code, its comment noting the versions
/// after `first_version`.
fn record_macro(r: &RecordLayout, first_version: u32) -> Macro {
    let mut doc = c_doc(r.doc);
    let mut notes = vec![body_note(r)];
    if !r.mandatory {
        notes.push("Optional: a receiver that does not know it may skip it.".to_string());
    }
    if r.since > first_version {
        notes.push(format!("Since stream version {}.", r.since));
    }
    match r.deprecated {
        Some(0) => notes.push("Not valid in any stream version.".to_string()),
        Some(v) => notes.push(format!("Deprecated from stream version {v}.")),
        None => {}
    }
    if !notes.is_empty() {
        doc.push(notes.join(" "));
    }
    Macro::new(
        r.c_name,
        c_number_padded(u64::from(r.code), std::mem::size_of_val(&r.code)),
        doc,
    )
}

/// What a record's body is, in C terms, from its layout and length rule.
fn body_note(r: &RecordLayout) -> String {
    // The C spelling of the body's struct, or of its trailing array when
    // the header has no struct for the body itself.
    let layout = r.body.and_then(|b| {
        if b.c_name.is_some() && !b.c_external {
            Some(b.c_type())
        } else {
            b.trailing().map(|f| match f.kind {
                FieldKind::TrailingStruct(e) => format!("an array of {}", e.c_type()),
                FieldKind::TrailingPrim(p) => format!("an array of {}", p.c_type()),
                _ => unreachable!("trailing() returns trailing arrays"),
            })
        }
    });
    let open_ended = r.body.is_some_and(|b| b.trailing().is_none());
    match (r.length, layout) {
        (LengthRule::Exact(0), _) => "No body.".to_string(),
        (LengthRule::Rest { element, .. }, Some(l)) if open_ended => {
            if element == 1 {
                format!("Body: {l}, then any number of octets.")
            } else {
                format!("Body: {l}, then any number of {element}-octet elements.")
            }
        }
        (LengthRule::NonEmpty, _) => "Body: opaque, at least one octet.".to_string(),
        (LengthRule::Exact(n), None) => format!("Body: opaque, exactly {n} octets."),
        (_, Some(l)) => format!("Body: {l}."),
        (_, None) => "Body: opaque.".to_string(),
    }
}

/// The macros of an enumeration's values that have C names; `size` is the
/// width of the field that holds them.
fn enum_macros(e: &EnumLayout, size: usize) -> Vec<Macro> {
    e.variants
        .iter()
        .filter_map(|v| {
            Some(Macro {
                note: v.c_note,
                ..Macro::new(v.c_name?, c_number_padded(v.value, size), c_doc(v.doc))
            })
        })
        .collect()
}

/// The longest common prefix of `names` that ends with `_`.
fn common_prefix<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    let Some(first) = names.first() else {
        return String::new();
    };
    let mut len = first.len();
    for n in &names[1..] {
        len = len.min(
            first
                .bytes()
                .zip(n.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    match first[..len].rfind('_') {
        Some(i) => first[..=i].to_string(),
        None => String::new(),
    }
}

/// Whether a constant's C name belongs to the family `stem` (`IHDR` takes
/// `IHDR_ID` and `_IHDR_OPT_ENDIAN`).
fn in_family(c_name: &str, stem: &str) -> bool {
    c_name
        .trim_start_matches('_')
        .strip_prefix(stem)
        .is_some_and(|rest| rest.starts_with('_'))
}

/// The records of `records` whose body is (or starts with) `s`.
fn records_with_body(
    records: &'static [RecordLayout],
    s: &StructLayout,
) -> Vec<&'static RecordLayout> {
    records
        .iter()
        .filter(|r| r.body.is_some_and(|b| b.rust_name == s.rust_name))
        .collect()
}

/// The enumerations a struct's fields take their values from, with the
/// width of the field.
fn field_enums(s: &StructLayout) -> Vec<(&'static EnumLayout, usize)> {
    s.fields
        .iter()
        .filter_map(|f| match (f.constraint, f.kind) {
            (Constraint::Enum(e), FieldKind::Prim(p)) => Some((e, p.size())),
            _ => None,
        })
        .collect()
}

/// The C declaration of one struct, comments included.
fn struct_decl(w: &mut Writer, s: &StructLayout, records: &[&RecordLayout]) {
    let name = s.c_name.expect("only structs with a C name are emitted");
    let mut doc = c_doc(s.doc);
    if !records.is_empty() {
        let names: Vec<&str> = records.iter().map(|r| r.c_name).collect();
        let noun = if names.len() == 1 {
            "record"
        } else {
            "records"
        };
        // A struct with no trailing array under an open-ended length rule
        // is only the start of the body.
        let starts = s.trailing().is_none()
            && records
                .iter()
                .all(|r| matches!(r.length, LengthRule::Rest { .. }));
        let what = if starts { "Start of the body" } else { "Body" };
        doc.push(format!("{what} of the {} {noun}.", join_list(&names)));
    }
    let typedef = if s.c_typedef { "typedef " } else { "" };
    w.blank()
        .comment_paragraphs(&doc)
        .line(format!("{typedef}struct {name}"))
        .line("{");
    w.indented(|w| {
        for f in s.fields {
            w.comment_paragraphs(&c_doc(f.doc))
                .line(format!("{};", field_decl(f)));
        }
    });
    if s.c_typedef {
        w.line(format!("}} {name};"));
    } else {
        w.line("};");
    }
}

/// The C declaration of a field as Xen's headers spell it: a trailing
/// array is a zero-length array (`uint64_t pfn[0]`), as in Xen, rather than
/// a C99 flexible array member. gcc lays out an initialiser of a struct
/// that nests one differently from the other, so only Xen's spelling gives
/// Xen's code the same object code (see `generated-tests/tests/objects.rs`).
fn field_decl(f: &format_spec::layout::FieldLayout) -> String {
    match f.kind {
        FieldKind::TrailingPrim(_) | FieldKind::TrailingStruct(_) => {
            let decl = f.c_decl();
            match decl.strip_suffix("[]") {
                Some(stem) => format!("{stem}[0]"),
                None => decl,
            }
        }
        _ => f.c_decl(),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The text of `xg_sr_stream_format.h`.
pub fn libxc_header() -> String {
    header(&libxc_spec())
}

/// The text of `libxl_sr_stream_format.h`.
pub fn libxl_header() -> String {
    header(&libxl_spec())
}

/// The text of the header `spec` describes, its banner stamped with the
/// checksum of the rest (see [`crate::stamp`]).
pub fn header(spec: &HeaderSpec) -> String {
    let mut w = Writer::c();
    w.line(SPDX)
        .raw(&banner(spec.sources))
        .line(format!("#ifndef {}", spec.guard))
        .line(format!("#define {}", spec.guard))
        .blank()
        .comment_paragraphs(&spec.intro)
        .blank()
        .line(format!("#include {}", spec.include));
    for section in &spec.sections {
        emit_section(&mut w, section, spec);
    }
    w.blank();
    if spec.endif_comment {
        w.line(format!("#endif /* {} */", spec.guard)).blank();
    } else {
        w.line("#endif");
    }
    w.raw(spec.footer);
    crate::stamp::stamp(&w.finish())
}

/// The comment that says where a generated C file comes from, how to
/// regenerate it and what the generator wrote (its checksum).
pub fn banner(sources: &[&str]) -> String {
    let mut w = Writer::c();
    w.line("/*");
    let text = format!(
        "Generated by `cargo xtask codegen` of xen-stream-spec from the description \
         in {}. Do not edit: change the description and run `cargo xtask codegen \
         --xen-tree XEN` (which refuses to overwrite hand edits).",
        join_list(sources)
    );
    for line in wrap(&text, C_WIDTH - 3) {
        w.line(format!(" * {line}"));
    }
    w.line(format!(
        " * {}{}",
        crate::stamp::TAG,
        crate::stamp::PLACEHOLDER
    ))
    .line(" */");
    w.finish()
}

/// Writes one section: its comment, each struct followed by its macros,
/// then whatever the naming rules did not place.
fn emit_section(w: &mut Writer, sec: &Section, spec: &HeaderSpec) {
    let siblings = &spec.siblings[..];
    let columns = spec.columns;
    if !sec.intro.is_empty() {
        w.blank().comment_paragraphs(&sec.intro);
    }
    let struct_prefix = common_prefix(sec.structs.iter().filter_map(|s| s.c_name));
    // Constants may carry the structs' common prefix (XC_SR_DC_) or not (IHDR_).
    let const_prefix = struct_prefix.to_uppercase();
    let record_prefix = common_prefix(sec.records.iter().map(|r| r.c_name));
    let record_family = record_prefix.split('_').next().unwrap_or("").to_string();

    let mut placed = vec![false; sec.constants.len()];
    let mut take_family = |stem: &str| -> Vec<Macro> {
        let mut found = Vec::new();
        if stem.is_empty() {
            return found;
        }
        let long_stem = format!("{const_prefix}{stem}");
        for (i, c) in sec.constants.iter().enumerate() {
            if placed[i] {
                continue;
            }
            if let Some(name) = c.c_name {
                if in_family(name, stem) || in_family(name, &long_stem) {
                    placed[i] = true;
                    found.extend(const_macro(c, siblings));
                }
            }
        }
        found
    };

    let mut emitted_enums: Vec<&str> = Vec::new();
    for s in &sec.structs {
        let name = s.c_name.unwrap_or("");
        let bodies = records_with_body(sec.records, s);
        if sec.emit_structs {
            struct_decl(w, s, &bodies);
        }

        let mut macros = Vec::new();
        let own_stem = match sec.stems.iter().find(|(n, _)| *n == name) {
            Some((_, stem)) => stem.to_string(),
            None => name[struct_prefix.len()..].to_uppercase(),
        };
        macros.extend(take_family(&own_stem));
        for r in &bodies {
            macros.extend(take_family(r.spec_name));
        }
        for (e, size) in field_enums(s) {
            if !emitted_enums.contains(&e.rust_name) {
                emitted_enums.push(e.rust_name);
                macros.extend(enum_macros(e, size));
            }
        }
        if sec
            .record_header
            .is_some_and(|h| h.rust_name == s.rust_name)
        {
            // Xen writes the record codes between the family's other
            // macros and REC_TYPE_OPTIONAL.
            let (after, before): (Vec<Macro>, Vec<Macro>) = take_family(&record_family)
                .into_iter()
                .partition(|m| m.name.starts_with(&record_prefix));
            macros.extend(before);
            macro_block(w, &macros, columns);
            macro_block(
                w,
                &sec.records
                    .iter()
                    .map(|r| record_macro(r, sec.first_version))
                    .collect::<Vec<_>>(),
                columns,
            );
            macro_block(w, &after, columns);
        } else {
            macro_block(w, &macros, columns);
        }
    }

    // Enumerations no field refers to, with the width their largest value needs.
    let mut rest = Vec::new();
    for e in &sec.enums {
        if !emitted_enums.contains(&e.rust_name) {
            let max = e.variants.iter().map(|v| v.value).max().unwrap_or(0);
            let size = if max > Prim::U32.max() { 8 } else { 4 };
            rest.extend(enum_macros(e, size));
        }
    }
    for (i, c) in sec.constants.iter().enumerate() {
        if !placed[i] {
            rest.extend(const_macro(c, siblings));
        }
    }
    macro_block(w, &rest, columns);
}

/// The editor settings of Xen's `libxl_sr_stream_format.h`.
const EMACS_FOOTER_SHORT: &str = "/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
";

/// The editor settings most Xen C files end with.
const EMACS_FOOTER: &str = "/*
 * Local variables:
 * mode: C
 * c-file-style: \"BSD\"
 * c-basic-offset: 4
 * tab-width: 4
 * indent-tabs-mode: nil
 * End:
 */
";

#[cfg(test)]
mod tests {
    use super::*;

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn every_column_rule_places_a_macro_of_its_header() {
        // The column table names macros by their C spelling; a macro
        // renamed in the description must not leave a rule that places
        // nothing (and so a header that silently loses Xen's layout).
        for (spec, text) in headers() {
            for (rule, _) in spec.columns.iter().filter(|(r, _)| !r.is_empty()) {
                let placed = text.lines().any(|l| {
                    l.strip_prefix("#define ").is_some_and(|name| {
                        let name = name.split_whitespace().next().unwrap_or("");
                        align_rule(&[(rule, Align::At(0))], name).is_some()
                    })
                });
                assert!(
                    placed,
                    "{}: column rule `{rule}` places no macro",
                    spec.path
                );
            }
        }
    }

    /// Both headers, with the names of the items they must define.
    fn headers() -> Vec<(HeaderSpec, String)> {
        vec![
            (libxc_spec(), libxc_header()),
            (libxl_spec(), libxl_header()),
        ]
    }

    #[test]
    fn output_is_deterministic_and_tidy() {
        for (spec, h) in headers() {
            assert_eq!(h, header(&spec));
            tidy(&h);
        }
    }

    fn tidy(h: &str) {
        assert!(h.ends_with("*/\n"));
        for (i, line) in h.lines().enumerate() {
            assert!(
                line.chars().count() <= C_WIDTH,
                "line {} too long: {line}",
                i + 1
            );
            assert!(!line.ends_with(' '), "line {} ends with a space", i + 1);
            assert!(
                !line.contains('\t') && !line.contains('\r'),
                "line {}",
                i + 1
            );
            let indent = line.len() - line.trim_start().len();
            assert!(
                indent == 0 || indent == 4 || line.trim_start().starts_with('*'),
                "line {} is not indented by 4: {line}",
                i + 1
            );
        }
    }

    #[test]
    fn banner_names_the_sources_that_exist() {
        for (spec, h) in headers() {
            let head: String = h.lines().take(8).collect::<Vec<_>>().join(" ");
            let head = head.replace(" * ", " ");
            assert!(head.contains("cargo xtask codegen") && head.contains("Do not edit"));
            for source in spec.sources {
                assert!(head.contains(source), "{source} not in the banner");
                assert!(crate::repo_root().join(source).is_file(), "{source}");
            }
            assert!(h.contains(&format!("#ifndef {0}\n#define {0}\n", spec.guard)));
            assert!(h.contains(&format!("\n#include {}\n", spec.include)));
        }
    }

    #[test]
    fn every_item_of_every_section_is_defined_exactly_once() {
        for (spec, h) in headers() {
            for sec in &spec.sections {
                for c in sec.constants {
                    if let Some(name) = c.c_name {
                        assert_eq!(count(&h, &format!("#define {name} ")), 1, "{name}");
                    }
                }
                for r in sec.records {
                    let line = format!("#define {} ", r.c_name);
                    assert_eq!(count(&h, &line), 1, "{}", r.c_name);
                }
                for e in &sec.enums {
                    for v in e.variants {
                        let Some(name) = v.c_name else { continue };
                        assert_eq!(count(&h, &format!("#define {name} ")), 1, "{name}");
                    }
                }
                for st in &sec.structs {
                    let name = st.c_name.unwrap();
                    let n = count(&h, &format!("struct {name}\n{{\n"));
                    assert_eq!(n, usize::from(sec.emit_structs), "{name}");
                    if st.c_typedef {
                        assert_eq!(count(&h, &format!("}} {name};\n")), 1, "{name}");
                    }
                }
            }
        }
    }

    #[test]
    fn libxl_header_typedefs_every_struct_and_places_its_macros() {
        let h = libxl_header();
        for st in LIBXL_STRUCTS {
            let name = st.c_name.unwrap();
            assert!(st.c_typedef, "{name} is typedef'd in Xen");
            assert!(
                h.contains(&format!("typedef struct {name}\n{{\n")),
                "{name}"
            );
        }
        let at = |needle: &str| h.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("struct libxl__sr_hdr\n") < at("#define RESTORE_STREAM_IDENT "));
        assert!(at("#define RESTORE_OPT_LEGACY ") < at("struct libxl__sr_rec_hdr\n"));
        assert!(at("struct libxl__sr_rec_hdr\n") < at("#define REC_ALIGN "));
        assert!(at("#define REC_TYPE_CHECKPOINT_STATE ") < at("struct libxl__sr_emulator_hdr\n"));
        assert!(at("struct libxl__sr_emulator_hdr\n") < at("#define EMULATOR_UNKNOWN "));
        assert!(at("struct libxl_sr_checkpoint_state\n") < at("#define CHECKPOINT_NEW "));
    }

    #[test]
    fn macros_shared_with_the_libxc_header_are_spelled_alike() {
        // C accepts a second definition of a macro only with the same text.
        let defs = |h: &str| -> Vec<(String, String)> {
            h.lines()
                .filter_map(|l| l.strip_prefix("#define "))
                .filter_map(|l| l.split_once(' '))
                .map(|(n, v)| (n.to_string(), v.trim().to_string()))
                .collect()
        };
        let libxc = defs(&libxc_header());
        let libxl = defs(&libxl_header());
        let mut shared = 0;
        for (name, value) in &libxl {
            if let Some((_, other)) = libxc.iter().find(|(n, _)| n == name) {
                assert_eq!(value, other, "{name}");
                shared += 1;
            }
        }
        // REC_ALIGN and REC_TYPE_END at least.
        assert!(shared >= 2, "{shared}");
        for c in LIBXL_CONSTANTS {
            let twin = LIBXC_CONSTANTS
                .iter()
                .find(|o| o.c_name.is_some() && o.c_name == c.c_name);
            if let Some(twin) = twin {
                assert_eq!(twin.value, c.value, "{}", twin.rust_name);
            }
        }
    }

    #[test]
    fn blob_sections_come_after_the_records_and_do_not_use_xen_names() {
        let h = libxc_header();
        let at = |needle: &str| h.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("#define REC_TYPE_DOMAIN_CONTEXT ") < at("struct xc_sr_dc_desc\n"));
        assert!(at("struct xc_sr_dc_desc\n") < at("#define XC_SR_DC_TYPE_END "));
        assert!(at("struct xc_sr_dc_shared_info\n") < at("#define XC_SR_DC_SHARED_INFO_COMPAT "));
        assert!(at("#define XC_SR_DC_MAGIC ") < at("#define XC_SR_HVM_TYPE_END "));
        // Names Xen's public/hvm/save.h defines must not be redefined here.
        for line in h.lines() {
            let Some(def) = line.strip_prefix("#define ") else {
                continue;
            };
            assert!(!def.starts_with("HVM_"), "{line}");
        }
        assert!(!h.contains("\nstruct hvm_save") && !h.contains("typedef struct hvm"));
        // The doc links of the blob's structs are spelled with C names.
        assert!(h.contains("/* XC_SR_DC_MAGIC. */"));
        assert!(!h.contains("DcType"));
    }

    #[test]
    fn every_named_libxc_item_is_defined_exactly_once() {
        let h = libxc_header();
        for c in LIBXC_CONSTANTS {
            if let Some(name) = c.c_name {
                assert_eq!(count(&h, &format!("#define {name} ")), 1, "{name}");
            }
        }
        for r in LibxcRecord::LAYOUT.records {
            let line = format!("#define {} ", r.c_name);
            assert_eq!(count(&h, &line), 1, "{}", r.c_name);
        }
        for v in DomainType::LAYOUT.variants {
            let name = v.c_name.expect("domain types have C names");
            assert_eq!(count(&h, &format!("#define {name} ")), 1, "{name}");
        }
        for s in LIBXC_STRUCTS {
            let Some(name) = s.c_name else { continue };
            let n = count(&h, &format!("struct {name}\n{{\n"));
            assert_eq!(n, usize::from(!s.c_external), "{name}");
        }
    }

    #[test]
    fn macros_follow_their_structs() {
        // Presentation: IHDR_* after the image header, the record types after
        // the record header, PAGE_DATA_* after the PAGE_DATA body.
        let h = libxc_header();
        let at = |needle: &str| h.find(needle).unwrap_or_else(|| panic!("{needle}"));
        let ihdr = at("struct xc_sr_ihdr\n");
        let dhdr = at("struct xc_sr_dhdr\n");
        let rhdr = at("struct xc_sr_rhdr\n");
        let page = at("struct xc_sr_rec_page_data_header\n");
        let pv_info = at("struct xc_sr_rec_x86_pv_info\n");
        assert!(ihdr < at("#define IHDR_MARKER ") && at("#define _IHDR_OPT_ENDIAN ") < dhdr);
        assert!(dhdr < at("#define DHDR_TYPE_X86_HVM ") && at("#define DHDR_TYPE_X86_HVM ") < rhdr);
        assert!(rhdr < at("#define REC_ALIGN ") && at("#define REC_TYPE_DOMAIN_CONTEXT ") < page);
        assert!(
            page < at("#define PAGE_DATA_TYPE_MASK ")
                && at("#define PAGE_DATA_TYPE_MASK ") < pv_info
        );
    }

    #[test]
    fn comments_wrap_and_escape() {
        let long = "word ".repeat(40);
        let comment = |column: bool, paragraphs: &[String]| {
            let mut w = Writer::c();
            if column {
                w.indented(|w| {
                    w.comment_paragraphs(paragraphs);
                });
            } else {
                w.comment_paragraphs(paragraphs);
            }
            w.finish()
        };
        let c = comment(true, &[long.trim().to_string(), "a */ b".to_string()]);
        assert!(c.starts_with("    /*\n") && c.ends_with("     */\n"));
        assert!(c.lines().all(|l| l.len() <= C_WIDTH));
        assert!(c.contains("a * / b"));
        assert_eq!(comment(false, &["short".to_string()]), "/* short */\n");
        assert_eq!(comment(false, &[]), "");
    }

    #[test]
    fn numbers_take_the_suffix_of_their_width() {
        assert_eq!(c_number(8, 4), "0x8U");
        assert_eq!(c_number(8, 2), "0x8U");
        assert_eq!(c_number(1 << 40, 8), "0x10000000000ULL");
        assert_eq!(c_number_padded(0x13, 4), "0x00000013U");
    }
}
