//! The description mirrors Xen's specs: Xen's pandoc files, as Xen wrote
//! them (revision 4 of the reference, revision 3 of the Xen kit, and the
//! libxl spec of both), are parsed and every record code and name of the
//! record list, and every octet diagram's field names, offsets and widths,
//! are checked against the description.

use std::path::PathBuf;

use format_spec::layout::{RecordLayout, RecordSetLayout};
use format_spec::libxc::LibxcRecord;
use format_spec::libxl::LibxlRecord;
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

/// The names the description gives the fields a section's field table
/// may list: each field's spec name (with its diagram label, `guest_width
/// (w)`), each member of a trailing struct array (`param index`), and what
/// the spec calls a body no struct describes.
fn described_names(d: &xtask::pandoc::Drawn) -> (Vec<String>, Vec<String>) {
    use format_spec::layout::FieldKind;
    let mut names = Vec::new();
    let mut required = Vec::new();
    let layout = match d.record {
        Some(r) => r.body.filter(|b| b.size > 0 || r.spec_body.is_none()),
        None => xtask::pandoc::header_layout(d.title),
    };
    if let Some(s) = layout {
        for f in s.fields.iter().filter(|f| !f.is_reserved()) {
            let name = f.spec_name().to_string();
            match (f.diagram.label, f.kind) {
                (Some(l), _) => names.push(format!("{name} ({l})")),
                (None, FieldKind::TrailingStruct(e)) => {
                    names.extend(e.fields.iter().map(|m| format!("{name} {}", m.spec_name())))
                }
                _ => names.push(name.clone()),
            }
            required.push(name);
        }
    }
    if let Some(b) = d.record.and_then(|r| r.spec_body) {
        names.push(b.to_string());
    }
    (names, required)
}

/// The entry names of the first field table of the section titled
/// `title`, if it has one before the next section.
fn table_names(lines: &[&str], title: &str) -> Option<Vec<String>> {
    let (_, end) = find_diagram(lines, title)?;
    let is_rule = |l: &str| l.len() >= 20 && l.bytes().all(|b| b == b'-');
    let mut i = end;
    while i < lines.len() && !is_rule(lines[i]) {
        let next_is_underline = lines
            .get(i + 1)
            .is_some_and(|u| u.len() >= 3 && u.bytes().all(|b| b == b'-' || b == b'='));
        if next_is_underline && !lines[i].contains("  ") && !lines[i].trim().is_empty() {
            return None; // the next section begins
        }
        i += 1;
    }
    if !lines.get(i + 1)?.starts_with("Field") {
        return None;
    }
    let mut names = Vec::new();
    for l in &lines[i + 3..] {
        if is_rule(l) {
            return Some(names);
        }
        if !l.is_empty() && !l.starts_with(' ') {
            let name = l.split("  ").next().unwrap().trim();
            names.push(name.to_string());
        }
    }
    None
}

#[test]
fn every_field_table_names_the_description_s_fields() {
    let mut tables = 0;
    for (path, xen_path, _) in specs() {
        let text = read(&path);
        let rev = revision(&text);
        let lines: Vec<&str> = text.lines().collect();
        for d in diagrams(xen_path) {
            if d.record.is_some_and(|r| r.since > rev) {
                continue;
            }
            let Some(listed) = table_names(&lines, d.title) else {
                continue;
            };
            let (names, required) = described_names(&d);
            for n in &listed {
                assert!(
                    names.contains(n),
                    "{}: {}: table entry {n:?} is not in the description ({names:?})",
                    path.display(),
                    d.title
                );
            }
            for r in &required {
                assert!(
                    listed
                        .iter()
                        .any(|n| n == r || n.starts_with(&format!("{r} "))),
                    "{}: {}: field {r} missing from the table {listed:?}",
                    path.display(),
                    d.title
                );
            }
            tables += 1;
        }
    }
    assert!(tables >= 30, "{tables} field tables checked");
}
