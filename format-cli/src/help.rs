//! The help text (`--help`, `xenstream man`) that names values the
//! description holds: the supported versions, the versions a conversion
//! goes between, the page size, the version Xen 4.17 writes. Each is built from `format_spec::libxc`,
//! so changing the description changes the help; the rest of the help
//! is in the doc comments of `main.rs`.
//!
//! clap takes a doc comment's first paragraph without its final period as
//! the short help and the whole comment as the long help; these functions
//! follow that, so the help reads the same either way.

use format_spec::libxc::{
    LibxcRecord, DOMAIN_CONTEXT_SINCE, PAGE_SIZE, STATIC_DATA_END_SINCE, SUPPORTED_VERSIONS,
    XEN_4_17_VERSION,
};

/// The short help of a long one: its first paragraph without the final
/// period, as clap makes it of a doc comment.
pub fn short(long: &str) -> String {
    let first = long.split("\n\n").next().unwrap_or_default();
    first.strip_suffix('.').unwrap_or(first).to_string()
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `2 to 4`: the versions the description reads.
pub fn version_range() -> String {
    let first = SUPPORTED_VERSIONS[0];
    let last = SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.len() - 1];
    format!("{first} to {last}")
}

/// The versions a conversion reads and writes
/// ([`format_spec::convert::TARGET_VERSIONS`]: the last without
/// STATIC_DATA_END, the last without DOMAIN_CONTEXT and the first with
/// it), the ones `convert --to` accepts.
fn convert_versions() -> Vec<u32> {
    let mut vs = format_spec::convert::TARGET_VERSIONS.to_vec();
    vs.sort_unstable();
    vs.dedup();
    vs
}

/// `2, 3 or 4`: the versions a conversion writes.
pub fn version_choice() -> String {
    or_list(
        &convert_versions()
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>(),
    )
}

/// The program's one-line description.
pub fn about() -> String {
    format!(
        "Verify, dump and count Xen migration streams: `xl save` files, libxl \
         streams and bare libxc streams (versions {})",
        version_range()
    )
}

/// `memory`'s description: where a pfn's page goes in each image.
pub fn memory_long() -> String {
    format!(
        "Write the guest's memory as a raw or ELF image.\n\n\
         For every pfn, the contents of its last PAGE_DATA copy (pages marked \
         XTAB or BROKEN after their last copy are left out), read in one pass \
         from an `xl save` file, a libxl stream or a bare libxc stream \
         (detected), then a summary on standard output. raw: a sparse file \
         with the page of pfn P at offset P * {PAGE_SIZE} (dropped pages are \
         zeros, pages never sent are holes). elf: an ELF64 core (ET_CORE, \
         x86-64), one PT_LOAD per run of consecutive pfns, p_paddr = p_vaddr \
         = pfn * {PAGE_SIZE}."
    )
}

/// `page --raw`.
pub fn page_raw() -> String {
    format!("Write the page's {PAGE_SIZE} octets as they are")
}

/// `convert`'s one-line description.
pub fn convert() -> String {
    format!(
        "Rewrite a stream as libxc stream version {}",
        version_choice()
    )
}

/// The records version `v` deprecates, as `A and B`.
fn deprecated_by(v: u32) -> String {
    let names: Vec<&str> = LibxcRecord::LAYOUT
        .records
        .iter()
        .filter(|r| r.deprecated == Some(v))
        .map(|r| r.spec_name)
        .collect();
    match names.as_slice() {
        [rest @ .., last] if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// `convert`'s description: the three versions it goes between, dated by
/// the records they differ by (the last without STATIC_DATA_END, the last
/// without DOMAIN_CONTEXT, the first with it).
pub fn convert_long() -> String {
    let no_sde = STATIC_DATA_END_SINCE - 1;
    let dc = DOMAIN_CONTEXT_SINCE;
    format!(
        "{}.\n\n\
         Version {dc} folds {} into one DOMAIN_CONTEXT record per segment; \
         version {} unfolds it. Version {no_sde} (Xen 4.6 to 4.13) has no \
         STATIC_DATA_END: converting from it adds one where a version \
         {STATIC_DATA_END_SINCE} receiver infers it, converting to it drops it \
         (and the CPU policy records, only with --lossy). The xl and libxl \
         layers are copied unchanged. Exit status 0 on success, 1 when the \
         input cannot be converted, 2 for usage and I/O errors.",
        convert(),
        deprecated_by(dc),
        dc - 1,
    )
}

/// `convert --to`.
pub fn convert_to() -> String {
    format!("The version to write ({})", version_choice())
}

/// `sample`'s description: the version Xen 4.17 writes.
pub fn sample_long() -> String {
    format!(
        "Write a small, valid `xl save` file to try the other subcommands on.\n\n\
         An x86 HVM guest's save file as Xen 4.17 writes one (libxc stream \
         version {XEN_4_17_VERSION}), 16 pages at pfns 0x100 to 0x10f whose \
         first line names the pfn, a JSON configuration; about 70 KiB."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_names_the_descriptions_values() {
        for v in convert_versions() {
            assert!(version_choice().contains(&v.to_string()));
            assert!(convert().contains(&v.to_string()));
            assert!(convert_to().contains(&v.to_string()));
        }
        assert!(about().ends_with(&format!("(versions {})", version_range())));
        let page = PAGE_SIZE.to_string();
        assert!(page_raw().contains(&page));
        assert_eq!(memory_long().matches(&page).count(), 2);
        let long = convert_long();
        assert!(long.contains(&format!("Version {DOMAIN_CONTEXT_SINCE} folds")));
        assert!(long.contains(&format!("version {} unfolds", DOMAIN_CONTEXT_SINCE - 1)));
        assert!(long.contains(&format!("Version {} (Xen", STATIC_DATA_END_SINCE - 1)));
        for r in LibxcRecord::LAYOUT.records {
            if r.deprecated == Some(DOMAIN_CONTEXT_SINCE) {
                assert!(long.contains(r.spec_name), "{}", r.spec_name);
            }
        }
        assert!(sample_long().contains(&format!("version {XEN_4_17_VERSION})")));
        // clap's convention: the short help has no final period.
        assert_eq!(short(&convert_long()), convert());
        for short in [about(), page_raw(), convert(), convert_to()] {
            assert!(!short.ends_with('.'), "{short}");
        }
    }
}
