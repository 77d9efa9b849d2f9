//! The `key value` lines the C stream reader prints.

use std::collections::BTreeMap;

/// A parsed summary: each key once, in key order.
pub type Summary = BTreeMap<String, String>;

/// Parses `key value` lines. Errors name the offending line: a line
/// without a value, or a key that appears twice.
pub fn parse(text: &str) -> Result<Summary, String> {
    let mut out = Summary::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(' ') else {
            return Err(format!("line {}: no value: {line:?}", i + 1));
        };
        if out.insert(key.to_string(), value.to_string()).is_some() {
            return Err(format!("line {}: key {key:?} repeated", i + 1));
        }
    }
    Ok(out)
}

/// The key of a record type's count (`records_0x00000001`).
pub fn record_key(code: u32) -> String {
    format!("records_0x{code:08x}")
}

/// The key of a page type's pfn-entry count (`page_type_0xf`).
pub fn page_type_key(page_type: u64) -> String {
    format!("page_type_0x{page_type:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let s = parse("version 4\nend_reached yes\n").unwrap();
        assert_eq!(s["version"], "4");
        assert!(parse("version\n").unwrap_err().contains("line 1"));
        assert!(parse("a 1\na 2\n").unwrap_err().contains("repeated"));
    }
}
