//! Regions of Xen's specs, `docs/specs/libxc-migration-stream.pandoc` and
//! `docs/specs/libxl-migration-stream.pandoc`, from the description: the
//! `% Revision` line, the `version` entry of the stream header's field
//! table, the list of record types of the record header's table, the
//! octet diagram of each header and each record (see [`crate::diagram`])
//! and each record's field table (see [`crate::field_table`]: its entries
//! come from the description, what each entry says stays Xen's text).
//! Xen's prose around them stays as Xen wrote it.

use format_spec::layout::{RecordLayout, StructLayout, Wire};
use format_spec::libxc::{
    DomainHeader, ImageHeader, LibxcRecord, BACK_CHANNEL_RECORDS, CURRENT_VERSION,
    REC_TYPE_OPTIONAL,
};
use format_spec::libxl::{LibxlHeader, LibxlRecord, HDR_VERSION};

use crate::diagram;
use crate::field_table;
use crate::regions::{find_line, Region, Spliced};

/// The libxc spec in a Xen tree.
pub const LIBXC_SPEC_PATH: &str = "docs/specs/libxc-migration-stream.pandoc";

/// The libxl spec in a Xen tree.
pub const LIBXL_SPEC_PATH: &str = "docs/specs/libxl-migration-stream.pandoc";

/// The column at which the description of a record-header field starts in
/// Xen's table (`type         0x00000000: END`).
const TYPE_COLUMN: usize = 13;

/// The column of the image header's field descriptions (`version     0x...`).
const HEADER_COLUMN: usize = 12;

/// One spec and the facts its regions show.
struct Spec {
    path: &'static str,
    revision: u32,
    records: &'static [RecordLayout],
    /// The stream version whose deprecations the list marks.
    version: u32,
    /// Records sent only from the secondary to the primary.
    back_channel: &'static [u32],
    /// The headers drawn in the spec, under the titles of their sections.
    headers: &'static [(&'static str, &'static StructLayout)],
}

/// Both specs.
fn specs() -> [Spec; 2] {
    [
        Spec {
            path: LIBXC_SPEC_PATH,
            revision: CURRENT_VERSION,
            records: LibxcRecord::LAYOUT.records,
            version: CURRENT_VERSION,
            back_channel: BACK_CHANNEL_RECORDS,
            headers: &[
                ("Image Header", &ImageHeader::LAYOUT),
                ("Domain Header", &DomainHeader::LAYOUT),
            ],
        },
        Spec {
            path: LIBXL_SPEC_PATH,
            revision: HDR_VERSION,
            records: LibxlRecord::LAYOUT.records,
            version: HDR_VERSION,
            back_channel: &[],
            headers: &[("Header", &LibxlHeader::LAYOUT)],
        },
    ]
}

/// The records of `s` that have a section of their own: records with the
/// same body share one (Xen's "X86_PV_VCPU_BASIC, EXTENDED, XSAVE, MSRS",
/// titled by the first); a different `spec_body` makes a different body.
fn drawn_records(s: &Spec) -> Vec<&'static RecordLayout> {
    let mut bodies: Vec<(&str, Option<&str>)> = Vec::new();
    s.records
        .iter()
        .filter(|r| match r.body {
            Some(b) if bodies.contains(&(b.rust_name, r.spec_body)) => false,
            Some(b) => {
                bodies.push((b.rust_name, r.spec_body));
                true
            }
            None => true,
        })
        .collect()
}

/// One diagram the description draws in a spec.
pub struct Drawn {
    /// The title of its section.
    pub title: &'static str,
    /// The record, for a record's diagram.
    pub record: Option<&'static RecordLayout>,
    /// What it shows.
    pub units: Vec<diagram::Unit>,
}

/// The layout of the header drawn in the section titled `title`.
pub fn header_layout(title: &str) -> Option<&'static StructLayout> {
    specs()
        .iter()
        .flat_map(|s| s.headers.iter())
        .find(|(t, _)| *t == title)
        .map(|(_, l)| *l)
}

/// Every diagram of the spec at `path`, headers first.
pub fn diagrams(path: &str) -> Vec<Drawn> {
    let specs = specs();
    let Some(s) = specs.iter().find(|s| s.path == path) else {
        return Vec::new();
    };
    let mut out: Vec<Drawn> = s
        .headers
        .iter()
        .map(|(title, layout)| Drawn {
            title,
            record: None,
            units: diagram::of_struct(layout),
        })
        .collect();
    out.extend(drawn_records(s).into_iter().map(|r| Drawn {
        title: r.spec_name,
        record: Some(r),
        units: diagram::of_record(r),
    }));
    out
}

/// The regions of both specs.
pub fn spliced() -> Vec<Spliced> {
    specs().iter().map(spliced_spec).collect()
}

/// The regions of one spec.
fn spliced_spec(s: &Spec) -> Spliced {
    let mut regions = vec![revision(s), version(s), record_types(s)];
    let mut prev: Option<&'static str> = None;
    for d in diagrams(s.path) {
        let what = match d.record {
            Some(r) => format!("the octet diagram of record {}", r.spec_name),
            None => format!("the octet diagram of section \"{}\"", d.title),
        };
        let mut region = diagram_region(d.title, what, d.units);
        let table = d.record.map(|r| table_region(d.title, r));
        if let (Some(r), Some(after)) = (d.record, prev) {
            // A record new in this revision gets a section of its own.
            let table_text = table.as_ref().map_or("", |t| t.text.as_str());
            region.missing = Some((
                Box::new(move |l: &[&str]| after_section(l, after).map(|i| (i, i))),
                new_section(r, s.version, &region.text, table_text),
            ));
        }
        if d.record.is_some() {
            prev = Some(d.title);
        }
        regions.push(region);
        regions.extend(table.filter(|t| !t.text.is_empty()));
    }
    Spliced {
        host: s.path,
        regions,
    }
}

/// Whether line `i` is a section title (a setext heading: underlined).
/// The last row of a table is followed by a line of dashes too, but a row
/// has its columns apart by runs of spaces, and a title does not.
fn is_heading(lines: &[&str], i: usize) -> bool {
    let title = lines[i].trim_end();
    lines.get(i + 1).is_some_and(|u| {
        let u = u.trim_end();
        u.len() >= 3 && (u.bytes().all(|b| b == b'-') || u.bytes().all(|b| b == b'='))
    }) && !title.trim().is_empty()
        && !title.starts_with(' ')
        && !title.contains("  ")
}

/// The section whose title is `title`, or starts with `title` and a comma
/// or a space (`SHARED_INFO (deprecated)`).
pub fn find_section(lines: &[&str], title: &str) -> Option<usize> {
    (0..lines.len()).find(|&i| {
        let l = lines[i].trim_end();
        is_heading(lines, i)
            && l.strip_prefix(title)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ',']))
    })
}

/// The lines of the first octet diagram of the section titled `title`:
/// its ruler to its last border.
pub fn find_diagram(lines: &[&str], title: &str) -> Option<(usize, usize)> {
    let h = find_section(lines, title)?;
    let next = (h + 2..lines.len())
        .find(|&i| is_heading(lines, i))
        .unwrap_or(lines.len());
    let ruler = (h + 2..next).find(|&i| diagram::is_ruler(lines[i]))?;
    let (_, n) = diagram::parse(&lines[ruler..next]);
    Some((ruler, ruler + n))
}

/// Where a new section goes after the section titled `title`: after its
/// closing `\clearpage` and the blank line that follows it.
fn after_section(lines: &[&str], title: &str) -> Option<usize> {
    let h = find_section(lines, title)?;
    let next = (h + 2..lines.len())
        .find(|&i| is_heading(lines, i))
        .unwrap_or(lines.len());
    match (h + 2..next)
        .rev()
        .find(|&i| lines[i].trim() == "\\clearpage")
    {
        Some(c) if lines.get(c + 1).is_some_and(|l| l.trim().is_empty()) => Some(c + 2),
        Some(c) => Some(c + 1),
        None => Some(next),
    }
}

/// The section of a record the spec does not have yet: its title, what
/// the description says of it, its diagram, its field table (the
/// description's words for each field) and a page break.
fn new_section(r: &RecordLayout, version: u32, diagram: &str, table: &str) -> String {
    let mut title = r.spec_name.to_string();
    if r.deprecated.is_some_and(|d| version >= d) {
        title.push_str(" (deprecated)");
    }
    let mut out = format!("{title}\n{}\n\n", "-".repeat(title.len()));
    for p in crate::text::doc_paragraphs(r.doc) {
        for line in crate::text::wrap(&p, 72) {
            out.push_str(&format!("{line}\n"));
        }
        out.push('\n');
    }
    out.push_str(diagram);
    if !table.is_empty() {
        out.push('\n');
        out.push_str(table);
    }
    out.push_str("\n\\clearpage\n");
    out
}

/// The field table of the section titled `title`, where that section has
/// one: its entries from the description (see [`field_table`]), each
/// with Xen's text where Xen's table has the entry. A record without
/// fields has no table (empty text); a section of Xen's without a table
/// (Xen describes the fields in prose) keeps having none.
fn table_region(title: &'static str, r: &'static RecordLayout) -> Region {
    let entries = field_table::entries(r);
    let text = if entries.is_empty() {
        String::new()
    } else {
        field_table::render(&entries, None)
    };
    Region {
        name: format!("table {title}"),
        what: format!("the field table of record {title}, where its section has one"),
        text,
        locate: Box::new(move |l| field_table::find_after(l, find_diagram(l, title)?.1)),
        key: field_table::key,
        // No table where Xen has none; a new section brings its own.
        missing: Some((Box::new(|_| Some((0, 0))), String::new())),
        rewrite: Some(Box::new(move |lines| {
            field_table::render(&entries, Some(lines))
        })),
    }
}

/// The region of one diagram.
fn diagram_region(title: &'static str, what: String, units: Vec<diagram::Unit>) -> Region {
    Region {
        name: format!("diagram {title}"),
        what,
        text: diagram::render(&units),
        locate: Box::new(move |l| find_diagram(l, title)),
        key: |line| {
            // The fields of a row: a field that goes is a lost line.
            let t = line.trim();
            if !t.starts_with('|') {
                return Vec::new();
            }
            t.split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        },
        missing: None,
        rewrite: None,
    }
}

/// `% Revision N`, the document's revision: the stream version it describes.
fn revision(s: &Spec) -> Region {
    Region {
        name: "revision".into(),
        what: "the `% Revision` line of the title block".into(),
        text: format!("% Revision {}\n", s.revision),
        locate: Box::new(|l| {
            let at = find_line(l, 0, |x| x.starts_with("% Revision "))?;
            Some((at, at + 1))
        }),
        key: |_| Vec::new(),
        missing: None,
        rewrite: None,
    }
}

/// The `version` entry of the stream header's field table.
fn version(s: &Spec) -> Region {
    Region {
        name: "header-version".into(),
        what: "the `version` entry of the stream header's field table".into(),
        text: format!(
            "{:<HEADER_COLUMN$}0x{:08X}.  The version of this specification.\n",
            "version", s.revision
        ),
        locate: Box::new(|l| {
            let at = find_line(l, 0, |x| {
                x.starts_with("version ") && x.ends_with("The version of this specification.")
            })?;
            Some((at, at + 1))
        }),
        key: |_| Vec::new(),
        missing: None,
        rewrite: None,
    }
}

/// How the list names one record: its code and spec name, and what Xen
/// notes after it (deprecated in the spec's version; sent only from the
/// secondary to the primary).
fn type_entry(r: &RecordLayout, s: &Spec) -> String {
    let mut line = format!("0x{:08X}: {}", r.code, r.spec_name);
    if r.deprecated.is_some_and(|d| s.version >= d) {
        line.push_str(" (deprecated)");
    }
    if s.back_channel.contains(&r.code) {
        line.push_str(" (Secondary -> Primary)");
    }
    line
}

/// The list of record types in the record header's field table, with the
/// reserved ranges after the last mandatory code.
fn record_types(s: &Spec) -> Region {
    let pad = " ".repeat(TYPE_COLUMN);
    let mut text = String::new();
    let mandatory: Vec<&RecordLayout> = s.records.iter().filter(|r| r.mandatory).collect();
    for (i, r) in mandatory.iter().enumerate() {
        let lead = if i == 0 {
            format!("{:<TYPE_COLUMN$}", "type")
        } else {
            pad.clone()
        };
        text.push_str(&format!("{lead}{}\n\n", type_entry(r, s)));
    }
    let first = mandatory
        .first()
        .map(|r| format!("0x{:08X}: {}", r.code, r.spec_name))
        .unwrap_or_default();
    let next = mandatory.iter().map(|r| r.code + 1).max().unwrap_or(0);
    let (optional, last) = (REC_TYPE_OPTIONAL, u32::MAX);
    let last_mandatory = optional - 1;
    text.push_str(&format!(
        "{pad}0x{next:08X} - 0x{last_mandatory:08X}: Reserved for future _mandatory_\n{pad}records.\n\n\
         {pad}0x{optional:08X} - 0x{last:08X}: Reserved for future _optional_\n{pad}records.\n"
    ));
    Region {
        name: "record-types".into(),
        what: "the list of record types in the record header's field table".into(),
        text,
        locate: Box::new(move |l| {
            // The list's first line, as the document has it: the field's
            // name, then the first record.
            let start = find_line(l, 0, |x| x.starts_with("type ") && x.ends_with(&first))?;
            let optional = find_line(l, start, |x| x.contains("Reserved for future _optional_"))?;
            let end = find_line(l, optional, |x| x.trim() == "records.")?;
            Some((start, end + 1))
        }),
        key: |line| {
            let t = line.trim_start().trim_start_matches("type").trim_start();
            match t.split_once(':') {
                Some((code, _)) if code.starts_with("0x") && !code.contains(' ') => {
                    vec![code.to_string()]
                }
                _ => Vec::new(),
            }
        },
        missing: None,
        rewrite: None,
    }
}
