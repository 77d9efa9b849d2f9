//! What the Rust outer reader ([`format_spec::outer::OuterReader`]) finds in
//! a save file, in the terms of the C reader's `--save` summary, so that the
//! tests can compare the two.
//!
//! The outer reader leaves the nested libxc stream to its caller; here it
//! is skipped record by record (header, body, padding, up to END), which is
//! all the comparison needs: the C reader's libxc facts are checked
//! separately against the facts of the stream's writer or the README.

use std::collections::BTreeMap;
use std::io::{self, Read};

use format_spec::binrw::Endian;
use format_spec::body::read_wire;
use format_spec::layout::{SpecEnum, Wire};
use format_spec::libxc::{
    DomainHeader, ImageHeader, LibxcRecord, RecordHeader, REC_ALIGN, REC_LENGTH_MAX,
};
use format_spec::libxl::{EmulatorId, LibxlRecord};
use format_spec::outer::{FormatChoice, LibxcStop, Mode, OuterEvent, OuterReader};
use format_spec::xl::XL_PREAMBLE_SIZE;

use crate::summary::{record_key, Summary};

/// Skips a libxc stream up to and including its END record; returns the
/// number of records. Errors name the offset within the libxc stream.
fn skip_libxc<R: Read>(r: &mut R) -> io::Result<u64> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let mut ihdr = vec![0u8; ImageHeader::LAYOUT.size];
    r.read_exact(&mut ihdr)?;
    let ihdr: ImageHeader =
        read_wire(&ihdr, Endian::Big).map_err(|e| bad(format!("image header: {e}")))?;
    let endian = ihdr.endian();
    let mut dhdr = vec![0u8; DomainHeader::LAYOUT.size];
    r.read_exact(&mut dhdr)?;
    let mut at = (ImageHeader::LAYOUT.size + DomainHeader::LAYOUT.size) as u64;
    let mut records = 0;
    loop {
        let mut rh = vec![0u8; RecordHeader::LAYOUT.size];
        r.read_exact(&mut rh)?;
        let rh: RecordHeader =
            read_wire(&rh, endian).map_err(|e| bad(format!("record header at {at}: {e}")))?;
        if rh.length > REC_LENGTH_MAX {
            return Err(bad(format!("record at {at}: length {}", rh.length)));
        }
        let padded = u64::from(rh.length).div_ceil(u64::from(REC_ALIGN)) * u64::from(REC_ALIGN);
        let skipped = io::copy(&mut r.by_ref().take(padded), &mut io::sink())?;
        if skipped != padded {
            return Err(bad(format!("record at {at} truncated")));
        }
        records += 1;
        at += RecordHeader::LAYOUT.size as u64 + padded;
        if rh.r#type == LibxcRecord::END {
            return Ok(records);
        }
    }
}

/// Reads a whole save file with the outer reader (strict mode) and returns
/// what the C reader's `--save` summary should say about the outer layers.
/// The libxc keys are not included. Panics with the reader's error.
pub fn expected_outer_summary<R: Read>(input: R, total_len: u64) -> Summary {
    let mut r = OuterReader::open(input, FormatChoice::Auto, Mode::Strict)
        .unwrap_or_else(|e| panic!("outer reader: {e}"));
    let mut s = Summary::new();
    let put = |s: &mut Summary, k: String, v: String| {
        assert!(s.insert(k.clone(), v).is_none(), "{k} twice");
    };
    let pre = r.xl_preamble().expect("an xl save file").clone();
    put(&mut s, "format".into(), "xl".into());
    let endian = |e: Endian| if e == Endian::Big { "big" } else { "little" };
    put(&mut s, "xl_endianness".into(), endian(pre.endian).into());
    put(
        &mut s,
        "xl_mandatory_flags".into(),
        format!("{:#x}", pre.header.mandatory_flags),
    );
    put(
        &mut s,
        "xl_optional_flags".into(),
        format!("{:#x}", pre.header.optional_flags),
    );
    let odl = pre.header.optional_data_len;
    put(&mut s, "xl_optional_data_len".into(), odl.to_string());
    if odl > 0 {
        let config = pre.config().expect("config").unwrap_or(&[]);
        put(&mut s, "xl_config_len".into(), config.len().to_string());
        let nul = if config.last() == Some(&0) {
            "yes"
        } else {
            "no"
        };
        put(&mut s, "xl_config_nul_terminated".into(), nul.into());
    }
    put(
        &mut s,
        "libxl_offset".into(),
        (XL_PREAMBLE_SIZE as u64 + u64::from(odl)).to_string(),
    );
    let libxl = *r.libxl_header().expect("a libxl stream");
    put(&mut s, "libxl_version".into(), libxl.version.to_string());
    put(
        &mut s,
        "libxl_endianness".into(),
        endian(libxl.endian()).into(),
    );
    let legacy = if libxl.is_legacy() { "yes" } else { "no" };
    put(&mut s, "libxl_legacy".into(), legacy.into());

    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    let mut emulators = 0u64;
    loop {
        let event = r.next().unwrap_or_else(|e| panic!("outer reader: {e}"));
        match event {
            Some(OuterEvent::Libxc(h)) => {
                let rec = h.record.expect("handed over by LIBXC_CONTEXT");
                *counts.entry(rec.record.code()).or_default() += 1;
                put(&mut s, "start_offset".into(), h.offset.to_string());
                skip_libxc(r.inner()).unwrap_or_else(|e| panic!("libxc stream: {e}"));
                r.libxc_finished(LibxcStop::End).unwrap();
            }
            Some(OuterEvent::Record(rec)) => {
                *counts.entry(rec.record.code()).or_default() += 1;
                let name = rec.record.layout().c_name;
                let (header, rest, pairs) = match &rec.record {
                    LibxlRecord::EmulatorXenstoreData(d) => {
                        let pairs = d.pairs().expect("valid xenstore data");
                        let pairs: Vec<(String, String)> = pairs
                            .iter()
                            .map(|(k, v)| {
                                (
                                    String::from_utf8_lossy(k).into_owned(),
                                    String::from_utf8_lossy(v).into_owned(),
                                )
                            })
                            .collect();
                        (d.header, d.data.len(), Some(pairs))
                    }
                    LibxlRecord::EmulatorContext(c) => (c.header, c.blob.len(), None),
                    other => panic!("unexpected libxl record {other:?}"),
                };
                let n = emulators;
                emulators += 1;
                let id = EmulatorId::LAYOUT
                    .variant(u64::from(header.id))
                    .and_then(|v| v.c_name)
                    .unwrap_or("unknown");
                put(
                    &mut s,
                    format!("libxl_emulator_{n}"),
                    format!("{name} {id} {} {rest}", header.index),
                );
                if let Some(pairs) = pairs {
                    put(
                        &mut s,
                        format!("libxl_emulator_{n}_pairs"),
                        pairs.len().to_string(),
                    );
                    for (k, v) in pairs {
                        put(&mut s, format!("libxl_emulator_{n}_key_{k}"), v);
                    }
                }
            }
            Some(OuterEvent::End(rec)) => {
                let rec = rec.expect("a libxl END record");
                *counts.entry(rec.record.code()).or_default() += 1;
                put(&mut s, "libxl_end_offset".into(), r.offset().to_string());
            }
            Some(OuterEvent::Skipped(k)) => panic!("skipped record {k:?}"),
            None => break,
        }
    }
    put(
        &mut s,
        "libxl_records".into(),
        counts.values().sum::<u64>().to_string(),
    );
    for (code, n) in &counts {
        put(
            &mut s,
            format!("libxl_{}", record_key(*code)),
            n.to_string(),
        );
    }
    put(
        &mut s,
        "libxl_emulator_records".into(),
        emulators.to_string(),
    );
    put(&mut s, "libxl_end_reached".into(), "yes".into());
    let end: u64 = s["libxl_end_offset"].parse().unwrap();
    put(
        &mut s,
        "trailing_octets".into(),
        (total_len - end).to_string(),
    );
    s
}
