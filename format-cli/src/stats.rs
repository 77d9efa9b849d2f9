//! `xenstream stats`: what a stream holds, counted.

use format_spec::libxc::LibxcRecord;
use format_spec::stream::{Mode, Report};
use serde_json::{json, Map, Value};

use crate::dump::{failover_json, page_type_names};
use crate::{domain_name, endian_name, verify_input, Failure, InputArgs};

/// Runs the subcommand.
pub fn run(args: &InputArgs, as_json: bool) -> Result<(), Failure> {
    let found = verify_input(args, Mode::Lenient)?;
    if as_json {
        let mut v = match &found.report {
            Some(r) => to_json(r),
            // No libxc stream: its fields are null, the one warning
            // counted.
            None => json!({
                "version": null, "domain": null, "endian": null, "bytes": 0,
                "records": 0, "unknown_optional": 0, "segments": 0,
                "pfn_entries": 0, "data_pages": 0, "records_by_type": {},
                "pages_by_type": {}, "warnings": 1, "failover": null,
            }),
        };
        v["format"] = json!(found.format.name());
        v["libxl_records"] = json!(found.libxl_records);
        v["libxl_skipped"] = json!(found.libxl_skipped.len());
        println!("{v}");
    } else {
        if found.format != format_spec::outer::Format::Libxc {
            let recs: Vec<String> = found
                .libxl_records
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            println!(
                "outer layers: {} file; libxl records: {}{}",
                found.format,
                recs.join(", "),
                if found.libxl_skipped.is_empty() {
                    String::new()
                } else {
                    format!(", {} unknown optional", found.libxl_skipped.len())
                }
            );
        }
        match &found.report {
            Some(r) => print_text(r),
            None => println!("stream: no libxc stream ({})", crate::NO_LIBXC),
        }
    }
    Ok(())
}

fn type_name(code: u32) -> String {
    LibxcRecord::LAYOUT
        .by_code(code)
        .map(|r| r.spec_name.to_string())
        .unwrap_or_else(|| format!("0x{code:08x}"))
}

/// The report as one JSON object (fields documented in the README).
fn to_json(r: &Report) -> Value {
    let mut by_type = Map::new();
    for (code, count) in &r.records_by_type {
        by_type.insert(
            type_name(*code),
            json!({
                "code": code,
                "count": count,
                "bytes": r.bytes_by_type.get(code).copied().unwrap_or(0),
            }),
        );
    }
    let mut pages = Map::new();
    for (t, n) in r.pages_by_type.iter().enumerate() {
        if *n > 0 {
            pages.insert(page_type_names(t as u8).0, json!(n));
        }
    }
    json!({
        "version": r.image_header.version,
        "domain": r.domain_type().map(domain_name),
        "endian": endian_name(r.image_header.endian()),
        "bytes": r.bytes(),
        "records": r.records,
        "unknown_optional": r.unknown_optional,
        "segments": r.segments,
        "pfn_entries": r.pfn_entries,
        "data_pages": r.data_pages,
        "records_by_type": by_type,
        "pages_by_type": pages,
        "warnings": r.warnings.len() as u64 + r.warnings_dropped,
        "failover": r.failover.as_ref().map(failover_json),
    })
}

fn print_text(r: &Report) {
    println!(
        "stream: libxc v{}, {}, {}, {} octets, {} records ({} unknown optional), {} segment(s)",
        r.image_header.version,
        r.domain_type().map(domain_name).unwrap_or("unknown guest"),
        endian_name(r.image_header.endian()),
        r.bytes(),
        r.records,
        r.unknown_optional,
        r.segments
    );
    println!("records by type:");
    println!("  {:<26} {:>10} {:>14}", "type", "count", "body octets");
    for (code, count) in &r.records_by_type {
        println!(
            "  {:<26} {:>10} {:>14}",
            type_name(*code),
            count,
            r.bytes_by_type.get(code).copied().unwrap_or(0)
        );
    }
    println!("pages by type:");
    for (t, n) in r.pages_by_type.iter().enumerate() {
        if *n > 0 {
            let (short, human) = page_type_names(t as u8);
            println!("  {:<26} {:>10}", format!("{short} ({human})"), n);
        }
    }
    println!(
        "pfn entries: {}, data pages: {} ({} octets of page contents)",
        r.pfn_entries,
        r.data_pages,
        r.data_pages * format_spec::libxc::PAGE_SIZE as u64
    );
    if let Some(f) = &r.failover {
        println!("checkpointed stream: {f}");
    }
    let w = r.warnings.len() as u64 + r.warnings_dropped;
    if w > 0 {
        println!("warnings: {w} (see `xenstream verify`)");
    }
}
