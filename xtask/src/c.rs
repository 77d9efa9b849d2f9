//! The C header `xg_sr_stream_format.h`: a drop-in replacement for the one
//! in Xen's `tools/libs/guest`, generated from the libxc descriptors.
//!
//! Every name, value, size and comment comes from `format_spec::libxc`.
//! What this module decides is presentation only: the order of the blocks,
//! which constants sit after which struct, the spelling of numbers, the
//! comment layout and Xen's file conventions (include guard, Emacs footer).
//!
//! Constants are placed by a naming rule rather than by a table: after a
//! struct come the constants whose C name starts with the struct's stem
//! (`IHDR_` for `xc_sr_ihdr`, the record's spec name such as `PAGE_DATA_`
//! for a record body); after the record header come the constants of the
//! record-type family (`REC_`) and the record type codes. Whatever no rule
//! places is emitted in a final block, so no constant can be lost.

use format_spec::layout::{
    ConstLayout, Constraint, EnumLayout, FieldKind, LengthRule, Prim, RecordLayout, StructLayout,
};
use format_spec::layout::{SpecEnum, Wire};
use format_spec::libxc::{
    DomainType, LibxcRecord, PageType, RecordHeader, CURRENT_VERSION, LIBXC_CONSTANTS,
    LIBXC_STRUCTS, SUPPORTED_VERSIONS,
};

use crate::text::{doc_paragraphs, wrap};
use crate::Output;

/// Where the libxc header lives in a Xen tree (and under `generated/`).
pub const LIBXC_HEADER_PATH: &str = "tools/libs/guest/xg_sr_stream_format.h";

/// Xen's include guard for the libxc header, kept for drop-in use.
const LIBXC_GUARD: &str = "__STREAM_FORMAT__H";

/// The file (relative to the repository) that holds the description.
const LIBXC_SOURCE: &str = "format-spec/src/libxc.rs";

/// Lines are wrapped to fit this many columns.
const WIDTH: usize = 80;

/// The C outputs.
pub fn outputs() -> Vec<Output> {
    vec![Output {
        path: LIBXC_HEADER_PATH,
        contents: libxc_header(),
    }]
}

/// A `/* ... */` comment for `doc`, indented by `indent`: one line when it
/// fits, else a block with one ` * ` line per wrapped line and a blank
/// ` *` line between paragraphs. Empty docs give no comment.
pub fn c_comment(indent: &str, paragraphs: &[String]) -> String {
    let paragraphs: Vec<String> = paragraphs
        .iter()
        .map(|p| p.replace("*/", "* /"))
        .filter(|p| !p.trim().is_empty())
        .collect();
    if paragraphs.is_empty() {
        return String::new();
    }
    if paragraphs.len() == 1 {
        let one = format!("{indent}/* {} */", paragraphs[0]);
        if one.chars().count() <= WIDTH {
            return one + "\n";
        }
    }
    let mut out = format!("{indent}/*\n");
    let text_width = WIDTH - indent.len() - 3;
    for (i, p) in paragraphs.iter().enumerate() {
        if i > 0 {
            out.push_str(&format!("{indent} *\n"));
        }
        for line in wrap(p, text_width) {
            out.push_str(&format!("{indent} * {line}\n"));
        }
    }
    out.push_str(&format!("{indent} */\n"));
    out
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

/// One `#define`: its comment, name and value.
struct Macro {
    name: &'static str,
    value: String,
    doc: Vec<String>,
}

/// Emits a block of macros with their values aligned in one column.
fn macro_block(out: &mut String, macros: &[Macro]) {
    if macros.is_empty() {
        return;
    }
    let col = macros.iter().map(|m| m.name.len()).max().unwrap_or(0) + 1;
    out.push('\n');
    for m in macros {
        out.push_str(&c_comment("", &m.doc));
        out.push_str(&format!("#define {:<col$}{}\n", m.name, m.value));
    }
}

/// The macro of a named constant, if the C header has one.
fn const_macro(c: &ConstLayout) -> Option<Macro> {
    let name = c.c_name?;
    let value = match c.c_expr {
        Some(e) => e.to_string(),
        None => c_number(c.value, c.size),
    };
    Some(Macro {
        name,
        value,
        doc: doc_paragraphs(c.doc),
    })
}

/// The lowest stream version this description reads.
fn first_version() -> u32 {
    SUPPORTED_VERSIONS
        .iter()
        .copied()
        .min()
        .unwrap_or(CURRENT_VERSION)
}

/// The macro of a record type code, its comment noting the versions.
fn record_macro(r: &RecordLayout) -> Macro {
    let mut doc = doc_paragraphs(r.doc);
    let mut notes = vec![body_note(r)];
    if !r.mandatory {
        notes.push("Optional: a receiver that does not know it may skip it.".to_string());
    }
    if r.since > first_version() {
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
    Macro {
        name: r.c_name,
        value: c_number_padded(u64::from(r.code), std::mem::size_of_val(&r.code)),
        doc,
    }
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
    match (r.length, layout) {
        (LengthRule::Exact(0), _) => "No body.".to_string(),
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
                name: v.c_name?,
                value: c_number_padded(v.value, size),
                doc: doc_paragraphs(v.doc),
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

/// The records whose body is `s`.
fn records_with_body(s: &StructLayout) -> Vec<&'static RecordLayout> {
    LibxcRecord::LAYOUT
        .records
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
fn struct_decl(out: &mut String, s: &StructLayout, records: &[&RecordLayout]) {
    let name = s.c_name.expect("only structs with a C name are emitted");
    let mut doc = doc_paragraphs(s.doc);
    if !records.is_empty() {
        let names: Vec<&str> = records.iter().map(|r| r.c_name).collect();
        let noun = if names.len() == 1 {
            "record"
        } else {
            "records"
        };
        doc.push(format!("Body of the {} {noun}.", join_list(&names)));
    }
    out.push('\n');
    out.push_str(&c_comment("", &doc));
    if s.c_typedef {
        out.push_str(&format!("typedef struct {name}\n{{\n"));
    } else {
        out.push_str(&format!("struct {name}\n{{\n"));
    }
    for f in s.fields {
        out.push_str(&c_comment("    ", &doc_paragraphs(f.doc)));
        out.push_str(&format!("    {};\n", f.c_decl()));
    }
    if s.c_typedef {
        out.push_str(&format!("}} {name};\n"));
    } else {
        out.push_str("};\n");
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
    let structs: Vec<&StructLayout> = LIBXC_STRUCTS
        .iter()
        .copied()
        .filter(|s| s.c_name.is_some() && !s.c_external)
        .collect();
    let struct_prefix = common_prefix(structs.iter().filter_map(|s| s.c_name));
    let records = LibxcRecord::LAYOUT.records;
    let record_prefix = common_prefix(records.iter().map(|r| r.c_name));
    let record_family = record_prefix.split('_').next().unwrap_or("").to_string();

    let mut out = String::new();
    out.push_str(&c_comment(
        "",
        &[
            "Generated by `cargo xtask codegen`. Do not edit.".to_string(),
            format!("Edit the description in {LIBXC_SOURCE} instead and regenerate."),
        ],
    ));
    out.push_str(&format!("#ifndef {LIBXC_GUARD}\n#define {LIBXC_GUARD}\n\n"));
    let versions: Vec<String> = SUPPORTED_VERSIONS.iter().map(|v| v.to_string()).collect();
    let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
    out.push_str(&c_comment(
        "",
        &[
            format!(
                "Wire layout of the libxc migration stream, revision {CURRENT_VERSION} of \
                 docs/specs/libxc-migration-stream.pandoc (streams of version {} are read).",
                join_list(&versions)
            ),
            "Every record is a struct xc_sr_rhdr, then its body, then zero padding \
             to a multiple of REC_ALIGN octets."
                .to_string(),
        ],
    ));
    out.push_str("\n#include <inttypes.h>\n");

    let mut placed = vec![false; LIBXC_CONSTANTS.len()];
    let mut take_family = |stem: &str| -> Vec<Macro> {
        let mut found = Vec::new();
        for (i, c) in LIBXC_CONSTANTS.iter().enumerate() {
            if placed[i] || stem.is_empty() {
                continue;
            }
            if let Some(name) = c.c_name {
                if in_family(name, stem) {
                    placed[i] = true;
                    found.extend(const_macro(c));
                }
            }
        }
        found
    };

    let mut emitted_enums: Vec<&str> = Vec::new();
    for s in &structs {
        let bodies = records_with_body(s);
        struct_decl(&mut out, s, &bodies);

        let mut macros = Vec::new();
        let own_stem = s.c_name.unwrap_or("")[struct_prefix.len()..].to_uppercase();
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
        if s.rust_name == RecordHeader::LAYOUT.rust_name {
            macros.extend(take_family(&record_family));
            macro_block(&mut out, &macros);
            macro_block(
                &mut out,
                &records.iter().map(record_macro).collect::<Vec<_>>(),
            );
        } else {
            macro_block(&mut out, &macros);
        }
    }

    // Enumerations no field refers to, with the width their largest value needs.
    let mut rest = Vec::new();
    for e in [&DomainType::LAYOUT, &PageType::LAYOUT] {
        if !emitted_enums.contains(&e.rust_name) {
            let max = e.variants.iter().map(|v| v.value).max().unwrap_or(0);
            let size = if max > Prim::U32.max() { 8 } else { 4 };
            rest.extend(enum_macros(e, size));
        }
    }
    for (i, c) in LIBXC_CONSTANTS.iter().enumerate() {
        if !placed[i] {
            rest.extend(const_macro(c));
        }
    }
    macro_block(&mut out, &rest);

    out.push_str("\n#endif\n");
    out.push_str(EMACS_FOOTER);
    out
}

/// The editor settings every Xen C file ends with.
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
    fn output_is_deterministic_and_tidy() {
        let h = libxc_header();
        assert_eq!(h, libxc_header());
        assert!(h.ends_with("*/\n"));
        for (i, line) in h.lines().enumerate() {
            assert!(
                line.chars().count() <= WIDTH,
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
    fn banner_names_the_source_that_exists() {
        let h = libxc_header();
        let head: String = h.lines().take(5).collect::<Vec<_>>().join("\n");
        assert!(head.contains("cargo xtask codegen") && head.contains("Do not edit"));
        assert!(head.contains(LIBXC_SOURCE));
        assert!(crate::repo_root().join(LIBXC_SOURCE).is_file());
    }

    #[test]
    fn every_named_item_is_defined_exactly_once() {
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
        let c = c_comment("    ", &[long.trim().to_string(), "a */ b".to_string()]);
        assert!(c.starts_with("    /*\n") && c.ends_with("    */\n"));
        assert!(c.lines().all(|l| l.len() <= WIDTH));
        assert!(c.contains("a * / b"));
        assert_eq!(c_comment("", &["short".to_string()]), "/* short */\n");
        assert_eq!(c_comment("", &[]), "");
    }

    #[test]
    fn numbers_take_the_suffix_of_their_width() {
        assert_eq!(c_number(8, 4), "0x8U");
        assert_eq!(c_number(8, 2), "0x8U");
        assert_eq!(c_number(1 << 40, 8), "0x10000000000ULL");
        assert_eq!(c_number_padded(0x13, 4), "0x00000013U");
    }
}
