//! Writes an `xl save` file holding a version 4 HVM stream with a
//! DOMAIN_CONTEXT record, then verifies it.
//!
//! ```sh
//! cargo run --release -p format-spec --example write_v4 -- guest-v4.xl [SAVEFILE]
//! xenstream verify --strict guest-v4.xl
//! ```
//!
//! The file is written with [`format_spec::outer::OuterWriter`] (xl header
//! with a JSON configuration, libxl header, LIBXC_CONTEXT, the libxc
//! stream, an emulator record, END) around a
//! [`format_spec::stream::StreamWriter`] (version 4, the default): 16
//! pages (with SAVEFILE, any save file such as the real PV and HVM ones,
//! the first 16 pages with contents of that file, read with
//! [`format_spec::save::SaveReader`], and its Xen version; otherwise
//! made-up pages 0x100 to 0x10f), one XTAB entry, HVM_PARAMS, an
//! HVM_CONTEXT blob built with
//! [`format_spec::hvm_context::write`], and a DOMAIN_CONTEXT blob (HEADER,
//! TSC_INFO, END) built with [`format_spec::domain_context::write`]. The
//! writers refuse anything the strict verifier would refuse. The file is
//! then verified strictly, every layer, with one call
//! ([`format_spec::save::verify_seekable`]), and the report printed:
//!
//! ```text
//! wrote guest-v4.xl: 66075 octets
//! valid (strict): libxc v4, 6 records, 16 data pages, 1 segment(s); libxl records: EMULATOR_CONTEXT 1, END 1, LIBXC_CONTEXT 1
//! ```
//!
//! Exit status 0; 1 if writing or verifying fails.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::process::ExitCode;

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::domain_context::{self as dc, DcEntry, DcHeader, DcTscInfo};
use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
use format_spec::libxc::{
    DomainType, HvmParams, HvmParamsEntry, LibxcRecord, PageType, PfnEntry, PAGE_SIZE,
};
use format_spec::libxl::EmulatorId;
use format_spec::outer::{LibxcStop, OuterWriter};
use format_spec::save::{self, Options};
use format_spec::stream::{StreamWriter, WriterOptions};
use format_spec::xl::XlPreamble;
use format_spec::Mode;

type Failure = Box<dyn std::error::Error>;

/// The pages to write: (pfn entries, contents, Xen version).
type Pages = (Vec<u64>, Vec<u8>, (u32, u32));

/// The first 16 pages with contents of the save file at `path`, and the
/// Xen version of its domain header.
fn pages_from(path: &str) -> Result<Pages, Failure> {
    use format_spec::save::{Event, SaveReader};
    let input = BufReader::new(File::open(path)?);
    let mut r = SaveReader::seekable(input, Options::default())?;
    let (mut entries, mut pages, mut xen) = (Vec::new(), Vec::new(), (4, 19));
    let mut page = vec![0u8; PAGE_SIZE];
    while entries.len() < 16 {
        let Some(ev) = r.next()? else {
            return Err(format!("{path} has fewer than 16 pages").into());
        };
        match ev {
            Event::LibxcHeaders { domain, .. } => xen = (domain.xen_major, domain.xen_minor),
            Event::LibxcRecord(info) if info.rtype == LibxcRecord::PAGE_DATA => {
                let mut batch = r.page_batch()?;
                let with_data: Vec<u64> = batch
                    .entries()
                    .filter(|e| e.has_data())
                    .map(|e| e.pfn())
                    .collect();
                for pfn in with_data {
                    if entries.len() == 16 {
                        break;
                    }
                    batch.read_pages(&mut page)?;
                    entries.push(pfn);
                    pages.extend_from_slice(&page);
                }
            }
            _ => {}
        }
    }
    Ok((entries, pages, xen))
}

/// Made-up pages: pfns 0x100 to 0x10f, each filled with its pfn's low
/// octet.
fn made_up() -> Pages {
    let entries: Vec<u64> = (0x100..0x110).collect();
    let pages: Vec<u8> = (0..16 * PAGE_SIZE).map(|i| (i / PAGE_SIZE) as u8).collect();
    (entries, pages, (4, 19))
}

fn write(path: &str, (mut entries, pages, xen): Pages) -> Result<u64, Failure> {
    let endian = Endian::Little;
    let config = r#"{"c_info": {"type": "hvm", "name": "example"}}"#;
    let out = BufWriter::new(File::create(path)?);
    let mut w = OuterWriter::xl(out, &XlPreamble::with_json_config(endian, config))?;
    w.libxc_context()?;
    // The libxc stream goes through w.libxc(), which keeps w.offset() right.
    let opts = WriterOptions::new(DomainType::X86Hvm)
        .endian(endian)
        .xen_version(xen.0, xen.1);
    let mut s = StreamWriter::new(w.libxc(), opts)?;
    s.write(&LibxcRecord::StaticDataEnd)?;
    // The 16 pages with contents, and a pfn after them ballooned out
    // (XTAB: no contents).
    let xtab = entries.iter().max().map_or(0, |p| p + 1);
    entries.push(PfnEntry::new(xtab, PageType::Xtab).0);
    s.write_page_data(&entries, &pages)?;
    s.write(&LibxcRecord::HvmParams(HvmParams {
        count: 1,
        _res1: 0,
        // HVM_PARAM_STORE_PFN
        param: vec![HvmParamsEntry {
            index: 1,
            value: 0xfeffc,
        }],
    }))?;
    let ctx = hvm::write(
        &HvmHeader::new(0x000a_06a7, 2_400_000),
        &[(HvmType::Pic, 0, &[0u8; 8][..])],
        endian,
    )?;
    s.write(&LibxcRecord::HvmContext(Opaque(ctx)))?;
    let mut blob = Vec::new();
    dc::write(
        &[
            DcEntry::Header(DcHeader::new(
                xen.0.min(u16::MAX.into()) as u16,
                xen.1.min(u16::MAX.into()) as u16,
            )),
            DcEntry::TscInfo(DcTscInfo {
                mode: 0,
                incarnation: 1,
                elapsed_nsec: 1_000_000,
                khz: 2_400_000,
                _pad: 0,
            }),
            DcEntry::End,
        ],
        endian,
        &mut blob,
    )?;
    s.write(&LibxcRecord::DomainContext(Opaque(blob)))?;
    s.finish()?;
    w.libxc_finished(LibxcStop::End)?;
    w.emulator_context(EmulatorId::QemuUpstream, 0, b"QEVM example")?;
    let end = w.offset() + 8; // the libxl END record
    w.finish()?;
    Ok(end)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first().cloned() else {
        eprintln!("usage: write_v4 OUTPUT [SAVEFILE]");
        return ExitCode::from(1);
    };
    let run = || -> Result<(), Failure> {
        let pages = match args.get(1) {
            Some(from) => pages_from(from)?,
            None => made_up(),
        };
        let len = write(&path, pages)?;
        println!("wrote {path}: {len} octets");
        let input = BufReader::new(File::open(&path)?);
        let rep = save::verify_seekable(input, Options::verify(Mode::Strict))?;
        // Strict verification refuses an input without a libxc stream.
        let libxc = rep.libxc.ok_or("no libxc stream")?;
        let libxl: Vec<String> = rep
            .libxl_records
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!(
            "valid (strict): libxc v{}, {} records, {} data pages, {} segment(s); libxl records: {}",
            libxc.image_header.version,
            libxc.records,
            libxc.data_pages,
            libxc.segments,
            libxl.join(", ")
        );
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write_v4: {e}");
            ExitCode::from(1)
        }
    }
}
