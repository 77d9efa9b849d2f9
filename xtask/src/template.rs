//! Template files with named slots, filled by the generators.
//!
//! The static text of a generated file lives in a real file under
//! `xtask/templates/` (for Python, a `.py` file that `py_compile` accepts
//! as it is). What the description decides goes into *slots*: an
//! identifier `SLOT_name` (lower-case letters, digits and `_` after the
//! prefix), valid Python wherever an expression or a statement may stand.
//!
//! * A slot alone on its line is a *block* slot: the line is replaced by
//!   the value's lines (none when the value is empty). The value is
//!   written at the slot's depth: its first line at the slot's column,
//!   no line left of it, which [`render`] checks.
//! * Anywhere else it is an *inline* slot: the token is replaced by the
//!   value.
//!
//! The KIND names of the verifiers' errors are not typed into templates
//! as strings either: a *kind token* `KIND_Name` (a bare identifier, so the
//! template stays valid Python) is replaced by the string literal
//! `"Name"`, and only when the description declares that kind
//! ([`ErrorKind`], [`OuterErrorKind`] or the finer [`XenstoreErrorKind`]).
//! A renamed or misspelt kind so fails the generator, as a Rust path to it
//! fails the compiler.
//!
//! [`render`] fails with a [`TemplateError`] naming the template and the
//! slot when the template names a slot it was not given, or is given a
//! slot it does not name, or names a kind the description does not hold.

use std::fmt;

use format_spec::libxl::XenstoreErrorKind;
use format_spec::outer::OuterErrorKind;
use format_spec::stream::ErrorKind;

/// The prefix that marks a slot.
pub const PREFIX: &str = "SLOT_";

/// The prefix that marks a kind token.
pub const KIND_PREFIX: &str = "KIND_";

/// A template file: its path under `xtask/templates/` and its text.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// Path under `xtask/templates/`, e.g. `python/libxc.py`.
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
}

/// A template file of `xtask/templates/`, included at compile time.
#[macro_export]
macro_rules! template {
    ($path:literal) => {
        $crate::template::Template {
            name: $path,
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $path)),
        }
    };
}

/// Why a template could not be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template names a slot no value was given for.
    UnknownSlot {
        /// The template's path.
        template: &'static str,
        /// The slot's name.
        slot: String,
        /// The 1-based line it is on.
        line: usize,
    },
    /// A value was given for a slot the template does not name.
    UnusedSlot {
        /// The template's path.
        template: &'static str,
        /// The slot's name.
        slot: &'static str,
    },
    /// A kind token names no kind of the description.
    UnknownKind {
        /// The template's path.
        template: &'static str,
        /// The name after the prefix.
        kind: String,
        /// The 1-based line it is on.
        line: usize,
    },
    /// A block slot's value does not start at the slot's column, or has
    /// a line indented less than the slot.
    Indent {
        /// The template's path.
        template: &'static str,
        /// The slot's name.
        slot: &'static str,
        /// The 1-based line of the slot.
        line: usize,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::UnknownSlot {
                template,
                slot,
                line,
            } => write!(f, "template {template}:{line}: unknown slot `{slot}`"),
            TemplateError::UnusedSlot { template, slot } => {
                write!(
                    f,
                    "template {template}: slot `{slot}` is not in the template"
                )
            }
            TemplateError::UnknownKind {
                template,
                kind,
                line,
            } => write!(
                f,
                "template {template}:{line}: `{KIND_PREFIX}{kind}` names no error kind of the \
                 description"
            ),
            TemplateError::Indent {
                template,
                slot,
                line,
            } => write!(
                f,
                "template {template}:{line}: the value of block slot `{slot}` is not \
                 written at the slot's column"
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

/// The slot tokens of a line: byte range and name. A slot may follow any
/// character (`"%dSLOT_char"` in a format string); its name (lower-case
/// letters, digits and `_`) runs to the first character that cannot be
/// in one, and must not be empty.
fn slots_in(line: &str) -> Vec<(usize, usize, &str)> {
    let bytes = line.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let name = |b: &&u8| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'_';
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = line[from..].find(PREFIX) {
        let start = from + pos;
        let name_at = start + PREFIX.len();
        let end = name_at + bytes[name_at..].iter().take_while(name).count();
        if end > name_at && bytes.get(end).is_none_or(|&b| !ident(b)) {
            out.push((start, end, &line[name_at..end]));
        }
        from = end.max(start + 1);
    }
    out
}

/// Whether the description declares an error kind named `name`.
pub fn is_kind(name: &str) -> bool {
    ErrorKind::from_name(name).is_some()
        || OuterErrorKind::from_name(name).is_some()
        || XenstoreErrorKind::from_name(name).is_some()
}

/// The kind tokens of a line: byte range and name. A token is the prefix
/// where no identifier character precedes it, and its name runs to the
/// first character that cannot be in an identifier (it may be empty, or
/// no kind at all: [`resolve_kinds`] refuses those);
/// `PAGE_DATA_KIND_OF_TOP` holds none.
fn kinds_in(line: &str) -> Vec<(usize, usize, &str)> {
    let bytes = line.as_bytes();
    let ident = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    line.match_indices(KIND_PREFIX)
        .filter(|(start, _)| *start == 0 || !ident(&bytes[start - 1]))
        .map(|(start, _)| {
            let name_at = start + KIND_PREFIX.len();
            let end = name_at + bytes[name_at..].iter().take_while(|b| ident(b)).count();
            (start, end, &line[name_at..end])
        })
        .collect()
}

/// `text` with every kind token replaced by its string literal.
fn resolve_kinds(t: Template) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(t.text.len());
    for (n, line) in t.text.split_inclusive('\n').enumerate() {
        let mut at = 0;
        for (start, end, name) in kinds_in(line) {
            if !is_kind(name) {
                return Err(TemplateError::UnknownKind {
                    template: t.name,
                    kind: name.to_string(),
                    line: n + 1,
                });
            }
            out.push_str(&line[at..start]);
            out.push('"');
            out.push_str(name);
            out.push('"');
            at = end;
        }
        out.push_str(&line[at..]);
    }
    Ok(out)
}

/// Fills `t`'s slots from `values` (name, text).
pub fn render<S: AsRef<str>>(
    t: Template,
    values: &[(&'static str, S)],
) -> Result<String, TemplateError> {
    render_in(t, values, "")
}

/// [`render`], with every non-empty line of the template indented by
/// `indent` first: a template of a method body, written at column 0 so
/// that it is valid Python on its own, placed at method depth. Block
/// slots are then `indent` deeper too.
pub fn render_in<S: AsRef<str>>(
    t: Template,
    values: &[(&'static str, S)],
    indent: &str,
) -> Result<String, TemplateError> {
    let text = resolve_kinds(t)?;
    let mut used = vec![false; values.len()];
    let mut out = String::with_capacity(text.len() * 2);
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let owned;
        let line = if indent.is_empty() || raw.trim().is_empty() {
            raw
        } else {
            owned = format!("{indent}{raw}");
            owned.as_str()
        };
        let found = slots_in(line);
        if found.is_empty() {
            out.push_str(line);
            continue;
        }
        let lookup = |name: &str, used: &mut [bool]| -> Result<usize, TemplateError> {
            let i = values.iter().position(|(k, _)| *k == name).ok_or_else(|| {
                TemplateError::UnknownSlot {
                    template: t.name,
                    slot: name.to_string(),
                    line: n + 1,
                }
            })?;
            used[i] = true;
            Ok(i)
        };
        let body = line.trim_end_matches('\n');
        let indent = body.len() - body.trim_start().len();
        if let [(start, end, name)] = found[..] {
            if start == indent && end == body.len() {
                let i = lookup(name, &mut used)?;
                let value = values[i].1.as_ref();
                let mut first = true;
                for l in value.split_inclusive('\n') {
                    let text = l.trim_end_matches('\n');
                    let deep = text.len() - text.trim_start().len();
                    // The value starts at the slot's column and never
                    // goes left of it.
                    let off = !text.is_empty() && (deep < indent || (first && deep != indent));
                    first &= text.is_empty();
                    if off {
                        return Err(TemplateError::Indent {
                            template: t.name,
                            slot: values[i].0,
                            line: n + 1,
                        });
                    }
                    out.push_str(l);
                }
                if !value.is_empty() && !value.ends_with('\n') {
                    out.push('\n');
                }
                continue;
            }
        }
        let mut at = 0;
        for (start, end, name) in found {
            let i = lookup(name, &mut used)?;
            out.push_str(&line[at..start]);
            out.push_str(values[i].1.as_ref());
            at = end;
        }
        out.push_str(&line[at..]);
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(TemplateError::UnusedSlot {
            template: t.name,
            slot: values[i].0,
        });
    }
    Ok(out)
}

/// [`render`], for templates and values the generators own: a failure is
/// a bug of the generator, reported with the template and the slot.
pub fn fill<S: AsRef<str>>(t: Template, values: &[(&'static str, S)]) -> String {
    render(t, values).unwrap_or_else(|e| panic!("{e}"))
}

/// [`render_in`], failing as [`fill`] does.
pub fn fill_in<S: AsRef<str>>(t: Template, values: &[(&'static str, S)], indent: &str) -> String {
    render_in(t, values, indent).unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Template = Template {
        name: "test.py",
        text: "def f():\n    SLOT_body\n    return SLOT_value + SLOT_value\n",
    };

    #[test]
    fn block_and_inline_slots_are_filled() {
        let out = render(
            T,
            &[
                ("body", "    x = 1\n\n    y = 2\n"),
                ("value", "REC_TYPE_end"),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "def f():\n    x = 1\n\n    y = 2\n    return REC_TYPE_end + REC_TYPE_end\n"
        );
        // An empty block value removes the line.
        let out = render(T, &[("body", ""), ("value", "1")]).unwrap();
        assert_eq!(out, "def f():\n    return 1 + 1\n");
    }

    #[test]
    fn unknown_unused_and_shallow_slots_are_errors() {
        assert_eq!(
            render(T, &[("body", "")]),
            Err(TemplateError::UnknownSlot {
                template: "test.py",
                slot: "value".into(),
                line: 3
            })
        );
        let e = render(T, &[("body", ""), ("value", "1"), ("extra", "2")]).unwrap_err();
        assert_eq!(
            e,
            TemplateError::UnusedSlot {
                template: "test.py",
                slot: "extra"
            }
        );
        assert_eq!(
            e.to_string(),
            "template test.py: slot `extra` is not in the template"
        );
        assert_eq!(
            render(T, &[("body", "x = 1\n"), ("value", "1")]),
            Err(TemplateError::Indent {
                template: "test.py",
                slot: "body",
                line: 2
            })
        );
    }

    #[test]
    fn a_body_template_is_placed_at_depth() {
        let t = Template {
            name: "body.py",
            text: "if x:\n    SLOT_then\n\ny = SLOT_v\n",
        };
        let out = render_in(t, &[("then", "        z = 1\n"), ("v", "2")], "    ").unwrap();
        assert_eq!(out, "    if x:\n        z = 1\n\n    y = 2\n");
        assert!(render_in(t, &[("then", "    z = 1\n"), ("v", "2")], "    ").is_err());
        // Written for a deeper slot: caught too.
        assert!(render_in(t, &[("then", "            z = 1\n"), ("v", "2")], "    ").is_err());
    }

    #[test]
    fn kind_tokens_become_the_kinds_strings_and_unknown_ones_fail() {
        let t = Template {
            name: "kinds.py",
            text: "raise E(KIND_RecordTooLong, KIND_BadXlMagic)\n# KIND_EmptyKey\n\
                   x = PAGE_DATA_KIND_OF_TOP + SLOT_v\n",
        };
        assert_eq!(
            render(t, &[("v", "1")]).unwrap(),
            "raise E(\"RecordTooLong\", \"BadXlMagic\")\n# \"EmptyKey\"\n\
             x = PAGE_DATA_KIND_OF_TOP + 1\n"
        );
        let bad = Template {
            name: "bad.py",
            text: "ok = KIND_Truncated\nraise E(KIND_RecordTooLoong)\n",
        };
        let e = render::<&str>(bad, &[]).unwrap_err();
        assert_eq!(
            e,
            TemplateError::UnknownKind {
                template: "bad.py",
                kind: "RecordTooLoong".into(),
                line: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "template bad.py:2: `KIND_RecordTooLoong` names no error kind of the description"
        );
    }

    #[test]
    fn every_kind_prefix_at_a_boundary_is_a_token() {
        let names: Vec<&str> =
            kinds_in("KIND_Io X_KIND_Io KIND_io KIND_Io_x (KIND_Truncated) KIND_")
                .iter()
                .map(|s| s.2)
                .collect();
        assert_eq!(names, ["Io", "io", "Io_x", "Truncated", ""]);
        // Each one that names no kind fails the render.
        for bad in ["KIND_io", "KIND_Io_x", "x = KIND_\n", "KIND_2x"] {
            let t = Template {
                name: "bad.py",
                text: bad,
            };
            assert!(
                matches!(
                    render::<&str>(t, &[]),
                    Err(TemplateError::UnknownKind { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_whole_tokens_are_slots() {
        let names: Vec<&str> = slots_in("a SLOT_x \"%dSLOT_y\" SLOT_Z SLOT_ (SLOT_a_1)")
            .iter()
            .map(|s| s.2)
            .collect();
        assert_eq!(names, ["x", "y", "a_1"]);
    }
}
