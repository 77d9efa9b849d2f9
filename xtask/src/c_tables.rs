//! The C name tables of Xen's `tools/libs/guest/xg_sr_common.c`:
//! `dhdr_types[]` (guest types of the domain header) and
//! `mandatory_rec_types[]` (record types), which `dhdr_type_to_str()` and
//! `rec_type_to_str()` print in Xen's log messages.
//!
//! Only the tables' initialisers come from the description (the C names of
//! [`DomainType`] and of the mandatory records of [`LibxcRecord`], with
//! their C human names); every other line of Xen's file stays Xen's. The
//! entries are spelled and aligned as Xen spells them.

use format_spec::layout::SpecEnum;
use format_spec::libxc::{DomainType, LibxcRecord};

use crate::regions::{find_line, Region, Spliced};

/// Where the tables live in a Xen tree.
pub const COMMON_C_PATH: &str = "tools/libs/guest/xg_sr_common.c";

/// The regions of `xg_sr_common.c`.
pub fn spliced() -> Vec<Spliced> {
    let dhdr: Vec<(String, &str)> = DomainType::LAYOUT
        .variants
        .iter()
        .filter_map(|v| Some((v.c_name?.to_string(), v.human)))
        .collect();
    let recs: Vec<(String, &str)> = LibxcRecord::LAYOUT
        .records
        .iter()
        .filter(|r| r.mandatory)
        .map(|r| (r.c_name.to_string(), r.c_human))
        .collect();
    vec![Spliced {
        host: COMMON_C_PATH,
        regions: vec![
            // Xen aligns `=` one column after the longest key here ...
            table("dhdr_types", "guest types of the domain header", &dhdr, 1),
            // ... and four columns after it here.
            table("mandatory_rec_types", "mandatory record types", &recs, 4),
        ],
    }]
}

/// The initialiser lines of one table: `    [KEY] = "name",`, the `=`
/// signs in one column `gap` columns after the longest key.
pub fn entries(items: &[(String, &str)], gap: usize) -> String {
    let width = items.iter().map(|(k, _)| k.len() + 2).max().unwrap_or(0) + gap;
    items
        .iter()
        .map(|(k, human)| format!("    {:<width$}= \"{human}\",\n", format!("[{k}]")))
        .collect()
}

/// The region of table `name`: the lines between the `{` after
/// `static const char *const NAME[] =` and the closing `};`.
fn table(name: &'static str, what: &str, items: &[(String, &str)], gap: usize) -> Region {
    let decl = format!("static const char *const {name}[] =");
    Region {
        name: name.to_string(),
        what: format!("the initialiser of {name}[], the names of the {what}"),
        text: entries(items, gap),
        locate: Box::new(move |lines| {
            let at = find_line(lines, 0, |l| l.trim_end() == decl)?;
            let open = find_line(lines, at, |l| l.trim_end().ends_with('{'))?;
            let close = find_line(lines, open, |l| l.trim() == "};")?;
            Some((open + 1, close))
        }),
        key: entry_key,
        missing: None,
        rewrite: None,
    }
}

/// The key of a table entry (`[REC_TYPE_END]`).
fn entry_key(line: &str) -> Vec<String> {
    let t = line.trim();
    match (t.starts_with('['), t.find(']')) {
        (true, Some(end)) => vec![t[..=end].to_string()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_line_up_as_in_xen() {
        let items = vec![("A".to_string(), "a"), ("LONGER".to_string(), "l")];
        assert_eq!(
            entries(&items, 1),
            "    [A]      = \"a\",\n    [LONGER] = \"l\",\n"
        );
        let sp = &spliced()[0];
        let recs = &sp.regions[1].text;
        assert!(recs.contains("    [REC_TYPE_X86_TSC_INFO]                 = \"x86 TSC info\",\n"));
        assert!(
            recs.contains("    [REC_TYPE_DOMAIN_CONTEXT]               = \"Domain context\",\n")
        );
        assert!(sp.regions[0]
            .text
            .contains("    [DHDR_TYPE_X86_PV]  = \"x86 PV\",\n"));
        assert!(recs.lines().all(|l| l.len() < 80));
    }
}
