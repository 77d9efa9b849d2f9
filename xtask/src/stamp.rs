//! The checksum a generated file carries in its banner.
//!
//! Every whole file `cargo xtask codegen` writes has one banner line that
//! ends in [`TAG`] and sixteen hex digits: the FNV-1a 64 hash of the file's
//! text without that line. A file whose hash still matches is exactly what
//! the generator wrote, and `--xen-tree` may replace it; one that does not
//! was edited by hand, and `--xen-tree` names the lines it would lose
//! instead of overwriting them (see [`crate::plan_xen`] and [`crate::lost_lines`]).

/// What precedes the checksum on the banner line.
pub const TAG: &str = "checksum (fnv1a-64 of all other lines): ";

/// The digits a generator writes in place of the checksum; [`stamp`]
/// replaces them.
pub const PLACEHOLDER: &str = "@@@@@@@@@@@@@@@@";

/// FNV-1a, 64 bits.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The index of the checksum line and the digits on it, if `text` has one.
fn find(text: &str) -> Option<(usize, &str)> {
    text.split_inclusive('\n').enumerate().find_map(|(i, l)| {
        let at = l.find(TAG)?;
        let digits = l[at + TAG.len()..].get(..16)?;
        Some((i, digits))
    })
}

/// The hash of `text` without line `skip`.
fn hash_without(text: &str, skip: usize) -> u64 {
    let rest: String = text
        .split_inclusive('\n')
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, l)| l)
        .collect();
    fnv1a64(rest.as_bytes())
}

/// Fills the [`PLACEHOLDER`] after [`TAG`] with the checksum of the rest of
/// the text. Text without a tag is returned unchanged.
pub fn stamp(text: &str) -> String {
    let Some((line, _)) = find(text) else {
        return text.to_string();
    };
    let sum = format!("{:016x}", hash_without(text, line));
    let tagged = format!("{TAG}{PLACEHOLDER}");
    text.replacen(&tagged, &format!("{TAG}{sum}"), 1)
}

/// Whether `text` is unchanged since it was stamped: `None` when it carries
/// no checksum (a hand-written file), else whether the checksum matches.
pub fn verify(text: &str) -> Option<bool> {
    let (line, digits) = find(text)?;
    Some(u64::from_str_radix(digits, 16).ok() == Some(hash_without(text, line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_text_verifies_until_edited() {
        let text = format!("/* one\n * {TAG}{PLACEHOLDER}\n */\n#define A 1\n");
        let s = stamp(&text);
        assert!(!s.contains(PLACEHOLDER));
        assert_eq!(verify(&s), Some(true));
        assert_eq!(verify(&s.replace("A 1", "A 2")), Some(false));
        assert_eq!(verify(&format!("{s}#define B 2\n")), Some(false));
        assert_eq!(verify("#define A 1\n"), None);
        // The checksum covers every other line, the banner's included.
        assert_eq!(verify(&s.replace("one", "two")), Some(false));
    }
}
