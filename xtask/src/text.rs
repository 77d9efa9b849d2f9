//! Turning doc comments of the description into plain, wrapped text.
//!
//! The descriptors carry the doc comments of the Rust items verbatim
//! (rustdoc markup included). Every generator needs them as plain prose:
//! intra-doc links and code spans unwrapped, lines of a paragraph joined,
//! then wrapped again to the width of the target file.

/// Plain paragraphs of a doc comment: lines joined within a paragraph,
/// paragraphs split at blank lines, rustdoc markup removed (`` [`X`] `` and
/// `` `X` `` become `X`; other brackets stay). A line ending in a hyphen
/// after a letter is joined to the next without a space. Lines starting with `* ` or `- ` begin a new
/// paragraph so that lists keep one item per entry.
pub fn doc_paragraphs(doc: &str) -> Vec<String> {
    let mut paras: Vec<String> = Vec::new();
    let mut cur = String::new();
    for line in doc.lines() {
        let line = line.trim();
        let bullet = line.starts_with("* ") || line.starts_with("- ");
        if line.is_empty() || bullet {
            if !cur.is_empty() {
                paras.push(std::mem::take(&mut cur));
            }
            if line.is_empty() {
                continue;
            }
        }
        // A word broken after its hyphen ("physical-to-" / "machine") is
        // joined back without a space.
        let hyphenated = cur.ends_with('-')
            && cur[..cur.len() - 1]
                .chars()
                .next_back()
                .is_some_and(char::is_alphabetic);
        if !cur.is_empty() && !hyphenated {
            cur.push(' ');
        }
        cur.push_str(&strip_markup(line));
    }
    if !cur.is_empty() {
        paras.push(cur);
    }
    paras
}

/// A doc comment with its intra-doc links to the items of `names`
/// (`` [`DcHeader`] ``) spelled by the target's name for them
/// (`` [`struct xc_sr_dc_header`] `` in C, `` [`DC_HEADER_FORMAT`] `` in
/// Python): the first step of the one doc-text pipeline, before
/// [`doc_paragraphs`] removes the markup.
pub fn rename_links(doc: &str, names: &[(&str, String)]) -> String {
    let mut text = doc.to_string();
    for (rust, target) in names {
        text = text.replace(&format!("[`{rust}`]"), &format!("[`{target}`]"));
    }
    text
}

/// Removes rustdoc markup from one line: link brackets around a code span
/// or a path, and the backticks of code spans.
pub fn strip_markup(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' {
            // An intra-doc link to a code item, `` [`X`] `` (not followed
            // by `(` or `[`, which would make it a Markdown link): keep X.
            if let Some(len) = chars[i + 1..].iter().position(|&d| d == ']') {
                let close = i + 1 + len;
                let next = chars.get(close + 1).copied();
                let inner: String = chars[i + 1..close].iter().collect();
                let looks_like_link = inner.len() > 2
                    && inner.starts_with('`')
                    && inner.ends_with('`')
                    && next != Some('(')
                    && next != Some('[');
                if looks_like_link {
                    out.push_str(&inner.replace('`', ""));
                    i = close + 1;
                    continue;
                }
            }
        }
        if c != '`' {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// Greedy word wrap of one paragraph to lines of at most `width` characters
/// (a single word longer than `width` gets a line of its own).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_markup() {
        let doc = " Contents of the pages, [`PAGE_SIZE`] octets each.\n The `count` field\n\n says how many.\n";
        assert_eq!(
            doc_paragraphs(doc),
            vec![
                "Contents of the pages, PAGE_SIZE octets each. The count field".to_string(),
                "says how many.".to_string()
            ]
        );
    }

    #[test]
    fn hyphen_at_line_end_joins() {
        assert_eq!(
            doc_paragraphs("physical-to-\nmachine, bits 1-\n15"),
            vec!["physical-to-machine, bits 1- 15".to_string()]
        );
    }

    #[test]
    fn brackets_that_are_not_links_stay() {
        assert_eq!(
            strip_markup("bits [63:60] and a[i]"),
            "bits [63:60] and a[i]"
        );
        assert_eq!(strip_markup("see [`X`](http://x)"), "see [X](http://x)");
        assert_eq!(
            strip_markup("`XEN_DOMCTL_{get,set}x`"),
            "XEN_DOMCTL_{get,set}x"
        );
    }

    #[test]
    fn links_take_the_target_s_names() {
        let names = [("DcHeader", "DC_HEADER_FORMAT".to_string())];
        let doc = rename_links("See [`DcHeader`] and [`Other`].", &names);
        assert_eq!(doc_paragraphs(&doc), ["See DC_HEADER_FORMAT and Other."]);
    }

    #[test]
    fn wrapping_respects_width() {
        let lines = wrap("aaa bbb ccc ddd", 7);
        assert_eq!(lines, vec!["aaa bbb", "ccc ddd"]);
        assert!(wrap("averyveryverylongword x", 5)[0] == "averyveryverylongword");
    }
}
