//! One page of the guest's memory, by pfn, to standard output.
//!
//! ```sh
//! cargo run --release -p format-spec --example page -- guest.xl 0x1000 > page.bin
//! ```
//!
//! Reads the save file FILE (an `xl save` file, a libxl stream or a bare
//! libxc stream; detected) with [`format_spec::save::SaveReader`] and
//! writes the 4096 octets of the last copy of page PFN (decimal or
//! `0x`-hex) to standard output, as they are. Page contents of other pfns
//! are skipped with seeks. A pfn marked XTAB or BROKEN after its last copy
//! has no contents.
//!
//! Exit status 0; 1 when the stream is invalid or has no contents for PFN
//! (the reason on standard error); 2 for bad arguments.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::process::ExitCode;

use format_spec::libxc::{LibxcRecord, PageType, PAGE_SIZE};
use format_spec::save::{Event, Options, SaveReader};

/// The last copy of `pfn`'s contents; `None` if never sent or dropped.
fn find(file: File, pfn: u64) -> Result<Option<Vec<u8>>, format_spec::Error> {
    let mut r = SaveReader::seekable(BufReader::new(file), Options::default())?;
    let mut page: Option<Vec<u8>> = None;
    let mut scratch = vec![0u8; PAGE_SIZE];
    while let Some(ev) = r.next()? {
        let Event::LibxcRecord(info) = ev else {
            continue;
        };
        if info.rtype != LibxcRecord::PAGE_DATA {
            continue;
        }
        let mut batch = r.page_batch()?;
        // Contents follow the entries in order, one page per entry with
        // data: skip up to the one wanted (the last entry for the pfn
        // wins), read it, and leave the rest to be skipped.
        let mut before = 0; // pages with data before the wanted one
        let mut wanted = None; // its index among the pages with data
        for e in batch.entries() {
            if e.pfn() == pfn {
                wanted = match e.page_type() {
                    Some(t) if t.has_data() => Some(before),
                    Some(PageType::Xtab | PageType::Broken) => {
                        page = None;
                        None
                    }
                    _ => wanted,
                };
            }
            before += usize::from(e.has_data());
        }
        if let Some(k) = wanted {
            batch.skip_pages(k)?;
            batch.read_pages(&mut scratch)?;
            page = Some(scratch.clone());
        }
    }
    Ok(page)
}

fn parse_pfn(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(pfn)) = (args.first(), args.get(1).and_then(|s| parse_pfn(s))) else {
        eprintln!("usage: page FILE PFN");
        return ExitCode::from(2);
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("page: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    match find(file, pfn) {
        Ok(Some(page)) => {
            let mut out = io::stdout().lock();
            if let Err(e) = out.write_all(&page).and_then(|_| out.flush()) {
                eprintln!("page: standard output: {e}");
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("page: {path}: pfn {pfn:#x} has no contents (never sent, or dropped)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("page: {path}: {e}");
            ExitCode::from(1)
        }
    }
}
