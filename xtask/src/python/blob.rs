//! The tables of a blob format (`format_spec::blob::BlobFormat`) as Python
//! data, for `domain_context.py` and `hvm_context.py`: the entry types and
//! the rules, which the interpreter of `verify.py` (`walk_blob`,
//! `check_blob`) reads. Nothing here states a rule: each row is written
//! from the description's tables.

use std::fmt::Debug;

use format_spec::blob::{BlobFormat, BlobRule, Check, EntryRule, Size};
use format_spec::layout::{ConstLayout, Constraint, EnumLayout, FieldLayout, StructLayout};
use format_spec::stream::ErrorModes;

use super::emit::{int_lit, items, named_value, py_doc, written};
use crate::writer::Writer;

/// What the Python tables of one blob are called and spelled with.
pub(super) struct Names<'a> {
    /// Prefix of the module's table names (`DC`: `DC_ENTRIES`, `DC_RULES`).
    pub(super) prefix: &'a str,
    /// The entry type enumeration (Python names and table).
    pub(super) types: &'a EnumLayout,
    /// The module's constants (expected values are spelled by name).
    pub(super) consts: &'a [ConstLayout],
    /// A comment for the entry of a type code, if any.
    pub(super) note: &'a dyn Fn(u16) -> &'static str,
}

/// The Python name of entry type `code`.
fn ty(names: &Names, code: u16) -> &'static str {
    names
        .types
        .variant(u64::from(code))
        .and_then(|v| v.py_name)
        .unwrap_or_else(|| panic!("entry type {code} has no Python name"))
}

/// The Python name of a check.
fn check_name(c: Check) -> &'static str {
    match c {
        Check::MissingEnd => "missing_end",
        Check::TruncatedDescriptor => "truncated_descriptor",
        Check::Overrun => "overrun",
        Check::KnownType => "known_type",
        Check::HeaderFirst => "header_first",
        Check::HeaderOnce => "header_once",
        Check::DescriptorField(_) => "descriptor_field",
        Check::MinBody => "min_body",
        Check::BodySize => "body_size",
        Check::BodyField { .. } => "body_field",
        Check::CountFits => "count_fits",
        Check::CountMatches => "count_matches",
        Check::LengthAligned => "length_aligned",
        Check::PaddingZero => "padding_zero",
        Check::LengthExact => "length_exact",
        Check::AtMostOnce => "at_most_once",
        Check::NothingAfterEnd => "nothing_after_end",
    }
}

/// A Python tuple of integers.
fn tuple(v: &[usize]) -> String {
    let items: Vec<String> = v.iter().map(|n| n.to_string()).collect();
    format!("({}, )", items.join(", "))
}

/// The Python value of a size rule: `(kind, numbers)`.
pub(super) fn size_py(size: Size) -> String {
    match size {
        Size::Fixed { size, older } => {
            let mut all = vec![size];
            all.extend_from_slice(older);
            format!("(\"fixed\", {})", tuple(&all))
        }
        Size::AtLeast(n) => format!("(\"at_least\", {})", tuple(&[n])),
        Size::Counted {
            fixed,
            count_at,
            element,
        } => format!("(\"counted\", {})", tuple(&[fixed, count_at, element])),
    }
}

/// The Python value of a field's constraint: `(kind, argument)`.
fn constraint_py(c: Constraint, consts: &[ConstLayout]) -> String {
    match c {
        Constraint::None => "(\"none\", None)".to_string(),
        Constraint::Reserved => "(\"reserved\", None)".to_string(),
        Constraint::Equals(x) => {
            let expect = named_value(consts, x).map_or_else(|| int_lit(x), str::to_string);
            format!("(\"equals\", {expect})")
        }
        Constraint::OneOf(vals) => {
            let vals: Vec<usize> = vals.iter().map(|v| *v as usize).collect();
            format!("(\"one_of\", {})", tuple(&vals))
        }
        Constraint::Enum(e) => match e.py_table {
            Some(t) => format!("(\"one_of\", {t})"),
            None => {
                let vals: Vec<usize> = e.variants.iter().map(|v| v.value as usize).collect();
                format!("(\"one_of\", {})", tuple(&vals))
            }
        },
        Constraint::ReservedBits(mask) => format!("(\"reserved_bits\", 0x{mask:x})"),
        Constraint::AtMost(max) => {
            let bound = named_value(consts, max).map_or_else(|| int_lit(max), str::to_string);
            format!("(\"at_most\", {bound})")
        }
    }
}

/// The Python name of the item holding `field` of `st`.
fn item_of(st: &StructLayout, field: &FieldLayout) -> String {
    items(st)
        .into_iter()
        .find(|i| i.field == field.name)
        .map(|i| i.var)
        .unwrap_or_else(|| panic!("{}.{} has no item", st.rust_name, field.name))
}

/// The Python value of a rule's argument (what its check needs beyond
/// the format).
fn argument<K>(f: &BlobFormat<K>, r: &BlobRule<K>, names: &Names) -> String {
    match r.check {
        Check::DescriptorField(i) => {
            let field = &f.descriptor.fields[i];
            format!(
                "(\"{}\", {}, {})",
                item_of(f.descriptor, field),
                field.offset,
                constraint_py(field.constraint, names.consts)
            )
        }
        Check::BodyField { typecode, field } => {
            let st = f
                .entry(typecode)
                .and_then(|e| e.body)
                .expect("a body field rule names a type with a body");
            let fl = &st.fields[field];
            format!(
                "({}, \"{}\", {}, {})",
                ty(names, typecode),
                item_of(st, fl),
                fl.offset,
                constraint_py(fl.constraint, names.consts)
            )
        }
        _ => "None".to_string(),
    }
}

/// The `PREFIX_ENTRIES` dict: per entry type its body format and items,
/// size rule, smallest body and whether it may appear more than once.
fn entries(w: &mut Writer, entries: &[EntryRule], names: &Names) {
    w.block(format!("{}_ENTRIES = {{", names.prefix), |w| {
        for e in entries {
            let note = (names.note)(e.typecode);
            if !note.is_empty() {
                w.comment(&py_doc(note));
            }
            w.block(format!("{}: {{", ty(names, e.typecode)), |w| {
                let (format, its) = match e.body {
                    Some(st) => {
                        let vars: Vec<String> = items(st)
                            .into_iter()
                            .map(|i| format!("\"{}\"", i.var))
                            .collect();
                        (
                            st.py_format_name.expect("blob structs have a format name"),
                            format!("({}, )", vars.join(", ")),
                        )
                    }
                    None => ("None", "()".to_string()),
                };
                w.line(format!("\"format\": {format},"))
                    .line(format!("\"items\": {its},"))
                    .line(format!("\"size\": {},", size_py(e.size)))
                    .line(format!("\"min\": {},", e.size.min()))
                    .line(format!(
                        "\"once\": {},",
                        if e.at_most_once { "True" } else { "False" }
                    ));
            });
            w.line("},");
        }
    });
    w.line("}");
}

/// The `PREFIX_RULES` tuple: per rule, in the order they are checked, its
/// statement as a comment, then `(kind, check, strict, argument)`.
fn rules<K: Debug>(w: &mut Writer, f: &BlobFormat<K>, names: &Names) {
    w.line(format!("{}_RULES = (", names.prefix));
    w.indented(|w| {
        for r in f.rules {
            let strict = if r.modes == ErrorModes::StrictOnly {
                "True"
            } else {
                "False"
            };
            let head = format!(
                "(\"{}\", \"{}\", {strict},",
                r.kind_name(),
                check_name(r.check)
            );
            let arg = argument(f, r, names);
            w.comment(&py_doc(r.statement));
            if w.column() + head.len() + arg.len() + 3 <= w.width() {
                w.line(format!("{head} {arg}),"));
            } else {
                w.line(head).line(format!(" {arg}),"));
            }
        }
    });
    w.line(")");
}

/// The block slot (at column 0) of a blob's tables: `PREFIX_ENTRIES`,
/// `PREFIX_RULES` and `PREFIX_BLOB`, the format `walk_blob` and
/// `check_blob` take.
pub(super) fn tables<K: Debug>(f: &BlobFormat<K>, names: &Names) -> String {
    let p = names.prefix;
    let desc_items: Vec<String> = items(f.descriptor)
        .into_iter()
        .map(|i| format!("\"{}\"", i.var))
        .collect();
    written(0, |w| {
        w.comment("The entry types: body format and items, size rule, smallest body, and whether a type appears at most once.");
        entries(w, f.entries, names);
        w.blank()
            .comment("The rules, in the order they are checked: (KIND, check, strict, argument). strict False: a restore checks it too, as the blob is walked; True: checked after the walk.");
        rules(w, f, names);
        w.blank().comment("The blob format.");
        w.block(format!("{p}_BLOB = {{"), |w| {
            w.line(format!(
                "\"desc_format\": {},",
                f.descriptor
                    .py_format_name
                    .expect("descriptors have a format name")
            ))
            .line(format!("\"desc_items\": ({}, ),", desc_items.join(", ")))
            .line(format!("\"desc_size\": {},", f.descriptor.size))
            .line(format!("\"type_at\": {},", f.type_at))
            .line(format!("\"length_at\": {},", f.length_at))
            .line(format!("\"header\": {},", ty(names, f.header)))
            .line(format!("\"end\": {},", ty(names, f.end)))
            .line(format!(
                "\"align\": {},",
                f.align.map_or("None".to_string(), |a| a.to_string())
            ))
            .line(format!(
                "\"names\": {},",
                names
                    .types
                    .py_table
                    .expect("entry types have a Python table")
            ))
            .line(format!("\"entries\": {p}_ENTRIES,"))
            .line(format!("\"rules\": {p}_RULES,"));
        });
        w.line("}");
    })
}
