//! Pages per page type of a save file read from standard input.
//!
//! ```sh
//! cargo run --release -p format-spec --example pages_by_type < guest.xl
//! xl save guest - | cargo run --release -p format-spec --example pages_by_type
//! ```
//!
//! Reads an `xl save` file, a libxl stream or a bare libxc stream (the
//! format is detected) from standard input with
//! [`format_spec::save::SaveReader`], which needs no `Seek`, so a pipe
//! works. For every PAGE_DATA record it counts the pfn entries by page
//! type ([`format_spec::libxc::PfnEntry`]), and prints one line per type
//! present (`NOTAB (normal) 24576`), then the total:
//!
//! ```text
//! L1TAB (L1 page table) 219
//! ...
//! total 24842 pfn entries, 24842 with contents
//! ```
//!
//! The input is read leniently (what a restore checks). Exit status 0, or
//! 1 with the error (its layer's rule, offset, record) on standard error.

use std::collections::BTreeMap;
use std::io::{self, BufReader};
use std::process::ExitCode;

use format_spec::libxc::{LibxcRecord, PageType};
use format_spec::save::{Event, Options, SaveReader};

fn count(input: impl io::Read) -> Result<(BTreeMap<u8, u64>, u64), format_spec::Error> {
    let mut r = SaveReader::new(input, Options::default())?;
    // Type nibble -> entries (the nibble, so invalid types count too).
    let mut by_type = BTreeMap::new();
    let mut with_data = 0;
    while let Some(ev) = r.next()? {
        let Event::LibxcRecord(info) = ev else {
            continue;
        };
        if info.rtype != LibxcRecord::PAGE_DATA {
            continue;
        }
        // The entries only: the page contents are skipped.
        for e in r.page_batch()?.entries() {
            *by_type.entry(e.type_bits()).or_insert(0u64) += 1;
            with_data += u64::from(e.has_data());
        }
    }
    Ok((by_type, with_data))
}

fn main() -> ExitCode {
    let stdin = io::stdin();
    match count(BufReader::with_capacity(1 << 16, stdin.lock())) {
        Ok((by_type, with_data)) => {
            for (&nibble, n) in &by_type {
                match PageType::of_entry(u64::from(nibble) << 60) {
                    Some(t) => println!("{t} ({t:#}) {n}"),
                    None => println!("type {nibble:#x} (invalid) {n}"),
                }
            }
            let total: u64 = by_type.values().sum();
            println!("total {total} pfn entries, {with_data} with contents");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "pages_by_type: {e} (rule {}, offset {})",
                e.kind(),
                e.offset()
            );
            ExitCode::from(1)
        }
    }
}
