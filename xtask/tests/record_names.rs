//! Record names written in prose are checked references: every string
//! literal of the hand-written non-test code of `format-spec`,
//! `format-cli` and `xtask` (messages, `#[error]` texts, the rule and
//! catalogue tables, generator text) is scanned for upper-case tokens, and
//! each must be a name the description holds (a libxc or libxl record, a
//! DOMAIN_CONTEXT or HVM_CONTEXT entry type, a constant, a struct or an
//! enumeration value, by its spec, C or Python name) or one of the few
//! words of [`NOT_NAMES`]. A record renamed in the description then fails
//! this test at every message that still spells the old name.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use format_spec::layout::{
    ConstLayout, EnumLayout, RecordSetLayout, SpecEnum, StructLayout, TextConstLayout,
};
use format_spec::{domain_context as dc, hvm_context as hvm, libxc, libxl, xl};

/// Upper-case words in literals that are not names of the description.
/// Only add a word here if it names nothing the description could hold.
#[rustfmt::skip]
const NOT_NAMES: &[&str] = &[
    // Xen terms and names outside the stream description.
    "COLO", "CPUID", "CR1", "CR3", "GDT", "HVM", "L1TAB", "L4TAB", "MBZ", "MSR", "NDEBUG", "P2M",
    "PVH", "QEMU", "QEVM", "TSC", "XEN", "XTAB", "HVM_SAVE_CODE", "XEN_STREAM_SHARED",
    // Other formats, units and protocols.
    "ELF", "ELF64", "ET_CORE", "PT_LOAD", "JSON", "NUL", "KIB", "MIB", "GIB", "TIB", "PIB", "TCP",
    "API", "RSS", "ULL",
    // Licences and banners of generated files ("DO NOT EDIT").
    "BSD", "LGPL", "MIT", "SPDX", "EDIT", "NOT",
    // Command-line value names, environment variables, labels.
    "ARGS", "PROGRAM", "FILE", "OUTPUT", "SIZE", "STATUS", "EXIT", "DIR", "OUT", "IMAGE", "REAL",
    "SAVE", "RESTORE", "MISSED", "TRACKED", "BROKEN", "KIND", "COLUMN", "HEADER_COLUMN",
    "TYPE_COLUMN", "CARGO", "CARGO_MANIFEST_DIR", "CARGO_PKG_VERSION", "CARGO_TARGET_DIR",
    "PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONDONTWRITEBYTECODE",
    // The C include guard of the libxl header.
    "LIBXL__SR_STREAM_FORMAT_H",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// The non-test part of a source file: everything before its first
/// `#[cfg(test)]` line.
fn non_test(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("#[cfg(test)]") {
            return &text[..at];
        }
        at += line.len();
    }
    text
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The string literals of Rust source `text` (plain, byte and raw), each
/// with the line it starts on, escapes turned into spaces; comments and
/// character literals are skipped.
fn literals(text: &str) -> Vec<(usize, String)> {
    let s: Vec<char> = text.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let at = |i: usize, p: &str| p.chars().enumerate().all(|(k, c)| s.get(i + k) == Some(&c));
    while i < s.len() {
        let prev_ident = i > 0 && is_ident(s[i - 1]);
        if s[i] == '\n' {
            line += 1;
            i += 1;
        } else if at(i, "//") {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if at(i, "/*") {
            let mut depth = 0;
            while i < s.len() {
                if at(i, "/*") {
                    depth += 1;
                    i += 2;
                } else if at(i, "*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(s[i] == '\n');
                    i += 1;
                }
            }
        } else if !prev_ident && (at(i, "r\"") || at(i, "r#") || at(i, "br\"") || at(i, "br#")) {
            let mut j = i + if s[i] == 'b' { 2 } else { 1 };
            let hashes = s[j..].iter().take_while(|&&c| c == '#').count();
            j += hashes;
            if s.get(j) != Some(&'"') {
                i = j;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            let start = j + 1;
            let mut k = start;
            while k < s.len() && !at(k, &close) {
                k += 1;
            }
            let body: String = s[start..k.min(s.len())].iter().collect();
            out.push((line, body.clone()));
            line += body.matches('\n').count();
            i = k + close.chars().count();
        } else if s[i] == '"' {
            let (start_line, mut body) = (line, String::new());
            i += 1;
            while i < s.len() && s[i] != '"' {
                // An escape (`\n`, `\"`, a line continuation) is a space.
                let n = if s[i] == '\\' { 2 } else { 1 };
                line += s[i..(i + n).min(s.len())]
                    .iter()
                    .filter(|&&c| c == '\n')
                    .count();
                body.push(if n == 1 && s[i] != '\n' { s[i] } else { ' ' });
                i += n;
            }
            out.push((start_line, body));
            i += 1;
        } else if s[i] == '\'' {
            // A character literal ('"', '\'', '\n'), or a lifetime.
            if s.get(i + 1) == Some(&'\\') {
                let end = s[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map_or(s.len(), |p| i + 3 + p);
                i = end;
            } else if s.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The upper-case tokens of a literal that could name something of the
/// description: runs of `A-Z`, `0-9` and `_` of three or more characters
/// that start with a letter, stand alone (not inside a mixed-case name
/// such as `XEN_DOMCTL_getdomaincontext`), are not an inline format
/// argument (`{V_DC}`, a Rust name the compiler checks) and are not a
/// prefix (`REC_TYPE_`, `X86_PV_*`).
fn tokens(literal: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = literal;
    let mut offset = 0;
    while let Some(start) = rest.find(is_ident) {
        let len = rest[start..]
            .find(|c| !is_ident(c))
            .unwrap_or(rest.len() - start);
        let tok = &rest[start..start + len];
        let before = literal[..offset + start].chars().next_back();
        let upper = tok
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if upper
            && tok.len() >= 3
            && tok.starts_with(|c: char| c.is_ascii_uppercase())
            && !tok.ends_with('_')
            && before != Some('{')
        {
            out.push(tok);
        }
        offset += start + len;
        rest = &rest[start + len..];
    }
    out
}

/// What a DOMAIN_CONTEXT or HVM_CONTEXT entry type is called in prose:
/// its C name after `_TYPE_` (`XC_SR_DC_TYPE_SHARED_INFO`: SHARED_INFO).
fn entry_name(c_name: &str) -> Option<&str> {
    c_name.split_once("_TYPE_").map(|(_, name)| name)
}

/// Every name the description holds.
fn description_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut add = |n: Option<&str>| {
        if let Some(n) = n {
            names.insert(n.to_string());
        }
    };
    let sets: [&RecordSetLayout; 2] = [&libxc::LibxcRecord::LAYOUT, &libxl::LibxlRecord::LAYOUT];
    for r in sets.iter().flat_map(|s| s.records) {
        add(Some(r.spec_name));
        add(Some(r.c_name));
        add(Some(r.py_name));
    }
    let enums: [&EnumLayout; 6] = [
        &dc::DcType::LAYOUT,
        &hvm::HvmType::LAYOUT,
        &libxc::DomainType::LAYOUT,
        &libxc::PageType::LAYOUT,
        &libxl::EmulatorId::LAYOUT,
        &libxl::CheckpointStateId::LAYOUT,
    ];
    for v in enums.iter().flat_map(|e| e.variants) {
        add(v.c_name);
        add(v.py_name);
        add(v.c_name.and_then(entry_name));
        add(Some(v.human));
    }
    let consts: [&[ConstLayout]; 5] = [
        libxc::LIBXC_CONSTANTS,
        libxl::LIBXL_CONSTANTS,
        xl::XL_CONSTANTS,
        dc::DOMAIN_CONTEXT_CONSTANTS,
        hvm::HVM_CONTEXT_CONSTANTS,
    ];
    for c in consts.iter().flat_map(|t| t.iter()) {
        add(Some(c.rust_name));
        add(c.c_name);
        add(c.py_name);
    }
    let texts: [&[TextConstLayout]; 2] = [libxl::LIBXL_TEXT_CONSTANTS, xl::XL_TEXT_CONSTANTS];
    for c in texts.iter().flat_map(|t| t.iter()) {
        add(Some(c.rust_name));
        add(c.c_name);
        add(c.py_name);
    }
    let structs: [&[&StructLayout]; 5] = [
        libxc::LIBXC_STRUCTS,
        libxl::LIBXL_STRUCTS,
        xl::XL_STRUCTS,
        dc::DOMAIN_CONTEXT_STRUCTS,
        hvm::HVM_CONTEXT_STRUCTS,
    ];
    for s in structs.iter().flat_map(|t| t.iter()) {
        add(Some(s.rust_name));
        add(s.c_name);
        add(s.py_format_name);
        add(s.py_format_override);
    }
    // Rust constants of the description that no table lists, named in
    // generated text (`use` makes a renamed one fail to compile here).
    {
        use dc::DC_RULES;
        use hvm::{HVM_RULES, HVM_TYPE_RULES};
        use libxc::{PAGE_SIZE, SUPPORTED_VERSIONS};
        let _ = (DC_RULES, HVM_RULES, HVM_TYPE_RULES);
        let _ = (PAGE_SIZE, SUPPORTED_VERSIONS);
        for name in [
            stringify!(DC_RULES),
            stringify!(HVM_RULES),
            stringify!(HVM_TYPE_RULES),
            stringify!(PAGE_SIZE),
            stringify!(SUPPORTED_VERSIONS),
        ] {
            add(Some(name));
        }
    }
    for &(_, name) in libxc::HVM_PARAM_NAMES {
        add(Some(name));
    }
    names
}

/// Every token of the hand-written non-test code (the description's own
/// files included: a literal that defines a name holds the current one,
/// prose beside it is checked like any other) that is neither a name of `known` nor in [`NOT_NAMES`], as
/// `file:line: TOKEN`, and the words of [`NOT_NAMES`] the code uses.
fn unknown_tokens(known: &BTreeSet<String>) -> (Vec<String>, BTreeSet<&'static str>) {
    let root = root();
    let (mut found, mut used) = (Vec::new(), BTreeSet::new());
    for dir in ["format-spec/src", "format-cli/src", "xtask/src"] {
        for path in common::files_with(&root.join(dir), "rs") {
            let rel = path.strip_prefix(&root).expect("under the root");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("read a source file");
            for (line, lit) in literals(non_test(&text)) {
                for tok in tokens(&lit) {
                    if let Some(word) = NOT_NAMES.iter().find(|w| **w == tok) {
                        used.insert(*word);
                    } else if !known.contains(tok) {
                        found.push(format!("{rel}:{line}: {tok}"));
                    }
                }
            }
        }
    }
    (found, used)
}

#[test]
fn every_record_name_in_a_message_is_a_record_of_the_description() {
    let known = description_names();
    let (found, used) = unknown_tokens(&known);
    assert!(
        found.is_empty(),
        "{} upper-case token(s) in string literals name nothing of the description \
         (a record renamed or removed? take the name from the description, or, if the \
         word is no name at all, add it to NOT_NAMES):\n{}",
        found.len(),
        found.join("\n")
    );
    // The allow-list holds no word the code no longer uses.
    let unused: Vec<&str> = NOT_NAMES
        .iter()
        .filter(|w| !used.contains(*w))
        .copied()
        .collect();
    assert!(unused.is_empty(), "remove from NOT_NAMES: {unused:?}");
}

#[test]
fn the_description_names_its_records_entries_and_constants() {
    let known = description_names();
    for name in [
        "PAGE_DATA",
        "X86_TSC_INFO",
        "LIBXC_CONTEXT",
        "CHECKPOINT_END",
        "REC_TYPE_X86_TSC_INFO",
        "SHARED_INFO",
        "TSC_INFO",
        "CPU_MSR",
        "REC_LENGTH_MAX",
    ] {
        assert!(known.contains(name), "{name}");
    }
    // No word of the allow-list is a name of the description: such a word
    // would be checked already, and listing it could hide a removal.
    for word in NOT_NAMES {
        assert!(!known.contains(*word), "{word} is a description name");
    }
}

#[test]
fn the_scanner_reads_literals_and_skips_comments_and_format_arguments() {
    let src = concat!(
        "// \"STALE_IN_COMMENT\"\n",
        "/* \"STALE_IN_BLOCK\" /* nested */ */\n",
        "let c = '\"'; let l: &'a str = \"a STALE_ONE record\";\n",
        "#[error(\"{at}: {V_DC} and X86_PV_* and REC_TYPE_ and XEN_DOMCTL_getdomaincontext\")]\n",
        "let r = r#\"raw \"STALE_RAW\" text\"#; let e = \"esc\\\"STALE_ESC\\nEND\";\n",
    );
    let lits = literals(src);
    let toks: Vec<(usize, &str)> = lits
        .iter()
        .flat_map(|(line, l)| tokens(l).into_iter().map(move |t| (*line, t)))
        .collect();
    assert_eq!(
        toks,
        [
            (3, "STALE_ONE"),
            (5, "STALE_RAW"),
            (5, "STALE_ESC"),
            (5, "END")
        ]
    );
    assert_eq!(non_test("a\n#[cfg(test)]\nb\n"), "a\n");
}
