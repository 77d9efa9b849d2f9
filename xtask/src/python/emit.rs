//! Pieces every Python module is made of: doc text, literals, constant and
//! format tables, and the checks emitted from field constraints.

use std::fmt::Write as _;

use format_spec::layout::{
    ConstLayout, Constraint, FieldKind, Prim, StructLayout, TextConstLayout,
};

use format_spec::stream::ErrorKind;

use std::sync::OnceLock;

use format_spec::domain_context::{DOMAIN_CONTEXT_CONSTANTS, DOMAIN_CONTEXT_STRUCTS};
use format_spec::hvm_context::{HVM_CONTEXT_CONSTANTS, HVM_CONTEXT_STRUCTS};
use format_spec::libxc::{LIBXC_CONSTANTS, LIBXC_STRUCTS};
use format_spec::libxl::{LIBXL_CONSTANTS, LIBXL_STRUCTS};
use format_spec::xl::{XL_CONSTANTS, XL_STRUCTS};

use crate::text::rename_links;
use crate::writer::{Writer, PYTHON_WIDTH as WIDTH};

/// The Python exception class of the error `kind`, about a record
/// (`in_record`) or not. Kinds of the libxc verifier take theirs from the
/// error catalogue in `format_spec::stream`; the outer layers' kinds
/// (`format_spec::outer::OuterError::kind`) have no catalogue entry, and
/// their header errors are all `StreamError`, as in Xen's libxl.py.
pub(super) fn py_class(kind: &str, in_record: bool) -> &'static str {
    match ErrorKind::from_name(kind) {
        Some(k) => k
            .python_class(in_record)
            .unwrap_or_else(|| panic!("the error catalogue has no Python class for {kind}"))
            .as_str(),
        None if !in_record => "StreamError",
        None => panic!("{kind} is not a libxc verifier kind and has no Python class"),
    }
}

/// `text` as a Python string for a line of a writer at `column`: one
/// literal, or adjacent literals split at spaces when it does not fit in
/// [`WIDTH`]. The first literal opens at `first` columns past `column`, the
/// others on lines of their own at `cont` past it (as [`Writer::line`]
/// places the lines of a text); `tail` octets follow the last one on its
/// line (`)`, `,`).
pub(super) fn py_text(text: &str, column: usize, first: usize, cont: usize, tail: usize) -> String {
    let text = text.replace('\\', "\\\\").replace('"', "\\\"");
    let (first, cont) = (column + first, column + cont);
    if first + text.len() + 2 + tail <= WIDTH {
        return format!("\"{text}\"");
    }
    // A line other than the last holds `"words "`; the last `"words"` and
    // the tail.
    let room = |at: usize, last: bool| {
        let used = at + 2 + if last { tail } else { 1 };
        WIDTH.saturating_sub(used)
    };
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let at = if lines.is_empty() { first } else { cont };
        if !cur.is_empty() && cur.len() + 1 + word.len() > room(at, false) {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    let at = if lines.is_empty() { first } else { cont };
    if cur.len() > room(at, true) {
        if let Some(cut) = cur.rfind(' ') {
            let last = cur.split_off(cut + 1);
            cur.pop();
            lines.push(std::mem::replace(&mut cur, last));
        }
    }
    lines.push(cur);
    let n = lines.len();
    let literals: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 < n {
                format!("\"{l} \"")
            } else {
                format!("\"{l}\"")
            }
        })
        .collect();
    literals.join(&format!("\n{}", " ".repeat(cont - column)))
}

/// `call(text)`: a call of one string argument on a line of a writer at
/// `column`, the string wrapped as [`py_text`] does, aligned after the
/// parenthesis.
pub(super) fn py_call(call: &str, text: &str, column: usize) -> String {
    let at = call.len() + 1;
    format!("{call}({})", py_text(text, column, at, at, 1))
}

/// What `f` writes with a Python writer at `column` (the value of a
/// block slot at that column).
pub(super) fn written(column: usize, f: impl FnOnce(&mut Writer)) -> String {
    let mut w = Writer::python(column);
    f(&mut w);
    w.finish()
}

/// The Python spelling of every Rust item a doc comment may link to:
/// constants by the name they are emitted under, structs by their
/// `*_FORMAT` name.
fn py_names() -> &'static [(&'static str, String)] {
    static NAMES: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = Vec::new();
        for table in [
            LIBXC_CONSTANTS,
            LIBXL_CONSTANTS,
            XL_CONSTANTS,
            DOMAIN_CONTEXT_CONSTANTS,
            HVM_CONTEXT_CONSTANTS,
        ] {
            for c in table {
                names.push((c.rust_name, const_emitted_name(c).to_string()));
            }
        }
        for table in [
            LIBXC_STRUCTS,
            LIBXL_STRUCTS,
            XL_STRUCTS,
            DOMAIN_CONTEXT_STRUCTS,
            HVM_CONTEXT_STRUCTS,
        ] {
            for st in table {
                if let Some(f) = st.py_format_name {
                    names.push((st.rust_name, f.to_string()));
                }
            }
        }
        names
    })
}

/// A doc comment of the description as the Python modules spell it: its
/// links renamed to the Python names ([`py_names`]); the writer's
/// [`Writer::comment`] and [`Writer::docstring`] then remove the markup
/// (the pipeline the C headers share, with their names).
pub(super) fn py_doc(doc: &str) -> String {
    rename_links(doc, py_names())
}

/// A Python integer literal: decimal for small values, hex otherwise.
pub(super) fn int_lit(v: u64) -> String {
    if v < 256 {
        v.to_string()
    } else {
        format!("0x{v:x}")
    }
}

/// Python name a constant is emitted under: its own, or its C name when
/// Xen's Python has none (the verifier needs REC_LENGTH_MAX and friends),
/// or else its Rust name.
pub(super) fn const_emitted_name(c: &ConstLayout) -> &'static str {
    c.py_name.or(c.c_name).unwrap_or(c.rust_name)
}

/// The Python name of the constant of `table` whose Rust name is
/// `rust_name` and whose value is `value`; call it through
/// [`py_const!`], which names the Rust constant itself, so that a name
/// the description does not have fails to compile.
pub(super) fn const_of(
    table: &[format_spec::layout::ConstLayout],
    rust_name: &str,
    value: u64,
) -> &'static str {
    let c = table
        .iter()
        .find(|c| c.rust_name == rust_name)
        .unwrap_or_else(|| panic!("{rust_name} is not in the table"));
    assert_eq!(c.value, value, "{rust_name}: the table holds another value");
    const_emitted_name(c)
}

/// `py_const!(TABLE, NAME)`: the Python name of the description constant
/// `NAME` (in scope), an entry of `TABLE`.
macro_rules! py_const {
    ($table:expr, $name:ident) => {
        $crate::python::emit::const_of($table, stringify!($name), $name as u64)
    };
}
pub(super) use py_const;

/// Emits a table of constants, each with its doc as a comment.
pub(super) fn emit_consts(w: &mut Writer, consts: &[ConstLayout]) {
    for c in consts {
        let name = const_emitted_name(c);
        let value = match c.py_expr {
            Some(e) => e.to_string(),
            None => int_lit(c.value),
        };
        w.comment(&py_doc(c.doc))
            .line(format!("{name} = {value}"))
            .blank();
    }
}

/// Emits the `*_FORMAT` constants of the structs that have one.
pub(super) fn emit_formats(w: &mut Writer, structs: &[&StructLayout]) {
    for st in structs {
        let Some(name) = st.py_format_name else {
            continue;
        };
        w.comment(&py_doc(st.doc))
            .line(format!("{name} = \"{}\"", st.py_format()))
            .blank();
    }
}

/// A Python bytes literal of `value`.
pub(super) fn bytes_lit(value: &[u8]) -> String {
    let mut out = String::from("b\"");
    for &b in value {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0 => out.push_str("\\x00"),
            0x20..=0x7e => out.push(b as char),
            _ => write!(out, "\\x{b:02x}").unwrap(),
        }
    }
    out.push('"');
    out
}

/// Emits text constants as bytes (what a stream holds and what Python 3
/// reads from a file), or as their Python expression.
pub(super) fn emit_text_consts(w: &mut Writer, consts: &[TextConstLayout]) {
    for c in consts {
        let Some(name) = c.py_name else { continue };
        let value = match c.py_expr {
            Some(e) => e.to_string(),
            None => bytes_lit(c.value),
        };
        w.comment(&py_doc(c.doc))
            .line(format!("{name} = {value}"))
            .blank();
    }
}

/// The `*_FORMAT` name of a struct.
pub(super) fn fmt_name(s: &StructLayout) -> &'static str {
    s.py_format_name
        .unwrap_or_else(|| panic!("{} has no Python format name", s.rust_name))
}

/// The format string of a struct's fixed part as the verifier unpacks it:
/// the named constant when it spells the true field layout, else a literal
/// derived from the fields (Xen's `X86_MSR_POLICY_FORMAT` is `"QII"`, the
/// right size but not the field order).
pub(super) fn check_format(s: &StructLayout) -> String {
    let derived: String = s.py_items().iter().map(|(_, _, p)| p.py_char()).collect();
    match (s.py_format_name, s.py_format_override) {
        (Some(name), None) => name.to_string(),
        _ => format!("\"{derived}\""),
    }
}

/// The items of one element of a trailing array (empty for fixed fields).
pub(super) fn trailing_items(
    owner: &StructLayout,
    f: &format_spec::layout::FieldLayout,
) -> Vec<Item> {
    match f.kind {
        FieldKind::TrailingPrim(p) => vec![Item {
            owner: owner.rust_name,
            field: f.name,
            var: local(f.name),
            label: f.name.to_string(),
            offset: 0,
            field_offset: 0,
            prim: p,
            constraint: f.constraint,
            error: f.error,
        }],
        FieldKind::TrailingStruct(s) => items(s),
        _ => Vec::new(),
    }
}

/// One integer the verifier unpacks and checks.
#[derive(Clone)]
pub(super) struct Item {
    /// The struct the integer belongs to (its Rust name).
    pub(super) owner: &'static str,
    /// The field it belongs to.
    pub(super) field: &'static str,
    /// Python local variable name.
    pub(super) var: String,
    /// How messages name it.
    pub(super) label: String,
    /// Offset within its struct.
    pub(super) offset: usize,
    /// Offset of the field it belongs to (errors point at the field).
    pub(super) field_offset: usize,
    /// Its type.
    pub(super) prim: Prim,
    /// Its rule.
    pub(super) constraint: Constraint,
    /// The KIND its field's rule reports (`#[wire(error = "...")]`).
    pub(super) error: Option<&'static str>,
}

/// Python locals that would shadow a builtin get a trailing underscore.
pub(super) fn local(name: &str) -> String {
    match name {
        "type" | "id" | "len" | "hash" | "format" | "min" | "max" => format!("{name}_"),
        _ => name.to_string(),
    }
}

/// The fixed-part items of a struct, arrays split as its format splits them.
pub(super) fn items(s: &StructLayout) -> Vec<Item> {
    let all = s.py_items();
    all.iter()
        .map(|&(name, offset, prim)| {
            let repeated = all.iter().filter(|(n, _, _)| *n == name).count() > 1;
            let field = s.field(name).expect("item names a field");
            let (var, label) = if repeated {
                (
                    format!("{}_{offset}", local(name)),
                    format!("{name} (octets {}-{})", offset, offset + prim.size() - 1),
                )
            } else {
                (local(name), name.to_string())
            };
            Item {
                owner: s.rust_name,
                field: name,
                var,
                label,
                offset,
                field_offset: field.offset,
                prim,
                constraint: field.constraint,
                error: field.error,
            }
        })
        .collect()
}

/// Which constraints a pass checks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    /// Magic numbers and allowed values.
    Values,
    /// Reserved fields and bits.
    Reserved,
}

/// A broken-constraint check: the Python condition (true when broken), the
/// message's %-format and its arguments.
pub(super) struct Violation {
    pub(super) cond: String,
    pub(super) fmt: String,
    pub(super) args: Vec<String>,
}

/// The check of `item`'s constraint, if the constraint belongs to `pass`.
/// Expected values are spelled by their constant's name from `consts`
/// (the constants of the module being generated) when exactly one has it.
pub(super) fn violation(item: &Item, pass: Pass, consts: &[ConstLayout]) -> Option<Violation> {
    let v = item.var.clone();
    let l = &item.label;
    let (cond, fmt, args) = match (item.constraint, pass) {
        (Constraint::Reserved, Pass::Reserved) => (
            format!("{v} != 0"),
            format!("{l} is 0x%x, must be zero"),
            vec![v],
        ),
        (Constraint::ReservedBits(mask), Pass::Reserved) => (
            format!("{v} & 0x{mask:x}"),
            format!("{l} has reserved bits 0x%x set"),
            vec![format!("{v} & 0x{mask:x}")],
        ),
        (Constraint::Equals(x), Pass::Values) => {
            // Spell the expected value by its constant's name when exactly
            // one constant has it.
            let named: Vec<_> = consts
                .iter()
                .filter(|c| c.value == x && c.py_name.is_some())
                .collect();
            let expect = if named.len() == 1 {
                named[0].py_name.unwrap().to_string()
            } else {
                format!("0x{x:x}")
            };
            (
                format!("{v} != {expect}"),
                format!("{l} is 0x%x, expected 0x%x"),
                vec![v, expect],
            )
        }
        (Constraint::OneOf(vals), Pass::Values) => {
            let list: Vec<String> = vals.iter().map(|x| x.to_string()).collect();
            let tuple = if list.len() == 1 {
                format!("({}, )", list[0])
            } else {
                format!("({})", list.join(", "))
            };
            (
                format!("{v} not in {tuple}"),
                format!("{l} is %d, must be one of {}", list.join(", ")),
                vec![v],
            )
        }
        (Constraint::Enum(e), Pass::Values) => {
            let set = match e.py_table {
                Some(t) => t.to_string(),
                None => {
                    let list: Vec<String> =
                        e.variants.iter().map(|x| x.value.to_string()).collect();
                    format!("({}, )", list.join(", "))
                }
            };
            (
                format!("{v} not in {set}"),
                format!("{l} is 0x%x, not a known {}", e.rust_name),
                vec![v],
            )
        }
        (Constraint::AtMost(max), Pass::Values) => {
            let bound = named_value(consts, max).map_or_else(|| int_lit(max), str::to_string);
            (
                format!("{v} > {bound}"),
                format!("{l} is %d, more than the maximum %d"),
                vec![v, bound],
            )
        }
        _ => return None,
    };
    Some(Violation { cond, fmt, args })
}

/// The Python name of the one constant of `consts` that has value `x`,
/// if exactly one has it.
pub(super) fn named_value(consts: &[ConstLayout], x: u64) -> Option<&'static str> {
    match consts
        .iter()
        .filter(|c| c.value == x && c.py_name.is_some())
        .collect::<Vec<_>>()
        .as_slice()
    {
        [one] => one.py_name,
        _ => None,
    }
}

/// The KIND a broken rule of item `it` reports in `pass`: its field's
/// `error` annotation, or the generic one. A header's value rules each
/// name their own KIND (`BadMarker`, ...), so one without is a mistake of
/// the description.
pub(super) fn constraint_kind(it: &Item, pass: Pass, raise: Raise<'_>) -> &'static str {
    if let Some(k) = it.error {
        return k;
    }
    match pass {
        Pass::Values => {
            assert!(
                !matches!(raise, Raise::Header { .. }),
                "{}.{}: no KIND for its header value rule",
                it.owner,
                it.field
            );
            ErrorKind::BadValue.as_str()
        }
        Pass::Reserved => ErrorKind::ReservedNonZero.as_str(),
    }
}

/// How a check failure is raised: as a header StreamError (`what` names
/// the header; offsets from `start`) or as a record body error (messages
/// start with the record's name, `what`, and `elem` indexes the trailing
/// array element whose octets start at `base`).
#[derive(Clone, Copy)]
pub(super) enum Raise<'a> {
    /// A header error: `what` names the header, offsets count from the
    /// Python local `base`.
    Header {
        what: &'a str,
        base: &'a str,
    },
    Body,
    Element {
        base: usize,
        size: usize,
    },
}

/// The lines of one `raise` statement, to be indented under its `if`.
pub(super) fn raise_lines(
    raise: Raise<'_>,
    kind: &str,
    fmt: &str,
    args: &[String],
    offset: usize,
) -> Vec<String> {
    let args = args.join(", ");
    match raise {
        Raise::Header { what, base } => vec![
            format!("raise {}(", py_class(kind, false)),
            format!("    \"{what}: {fmt}\""),
            format!("    % ({args}, ), \"{kind}\", {base} + {offset})"),
        ],
        Raise::Body => vec![
            "self._record_error(".to_string(),
            format!("    \"{kind}\","),
            format!("    \"%s: {fmt}\""),
            format!("    % (what, {args}), {offset})"),
        ],
        Raise::Element { base, size } => vec![
            "self._record_error(".to_string(),
            format!("    \"{kind}\","),
            format!("    \"%s: {fmt}\""),
            format!("    % (what, elem, {args}),"),
            format!("    {base} + elem * {size} + {offset})"),
        ],
    }
}

/// Writes the checks of `items` in field order: each item's value rule,
/// then its reserved rule (a field has one rule at most). This is the order
/// the Rust walk over the annotations (`format_spec::layout::first_broken`)
/// reports the first broken rule in.
pub(super) fn emit_field_checks(
    w: &mut Writer,
    items: &[Item],
    raise: Raise<'_>,
    consts: &[ConstLayout],
) {
    for it in items {
        for pass in [Pass::Values, Pass::Reserved] {
            emit_checks(w, std::slice::from_ref(it), pass, raise, consts);
        }
    }
}

/// Writes the checks of one pass over `items`, each an `if` and the
/// `raise` under it.
pub(super) fn emit_checks(
    w: &mut Writer,
    items: &[Item],
    pass: Pass,
    raise: Raise<'_>,
    consts: &[ConstLayout],
) {
    for it in items {
        let Some(v) = violation(it, pass, consts) else {
            continue;
        };
        let kind = constraint_kind(it, pass, raise);
        w.block(format!("if {}:", v.cond), |w| {
            for line in raise_lines(raise, kind, &v.fmt, &v.args, it.field_offset) {
                // A header error's last line may run long: put the kind
                // and offset on a line of their own.
                match line.find(", ), \"") {
                    Some(cut) if w.column() + line.len() > WIDTH => {
                        let lead = &line[..line.len() - line.trim_start().len()];
                        w.line(format!("{},", &line[..cut + 3]));
                        w.line(format!("{lead}{}", &line[cut + 5..]));
                    }
                    _ => {
                        w.line(line);
                    }
                }
            }
        });
    }
}

/// Writes an enumeration: its aligned names with their values and
/// meanings, then its name table if it has one.
pub(super) fn emit_enum(w: &mut Writer, e: &format_spec::layout::EnumLayout, hex_width: usize) {
    let width = e
        .variants
        .iter()
        .filter_map(|v| v.py_name)
        .map(str::len)
        .max()
        .unwrap_or(0);
    for v in e.variants {
        let Some(name) = v.py_name else { continue };
        let value = v.value << e.py_shift;
        let lit = if hex_width > 0 {
            format!("0x{value:0hex_width$x}")
        } else {
            format!("0x{value:x}")
        };
        w.line(format!("{name:<width$} = {lit}  # {}", v.human));
    }
    w.blank();
    if let Some(t) = e.py_table {
        w.block(format!("{t} = {{"), |w| {
            for v in e.variants {
                if let Some(name) = v.py_name {
                    w.line(format!("{name:<width$} : \"{}\",", v.human));
                }
            }
        });
        w.line("}").blank();
    }
}

/// Unpacks `st`'s fixed part from `content` into its item locals.
pub(super) fn unpack_line(st: &StructLayout, its: &[Item], src: &str) -> String {
    let vars: Vec<&str> = its.iter().map(|i| i.var.as_str()).collect();
    let lhs = if vars.len() == 1 {
        format!("{},", vars[0])
    } else {
        vars.join(", ")
    };
    format!(
        "{lhs} = \\\n    unpack(self.endian + {}, {src})",
        check_format(st)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_is_named_by_its_rust_constant_and_checked_against_the_table() {
        use format_spec::libxl::{HDR_OPT_LEGACY, LIBXL_CONSTANTS};
        let c = LIBXL_CONSTANTS
            .iter()
            .find(|c| c.rust_name == "HDR_OPT_LEGACY")
            .unwrap();
        assert_eq!(
            py_const!(LIBXL_CONSTANTS, HDR_OPT_LEGACY),
            const_emitted_name(c)
        );
        let wrong = std::panic::catch_unwind(|| {
            const_of(
                LIBXL_CONSTANTS,
                "HDR_OPT_LEGACY",
                u64::from(HDR_OPT_LEGACY) + 1,
            )
        });
        assert!(wrong.is_err(), "a value the table does not hold is refused");
    }

    #[test]
    fn long_strings_wrap_into_adjacent_literals_within_the_width() {
        let text = "libxl reads CHECKPOINT_STATE only right after a CHECKPOINT_END of a \
                    COLO stream (libxl__stream_read_checkpoint_state) and refuses it";
        for column in [0, 12, 30] {
            let call = py_call("self._unexpected", text, column);
            let lines: Vec<&str> = call.lines().collect();
            assert!(lines.len() > 1, "{call}");
            let mut joined = String::new();
            for l in &lines {
                // The writer adds `column` to every line; only a word
                // longer than the room goes past the width, on its own.
                let one_word = !l.trim().trim_matches('"').trim().contains(' ');
                assert!(column + l.len() <= WIDTH || one_word, "{call}");
                let l = l.trim_start();
                let l = l.strip_prefix("self._unexpected(").unwrap_or(l);
                let l = l.strip_suffix(')').unwrap_or(l);
                joined.push_str(l.trim_matches('"'));
            }
            assert_eq!(joined, text);
        }
        // Short ones stay one literal; quotes are escaped.
        assert_eq!(py_call("f", "say \"hi\"", 4), "f(\"say \\\"hi\\\"\")");
    }
}
