//! The description mirrors Xen's specs: Xen's pandoc files, as Xen wrote
//! them (revision 4 of the reference, revision 3 of the Xen kit, and the
//! libxl spec of both), are parsed and every record code and name of the
//! record list, and every octet diagram's field names, offsets and widths,
//! are checked against the description, and so is every record's field
//! table (its entries, in order; the generator gives Xen's table back).

use std::path::PathBuf;

use format_spec::layout::{RecordLayout, RecordSetLayout};
use format_spec::libxc::LibxcRecord;
use format_spec::libxl::LibxlRecord;
use xtask::field_table;
use xtask::pandoc::{diagrams, find_diagram, LIBXC_SPEC_PATH, LIBXL_SPEC_PATH};

/// Xen's specs to check: the file, its path in a Xen tree and the record
/// table the description has for it.
fn specs() -> Vec<(PathBuf, &'static str, &'static RecordSetLayout)> {
    let shared = test_support::shared_dir();
    let kit = shared.join("xen-kit/tree/docs/specs");
    let reference = shared.join("reference");
    let libxc: &'static RecordSetLayout = &LibxcRecord::LAYOUT;
    let libxl: &'static RecordSetLayout = &LibxlRecord::LAYOUT;
    vec![
        (
            reference.join("libxc-migration-stream.v4.pandoc"),
            LIBXC_SPEC_PATH,
            libxc,
        ),
        (
            kit.join("libxc-migration-stream.pandoc"),
            LIBXC_SPEC_PATH,
            libxc,
        ),
        (
            reference.join("libxl-migration-stream.pandoc"),
            LIBXL_SPEC_PATH,
            libxl,
        ),
        (
            kit.join("libxl-migration-stream.pandoc"),
            LIBXL_SPEC_PATH,
            libxl,
        ),
    ]
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `% Revision N` of a spec.
fn revision(text: &str) -> u32 {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("% Revision "))
        .expect("a revision line");
    line.trim().parse().expect("a revision number")
}

/// The (code, name, notes) entries of the record list of a spec.
fn listed(text: &str) -> (Vec<(u32, String, String)>, u32) {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("type ") && l.ends_with("0x00000000: END"))
        .expect("the record list");
    let mut entries = Vec::new();
    for l in &lines[start..] {
        let t = l.trim_start().trim_start_matches("type").trim_start();
        if let Some(range) = t.strip_suffix("Reserved for future _mandatory_") {
            let first = range.trim().split(' ').next().unwrap();
            let reserved = u32::from_str_radix(first.trim_start_matches("0x"), 16).unwrap();
            return (entries, reserved);
        }
        let Some((code, rest)) = t.split_once(": ") else {
            continue;
        };
        let code = u32::from_str_radix(code.trim_start_matches("0x"), 16).expect("a code");
        let (name, notes) = rest.split_once(' ').unwrap_or((rest, ""));
        entries.push((code, name.to_string(), notes.to_string()));
    }
    panic!("the record list has no reserved range");
}

#[test]
fn every_listed_record_is_the_description_s() {
    for (path, _, set) in specs() {
        let text = read(&path);
        let rev = revision(&text);
        let (entries, reserved) = listed(&text);
        let expected: Vec<&RecordLayout> = set
            .records
            .iter()
            .filter(|r| r.mandatory && r.since <= rev)
            .collect();
        let names: Vec<(u32, &str)> = entries.iter().map(|(c, n, _)| (*c, n.as_str())).collect();
        let want: Vec<(u32, &str)> = expected.iter().map(|r| (r.code, r.spec_name)).collect();
        assert_eq!(names, want, "{} (revision {rev})", path.display());
        for ((_, name, notes), r) in entries.iter().zip(&expected) {
            assert_eq!(
                notes.contains("(deprecated)"),
                r.deprecated_in(rev),
                "{}: {name} {notes}",
                path.display()
            );
        }
        let next = expected.iter().map(|r| r.code + 1).max().unwrap();
        assert_eq!(reserved, next, "{}: first reserved code", path.display());
    }
}

#[test]
fn every_diagram_has_the_description_s_fields() {
    for (path, xen_path, _) in specs() {
        let text = read(&path);
        let rev = revision(&text);
        let lines: Vec<&str> = text.lines().collect();
        let mut checked = 0;
        for d in diagrams(xen_path) {
            let found = find_diagram(&lines, d.title);
            if d.record.is_some_and(|r| r.since > rev) {
                assert!(
                    found.is_none(),
                    "{}: {} before its revision",
                    path.display(),
                    d.title
                );
                continue;
            }
            let (start, end) =
                found.unwrap_or_else(|| panic!("{}: no diagram for {}", path.display(), d.title));
            let (units, n) = xtask::diagram::parse(&lines[start..end]);
            assert_eq!(n, end - start);
            assert_eq!(units, d.units, "{}: diagram of {}", path.display(), d.title);
            checked += 1;
        }
        let least = if xen_path == LIBXC_SPEC_PATH { 17 } else { 7 };
        assert!(checked >= least, "{}: {checked} diagrams", path.display());
        if rev >= 4 {
            assert!(text.contains("    | dom_ctx "), "{}", path.display());
        }
    }
}

/// The field table after the diagram of the section titled `title`, if
/// the section has one.
fn table_of<'a>(lines: &[&'a str], title: &str) -> Option<Vec<&'a str>> {
    let (_, end) = find_diagram(lines, title)?;
    let (s, e) = field_table::find_after(lines, end)?;
    Some(lines[s..e].to_vec())
}

/// Every record's field table in Xen's specs lists exactly the entries
/// the description gives it, in its order, and the generator gives back
/// Xen's table octet for octet (its framing, and Xen's text for each
/// entry); a section without a table (Xen describes its fields in prose)
/// is one the generator leaves without.
#[test]
fn every_field_table_is_the_description_s() {
    let mut tables = 0;
    for (path, xen_path, _) in specs() {
        let text = read(&path);
        let rev = revision(&text);
        let lines: Vec<&str> = text.lines().collect();
        for d in diagrams(xen_path) {
            let Some(r) = d.record.filter(|r| r.since <= rev) else {
                continue;
            };
            let Some(table) = table_of(&lines, d.title) else {
                continue;
            };
            let entries = field_table::entries(r);
            let listed: Vec<&str> = table
                .iter()
                .skip(3)
                .filter_map(|l| field_table::entry_name(l))
                .collect();
            let want: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(listed, want, "{}: table of {}", path.display(), d.title);
            let again = field_table::render(&entries, Some(&table));
            let xen: String = table.iter().map(|l| format!("{l}\n")).collect();
            assert_eq!(again, xen, "{}: table of {}", path.display(), d.title);
            tables += 1;
        }
    }
    assert!(tables >= 25, "{tables} field tables checked");
}

/// The headers' field tables (Xen's text, but for the `version` entry and
/// the record list, regions of their own) name exactly the headers'
/// fields the description has, in its order.
#[test]
fn every_header_table_names_the_description_s_fields() {
    let mut tables = 0;
    for (path, xen_path, _) in specs() {
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        for d in diagrams(xen_path).iter().filter(|d| d.record.is_none()) {
            let layout = xtask::pandoc::header_layout(d.title).unwrap();
            let table = table_of(&lines, d.title)
                .unwrap_or_else(|| panic!("{}: no table for {}", path.display(), d.title));
            let listed: Vec<&str> = table
                .iter()
                .skip(3)
                .filter_map(|l| field_table::entry_name(l))
                .collect();
            let entries = field_table::struct_entries(layout);
            let want: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(listed, want, "{}: table of {}", path.display(), d.title);
            tables += 1;
        }
    }
    assert_eq!(tables, 6);
}
