//! `xenstream sample FILE`: a small, valid `xl save` file to try the other
//! subcommands on (the README's quick start uses it).
//!
//! What it holds, written with the library's writers: an xl header with a
//! JSON configuration, the libxl header, LIBXC_CONTEXT, a version 3 x86
//! HVM libxc stream as Xen 4.17 writes one (STATIC_DATA_END, one
//! PAGE_DATA record of 16 pages whose text names their pfn and one XTAB
//! entry, X86_TSC_INFO, HVM_PARAMS, an HVM_CONTEXT blob, END; HVM_PARAMS
//! before HVM_CONTEXT, the order the spec wants), an emulator record and
//! the libxl END. It verifies with `--strict`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
use format_spec::libxc::{
    DomainType, HvmParams, HvmParamsEntry, LibxcRecord, PageType, PfnEntry, X86TscInfo, PAGE_SIZE,
    XEN_4_17_VERSION,
};
use format_spec::libxl::EmulatorId;
use format_spec::outer::{LibxcStop, OuterWriter};
use format_spec::stream::{StreamWriter, WriterOptions};
use format_spec::xl::XlPreamble;

use crate::Failure;

/// The first pfn with contents in the sample.
pub const FIRST_PFN: u64 = 0x100;
/// Pages with contents in the sample.
pub const PAGES: u64 = 16;

/// The contents of the sample's page `pfn`: a line of text naming it, then
/// zeros.
pub fn page(pfn: u64) -> Vec<u8> {
    let mut p = vec![0u8; PAGE_SIZE];
    let text = format!("xenstream sample page {pfn:#x}\n");
    p[..text.len()].copy_from_slice(text.as_bytes());
    p
}

/// Writes the sample to `path`; returns its size.
pub fn write(path: &Path) -> Result<u64, Failure> {
    let name = path.display().to_string();
    let fail = |e: &dyn std::fmt::Display| Failure::Usage(format!("{name}: {e}"));
    let file = File::create(path).map_err(|e| fail(&e))?;
    let endian = Endian::Little;
    let config = r#"{"c_info": {"type": "hvm", "name": "sample"}, "b_info": {"max_memkb": 65536}}"#;
    let mut w = OuterWriter::xl(
        BufWriter::new(file),
        &XlPreamble::with_json_config(endian, config),
    )
    .map_err(|e| fail(&e))?;
    w.libxc_context().map_err(|e| fail(&e))?;
    let opts = WriterOptions::new(DomainType::X86Hvm)
        .version(XEN_4_17_VERSION)
        .endian(endian)
        .xen_version(4, 17);
    let mut s = StreamWriter::new(w.libxc(), opts).map_err(|e| fail(&e))?;
    let mut entries: Vec<u64> = (FIRST_PFN..FIRST_PFN + PAGES).collect();
    let pages: Vec<u8> = entries.iter().flat_map(|&p| page(p)).collect();
    entries.push(PfnEntry::new(FIRST_PFN + PAGES, PageType::Xtab).0);
    let ctx = hvm::write(
        &HvmHeader::new(0x000a_06a7, 2_400_000),
        &[(HvmType::Pic, 0, &[0u8; 8][..])],
        endian,
    )
    .map_err(|e| fail(&e))?;
    let records = [
        LibxcRecord::X86TscInfo(X86TscInfo {
            mode: 0,
            khz: 2_400_000,
            nsec: 1_000_000_000,
            incarnation: 1,
            _res1: 0,
        }),
        LibxcRecord::HvmParams(HvmParams {
            count: 2,
            _res1: 0,
            param: vec![
                // HVM_PARAM_STORE_PFN, HVM_PARAM_CONSOLE_PFN
                HvmParamsEntry {
                    index: 1,
                    value: 0xfeffc,
                },
                HvmParamsEntry {
                    index: 17,
                    value: 0xfefff,
                },
            ],
        }),
        LibxcRecord::HvmContext(Opaque(ctx)),
    ];
    (|| {
        s.write(&LibxcRecord::StaticDataEnd)?;
        s.write_page_data(&entries, &pages)?;
        for r in &records {
            s.write(r)?;
        }
        s.finish().map(|_| ())
    })()
    .map_err(|e| fail(&e))?;
    w.libxc_finished(LibxcStop::End).map_err(|e| fail(&e))?;
    w.emulator_context(EmulatorId::QemuUpstream, 0, b"QEVM sample")
        .map_err(|e| fail(&e))?;
    let size = w.offset() + 8; // and the libxl END record
    let mut out = w.finish().map_err(|e| fail(&e))?;
    out.flush().map_err(|e| fail(&e))?;
    Ok(size)
}
