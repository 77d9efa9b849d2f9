//! No function in `xtask/src` is longer than 120 lines: a generator should
//! read at once, like the output it writes.

mod common;

use std::path::Path;

/// The longest a function may be, from its `fn` line to its closing brace.
const MAX_LINES: usize = 120;

/// The name of the function a line starts, and its indentation, if it
/// starts one (`fn`, `pub fn`, `pub(crate) fn`, `const fn`, ...).
fn starts_fn(line: &str) -> Option<(&str, usize)> {
    let indent = line.len() - line.trim_start().len();
    let mut rest = line.trim_start();
    if let Some(r) = rest.strip_prefix("pub") {
        rest = match r.strip_prefix('(') {
            Some(r) => r.split_once(") ")?.1,
            None => r.strip_prefix(' ')?,
        };
    }
    for kw in ["const ", "async ", "unsafe "] {
        rest = rest.strip_prefix(kw).unwrap_or(rest);
    }
    let name = rest.strip_prefix("fn ")?;
    let end = name
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    Some((&name[..end], indent))
}

/// Every function of `text` with its first line (1-based) and its length
/// in lines: from the `fn` line to the first line after it that is its
/// closing brace at the same indentation (a declaration without a body,
/// ending in `;`, is not counted).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((name, indent)) = starts_fn(line) else {
            continue;
        };
        if line.trim_end().ends_with(';') || line.trim_end().ends_with('}') {
            continue;
        }
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(n) = lines[i + 1..].iter().position(|l| *l == close) {
            out.push((name.to_string(), i + 1, n + 2));
        }
    }
    out
}

#[test]
fn the_measure_finds_functions_and_their_lengths() {
    let text = "fn a() {\n    x;\n}\n\nimpl T {\n    pub(crate) fn b(\n        y: u8,\n    ) -> u8 {\n        y\n    }\n}\nfn c();\n";
    assert_eq!(
        functions(text),
        [("a".to_string(), 1, 3), ("b".to_string(), 6, 5)]
    );
}

#[test]
fn no_xtask_function_is_longer_than_120_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    for path in common::files_with(&src, "rs") {
        let text = std::fs::read_to_string(&path).expect("read a source file");
        for (name, line, len) in functions(&text) {
            all.push((len, format!("{}:{line} {name}", path.display())));
        }
    }
    all.sort();
    assert!(all.len() > 300, "only {} functions found", all.len());
    let long: Vec<String> = all
        .iter()
        .filter(|(len, _)| *len > MAX_LINES)
        .map(|(len, at)| format!("{at}: {len} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "longer than {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
    let (len, at) = all.last().expect("functions");
    println!("longest xtask function: {at}, {len} lines");
}
