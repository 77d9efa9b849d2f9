//! Regions of Xen's hand-written files that the description owns.
//!
//! Two of the files a format change touches are mostly prose or code that
//! no description holds: `xg_sr_common.c` (only its name tables come from
//! the description) and the pandoc specs (only the revision line, the list
//! of record types, the octet diagrams and the records' field tables do;
//! a field table keeps Xen's text for each entry, see [`Region::rewrite`]). The generator owns those
//! *regions* and nothing else. Xen's files carry no markers: each region is
//! found by the structure around it (the table's declaration, the
//! `% Revision` line, the section heading of a record), so adopting the
//! generator adds no line to Xen's files and a maintainer's diff shows only
//! what the description changed.
//!
//! This repository may not hold copies of Xen's files, so `generated/`
//! keeps only the regions: one `.regions` file per Xen file, under
//! `generated/regions/` at the Xen file's path (see [`regions_file`]).

use std::fmt::Write as _;

/// Finds a region in a file's lines (without their newlines): the range of
/// lines to replace, or `None` when the file has no such place.
pub type Locate = Box<dyn Fn(&[&str]) -> Option<(usize, usize)>>;

/// Rewrites a region found in a file: from its current lines (without
/// their newlines) to its new text, for a region that keeps some of Xen's
/// text (the descriptions of a field table).
pub type Rewrite = Box<dyn Fn(&[&str]) -> String>;

/// One generated region of a hand-written Xen file.
pub struct Region {
    /// A short name, unique within its file (`mandatory_rec_types`).
    pub name: String,
    /// What the region is, for the `.regions` file and error messages.
    pub what: String,
    /// The region's lines, each ending in a newline: what the description
    /// alone gives (the `.regions` file shows it).
    pub text: String,
    /// When set, the new text of a region found in a file comes from its
    /// current lines rather than being `text`.
    pub rewrite: Option<Rewrite>,
    /// Finds the region in the file.
    pub locate: Locate,
    /// When the file has no such region yet (a record new in this
    /// revision): where to insert lines (an empty range) and which lines
    /// (the record's whole new section, say).
    pub missing: Option<(Locate, String)>,
    /// The entry a line of the region defines (a table key, a record code,
    /// a diagram field), if any: an entry of the file's current region that
    /// the new region lacks would be lost.
    pub key: fn(&str) -> Vec<String>,
}

/// The generated regions of one Xen file.
pub struct Spliced {
    /// The Xen file, relative to the root of a Xen tree.
    pub host: &'static str,
    /// Its regions, in file order.
    pub regions: Vec<Region>,
}

/// Why a region could not be spliced into a Xen file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpliceError {
    /// The file has no place for the region.
    NotFound {
        /// The region's name.
        region: String,
        /// What the region is.
        what: String,
    },
    /// Two regions were found on overlapping lines.
    Overlap {
        /// The first region.
        first: String,
        /// The second.
        second: String,
    },
}

impl std::fmt::Display for SpliceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpliceError::NotFound { region, what } => {
                write!(f, "no place found for region `{region}` ({what})")
            }
            SpliceError::Overlap { first, second } => {
                write!(f, "regions `{first}` and `{second}` overlap")
            }
        }
    }
}

/// The text of `host` with every region replaced, and the entries of the
/// current regions that the new ones lack (lines a hand edit put there).
pub fn splice(host: &str, sp: &Spliced) -> Result<(String, Vec<String>), SpliceError> {
    let lines: Vec<&str> = host.split_inclusive('\n').collect();
    let bare: Vec<&str> = lines.iter().map(|l| l.trim_end_matches('\n')).collect();
    let mut found: Vec<(usize, usize, &Region, String)> = Vec::new();
    for r in &sp.regions {
        let not_found = || SpliceError::NotFound {
            region: r.name.clone(),
            what: r.what.clone(),
        };
        match ((r.locate)(&bare), &r.missing) {
            (Some((s, e)), _) => {
                let text = match &r.rewrite {
                    Some(rewrite) => rewrite(&bare[s..e]),
                    None => r.text.clone(),
                };
                found.push((s, e, r, text));
            }
            (None, Some((insert_at, text))) => {
                let (s, _) = insert_at(&bare).ok_or_else(not_found)?;
                found.push((s, s, r, text.clone()));
            }
            (None, None) => return Err(not_found()),
        }
    }
    found.sort_by_key(|f| f.0);
    for w in found.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(SpliceError::Overlap {
                first: w[0].2.name.clone(),
                second: w[1].2.name.clone(),
            });
        }
    }
    let mut out = String::new();
    let mut lost = Vec::new();
    let mut at = 0;
    for (s, e, r, text) in found {
        out.extend(lines[at..s].iter().copied());
        let new_keys: Vec<String> = text.lines().flat_map(r.key).collect();
        for (i, l) in bare.iter().enumerate().take(e).skip(s) {
            if (r.key)(l).iter().any(|k| !new_keys.contains(k)) {
                lost.push(format!("line {}: {l}", i + 1));
            }
        }
        out.push_str(&text);
        at = e;
    }
    out.extend(lines[at..].iter().copied());
    Ok((out, lost))
}

/// Where the regions of a Xen file are kept under `generated/`.
pub fn regions_path(host: &str) -> String {
    format!("regions/{host}.regions")
}

/// The `.regions` file of `sp`: a banner, then each region after a line
/// naming it.
pub fn regions_file(sp: &Spliced) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `cargo xtask codegen` from the description in format-spec.\n\
         # Do not edit: change the description and run `cargo xtask codegen`.\n\
         #\n\
         # The regions of Xen's {}\n\
         # that the description owns; the rest of that file is Xen's.\n\
         # `cargo xtask codegen --xen-tree DIR` splices each region into\n\
         # DIR/{} in place of the one it finds there.\n\
         # {}{}",
        sp.host,
        sp.host,
        crate::stamp::TAG,
        crate::stamp::PLACEHOLDER
    );
    for r in &sp.regions {
        let _ = write!(out, "\n=== region {}: {} ===\n{}", r.name, r.what, r.text);
        if let Some((_, text)) = r.missing.as_ref().filter(|(_, t)| !t.is_empty()) {
            let _ = write!(
                out,
                "\n=== inserted where the file has no region {} ===\n{text}",
                r.name
            );
        }
    }
    crate::stamp::stamp(&out)
}

/// The first line at or after `from` for which `pred` holds.
pub fn find_line(lines: &[&str], from: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
    (from..lines.len()).find(|&i| pred(lines[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_key(l: &str) -> Vec<String> {
        l.split_once(" = ")
            .map(|(k, _)| vec![k.trim().to_string()])
            .unwrap_or_default()
    }

    fn spliced(text: &str) -> Spliced {
        Spliced {
            host: "x.c",
            regions: vec![Region {
                name: "t".into(),
                what: "the table".into(),
                text: text.into(),
                locate: Box::new(|l| {
                    let s = find_line(l, 0, |x| x == "{")? + 1;
                    Some((s, find_line(l, s, |x| x == "};")?))
                }),
                key: table_key,
                missing: None,
                rewrite: None,
            }],
        }
    }

    #[test]
    fn only_the_region_changes_and_lost_entries_are_named() {
        let host = "int x;\nt[] =\n{\n  a = 1,\n};\nint y;\n";
        let (out, lost) = splice(host, &spliced("  a = 1,\n  b = 2,\n")).unwrap();
        assert_eq!(out, "int x;\nt[] =\n{\n  a = 1,\n  b = 2,\n};\nint y;\n");
        assert!(lost.is_empty());
        let edited = "int x;\nt[] =\n{\n  a = 1,\n  z = 9,\n};\nint y;\n";
        let (_, lost) = splice(edited, &spliced("  a = 1,\n")).unwrap();
        assert_eq!(lost, vec!["line 5:   z = 9,".to_string()]);
        let err = splice("int x;\n", &spliced("")).unwrap_err();
        assert!(err.to_string().contains("the table"), "{err}");
    }
}
