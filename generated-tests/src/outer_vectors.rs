//! Test vectors of the outer layers: whole xl save files, bare libxl
//! streams and DOMAIN_CONTEXT blobs inside version 4 libxc streams, valid
//! and invalid, each with the verdict a strict verifier must reach.
//!
//! The files are written with [`OuterWriter`] and, for the nested libxc
//! streams, [`StreamWriter`], fed with the records of the shared libxc
//! vectors' base streams ([`crate::vectors::base`]). Bare libxc streams
//! with broken DOMAIN_CONTEXT blobs use those vectors' own framing. Invalid files are made by writing raw records or by
//! patching fields at offsets taken from the layout descriptors.
//!
//! [`rust_verdict`] is the Rust side of the comparison: the whole-input
//! reader ([`format_spec::save::verify`], strict), which reads the outer
//! layers with [`format_spec::outer::OuterReader`] and the nested libxc
//! stream in place with the strict stream verifier (which checks
//! DOMAIN_CONTEXT blobs with [`format_spec::domain_context::verify`]),
//! suspended at each CHECKPOINT while the libxl records of the checkpoint
//! are read; one verifier sees every segment, so the order and segment
//! rules hold across checkpoints.

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::domain_context::{self as dc, DcEntry, DcHeader, DcTscInfo, SharedInfoRef};
use format_spec::layout::SpecEnum;
use format_spec::layout::Wire;
use format_spec::libxc::DomainType;
use format_spec::libxc::{LibxcRecord, PageDataHeader, RecordHeader, REC_LENGTH_MAX};
use format_spec::libxl::{
    CheckpointStateId, EmulatorHeader, EmulatorId, LibxlHeader, LibxlRecord, LibxlRecordHeader,
};
use format_spec::outer::{Mode, OuterError, OuterWriter};
use format_spec::save;
use format_spec::stream::{StreamError, StreamWriter, WriterOptions};
use format_spec::xl::{
    XlHeader, XlPreamble, XL_CONFIG_FRAMING, XL_HEADER_OFFSET, XL_MANDATORY_FLAG_ALL,
    XL_MANDATORY_FLAG_STREAMV2, XL_OPTIONAL_DATA_MAX, XL_PREAMBLE_SIZE,
};

use crate::vectors::{base, Guest, Stream};

/// One outer-layer test file and what a strict verifier must say.
#[derive(Debug, Clone)]
pub struct OuterVector {
    /// Unique, file-name-safe name.
    pub name: String,
    /// The whole file.
    pub bytes: Vec<u8>,
    /// `None`: valid. `Some(KIND)`: the first error's kind
    /// (`OuterError::kind()`, or the libxc rules' KIND, `DomainContext`
    /// for a broken DOMAIN_CONTEXT blob).
    pub expect: Option<&'static str>,
    /// The finer rule: for `Xenstore` errors the `XenstoreErrorKind`
    /// variant name, for `DomainContext` errors the `DcErrorKind` one.
    pub detail: Option<&'static str>,
    /// Where the error must be reported (an absolute offset), for the
    /// vectors that pin it ([`xl_config_vectors`]); `None`: not pinned
    /// (Python must still agree with Rust on it).
    pub at: Option<u64>,
}

/// A verifier's verdict on one vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the file was accepted.
    pub accept: bool,
    /// The error kind ("" when accepted).
    pub kind: String,
    /// The finer rule name (`XenstoreErrorKind`, `DcErrorKind`), or "".
    pub detail: String,
    /// The absolute offset the error points at (0 when accepted).
    pub offset: u64,
}

impl Verdict {
    fn accept() -> Verdict {
        Verdict {
            accept: true,
            kind: String::new(),
            detail: String::new(),
            offset: 0,
        }
    }

    fn reject(kind: &str, detail: String, offset: u64) -> Verdict {
        Verdict {
            accept: false,
            kind: kind.to_string(),
            detail,
            offset,
        }
    }
}

/// The JSON configuration of the xl files.
const CONFIG: &str = "{\"c_info\": {\"name\": \"vector\"}}";

/// The configuration of a PVH guest, and of an HVM one, as xl writes
/// them (`c_info.type`; the rest cut down).
const PVH_CONFIG: &str = "{\"c_info\": {\"type\": \"pvh\", \"name\": \"vector\"}, \"b_info\": {\"max_vcpus\": 1, \"type.pvh\": {}}}";
const HVM_CONFIG: &str = "{\"c_info\": {\"type\": \"hvm\", \"name\": \"vector\"}, \"b_info\": {\"type.hvm\": {\"acpi\": true}}}";

/// An unknown libxl record type, optional (bit 31 set).
const UNKNOWN_OPTIONAL: u32 = 0x8000_0077;
/// An unknown libxl record type, mandatory.
const UNKNOWN_MANDATORY: u32 = 0x77;

fn u32_bytes(v: u32, e: Endian) -> [u8; 4] {
    match e {
        Endian::Big => v.to_be_bytes(),
        Endian::Little => v.to_le_bytes(),
    }
}

fn endian_name(e: Endian) -> &'static str {
    match e {
        Endian::Big => "be",
        Endian::Little => "le",
    }
}

/// The xenstore pairs the valid files carry.
fn pairs() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (b"physmap/1/start_addr".to_vec(), b"f0000000".to_vec()),
        (b"physmap/1/size".to_vec(), b"800000".to_vec()),
        (b"physmap/1/name".to_vec(), b"vga.vram".to_vec()),
        (b"empty_value".to_vec(), Vec::new()),
    ]
}

type W = OuterWriter<Vec<u8>>;

/// Starts an xl file (or, with `xl` false, a bare libxl stream).
fn start(xl: bool, endian: Endian) -> W {
    if xl {
        OuterWriter::xl(Vec::new(), &XlPreamble::with_json_config(endian, CONFIG))
            .expect("xl preamble")
    } else {
        OuterWriter::libxl(Vec::new(), endian).expect("libxl header")
    }
}

/// Writes LIBXC_CONTEXT and then `stream`'s records with the stream
/// writer ([`StreamWriter`], which refuses anything the strict verifier
/// would); after each libxc CHECKPOINT record, the libxl records `between`
/// writes and CHECKPOINT_END. Returns the absolute offset in the file of
/// each of `stream`'s records (END included).
fn libxc(w: &mut W, stream: &Stream, between: &mut dyn FnMut(&mut W)) -> Vec<u64> {
    libxc_in(w, stream, between, false)
}

/// Like [`libxc`]; with `colo`, each CHECKPOINT_END is followed by a
/// CHECKPOINT_STATE (CHECKPOINT_NEW), as in Xen's COLO streams.
fn libxc_in(w: &mut W, stream: &Stream, between: &mut dyn FnMut(&mut W), colo: bool) -> Vec<u64> {
    let e = stream.endian;
    w.libxc_context().expect("LIBXC_CONTEXT");
    let domain = DomainType::from_value(u64::from(stream.dhdr.r#type)).expect("domain type");
    let mut opts = WriterOptions::new(domain)
        .version(stream.ihdr.version)
        .endian(e)
        .xen_version(stream.dhdr.xen_major, stream.dhdr.xen_minor);
    // The writer's output is the whole file so far, and it is told about
    // the libxl octets between segments: its offsets are the file's.
    opts.base_offset = w.inner().len() as u64;
    let mut sw = StreamWriter::new(std::mem::take(w.inner()), opts).expect("libxc headers");
    let mut offsets = Vec::new();
    for r in &stream.records {
        offsets.push(sw.position());
        match r.code {
            LibxcRecord::END => break,
            LibxcRecord::CHECKPOINT => {
                sw.checkpoint().expect("CHECKPOINT");
                // The libxl records of the checkpoint, framed by an outer
                // writer of their own (whose header is dropped).
                let mut part = OuterWriter::libxl(Vec::new(), e).expect("libxl writer");
                let header = part.inner().len();
                between(&mut part);
                part.checkpoint_end().expect("CHECKPOINT_END");
                if colo {
                    part.checkpoint_state(CheckpointStateId::New)
                        .expect("CHECKPOINT_STATE");
                }
                sw.get_mut().extend_from_slice(&part.inner()[header..]);
                let resume = sw.get_mut().len() as u64;
                sw.resume_at(resume)
                    .expect("resume after the libxl records");
            }
            code => match LibxcRecord::parse_body(code, &r.body, e) {
                Ok(Some(LibxcRecord::PageData(p))) => {
                    sw.write_page_data(&p.header.pfn, &p.pages)
                        .expect("PAGE_DATA");
                }
                Ok(Some(rec)) => {
                    sw.write(&rec)
                        .unwrap_or_else(|err| panic!("{}: {err}", rec.layout().spec_name));
                }
                _ => {
                    sw.write_optional(code, &r.body).expect("optional record");
                }
            },
        }
    }
    *w.inner() = sw.finish().expect("libxc END");
    offsets
}

/// The emulator records a device-model domain has after its libxc stream.
fn emulator_records(w: &mut W) {
    w.emulator_xenstore_data(EmulatorId::QemuUpstream, 0, &pairs())
        .expect("xenstore data");
    let state: Vec<u8> = (0..101u32).map(|i| (i * 7) as u8).collect();
    w.emulator_context(EmulatorId::QemuUpstream, 0, &state)
        .expect("emulator context");
}

/// A complete valid file: libxc stream, emulator records (HVM), END. With
/// checkpoints, every checkpoint carries emulator records (HVM), and a
/// CHECKPOINT_STATE follows its CHECKPOINT_END (Xen's COLO layout).
fn valid(xl: bool, endian: Endian, guest: Guest, version: u32, checkpoints: usize) -> Vec<u8> {
    valid_parts(xl, endian, guest, version, checkpoints).0
}

/// Like [`valid`], also returning the libxc stream and the absolute
/// offset of each of its records in the file.
fn valid_parts(
    xl: bool,
    endian: Endian,
    guest: Guest,
    version: u32,
    checkpoints: usize,
) -> (Vec<u8>, Stream, Vec<u64>) {
    let mut w = start(xl, endian);
    let stream = base(guest, version, endian, checkpoints);
    let hvm = guest == Guest::Hvm;
    let offsets = libxc_in(
        &mut w,
        &stream,
        &mut |w| {
            if hvm {
                emulator_records(w)
            }
        },
        true,
    );
    if guest == Guest::Hvm {
        emulator_records(&mut w);
    }
    (w.finish().expect("END"), stream, offsets)
}

/// Index of the first record of type `code` at or after index `from`.
fn find_from(stream: &Stream, from: usize, code: u32) -> usize {
    from + stream.records[from..]
        .iter()
        .position(|r| r.code == code)
        .unwrap_or_else(|| panic!("no record 0x{code:x} after record {from}"))
}

/// Errors planted in the second segment of a checkpointed xl file (after
/// the libxl records of its first checkpoint), patched into the written
/// bytes at offsets the writer recorded: each vector with the absolute
/// offset its error must be reported at.
pub fn second_segment_vectors() -> Vec<(OuterVector, u64)> {
    let mut out = Vec::new();
    for e in [Endian::Little, Endian::Big] {
        let en = endian_name(e);
        let (bytes, stream, offsets) = valid_parts(true, e, Guest::Hvm, 4, 2);
        let seg2 = stream.find(LibxcRecord::CHECKPOINT) + 1;
        let vector = |name: String, bytes, kind| OuterVector {
            name,
            bytes,
            expect: Some(kind),
            detail: None,
            at: None,
        };
        // The first pfn entry of the segment's first PAGE_DATA gets page
        // type 5, which no PAGE_DATA may carry: reported at the entry.
        let pd = offsets[find_from(&stream, seg2, LibxcRecord::PAGE_DATA)] as usize;
        let entry = pd + RecordHeader::LAYOUT.size + PageDataHeader::LAYOUT.size;
        let mut b = bytes.clone();
        let top = match e {
            Endian::Little => entry + 7,
            Endian::Big => entry,
        };
        b[top] = (b[top] & 0x0f) | 0x50;
        out.push((
            vector(
                format!("xl-second-segment-bad-page-type-{en}"),
                b,
                "BadPageType",
            ),
            entry as u64,
        ));
        // The segment's DOMAIN_CONTEXT becomes an unknown optional record
        // (skipped): the CHECKPOINT closing the segment finds none, and
        // the error points at that CHECKPOINT's header.
        let dc = find_from(&stream, seg2, LibxcRecord::DOMAIN_CONTEXT);
        let closing = find_from(&stream, dc, LibxcRecord::CHECKPOINT);
        let mut b = bytes;
        put(
            &mut b,
            offsets[dc] as usize,
            crate::vectors::UNKNOWN_OPTIONAL,
            e,
        );
        out.push((
            vector(
                format!("xl-second-segment-no-domain-context-{en}"),
                b,
                "MissingDomainContext",
            ),
            offsets[closing],
        ));
    }
    out
}

/// A file whose libxl part after the libxc stream is written by `tail`
/// (which must write END itself if it wants one).
fn with_tail(xl: bool, endian: Endian, tail: &dyn Fn(&mut W)) -> Vec<u8> {
    let mut w = start(xl, endian);
    libxc(&mut w, &base(Guest::Hvm, 3, endian, 0), &mut |_| {});
    tail(&mut w);
    std::mem::take(w.inner())
}

/// Overwrites the 32-bit field at `at` (byte order `e`).
fn put(bytes: &mut [u8], at: usize, v: u32, e: Endian) {
    bytes[at..at + 4].copy_from_slice(&u32_bytes(v, e));
}

/// Offset of an xl header field in a file.
fn xl_field(name: &str) -> usize {
    XL_HEADER_OFFSET + XlHeader::LAYOUT.field(name).expect("xl field").offset
}

/// Offset of a libxl header field, the libxl header starting at `base`.
fn libxl_field(base: usize, name: &str) -> usize {
    base + LibxlHeader::LAYOUT.field(name).expect("libxl field").offset
}

/// Where the libxl header starts in a file made by [`start`].
fn libxl_start(xl: bool, endian: Endian) -> usize {
    if xl {
        XlPreamble::with_json_config(endian, CONFIG)
            .to_bytes()
            .len()
    } else {
        0
    }
}

/// An emulator sub-header followed by `data`.
fn emulator_body(id: u32, data: &[u8], e: Endian) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u32_bytes(id, e));
    b.extend_from_slice(&u32_bytes(0, e));
    debug_assert_eq!(b.len(), EmulatorHeader::LAYOUT.size);
    b.extend_from_slice(data);
    b
}

/// Every outer-layer vector.
pub fn outer_vectors() -> Vec<OuterVector> {
    let mut out = Vec::new();
    let mut add = |name: String, bytes: Vec<u8>, expect: Option<&'static str>, detail| {
        out.push(OuterVector {
            name,
            bytes,
            expect,
            detail,
            at: None,
        })
    };

    for e in [Endian::Little, Endian::Big] {
        let en = endian_name(e);
        // A libxl stream that is its header and END: libxl's reader takes
        // it, but it holds nothing to restore (strict mode refuses it).
        let mut w = OuterWriter::libxl(Vec::new(), e).expect("libxl header");
        w.record(&LibxlRecord::End).expect("END");
        add(
            format!("libxl-no-libxc-context-{en}"),
            w.finish().expect("the stream"),
            Some("UnexpectedRecord"),
            None,
        );
        // Valid files.
        for (guest, gname) in [(Guest::Pv, "pv"), (Guest::Hvm, "hvm")] {
            for version in [2, 3, 4] {
                add(
                    format!("xl-{gname}-v{version}-{en}"),
                    valid(true, e, guest, version, 0),
                    None,
                    None,
                );
            }
            add(
                format!("libxl-{gname}-v3-{en}"),
                valid(false, e, guest, 3, 0),
                None,
                None,
            );
            add(
                format!("xl-{gname}-v4-checkpointed-{en}"),
                valid(true, e, guest, 4, 2),
                None,
                None,
            );
            add(
                format!("libxl-{gname}-v3-checkpointed-{en}"),
                valid(false, e, guest, 3, 1),
                None,
                None,
            );
        }
        add(
            format!("libxc-bare-v4-{en}"),
            base(Guest::Hvm, 4, e, 0).to_bytes(),
            None,
            None,
        );
        // xl without the stream-v2 flag, a bare libxc stream after it.
        {
            let mut pre = XlPreamble::with_json_config(e, CONFIG);
            pre.header.mandatory_flags &= !format_spec::xl::XL_MANDATORY_FLAG_STREAMV2;
            let mut bytes = pre.to_bytes();
            bytes.extend(base(Guest::Pv, 3, e, 0).to_bytes());
            add(format!("xl-no-v2-libxc-{en}"), bytes.clone(), None, None);
            let mut legacy = pre.to_bytes();
            legacy.extend(b"legacy!!");
            legacy.extend(vec![0; 64]);
            add(
                format!("xl-no-v2-legacy-{en}"),
                legacy,
                Some("LegacyStream"),
                None,
            );
        }
        // xl with no configuration at all (no JSON flag, empty data).
        {
            let mut w = OuterWriter::xl(Vec::new(), &XlPreamble::with_json_config(e, "")).unwrap();
            libxc(&mut w, &base(Guest::Pv, 3, e, 0), &mut |_| {});
            add(
                format!("xl-no-config-{en}"),
                w.finish().unwrap(),
                None,
                None,
            );
        }
        // Optional data with octets after the configuration (skipped).
        {
            let mut pre = XlPreamble::with_json_config(e, CONFIG);
            pre.optional_data.extend_from_slice(b"future!!");
            pre.header.optional_data_len = pre.optional_data.len() as u32;
            let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
            libxc(&mut w, &base(Guest::Hvm, 4, e, 0), &mut |_| {});
            add(
                format!("xl-config-tail-{en}"),
                w.finish().unwrap(),
                None,
                None,
            );
        }
        // Captures of `xl migrate`: xl's migration messages after the
        // stream are named, not trailing data; anything else (a message
        // cut short) is.
        {
            use format_spec::xl::{MIGRATE_PERMISSION_TO_GO, MIGRATE_REPORT};
            let save = valid(true, e, Guest::Hvm, 3, 0);
            let go = MIGRATE_PERMISSION_TO_GO.wire(0);
            add(
                format!("xl-migrate-go-{en}"),
                [&save[..], &go].concat(),
                None,
                None,
            );
            add(
                format!("xl-migrate-go-report-{en}"),
                [&save[..], &go, &MIGRATE_REPORT.wire(1)].concat(),
                None,
                None,
            );
            add(
                format!("xl-migrate-cut-{en}"),
                [&save[..], &go[..30]].concat(),
                Some("TrailingData"),
                None,
            );
            let bare = valid(false, e, Guest::Hvm, 3, 0);
            add(
                format!("libxl-migrate-go-{en}"),
                [&bare[..], &go].concat(),
                None,
                None,
            );
        }
        // Unknown optional libxl record: libxl's reader refuses it.
        add(
            format!("libxl-unknown-optional-{en}"),
            with_tail(true, e, &|w| {
                w.raw_record(UNKNOWN_OPTIONAL, b"opt").unwrap();
                w.record(&LibxlRecord::End).unwrap();
            }),
            Some("UnknownOptional"),
            None,
        );
        // Emulator records in a PV guest's stream: libxl refuses them,
        // after the libxc stream and before it.
        {
            let mut w = start(true, e);
            libxc(&mut w, &base(Guest::Pv, 3, e, 0), &mut |_| {});
            emulator_records(&mut w);
            add(
                format!("xl-pv-emulator-{en}"),
                w.finish().unwrap(),
                Some("WrongGuestType"),
                None,
            );
            let mut w = start(false, e);
            emulator_records(&mut w);
            libxc(&mut w, &base(Guest::Pv, 3, e, 0), &mut |_| {});
            add(
                format!("libxl-pv-emulator-first-{en}"),
                w.finish().unwrap(),
                Some("WrongGuestType"),
                None,
            );
        }
        // A PVH guest, as the xl configuration says (c_info.type): its
        // libxc stream says X86_HVM, as an HVM guest's does, and libxl
        // refuses emulator records for it, after the libxc stream and
        // before it (then at once: the guest type is known from the
        // start). Without emulator records it is valid, and so are they in
        // a guest the configuration calls HVM.
        for (name, config, emulators, expect) in [
            (
                "xl-pvh-emulator-after",
                PVH_CONFIG,
                Some(false),
                Some("WrongGuestType"),
            ),
            (
                "xl-pvh-emulator-first",
                PVH_CONFIG,
                Some(true),
                Some("WrongGuestType"),
            ),
            ("xl-pvh", PVH_CONFIG, None, None),
            ("xl-hvm-config-emulator", HVM_CONFIG, Some(false), None),
        ] {
            let pre = XlPreamble::with_json_config(e, config);
            let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
            if emulators == Some(true) {
                emulator_records(&mut w);
            }
            libxc(&mut w, &base(Guest::Hvm, 3, e, 0), &mut |_| {});
            if emulators == Some(false) {
                emulator_records(&mut w);
            }
            add(format!("{name}-{en}"), w.finish().unwrap(), expect, None);
        }
        // CHECKPOINT_STATE inside a checkpoint (before CHECKPOINT_END), and
        // one sending a secondary's state forward.
        for (name, inside, id, kind) in [
            (
                "libxl-checkpoint-state-inside",
                true,
                CheckpointStateId::New,
                "UnexpectedRecord",
            ),
            (
                "libxl-checkpoint-state-ready",
                false,
                CheckpointStateId::SvmReady,
                "BadValue",
            ),
        ] {
            let mut w = start(false, e);
            let stream = base(Guest::Hvm, 3, e, 1);
            let (bytes, offsets) = stream.to_bytes_with_offsets();
            let i = stream.find(LibxcRecord::CHECKPOINT);
            w.libxc_context().unwrap();
            w.inner().extend_from_slice(&bytes[..offsets[i + 1]]);
            if inside {
                w.checkpoint_state(id).unwrap();
            }
            w.record(&LibxlRecord::CheckpointEnd).unwrap();
            if !inside {
                w.checkpoint_state(id).unwrap();
            }
            w.inner().extend_from_slice(&bytes[offsets[i + 1]..]);
            add(
                format!("{name}-{en}"),
                w.finish().unwrap(),
                Some(kind),
                None,
            );
        }
        // Emulator records before the libxc stream, legacy option bit.
        {
            let mut w = start(false, e);
            emulator_records(&mut w);
            libxc(&mut w, &base(Guest::Hvm, 3, e, 0), &mut |_| {});
            let mut bytes = w.finish().unwrap();
            let at = libxl_field(0, "options");
            let opts = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
            bytes[at..at + 4]
                .copy_from_slice(&(opts | format_spec::libxl::HDR_OPT_LEGACY).to_be_bytes());
            add(
                format!("libxl-emulator-first-legacy-{en}"),
                bytes,
                None,
                None,
            );
        }

        // xl header rules.
        let good = valid(true, e, Guest::Hvm, 3, 0);
        let mut bad = |name: &str, kind: &'static str, f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            add(format!("{name}-{en}"), b, Some(kind), None);
        };
        bad("xl-bad-magic", "BadXlMagic", &|b| b[27] = b'\r');
        bad("xl-bad-byteorder", "BadByteOrderMarker", &|b| {
            b[xl_field("byteorder")] ^= 0x40
        });
        bad("xl-unknown-mandatory-flag", "UnknownMandatoryFlags", &|b| {
            put(b, xl_field("mandatory_flags"), 0x7, e)
        });
        bad("xl-optional-flags", "UnknownOptionalFlags", &|b| {
            put(b, xl_field("optional_flags"), 0x100, e)
        });
        bad("xl-optional-data-too-long", "OptionalDataTooLong", &|b| {
            put(
                b,
                xl_field("optional_data_len"),
                XL_OPTIONAL_DATA_MAX + 1,
                e,
            )
        });
        // Several header rules broken at once: the first field's is
        // reported, in Rust (`header_rules`) and Python alike.
        bad(
            "xl-unknown-mandatory-flag-and-optional-data-too-long",
            "UnknownMandatoryFlags",
            &|b| {
                put(b, xl_field("mandatory_flags"), 0x7, e);
                put(b, xl_field("optional_data_len"), u32::MAX, e)
            },
        );
        bad(
            "xl-optional-flags-and-optional-data-too-long",
            "UnknownOptionalFlags",
            &|b| {
                put(b, xl_field("optional_flags"), 0x100, e);
                put(b, xl_field("optional_data_len"), u32::MAX, e)
            },
        );
        bad("xl-truncated-header", "Truncated", &|b| b.truncate(40));
        bad("xl-truncated-config", "Truncated", &|b| {
            b.truncate(XL_PREAMBLE_SIZE + 10)
        });
        {
            // Exactly the most optional data accepted (the bound is
            // inclusive), the configuration first and zeros after it.
            let mut pre = XlPreamble::with_json_config(e, CONFIG);
            pre.optional_data.resize(XL_OPTIONAL_DATA_MAX as usize, 0);
            pre.header.optional_data_len = XL_OPTIONAL_DATA_MAX;
            let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
            libxc(&mut w, &base(Guest::Hvm, 3, e, 0), &mut |_| {});
            add(
                format!("xl-optional-data-at-limit-{en}"),
                w.finish().unwrap(),
                None,
                None,
            );
        }

        // libxl header rules, in an xl file and bare.
        for xl in [true, false] {
            let prefix = if xl { "xl" } else { "libxl" };
            let good = valid(xl, e, Guest::Hvm, 4, 0);
            let hb = libxl_start(xl, e);
            let mut bad = |name: &str, kind: &'static str, f: &dyn Fn(&mut Vec<u8>)| {
                let mut b = good.clone();
                f(&mut b);
                add(format!("{prefix}-{name}-{en}"), b, Some(kind), None);
            };
            // A bare libxl stream with a broken ident is no known format.
            let ident_kind = if xl { "BadIdent" } else { "UnknownFormat" };
            bad("libxl-bad-ident", ident_kind, &|b| {
                b[libxl_field(hb, "ident") + 7] ^= 1
            });
            bad("libxl-version-3", "UnsupportedVersion", &|b| {
                put(b, libxl_field(hb, "version"), 3, Endian::Big)
            });
            bad("libxl-options-bit2", "ReservedNonZero", &|b| {
                b[libxl_field(hb, "options") + 3] |= 4
            });
            // Bit 20: outside Xen's Python mask (0xfffc), inside the spec's.
            bad("libxl-options-bit20", "ReservedNonZero", &|b| {
                b[libxl_field(hb, "options") + 1] |= 0x10
            });
            bad("libxl-truncated-header", "Truncated", &|b| {
                b.truncate(hb + 12)
            });
            bad("libxl-truncated-in-libxc", "Truncated", &|b| {
                b.truncate(hb + LibxlHeader::LAYOUT.size + 8 + 100)
            });
            bad("libxl-truncated-before-end", "Truncated", &|b| {
                let n = b.len() - LibxlRecordHeader::LAYOUT.size;
                b.truncate(n)
            });
            bad("libxl-data-after-end", "TrailingData", &|b| b.push(0));
        }
        // Auto detection and bare libxc trailing data.
        add(
            format!("unknown-format-{en}"),
            b"XEN save file!!!".to_vec(),
            Some("UnknownFormat"),
            None,
        );
        add(
            format!("too-short-to-detect-{en}"),
            b"Xen".to_vec(),
            Some("Truncated"),
            None,
        );
        {
            let mut b = base(Guest::Pv, 4, e, 0).to_bytes();
            b.extend_from_slice(&[0; 8]);
            add(
                format!("libxc-bare-trailing-{en}"),
                b,
                Some("TrailingData"),
                None,
            );
        }

        // libxl record rules.
        let tail =
            |name: &str, kind: &'static str, detail: Option<&'static str>, f: &dyn Fn(&mut W)| {
                (
                    format!("{name}-{en}"),
                    with_tail(true, e, f),
                    Some(kind),
                    detail,
                )
            };
        let xs = |data: &[u8]| emulator_body(EmulatorId::QemuUpstream as u32, data, e);
        let cases = vec![
            tail("libxl-unknown-mandatory", "UnknownMandatory", None, &|w| {
                w.raw_record(UNKNOWN_MANDATORY, b"").unwrap();
                w.record(&LibxlRecord::End).unwrap();
            }),
            tail("libxl-record-too-long", "RecordTooLong", None, &|w| {
                let mut rh = Vec::new();
                rh.extend_from_slice(&u32_bytes(LibxlRecord::EMULATOR_CONTEXT, e));
                rh.extend_from_slice(&u32_bytes(REC_LENGTH_MAX + 1, e));
                w.inner().extend_from_slice(&rh);
            }),
            tail("libxl-padding-nonzero", "PaddingNonZero", None, &|w| {
                w.emulator_context(EmulatorId::QemuUpstream, 0, b"abc")
                    .unwrap();
                let n = w.inner().len();
                w.inner()[n - 2] = 0xee;
                w.record(&LibxlRecord::End).unwrap();
            }),
            tail("libxl-end-with-body", "BadLength", None, &|w| {
                w.raw_record(LibxlRecord::END, b"junk").unwrap();
            }),
            tail(
                "libxl-checkpoint-state-empty",
                "CrashesXenRestore",
                None,
                &|w| {
                    w.raw_record(LibxlRecord::CHECKPOINT_STATE, b"").unwrap();
                    w.record(&LibxlRecord::End).unwrap();
                },
            ),
            tail("libxl-emulator-header-short", "BadLength", None, &|w| {
                w.raw_record(LibxlRecord::EMULATOR_CONTEXT, &[2, 0, 0])
                    .unwrap();
                w.record(&LibxlRecord::End).unwrap();
            }),
            tail("libxl-unknown-emulator", "UnknownEmulator", None, &|w| {
                w.raw_record(
                    LibxlRecord::EMULATOR_CONTEXT,
                    &emulator_body(3, b"state", e),
                )
                .unwrap();
                w.record(&LibxlRecord::End).unwrap();
            }),
            tail("libxl-checkpoint-state-7", "BadValue", None, &|w| {
                w.raw_record(LibxlRecord::CHECKPOINT_STATE, &u32_bytes(7, e))
                    .unwrap();
                w.record(&LibxlRecord::End).unwrap();
            }),
            tail(
                "libxl-second-libxc-context",
                "UnexpectedRecord",
                None,
                &|w| {
                    w.record(&LibxlRecord::LibxcContext).unwrap();
                    w.record(&LibxlRecord::End).unwrap();
                },
            ),
            tail(
                "libxl-checkpoint-end-outside",
                "UnexpectedRecord",
                None,
                &|w| {
                    w.record(&LibxlRecord::CheckpointEnd).unwrap();
                    w.record(&LibxlRecord::End).unwrap();
                },
            ),
            tail(
                "libxl-xenstore-not-terminated",
                "Xenstore",
                Some("NotNulTerminated"),
                &|w| {
                    w.raw_record(LibxlRecord::EMULATOR_XENSTORE_DATA, &xs(b"key\0value"))
                        .unwrap();
                    w.record(&LibxlRecord::End).unwrap();
                },
            ),
            tail(
                "libxl-xenstore-odd",
                "Xenstore",
                Some("OddStringCount"),
                &|w| {
                    w.raw_record(LibxlRecord::EMULATOR_XENSTORE_DATA, &xs(b"a\0b\0c\0"))
                        .unwrap();
                    w.record(&LibxlRecord::End).unwrap();
                },
            ),
            tail(
                "libxl-xenstore-empty-key",
                "Xenstore",
                Some("EmptyKey"),
                &|w| {
                    w.raw_record(LibxlRecord::EMULATOR_XENSTORE_DATA, &xs(b"a\0b\0\0c\0"))
                        .unwrap();
                    w.record(&LibxlRecord::End).unwrap();
                },
            ),
            tail(
                "libxl-xenstore-absolute-key",
                "Xenstore",
                Some("AbsoluteKey"),
                &|w| {
                    w.raw_record(LibxlRecord::EMULATOR_XENSTORE_DATA, &xs(b"/local/x\0b\0"))
                        .unwrap();
                    w.record(&LibxlRecord::End).unwrap();
                },
            ),
            tail(
                "libxl-xenstore-key-character",
                "Xenstore",
                Some("KeyCharacter"),
                &|w| {
                    w.raw_record(
                        LibxlRecord::EMULATOR_XENSTORE_DATA,
                        &xs(b"ok\0v\0bad key\0v\0"),
                    )
                    .unwrap();
                    w.record(&LibxlRecord::End).unwrap();
                },
            ),
        ];
        for (name, bytes, kind, detail) in cases {
            add(name, bytes, kind, detail);
        }
        // END inside a checkpoint.
        {
            let mut w = start(true, e);
            let stream = base(Guest::Hvm, 4, e, 1);
            let (bytes, offsets) = stream.to_bytes_with_offsets();
            let i = stream.find(LibxcRecord::CHECKPOINT);
            w.libxc_context().unwrap();
            w.inner().extend_from_slice(&bytes[..offsets[i + 1]]);
            emulator_records(&mut w);
            add(
                format!("libxl-end-in-checkpoint-{en}"),
                w.finish().unwrap(),
                Some("UnexpectedRecord"),
                None,
            );
        }
    }
    // A broken blob is a DomainContext error whose detail is the blob rule.
    for (name, blob, rule) in blob_cases() {
        for e in [Endian::Little, Endian::Big] {
            let en = endian_name(e);
            let mut s = base(Guest::Hvm, 4, e, 0);
            s.replace(&LibxcRecord::DomainContext(Opaque(blob(e))));
            let kind = rule.map(|_| "DomainContext");
            add(format!("dc-{name}-{en}"), s.to_bytes(), kind, rule);
        }
    }
    // Blobs nested in whole files too.
    for (name, blob, rule) in blob_cases().into_iter().take(4) {
        let e = Endian::Little;
        let mut w = start(true, e);
        let mut s = base(Guest::Pv, 4, e, 1);
        s.replace(&LibxcRecord::DomainContext(Opaque(blob(e))));
        libxc(&mut w, &s, &mut |_| {});
        let kind = rule.map(|_| "DomainContext");
        add(format!("xl-dc-{name}"), w.finish().unwrap(), kind, rule);
    }
    for (v, _) in second_segment_vectors() {
        add(v.name, v.bytes, v.expect, v.detail);
    }
    // A broken blob in the second segment of a checkpointed file.
    {
        let e = Endian::Big;
        let mut w = start(true, e);
        let mut s = base(Guest::Hvm, 4, e, 1);
        let i = s.find_last(LibxcRecord::DOMAIN_CONTEXT);
        let mut blob = full(e);
        blob[8 + 12 + 3] = 9;
        s.records[i] = crate::vectors::RawRecord::new(&LibxcRecord::DomainContext(Opaque(blob)), e);
        libxc(&mut w, &s, &mut |w| emulator_records(w));
        add(
            "xl-dc-second-segment-be".to_string(),
            w.finish().unwrap(),
            Some("DomainContext"),
            Some("PaddingNonZero"),
        );
    }
    out.extend(xl_config_vectors());
    out
}

/// The xl files whose optional data tests its framing
/// ([`XL_CONFIG_FRAMING`]: empty, or `config_len` and at least that many
/// octets) and the JSON flag's rules on the configuration
/// (`XL_FLAG_RULES`), in both byte orders, each error pinned at the
/// offset it must be reported at: the optional data's start for a broken
/// framing (`BadConfig`), the `mandatory_flags` field for a missing
/// configuration, the configuration's first octet for one not ending in
/// NUL.
pub fn xl_config_vectors() -> Vec<OuterVector> {
    let data_at = XL_PREAMBLE_SIZE as u64;
    let config_at = data_at + XL_CONFIG_FRAMING.fixed() as u64;
    let flags_at = xl_field("mandatory_flags") as u64;
    let mut out = Vec::new();
    for e in [Endian::Little, Endian::Big] {
        let en = endian_name(e);
        let mut add = |name: &str, pre: &XlPreamble, expect: Option<&'static str>, at: u64| {
            let mut w = OuterWriter::xl(Vec::new(), pre).unwrap();
            libxc(&mut w, &base(Guest::Pv, 3, e, 0), &mut |_| {});
            out.push(OuterVector {
                name: format!("{name}-{en}"),
                bytes: w.finish().unwrap(),
                expect,
                detail: None,
                at: expect.map(|_| at),
            });
        };
        // Optional data of these octets, with these mandatory flags.
        let with = |data: Vec<u8>, flags: u32| {
            let mut pre = XlPreamble::with_json_config(e, "");
            pre.header.optional_data_len = data.len() as u32;
            pre.header.mandatory_flags = flags;
            pre.optional_data = data;
            pre
        };
        let config_len = |n: u32| u32_bytes(n, e).to_vec();
        let json = XL_MANDATORY_FLAG_ALL;
        let plain = XL_MANDATORY_FLAG_STREAMV2;

        // The JSON configuration as xl writes it: config_len counts every
        // octet after it (the bound is inclusive), one more than there
        // are is refused.
        let good = XlPreamble::with_json_config(e, CONFIG);
        add("xl-config-fills-optional-data", &good, None, 0);
        let mut pre = good.clone();
        let n = CONFIG.len() as u32 + 1;
        pre.optional_data[..4].copy_from_slice(&config_len(n + 1));
        add("xl-config-len-too-long", &pre, Some("BadConfig"), data_at);
        // The largest config_len: refused, not wrapped around.
        let mut pre = good.clone();
        pre.optional_data[..4].copy_from_slice(&config_len(u32::MAX));
        add("xl-config-len-max", &pre, Some("BadConfig"), data_at);
        // One octet fewer, and the NUL is outside the configuration.
        let mut pre = good.clone();
        pre.optional_data[..4].copy_from_slice(&config_len(n - 1));
        add(
            "xl-config-not-terminated",
            &pre,
            Some("ConfigNotTerminated"),
            config_at,
        );
        // Optional data too short for config_len: 1, 2 or 3 octets.
        for len in 1..4u8 {
            let name = match len {
                2 => "xl-optional-data-short".to_string(),
                _ => format!("xl-optional-data-short-{len}"),
            };
            let pre = with((1..=len).collect(), plain);
            add(&name, &pre, Some("BadConfig"), data_at);
        }
        // The JSON flag without a configuration.
        add(
            "xl-json-missing-config",
            &with(Vec::new(), json),
            Some("MissingConfig"),
            flags_at,
        );
        // The JSON flag's rules: an empty configuration is there but does
        // not end in NUL; without the flag an unterminated configuration
        // is no JSON and breaks no rule, and an empty one with octets
        // after it neither.
        add(
            "xl-json-empty-config",
            &with(config_len(0), json),
            Some("ConfigNotTerminated"),
            config_at,
        );
        let mut data = config_len(3);
        data.extend_from_slice(b"a=1");
        add("xl-plain-unterminated-config", &with(data, plain), None, 0);
        let mut data = config_len(0);
        data.extend_from_slice(b"future");
        add("xl-plain-empty-config-tail", &with(data, plain), None, 0);
    }
    out
}

/// A blob builder for one byte order.
type Blob = fn(Endian) -> Vec<u8>;

/// The entries of a full x86 64-bit blob.
fn full_entries(shared: &[u8]) -> Vec<DcEntry<'_>> {
    vec![
        DcEntry::Header(DcHeader::new(4, 20)),
        DcEntry::SharedInfo(SharedInfoRef {
            flags: 0,
            buffer: shared,
        }),
        DcEntry::TscInfo(DcTscInfo {
            mode: 1,
            incarnation: 3,
            elapsed_nsec: 123_456,
            khz: 2_000_000,
            _pad: 0xdead,
        }),
        DcEntry::End,
    ]
}

fn blob_of(entries: &[DcEntry<'_>], e: Endian) -> Vec<u8> {
    let mut b = Vec::new();
    dc::write(entries, e, &mut b).expect("blob");
    b
}

fn full(e: Endian) -> Vec<u8> {
    let shared = vec![0x3c; dc::shared_info_size(false)];
    blob_of(&full_entries(&shared), e)
}

/// Offsets in [`full`]: HEADER at 0, SHARED_INFO at 24, TSC_INFO at 3176,
/// END at 3208, as the module docs of `domain_context` say.
const SI_AT: usize = 24;
const TSC_AT: usize = 3176;
const END_AT: usize = 3208;

fn set16(b: &mut [u8], at: usize, v: u16, e: Endian) {
    b[at..at + 2].copy_from_slice(&match e {
        Endian::Big => v.to_be_bytes(),
        Endian::Little => v.to_le_bytes(),
    });
}

/// One blob per rule of `domain_context::entries` and `verify`, and valid
/// ones: (name, builder, expected kind).
fn blob_cases() -> Vec<(&'static str, Blob, Option<&'static str>)> {
    vec![
        ("full", full, None),
        (
            "compat",
            |e| {
                let shared = vec![0x11; dc::shared_info_size(true)];
                let mut list = full_entries(&shared);
                list[1] = DcEntry::SharedInfo(SharedInfoRef {
                    flags: dc::DC_SHARED_INFO_COMPAT,
                    buffer: &shared,
                });
                blob_of(&list, e)
            },
            None,
        ),
        (
            "header-end",
            |e| blob_of(&[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End], e),
            None,
        ),
        (
            "bad-magic",
            |e| {
                let mut b = full(e);
                b[8] ^= 0xff;
                b
            },
            Some("BadMagic"),
        ),
        (
            "truncated-descriptor",
            |e| full(e)[..END_AT + 4].to_vec(),
            Some("TruncatedDescriptor"),
        ),
        (
            "overrun",
            |e| {
                let mut b = full(e);
                put(&mut b, END_AT + 4, 8, e);
                b
            },
            Some("Overrun"),
        ),
        (
            "unknown-type",
            |e| {
                let mut b = full(e);
                set16(&mut b, TSC_AT, 9, e);
                b
            },
            Some("UnknownType"),
        ),
        (
            "header-not-first",
            |e| blob_of(&[DcEntry::End], e),
            Some("HeaderNotFirst"),
        ),
        (
            "duplicate-header",
            |e| {
                blob_of(
                    &[
                        DcEntry::Header(DcHeader::new(4, 17)),
                        DcEntry::Header(DcHeader::new(4, 17)),
                        DcEntry::End,
                    ],
                    e,
                )
            },
            Some("DuplicateHeader"),
        ),
        (
            "bad-version",
            |e| {
                let mut b = full(e);
                put(&mut b, 8 + 8, 2, e);
                b
            },
            Some("BadVersion"),
        ),
        (
            "bad-instance",
            |e| {
                let mut b = full(e);
                set16(&mut b, TSC_AT + 2, 1, e);
                b
            },
            Some("BadInstance"),
        ),
        (
            "body-too-short",
            |e| {
                // TSC_INFO with length 16: its body needs 24.
                let mut b = full(e)[..TSC_AT].to_vec();
                b.extend(blob_of(
                    &[DcEntry::TscInfo(DcTscInfo {
                        mode: 0,
                        incarnation: 0,
                        elapsed_nsec: 0,
                        khz: 0,
                        _pad: 0,
                    })],
                    e,
                ));
                put(&mut b, TSC_AT + 4, 16, e);
                b.truncate(TSC_AT + 8 + 16);
                b.extend(blob_of(&[DcEntry::End], e));
                b
            },
            Some("BodyTooShort"),
        ),
        (
            "buffer-overrun",
            |e| {
                let mut b = full(e);
                put(&mut b, SI_AT + 8 + 4, 3137 + 8, e);
                b
            },
            Some("BufferOverrun"),
        ),
        (
            "missing-end",
            |e| full(e)[..END_AT].to_vec(),
            Some("MissingEnd"),
        ),
        (
            "misaligned",
            |e| {
                // HEADER with length 12: no padding, so the next entry starts
                // at 20.
                let mut b = blob_of(&[DcEntry::Header(DcHeader::new(4, 17))], e);
                put(&mut b, 4, 12, e);
                b.truncate(20);
                b.extend(blob_of(&[DcEntry::End], e));
                b
            },
            Some("Misaligned"),
        ),
        (
            "padding-nonzero",
            |e| {
                let mut b = full(e);
                b[8 + 12 + 1] = 1;
                b
            },
            Some("PaddingNonZero"),
        ),
        (
            "length-mismatch",
            |e| {
                // HEADER with a spare 8 octets of zero padding.
                let mut b = blob_of(&[DcEntry::Header(DcHeader::new(4, 17))], e);
                put(&mut b, 4, 24, e);
                b.extend_from_slice(&[0; 8]);
                b.extend(blob_of(&[DcEntry::End], e));
                b
            },
            Some("LengthMismatch"),
        ),
        (
            "reserved-flags",
            |e| {
                let mut b = full(e);
                put(&mut b, SI_AT + 8, 2, e);
                b
            },
            Some("ReservedFlags"),
        ),
        (
            "duplicate-tsc",
            |e| {
                let mut b = full(e)[..END_AT].to_vec();
                b.extend_from_slice(&full(e)[TSC_AT..]);
                b
            },
            Some("Duplicate"),
        ),
        // Octets after END: never read by a loader, a warning only.
        (
            "data-after-end",
            |e| {
                let mut b = full(e);
                b.extend_from_slice(&[0; 8]);
                b
            },
            None,
        ),
    ]
}

/// The name of an enum value's variant (its `Debug` form up to the first
/// space or brace).
fn variant_name(debug: String) -> String {
    debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The verdict on an outer-layer error. A body length error points at
/// the record header, in Rust and in Python alike.
fn outer_reject(e: &OuterError) -> Verdict {
    let detail = match e {
        OuterError::Xenstore { source, .. } => variant_name(format!("{:?}", source.kind)),
        _ => String::new(),
    };
    Verdict::reject(e.kind(), detail, e.offset())
}

/// The verdict on a stream verifier error. As for the outer layers, a body
/// length error is reported at the record header.
fn stream_reject(e: &StreamError) -> Verdict {
    let detail = match e {
        StreamError::DomainContext { source, .. } => variant_name(format!("{:?}", source.kind)),
        StreamError::HvmContext { source, .. } => variant_name(format!("{:?}", source.kind)),
        _ => String::new(),
    };
    Verdict::reject(e.kind().as_str(), detail, e.offset())
}

/// The Rust verdict on a file: the whole-input reader ([`save::verify`],
/// format detected, strict), which reads the nested libxc stream in place,
/// segment by segment, and applies the rules that need both layers (an
/// emulator record in a PV guest's stream).
pub fn rust_verdict(bytes: &[u8]) -> Verdict {
    match save::verify(bytes, save::Options::verify(Mode::Strict)) {
        Ok(_) => Verdict::accept(),
        Err(save::Error::Outer(e)) => outer_reject(&e),
        Err(save::Error::Stream(e)) => stream_reject(&e),
        Err(e) => Verdict::reject(e.kind(), String::new(), e.offset()),
    }
}
