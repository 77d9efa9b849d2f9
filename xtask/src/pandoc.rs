//! Regions of Xen's specs, `docs/specs/libxc-migration-stream.pandoc` and
//! `docs/specs/libxl-migration-stream.pandoc`, from the description: the
//! `% Revision` line, the `version` entry of the stream header's field
//! table and the list of record types of the record header's table. Xen's
//! prose around them stays as Xen wrote it.

use format_spec::layout::RecordLayout;
use format_spec::libxc::{LibxcRecord, BACK_CHANNEL_RECORDS, CURRENT_VERSION};
use format_spec::libxl::{LibxlRecord, HDR_VERSION};

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
}

/// The regions of both specs.
pub fn spliced() -> Vec<Spliced> {
    [
        Spec {
            path: LIBXC_SPEC_PATH,
            revision: CURRENT_VERSION,
            records: LibxcRecord::LAYOUT.records,
            version: CURRENT_VERSION,
            back_channel: BACK_CHANNEL_RECORDS,
        },
        Spec {
            path: LIBXL_SPEC_PATH,
            revision: HDR_VERSION,
            records: LibxlRecord::LAYOUT.records,
            version: HDR_VERSION,
            back_channel: &[],
        },
    ]
    .iter()
    .map(|s| Spliced {
        host: s.path,
        regions: vec![revision(s), version(s), record_types(s)],
    })
    .collect()
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
    let next = mandatory.iter().map(|r| r.code + 1).max().unwrap_or(0);
    text.push_str(&format!(
        "{pad}0x{next:08X} - 0x7FFFFFFF: Reserved for future _mandatory_\n{pad}records.\n\n\
         {pad}0x80000000 - 0xFFFFFFFF: Reserved for future _optional_\n{pad}records.\n"
    ));
    Region {
        name: "record-types".into(),
        what: "the list of record types in the record header's field table".into(),
        text,
        locate: Box::new(|l| {
            let start = find_line(l, 0, |x| {
                x.starts_with("type ") && x.ends_with("0x00000000: END")
            })?;
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
    }
}
