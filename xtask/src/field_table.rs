//! The field tables of Xen's pandoc specs: which entries a record's table
//! has, in which order and under which names, come from the description;
//! what an entry says stays Xen's text where Xen's table has the entry,
//! and is the description's doc comment where it does not (a field or a
//! record new in this revision).
//!
//! A table is Pandoc's multiline table as Xen writes it:
//!
//! ```text
//! --------------------------------------------------------------------
//! Field            Description
//! -----------      ---------------------------------------------------
//! count            Number of pages described in this record.
//!
//! pfn              An array of count PFNs and their types.
//! --------------------------------------------------------------------
//! ```

use format_spec::layout::{FieldKind, RecordLayout, StructLayout};

/// The width of a table's rules, in Xen's specs.
const WIDTH: usize = 68;

/// The column at which the descriptions of a new table start: where most
/// of Xen's record tables start them.
const COLUMN: usize = 17;

/// One entry of a record's field table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name the table gives it: the field's spec name, with its
    /// diagram label (`guest_width (w)`); a member of a trailing array of
    /// structs after the array's name (`param index`); what the spec calls
    /// a body no struct describes (`hvm_ctx`).
    pub name: String,
    /// What the description says of it, as plain text.
    pub doc: String,
}

/// The entries of the field table of record `r`, in the description's
/// order. Reserved fields have none.
pub fn entries(r: &RecordLayout) -> Vec<Entry> {
    let mut out = r
        .body
        .filter(|b| b.size > 0 || r.spec_body.is_none())
        .map(struct_entries)
        .unwrap_or_default();
    if let Some(b) = r.spec_body {
        out.push(Entry {
            name: b.to_string(),
            doc: r.spec_body_doc.map(plain).unwrap_or_default(),
        });
    }
    out
}

/// The entries a table of the fields of `s` has (a header's table, or
/// the struct part of a record's).
pub fn struct_entries(s: &StructLayout) -> Vec<Entry> {
    let mut out = Vec::new();
    for f in s.fields.iter().filter(|f| !f.is_reserved()) {
        let name = f.spec_name();
        match (f.diagram.label, f.kind) {
            (Some(l), _) => out.push(Entry {
                name: format!("{name} ({l})"),
                doc: plain(f.doc),
            }),
            (None, FieldKind::TrailingStruct(e)) => {
                out.extend(e.fields.iter().filter(|m| !m.is_reserved()).map(|m| Entry {
                    name: format!("{name} {}", m.spec_name()),
                    doc: plain(m.doc),
                }))
            }
            _ => out.push(Entry {
                name: name.to_string(),
                doc: plain(f.doc),
            }),
        }
    }
    out
}

/// A doc comment as one plain paragraph.
fn plain(doc: &str) -> String {
    crate::text::doc_paragraphs(doc).join(" ")
}

/// Whether a line is a table's rule (a line of dashes only).
fn is_rule(line: &str) -> bool {
    let t = line.trim_end();
    t.len() >= 20 && t.bytes().all(|b| b == b'-')
}

/// Whether a line is a section title's underline.
fn is_underline(line: &str) -> bool {
    let t = line.trim_end();
    t.len() >= 3 && (t.bytes().all(|b| b == b'-') || t.bytes().all(|b| b == b'='))
}

/// The lines of the field table that follows the diagram ending at line
/// `from`, up to the next section: its top rule to its bottom rule.
pub fn find_after(lines: &[&str], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i < lines.len() {
        let l = lines[i];
        if is_rule(l) && lines.get(i + 1).is_some_and(|h| h.starts_with("Field ")) {
            let end = (i + 3..lines.len()).find(|&j| is_rule(lines[j]))?;
            return Some((i, end + 1));
        }
        let titled = !l.trim().is_empty() && !l.starts_with(' ') && !l.contains("  ");
        if titled && lines.get(i + 1).is_some_and(|u| is_underline(u)) && !is_rule(l) {
            return None; // the next section begins
        }
        i += 1;
    }
    None
}

/// The name of the entry a table line begins, if it begins one.
pub fn entry_name(line: &str) -> Option<&str> {
    if line.trim().is_empty() || line.starts_with(' ') || line.starts_with('-') {
        return None;
    }
    line.split("  ").next().map(str::trim)
}

/// The key of a table line for the lost-line check: the name of the entry
/// it begins (the `Field` heading is one too, and is always kept).
pub fn key(line: &str) -> Vec<String> {
    entry_name(line).map(str::to_string).into_iter().collect()
}

/// A table read from a spec.
struct Table<'a> {
    /// The top rule, the heading and the rule under it.
    head: [&'a str; 3],
    /// Each entry's name and lines, without the blank lines after it.
    entries: Vec<(&'a str, Vec<&'a str>)>,
    /// Whether a blank line comes before the bottom rule.
    blank_at_end: bool,
    /// The bottom rule.
    bottom: &'a str,
}

/// Reads a table: `lines` from its top rule to its bottom rule.
fn parse<'a>(lines: &[&'a str]) -> Option<Table<'a>> {
    let (&bottom, body) = lines.split_last()?;
    if body.len() < 3 {
        return None;
    }
    let mut entries: Vec<(&str, Vec<&str>)> = Vec::new();
    for &l in &body[3..] {
        match (entry_name(l), entries.last_mut()) {
            (Some(name), _) => entries.push((name, vec![l])),
            (None, Some((_, e))) => e.push(l),
            (None, None) => {} // blank lines before the first entry
        }
    }
    let mut blank_at_end = false;
    let n = entries.len();
    for (i, (_, e)) in entries.iter_mut().enumerate() {
        let mut blank = false;
        while e.last().is_some_and(|l| l.trim().is_empty()) {
            e.pop();
            blank = true;
        }
        if i + 1 == n {
            blank_at_end = blank;
        }
    }
    Some(Table {
        head: [body[0], body[1], body[2]],
        entries,
        blank_at_end,
        bottom,
    })
}

/// The lines of a new entry: its name, then its doc wrapped from `column`.
fn new_entry(e: &Entry, column: usize, width: usize) -> Vec<String> {
    let wrapped = crate::text::wrap(&e.doc, width.saturating_sub(column).max(20));
    let mut out = Vec::new();
    let lead = if e.name.len() + 2 <= column {
        format!("{:<column$}", e.name)
    } else {
        format!("{}  ", e.name)
    };
    match wrapped.split_first() {
        None => out.push(e.name.clone()),
        Some((first, rest)) => {
            out.push(format!("{lead}{first}"));
            out.extend(rest.iter().map(|l| format!("{}{l}", " ".repeat(column))));
        }
    }
    out
}

/// The table of `entries` in Xen's framing: the rules and heading of
/// `existing` (Xen's table, if the spec has one) or the usual ones, and
/// Xen's text for every entry `existing` has.
pub fn render(entries: &[Entry], existing: Option<&[&str]>) -> String {
    let table = existing.and_then(parse);
    let rule = "-".repeat(WIDTH);
    let (head, column, bottom, blank_at_end) = match &table {
        Some(t) => (
            t.head.map(str::to_string),
            t.head[1].find("Description").unwrap_or(COLUMN),
            t.bottom.to_string(),
            t.blank_at_end,
        ),
        None => (
            [
                rule.clone(),
                format!("{:<COLUMN$}Description", "Field"),
                format!("{:<COLUMN$}{}", "-----------", "-".repeat(WIDTH - COLUMN)),
            ],
            COLUMN,
            rule.clone(),
            false,
        ),
    };
    let width = bottom.trim_end().len().max(WIDTH);
    let mut out: Vec<String> = head.to_vec();
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(String::new());
        }
        let xen = table
            .as_ref()
            .and_then(|t| t.entries.iter().find(|(n, _)| *n == e.name));
        match xen {
            Some((_, lines)) => out.extend(lines.iter().map(|l| l.to_string())),
            None => out.extend(new_entry(e, column, width)),
        }
    }
    if blank_at_end {
        out.push(String::new());
    }
    out.push(bottom);
    out.into_iter().map(|l| l + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use format_spec::libxc::LibxcRecord;

    fn record(name: &str) -> &'static RecordLayout {
        LibxcRecord::LAYOUT.by_name(name).unwrap()
    }

    const XEN_PV_INFO: &str = "\
--------------------------------------------------------------------
Field            Description
-----------      ---------------------------------------------------
guest_width (w)  Guest width in octets (either 4 or 8).

pt_levels (ptl)  Number of page table levels (either 3 or 4).
--------------------------------------------------------------------
";

    #[test]
    fn xen_s_table_comes_back_as_it_was_when_the_facts_agree() {
        let lines: Vec<&str> = XEN_PV_INFO.lines().collect();
        let out = render(&entries(record("X86_PV_INFO")), Some(&lines));
        assert_eq!(out, XEN_PV_INFO);
    }

    #[test]
    fn entries_follow_the_description_and_new_ones_get_its_words() {
        // Xen's table lacks pt_levels and has an entry the description
        // does not: the entry goes, pt_levels comes with the doc comment.
        let xen = XEN_PV_INFO.replace(
            "pt_levels (ptl)  Number of page table levels (either 3 or 4).",
            "bogus            Not a field.",
        );
        let lines: Vec<&str> = xen.lines().collect();
        let out = render(&entries(record("X86_PV_INFO")), Some(&lines));
        assert!(out.contains("guest_width (w)  Guest width in octets (either 4 or 8).\n"));
        assert!(!out.contains("bogus"));
        let pt = out
            .lines()
            .find(|l| l.starts_with("pt_levels (ptl)"))
            .unwrap();
        assert_eq!(pt.find(|c: char| c.is_uppercase()), Some(COLUMN), "{pt}");
        assert!(out.lines().all(|l| l.len() <= WIDTH + 4), "{out}");
    }

    #[test]
    fn a_new_table_has_xen_s_framing() {
        let out = render(&entries(record("DOMAIN_CONTEXT")), None);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "-".repeat(WIDTH));
        assert_eq!(lines[1], "Field            Description");
        assert!(lines[3].starts_with("dom_ctx          The domain context blob"));
        assert_eq!(lines.last().copied(), Some("-".repeat(WIDTH).as_str()));
        let back = find_after(&lines, 0);
        assert_eq!(back, Some((0, lines.len())));
    }
}
