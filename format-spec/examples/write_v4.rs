//! Writes an `xl save` file holding a version 4 HVM stream with a
//! DOMAIN_CONTEXT record, then verifies it.
//!
//! ```sh
//! cargo run --release -p format-spec --example write_v4 -- guest-v4.xl
//! xenstream verify --strict guest-v4.xl
//! ```
//!
//! The file is written with [`format_spec::outer::OuterWriter`] (xl header
//! with a JSON configuration, libxl header, LIBXC_CONTEXT, the libxc
//! stream, an emulator record, END) around a
//! [`format_spec::stream::StreamWriter`] (version 4, the default): 16
//! pages, one XTAB entry, HVM_PARAMS, an HVM_CONTEXT blob built with
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

fn write(path: &str) -> Result<u64, Failure> {
    let endian = Endian::Little;
    let config = r#"{"c_info": {"type": "hvm", "name": "example"}}"#;
    let out = BufWriter::new(File::create(path)?);
    let mut w = OuterWriter::xl(out, &XlPreamble::with_json_config(endian, config))?;
    w.libxc_context()?;
    // The libxc stream goes through w.libxc(), which keeps w.offset() right.
    let opts = WriterOptions::new(DomainType::X86Hvm)
        .endian(endian)
        .xen_version(4, 19);
    let mut s = StreamWriter::new(w.libxc(), opts)?;
    s.write(&LibxcRecord::StaticDataEnd)?;
    // 16 pages with contents (pfns 0x100 to 0x10f), each filled with its
    // pfn's low octet, and pfn 0x200 ballooned out (XTAB: no contents).
    let mut entries: Vec<u64> = (0x100..0x110).collect();
    entries.push(PfnEntry::new(0x200, PageType::Xtab).0);
    let pages: Vec<u8> = (0..16 * PAGE_SIZE).map(|i| (i / PAGE_SIZE) as u8).collect();
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
            DcEntry::Header(DcHeader::new(4, 19)),
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
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: write_v4 OUTPUT");
        return ExitCode::from(1);
    };
    let run = || -> Result<(), Failure> {
        let len = write(&path)?;
        println!("wrote {path}: {len} octets");
        let input = BufReader::new(File::open(&path)?);
        let rep = save::verify_seekable(input, Options::verify(Mode::Strict))?;
        let libxl: Vec<String> = rep
            .libxl_records
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!(
            "valid (strict): libxc v{}, {} records, {} data pages, {} segment(s); libxl records: {}",
            rep.libxc.image_header.version,
            rep.libxc.records,
            rep.libxc.data_pages,
            rep.libxc.segments,
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
