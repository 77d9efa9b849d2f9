//! `xenstream dump`: one line per record, PAGE_DATA runs collapsed.

use std::io::{self, Write};

use format_spec::layout::SpecEnum;
use format_spec::libxc::{
    DomainHeader, ImageHeader, LibxcRecord, PageType, PfnEntry, PAGE_TYPE_CODES,
};
use std::io::Read;

use format_spec::libxl::{EmulatorId, LibxlHeader, LibxlRecord};
use format_spec::outer::{OuterRecord, SkippedRecord};
use format_spec::save::{Event, Options, SaveReader};
use format_spec::stream::{Mode, Record, RecordInfo};
use format_spec::xl::XlPreamble;
use serde_json::{json, Map, Value};

use crate::{domain_name, endian_name, Failure, InputArgs};

/// The short name (Xen's `XEN_DOMCTL_PFINFO_*` suffix, e.g. `XTAB`) and
/// the human name of a page type nibble.
pub fn page_type_names(nibble: u8) -> (String, &'static str) {
    match PageType::LAYOUT
        .variants
        .iter()
        .find(|v| v.value == u64::from(nibble))
    {
        Some(v) => {
            let short = v
                .py_name
                .and_then(|p| p.strip_prefix("PAGE_DATA_TYPE_"))
                .map(str::to_string)
                .unwrap_or_else(|| v.rust_name.to_uppercase());
            (short, v.human)
        }
        None => (format!("TYPE_{nibble:X}"), "invalid type"),
    }
}

/// Consecutive PAGE_DATA records, summed up.
#[derive(Debug, Clone)]
struct Run {
    first: RecordInfo,
    last: RecordInfo,
    records: u64,
    body_bytes: u64,
    pfn_min: u64,
    pfn_max: u64,
    entries: u64,
    data_pages: u64,
    by_type: [u64; PAGE_TYPE_CODES],
}

impl Run {
    fn new(info: RecordInfo) -> Self {
        Run {
            first: info,
            last: info,
            records: 0,
            body_bytes: 0,
            pfn_min: u64::MAX,
            pfn_max: 0,
            entries: 0,
            data_pages: 0,
            by_type: [0; PAGE_TYPE_CODES],
        }
    }

    fn add(&mut self, info: RecordInfo, pfns: &[u64], data_pages: usize) {
        self.last = info;
        self.records += 1;
        self.body_bytes += u64::from(info.length);
        self.entries += pfns.len() as u64;
        self.data_pages += data_pages as u64;
        for &e in pfns {
            let pfn = PfnEntry(e).pfn();
            self.pfn_min = self.pfn_min.min(pfn);
            self.pfn_max = self.pfn_max.max(pfn);
            self.by_type[usize::from(PfnEntry(e).type_bits())] += 1;
        }
    }

    fn pages_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (t, n) in self.by_type.iter().enumerate() {
            if *n > 0 {
                m.insert(page_type_names(t as u8).0, json!(n));
            }
        }
        m
    }

    fn json(&self) -> Value {
        json!({
            "kind": "page_data_run",
            "index": self.first.index,
            "last_index": self.last.index,
            "offset": self.first.offset,
            "end_offset": self.last.end_offset(),
            "type": LibxcRecord::LAYOUT
                .by_code(LibxcRecord::PAGE_DATA)
                .map_or("?", |l| l.spec_name),
            "code": LibxcRecord::PAGE_DATA,
            "records": self.records,
            "length": self.body_bytes,
            "pfn_min": self.pfn_min,
            "pfn_max": self.pfn_max,
            "pfn_entries": self.entries,
            "data_pages": self.data_pages,
            "pages_by_type": self.pages_json(),
        })
    }

    fn text(&self) -> String {
        let types: Vec<String> = self
            .by_type
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(t, n)| format!("{}={n}", page_type_names(t as u8).0))
            .collect();
        let indexes = if self.records == 1 {
            format!("#{}", self.first.index)
        } else {
            format!("#{}-#{}", self.first.index, self.last.index)
        };
        format!(
            "{indexes} @0x{:x} {} x{} length {} pfns 0x{:x}-0x{:x} entries {} data_pages {} [{}]",
            self.first.offset,
            LibxcRecord::LAYOUT.name_of(LibxcRecord::PAGE_DATA),
            self.records,
            self.body_bytes,
            self.pfn_min,
            self.pfn_max,
            self.entries,
            self.data_pages,
            types.join(" ")
        )
    }
}

/// The key fields of a record, in order.
fn key_fields(rec: &Record) -> Vec<(&'static str, Value)> {
    let known = match rec {
        Record::Known(r) => r,
        Record::Unknown { body, .. } => return vec![("body_bytes", json!(body.len()))],
    };
    use LibxcRecord as R;
    match known {
        R::X86PvInfo(i) => vec![
            ("guest_width", json!(i.guest_width)),
            ("pt_levels", json!(i.pt_levels)),
        ],
        R::X86PvP2mFrames(p) => vec![
            ("start_pfn", json!(p.start_pfn)),
            ("end_pfn", json!(p.end_pfn)),
            ("p2m_frames", json!(p.p2m_pfns.len())),
        ],
        R::X86PvVcpuBasic(v)
        | R::X86PvVcpuExtended(v)
        | R::X86PvVcpuXsave(v)
        | R::X86PvVcpuMsrs(v) => vec![
            ("vcpu_id", json!(v.vcpu_id)),
            ("context_bytes", json!(v.context.len())),
        ],
        R::X86TscInfo(t) => vec![
            ("mode", json!(t.mode)),
            ("khz", json!(t.khz)),
            ("nsec", json!(t.nsec)),
            ("incarnation", json!(t.incarnation)),
        ],
        R::HvmParams(p) => vec![
            ("count", json!(p.count)),
            ("params", {
                let mut params: Vec<_> = p.param.iter().collect();
                params.sort_by_key(|e| e.index);
                Value::Array(
                    params
                        .into_iter()
                        .map(|e| {
                            json!({
                                "index": e.index,
                                "name": format_spec::libxc::hvm_param_name(e.index),
                                "value": e.value,
                            })
                        })
                        .collect(),
                )
            }),
        ],
        R::CheckpointDirtyPfnList(l) => vec![("pfns", json!(l.pfn.len()))],
        R::X86CpuidPolicy(p) => vec![("leaves", json!(p.leaves.len()))],
        R::X86MsrPolicy(p) => vec![("entries", json!(p.entries.len()))],
        R::SharedInfo(o) | R::HvmContext(o) | R::Toolstack(o) | R::DomainContext(o) => {
            vec![("blob_bytes", json!(o.0.len()))]
        }
        R::PageData(pd) => vec![("count", json!(pd.header.count))],
        R::End | R::Verify | R::Checkpoint | R::StaticDataEnd => Vec::new(),
    }
}

/// The entries of a DOMAIN_CONTEXT or HVM_CONTEXT blob (`None` for any
/// other record).
fn blob_view(rec: &Record, endian: format_spec::binrw::Endian) -> Option<crate::blob::BlobView> {
    match rec {
        Record::Known(LibxcRecord::DomainContext(o)) => {
            Some(crate::blob::domain_context(&o.0, endian))
        }
        Record::Known(LibxcRecord::HvmContext(o)) => Some(crate::blob::hvm_context(&o.0, endian)),
        _ => None,
    }
}

fn type_name(info: &RecordInfo) -> String {
    info.name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("UNKNOWN_0x{:08x}", info.rtype))
}

/// Where dump lines go: text or JSON Lines.
struct Out {
    json: bool,
    w: io::BufWriter<io::StdoutLock<'static>>,
}

impl Out {
    fn line(&mut self, text: String, json: Value) -> Result<(), Failure> {
        let res = if self.json {
            writeln!(self.w, "{json}")
        } else {
            writeln!(self.w, "{text}")
        };
        res.map_err(|e| Failure::Usage(format!("writing standard output: {e}")))
    }

    fn run(&mut self, run: &mut Option<Run>) -> Result<(), Failure> {
        if let Some(r) = run.take() {
            self.line(r.text(), r.json())?;
        }
        Ok(())
    }
}

fn libxl_fields(rec: &LibxlRecord) -> Vec<(&'static str, Value)> {
    match rec {
        LibxlRecord::EmulatorXenstoreData(d) => vec![
            ("emulator_id", json!(d.header.id)),
            ("emulator_index", json!(d.header.index)),
            ("data_bytes", json!(d.data.len())),
            // The key/value pairs (lossy UTF-8), or why they do not decode.
            match d.pairs() {
                Ok(pairs) => (
                    "xenstore",
                    Value::Object(
                        pairs
                            .iter()
                            .map(|(k, v)| {
                                (
                                    String::from_utf8_lossy(k).into_owned(),
                                    json!(String::from_utf8_lossy(v)),
                                )
                            })
                            .collect(),
                    ),
                ),
                Err(e) => ("xenstore_error", json!(e.to_string())),
            },
        ],
        LibxlRecord::EmulatorContext(c) => vec![
            ("emulator_id", json!(c.header.id)),
            (
                "emulator",
                json!(c.header.emulator().map(|e| {
                    EmulatorId::LAYOUT
                        .variants
                        .iter()
                        .find(|v| v.value == e.value())
                        .map_or("?", |v| v.human)
                })),
            ),
            ("emulator_index", json!(c.header.index)),
            ("blob_bytes", json!(c.blob_len())),
        ],
        LibxlRecord::CheckpointState(c) => vec![("id", json!(c.id))],
        LibxlRecord::End | LibxlRecord::LibxcContext | LibxlRecord::CheckpointEnd => Vec::new(),
    }
}

/// Renders key fields as `k=v` words.
fn text_fields(fields: &[(&'static str, Value)]) -> String {
    let words: Vec<String> = fields
        .iter()
        .map(|(k, v)| match v {
            Value::Object(m) => format!(
                "{k}={{{}}}",
                m.iter()
                    .map(|(a, b)| format!("{a}:{b}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            // HVM_PARAMS: `name=0xvalue` (or `0xindex=0xvalue`), in hex.
            Value::Array(a) => format!(
                "{k}=[{}]",
                a.iter()
                    .map(|e| {
                        let value = e["value"].as_u64().unwrap_or(0);
                        match e["name"].as_str() {
                            Some(n) => format!("{n}=0x{value:x}"),
                            None => format!("0x{:x}=0x{value:x}", e["index"].as_u64().unwrap_or(0)),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            v => format!("{k}={v}"),
        })
        .collect();
    if words.is_empty() {
        String::new()
    } else {
        format!(" {}", words.join(" "))
    }
}

/// The xl header's line.
fn xl_line(out: &mut Out, pre: &XlPreamble) -> Result<(), Failure> {
    let h = &pre.header;
    let config = pre.config().ok().flatten().map_or(0, <[u8]>::len);
    out.line(
        format!(
            "xl header @0x0 {} mandatory_flags=0x{:x} optional_flags=0x{:x} optional_data_len={} config_bytes={config}",
            endian_name(pre.endian),
            h.mandatory_flags,
            h.optional_flags,
            h.optional_data_len
        ),
        json!({
            "kind": "xl_header",
            "offset": 0,
            "endian": endian_name(pre.endian),
            "mandatory_flags": h.mandatory_flags,
            "optional_flags": h.optional_flags,
            "optional_data_len": h.optional_data_len,
            "config_bytes": config,
        }),
    )
}

/// The libxl header's line.
fn libxl_header_line(out: &mut Out, offset: u64, h: &LibxlHeader) -> Result<(), Failure> {
    out.line(
        format!(
            "libxl header @0x{offset:x} v{} {} options=0x{:x}",
            h.version,
            endian_name(h.endian()),
            h.options
        ),
        json!({
            "kind": "libxl_header",
            "offset": offset,
            "version": h.version,
            "endian": endian_name(h.endian()),
            "options": h.options,
        }),
    )
}

/// A libxl record's line, known or skipped.
fn libxl_line(
    out: &mut Out,
    known: Option<&OuterRecord>,
    skipped: Option<&SkippedRecord>,
) -> Result<(), Failure> {
    // Only emulator and checkpoint records have key fields
    // (LIBXC_CONTEXT and END have empty bodies).
    let (index, offset, code, length, name, fields) = match (known, skipped) {
        (Some(r), _) => (
            r.index,
            r.offset,
            r.record.code(),
            r.length,
            r.record.layout().spec_name.to_string(),
            libxl_fields(&r.record),
        ),
        (None, Some(s)) => (
            s.index,
            s.offset,
            s.code,
            s.length,
            format!("UNKNOWN_0x{:08x}", s.code),
            Vec::new(),
        ),
        (None, None) => return Ok(()),
    };
    let known = known.is_some();
    out.line(
        format!(
            "libxl #{index} @0x{offset:x} {name} length {length}{}",
            text_fields(&fields)
        ),
        json!({
            "kind": "libxl_record",
            "index": index,
            "offset": offset,
            "type": name,
            "code": code,
            "length": length,
            "known": known,
            "fields": Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        }),
    )
}

/// Runs the subcommand.
pub fn run(args: &InputArgs, as_json: bool) -> Result<(), Failure> {
    let inp = crate::open(args)?;
    let name = inp.name.clone();
    let mut out = Out {
        json: as_json,
        w: io::BufWriter::new(io::stdout().lock()),
    };
    let mut run = None;
    let opts = Options::mode(Mode::Lenient).format(crate::exactly(inp.format));
    let res = if inp.seekable {
        SaveReader::seekable(inp.reader, opts)
            .map_err(|e| Failure::from_error(&name, e))
            .and_then(|r| dump_events(r, &name, &mut out, &mut run))
    } else {
        SaveReader::new(inp.reader, opts)
            .map_err(|e| Failure::from_error(&name, e))
            .and_then(|r| dump_events(r, &name, &mut out, &mut run))
    };
    // A run that was cut short by an error is still printed.
    let res = out.run(&mut run).and(res);
    let flushed = out
        .w
        .flush()
        .map_err(|e| Failure::Usage(format!("writing standard output: {e}")));
    res?;
    flushed
}

/// Why printing the records stopped: the input, or the output.
enum DumpErr {
    Read(format_spec::save::Error),
    Out(Failure),
}

impl From<Failure> for DumpErr {
    fn from(f: Failure) -> Self {
        DumpErr::Out(f)
    }
}

/// Prints each layer's headers and records as they are read, then how a
/// checkpointed stream ended without END: at a checkpoint boundary, or
/// (lenient, as Xen's restore) broken off inside a segment, which a
/// failover drops.
fn dump_events<R: Read>(
    mut r: SaveReader<R>,
    name: &str,
    out: &mut Out,
    run: &mut Option<Run>,
) -> Result<(), Failure> {
    let failover = match dump_records(&mut r, out, run) {
        Ok(()) => r.failover().cloned(),
        Err(DumpErr::Out(f)) => return Err(f),
        Err(DumpErr::Read(e)) => match r.failover_on(&e) {
            Some(f) => Some(f),
            None => return Err(Failure::from_error(name, e)),
        },
    };
    out.run(run)?;
    if let Some(f) = failover {
        let at = match &f.reason {
            format_spec::stream::FailoverReason::CutShort(n) => n.offset,
            _ => f.dropped_at,
        };
        let mut j = failover_json(&f);
        j["kind"] = json!("end_of_input");
        j["offset"] = json!(at);
        out.line(format!("end of input at offset 0x{at:x}: {f}"), j)?;
    }
    Ok(())
}

/// How a checkpointed stream ended without END, as JSON: the fields of
/// `dump`'s end_of_input line and of `stats`' failover object.
pub(crate) fn failover_json(f: &format_spec::stream::Failover) -> Value {
    json!({
        "checkpoints": f.checkpoints,
        "at_boundary": f.at_boundary(),
        "dropped_segment": f.dropped_segment,
        "dropped_at": f.dropped_at,
        "dropped_records": f.dropped_records,
        "text": f.to_string(),
    })
}

/// The records of [`dump_events`].
fn dump_records<R: Read>(
    r: &mut SaveReader<R>,
    out: &mut Out,
    run: &mut Option<Run>,
) -> Result<(), DumpErr> {
    let fail = DumpErr::Read;
    while let Some(ev) = r.next().map_err(fail)? {
        match &ev {
            Event::LibxcRecord(info) if info.rtype == LibxcRecord::PAGE_DATA => {
                let mut batch = r.page_batch().map_err(fail)?;
                let data = batch.data_pages();
                run.get_or_insert_with(|| Run::new(*info))
                    .add(*info, batch.pfns(), data);
                batch.skip().map_err(|e| fail(e.into()))?;
                continue;
            }
            _ => out.run(run)?,
        }
        match ev {
            Event::Xl(pre) => xl_line(out, &pre)?,
            Event::LibxlHeader { offset, header } => libxl_header_line(out, offset, &header)?,
            Event::LibxlRecord(rec) => libxl_line(out, Some(&rec), None)?,
            Event::LibxlSkipped(s) => libxl_line(out, None, Some(&s))?,
            Event::LibxcHeaders {
                offset,
                image,
                domain,
            } => libxc_header(offset, &image, &domain, out)?,
            Event::LibxcResume {
                offset,
                stream_offset,
                next_index,
                ..
            } => {
                // A later segment of a checkpointed stream: no headers here.
                out.line(
                    format!("libxc stream resumes @0x{offset:x} at record #{next_index}"),
                    json!({
                        "kind": "resume",
                        "offset": offset,
                        "stream_offset": stream_offset,
                        "next_index": next_index,
                    }),
                )?;
            }
            Event::LibxcRecord(info) => {
                let endian = r.libxc().map(|s| s.endian());
                let layout = LibxcRecord::LAYOUT.by_code(info.rtype);
                if layout.is_none() {
                    // Unknown (optional): only its length is shown, so its
                    // body is skipped, never held in memory.
                    let fields = vec![("body_bytes", json!(info.length))];
                    record_line(out, &info, fields, None, false)?;
                } else if OPAQUE.contains(&info.rtype) && info.length > 0 {
                    // A blob: its entries are walked in the reader's buffer,
                    // without a parsed copy (one record in memory).
                    let body = r.read_body().map_err(fail)?;
                    let fields = vec![("blob_bytes", json!(body.len()))];
                    let view = endian.and_then(|e| match info.rtype {
                        LibxcRecord::DOMAIN_CONTEXT => Some(crate::blob::domain_context(body, e)),
                        LibxcRecord::HVM_CONTEXT => Some(crate::blob::hvm_context(body, e)),
                        _ => None,
                    });
                    record_line(out, &info, fields, view, true)?;
                } else {
                    let rec = r.read_record().map_err(fail)?;
                    let view = endian.and_then(|e| blob_view(&rec, e));
                    let known = matches!(rec, Record::Known(_));
                    record_line(out, &info, key_fields(&rec), view, known)?;
                }
            }
        }
    }
    Ok(())
}

/// The records whose body is one opaque blob ([`key_fields`] shows only
/// its size).
const OPAQUE: [u32; 4] = [
    LibxcRecord::SHARED_INFO,
    LibxcRecord::HVM_CONTEXT,
    LibxcRecord::TOOLSTACK,
    LibxcRecord::DOMAIN_CONTEXT,
];

/// A libxc record's line (other than PAGE_DATA).
fn record_line(
    out: &mut Out,
    info: &RecordInfo,
    fields: Vec<(&'static str, Value)>,
    view: Option<crate::blob::BlobView>,
    known: bool,
) -> Result<(), Failure> {
    let mut text = format!(
        "#{} @0x{:x} {} length {}{}",
        info.index,
        info.offset,
        type_name(info),
        info.length,
        text_fields(&fields)
    );
    let mut obj = json!({
        "kind": "record",
        "index": info.index,
        "offset": info.offset,
        "type": type_name(info),
        "code": info.rtype,
        "length": info.length,
        "known": known,
        "fields": Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
    });
    if let (Some(view), Value::Object(m)) = (&view, &mut obj) {
        text.push_str(&view.text());
        view.json_into(m);
    }
    out.line(text, obj)
}

/// The line for the libxc image and domain headers.
fn libxc_header(
    offset: u64,
    ih: &ImageHeader,
    dh: &DomainHeader,
    out: &mut Out,
) -> Result<(), Failure> {
    let domain = dh.domain_type().map(domain_name).unwrap_or("unknown guest");
    out.line(
        format!(
            "libxc stream @0x{:x} v{}, {}, {}, page_shift {}, Xen {}.{}",
            offset,
            ih.version,
            domain,
            endian_name(ih.endian()),
            dh.page_shift,
            dh.xen_major,
            dh.xen_minor
        ),
        json!({
            "kind": "header",
            "offset": offset,
            "version": ih.version,
            "options": ih.options,
            "endian": endian_name(ih.endian()),
            "domain": domain,
            "domain_type": dh.r#type,
            "page_shift": dh.page_shift,
            "xen_major": dh.xen_major,
            "xen_minor": dh.xen_minor,
        }),
    )
}
