//! Whole streams produced by the writer and read back: xl files in both
//! byte orders, bare libxl and libxc streams, checkpointed streams,
//! skipped optional records, pipes and seeking through the source.

mod outer_support;

use std::io::{Read, Seek, SeekFrom};

use format_spec::binrw::Endian;
use format_spec::libxc::LibxcRecord;
use format_spec::libxl::{CheckpointStateId, EmulatorId, LibxlRecord};
use format_spec::outer::{
    Format, FormatChoice, LibxcStop, Mode, OuterError, OuterEvent, OuterReader, OuterWriter,
    Source, WriteError,
};
use format_spec::xl::{XlPreamble, XL_MANDATORY_FLAG_JSON, XL_MANDATORY_FLAG_STREAMV2};
use outer_support::{walk, write_libxc_headers, write_libxc_records, write_small_libxc, Trickle};

const JSON: &str = "{\n    \"c_info\": {\n        \"type\": \"hvm\"\n    }\n}\n";

/// A complete xl save file, as `xl save` lays it out.
fn xl_file(endian: Endian) -> Vec<u8> {
    let pre = XlPreamble::with_json_config(endian, JSON);
    let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
    write_small_libxc(w.libxc_context().unwrap(), endian).unwrap();
    w.emulator_xenstore_data(
        EmulatorId::QemuUpstream,
        0,
        &[
            ("physmap/1/start_addr", "f0000000"),
            ("physmap/1/size", "800000"),
        ],
    )
    .unwrap();
    w.emulator_context(EmulatorId::QemuUpstream, 0, b"QEVM\0\0\0\x03blob")
        .unwrap();
    w.finish().unwrap()
}

fn check_xl_file(bytes: &[u8], endian: Endian) {
    let mut r = OuterReader::open(bytes, FormatChoice::Auto, Mode::Strict).unwrap();
    assert_eq!(r.format(), Format::Xl);
    let pre = r.xl_preamble().unwrap();
    assert_eq!(pre.endian, endian);
    assert_eq!(
        pre.header.mandatory_flags,
        XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2
    );
    assert_eq!(pre.json_config(), Some(JSON));
    assert_eq!(pre.header.optional_data_len as usize, 4 + JSON.len() + 1);
    assert_eq!(r.endian(), endian);
    assert_eq!(r.libxl_header().unwrap().endian(), endian);

    let w = walk(&mut r).unwrap();
    assert_eq!(w.end_offset, bytes.len() as u64);
    assert_eq!(
        w.libxc[0].codes,
        [
            LibxcRecord::STATIC_DATA_END,
            LibxcRecord::HVM_CONTEXT,
            LibxcRecord::END
        ]
    );
    let kinds: Vec<&str> = w
        .events
        .iter()
        .map(|e| match e {
            OuterEvent::Record(r) => r.record.layout().spec_name,
            OuterEvent::Libxc(h) => h.record.as_ref().unwrap().record.layout().spec_name,
            OuterEvent::End(r) => r.as_ref().unwrap().record.layout().spec_name,
            OuterEvent::Skipped(_) => "skipped",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "LIBXC_CONTEXT",
            "EMULATOR_XENSTORE_DATA",
            "EMULATOR_CONTEXT",
            "END"
        ]
    );
    let OuterEvent::Record(xs) = &w.events[1] else {
        unreachable!()
    };
    assert_eq!(xs.index, 1);
    let LibxlRecord::EmulatorXenstoreData(d) = &xs.record else {
        unreachable!()
    };
    assert_eq!(d.header.emulator(), Some(EmulatorId::QemuUpstream));
    let pairs = d.pairs().unwrap();
    assert_eq!(
        pairs,
        [
            (&b"physmap/1/start_addr"[..], &b"f0000000"[..]),
            (&b"physmap/1/size"[..], &b"800000"[..])
        ]
    );
    let OuterEvent::Record(ctx) = &w.events[2] else {
        unreachable!()
    };
    let LibxlRecord::EmulatorContext(c) = &ctx.record else {
        unreachable!()
    };
    assert_eq!(c.blob, b"QEVM\0\0\0\x03blob");
    assert_eq!(ctx.length, 8 + 12);
}

#[test]
fn xl_file_little_endian_round_trip() {
    let f = xl_file(Endian::Little);
    check_xl_file(&f, Endian::Little);
}

#[test]
fn xl_file_big_endian_round_trip() {
    let f = xl_file(Endian::Big);
    // The byte-order marker is written big-endian.
    assert_eq!(&f[32..36], &[1, 2, 3, 4]);
    check_xl_file(&f, Endian::Big);
}

#[test]
fn xl_file_read_through_a_one_octet_pipe() {
    let f = xl_file(Endian::Little);
    let mut r = OuterReader::open(Trickle(&f), FormatChoice::Auto, Mode::Strict).unwrap();
    let w = walk(&mut r).unwrap();
    assert_eq!(w.end_offset, f.len() as u64);
    assert_eq!(w.events.len(), 4);
}

#[test]
fn bare_libxl_stream_detected_and_read() {
    for endian in [Endian::Little, Endian::Big] {
        let mut w = OuterWriter::libxl(Vec::new(), endian).unwrap();
        write_small_libxc(w.libxc_context().unwrap(), endian).unwrap();
        let f = w.finish().unwrap();
        assert_eq!(&f[..8], b"LibxlFmt");
        for choice in [FormatChoice::Auto, "libxl".parse().unwrap()] {
            let mut r = OuterReader::open(&f[..], choice, Mode::Strict).unwrap();
            assert_eq!(r.format(), Format::Libxl);
            assert!(r.xl_preamble().is_none());
            let w = walk(&mut r).unwrap();
            assert_eq!(w.events.len(), 2);
            assert_eq!(w.end_offset, f.len() as u64);
        }
    }
}

#[test]
fn bare_libxc_stream_handed_over_from_offset_zero() {
    let mut f = Vec::new();
    write_small_libxc(&mut f, Endian::Little).unwrap();
    for choice in [FormatChoice::Auto, "libxc".parse().unwrap()] {
        let mut r = OuterReader::open(&f[..], choice, Mode::Strict).unwrap();
        assert_eq!(r.format(), Format::Libxc);
        assert!(r.libxl_header().is_none());
        assert_eq!(r.offset(), 0, "detection hands back what it read");
        let w = walk(&mut r).unwrap();
        assert!(matches!(
            &w.events[..],
            [OuterEvent::Libxc(h), OuterEvent::End(None)] if h.offset == 0 && h.record.is_none()
        ));
        assert_eq!(w.end_offset, f.len() as u64);
    }
}

#[test]
fn xl_header_without_v2_flag_followed_by_libxc() {
    // Xen's verifier reads what follows such a header as a libxc stream.
    let mut pre = XlPreamble::with_json_config(Endian::Little, JSON);
    pre.header.mandatory_flags &= !XL_MANDATORY_FLAG_STREAMV2;
    let mut f = pre.to_bytes();
    write_small_libxc(&mut f, Endian::Little).unwrap();
    let mut r = OuterReader::open(&f[..], FormatChoice::Auto, Mode::Strict).unwrap();
    assert_eq!(r.format(), Format::Xl);
    assert!(r.libxl_header().is_none());
    let w = walk(&mut r).unwrap();
    assert_eq!(w.events.len(), 2);
    assert_eq!(w.end_offset, f.len() as u64);
}

#[test]
fn xl_file_without_config() {
    let pre = XlPreamble::with_json_config(Endian::Little, "");
    assert_eq!(pre.header.mandatory_flags, XL_MANDATORY_FLAG_STREAMV2);
    assert_eq!(pre.header.optional_data_len, 0);
    let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
    write_small_libxc(w.libxc_context().unwrap(), Endian::Little).unwrap();
    let f = w.finish().unwrap();
    let mut r = OuterReader::open(&f[..], FormatChoice::Auto, Mode::Strict).unwrap();
    assert_eq!(r.xl_preamble().unwrap().config().unwrap(), None);
    assert_eq!(r.xl_preamble().unwrap().json_config(), None);
    walk(&mut r).unwrap();
}

/// A checkpointed (COLO) stream: libxc parts ending in CHECKPOINT, each
/// followed by libxl emulator records, CHECKPOINT_END and, as Xen's COLO
/// writes it, a CHECKPOINT_STATE.
fn checkpointed(endian: Endian, checkpoints: usize) -> Vec<u8> {
    let pre = XlPreamble::with_json_config(endian, JSON);
    let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
    let out = w.libxc_context().unwrap();
    write_libxc_headers(out, endian).unwrap();
    for i in 0..checkpoints {
        write_libxc_records(
            w.inner(),
            endian,
            &[
                (LibxcRecord::HVM_CONTEXT, &[i as u8; 5]),
                (LibxcRecord::CHECKPOINT, &[]),
            ],
        )
        .unwrap();
        w.emulator_context(EmulatorId::QemuUpstream, 0, &[i as u8; 3])
            .unwrap();
        w.checkpoint_end().unwrap();
        w.checkpoint_state(CheckpointStateId::New).unwrap();
    }
    write_libxc_records(w.inner(), endian, &[(LibxcRecord::END, &[])]).unwrap();
    w.finish().unwrap()
}

#[test]
fn checkpointed_stream_alternates_layers() {
    for endian in [Endian::Little, Endian::Big] {
        let f = checkpointed(endian, 3);
        let mut r = OuterReader::open(&f[..], FormatChoice::Auto, Mode::Strict).unwrap();
        let w = walk(&mut r).unwrap();
        assert_eq!(w.libxc.len(), 4, "three checkpoints and the final part");
        for part in &w.libxc[..3] {
            assert_eq!(
                part.codes,
                [LibxcRecord::HVM_CONTEXT, LibxcRecord::CHECKPOINT]
            );
        }
        assert_eq!(w.libxc[3].codes, [LibxcRecord::END]);
        let resumes = w
            .events
            .iter()
            .filter(|e| matches!(e, OuterEvent::Libxc(h) if h.resume))
            .count();
        assert_eq!(resumes, 3);
        // CHECKPOINT_STATE hands the stream back to the libxc layer.
        let states: Vec<_> = w
            .events
            .iter()
            .filter_map(|e| match e {
                OuterEvent::Libxc(h) => match &h.record.as_ref()?.record {
                    LibxlRecord::CheckpointState(s) => s.state(),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(states, [CheckpointStateId::New; 3]);
        assert_eq!(w.end_offset, f.len() as u64);
    }
}

#[test]
fn unknown_optional_record_is_refused_as_libxl_does() {
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    w.raw_record(0x8000_0123, b"future!").unwrap();
    write_small_libxc(w.libxc_context().unwrap(), Endian::Little).unwrap();
    let f = w.finish().unwrap();
    for mode in [Mode::Strict, Mode::Lenient] {
        let mut r = OuterReader::open(&f[..], FormatChoice::Auto, mode).unwrap();
        let e = walk(&mut r).unwrap_err();
        assert!(
            matches!(
                e,
                OuterError::UnknownOptional {
                    index: 0,
                    offset: 16,
                    code: 0x8000_0123
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn reader_refuses_calls_out_of_turn() {
    let f = xl_file(Endian::Little);
    let mut r = OuterReader::open(&f[..], FormatChoice::Auto, Mode::Strict).unwrap();
    let e = r.libxc_finished(LibxcStop::End).unwrap_err();
    assert!(matches!(e, OuterError::NotInLibxc { .. }), "{e}");
    assert!(matches!(r.next().unwrap(), Some(OuterEvent::Libxc(_))));
    let at = r.offset();
    let e = r.next().unwrap_err();
    assert!(
        matches!(e, OuterError::LibxcPending { offset } if offset == at),
        "{e}"
    );
}

#[test]
fn source_counts_and_seeks_in_stream_offsets() {
    let data: Vec<u8> = (0..=255u8).collect();
    // Detection reads ahead eight octets of a bare libxc stream; the
    // source hands them back and seeks relative to stream offsets.
    let mut f = Vec::new();
    write_small_libxc(&mut f, Endian::Little).unwrap();
    f.extend_from_slice(&data);
    let mut r =
        OuterReader::open(std::io::Cursor::new(&f), FormatChoice::Auto, Mode::Lenient).unwrap();
    let src: &mut Source<_> = r.inner();
    assert_eq!(src.offset(), 0);
    assert_eq!(src.stream_position().unwrap(), 0);
    let mut four = [0u8; 4];
    src.read_exact(&mut four).unwrap();
    assert_eq!(four, [0xff; 4]);
    assert_eq!(src.seek(SeekFrom::Current(2)).unwrap(), 6);
    src.read_exact(&mut four).unwrap();
    assert_eq!(four, [0xff, 0xff, b'X', b'E']);
    assert_eq!(src.offset(), 10);
    let end = src.seek(SeekFrom::End(-4)).unwrap();
    assert_eq!(end, f.len() as u64 - 4);
    src.read_exact(&mut four).unwrap();
    assert_eq!(four, [252, 253, 254, 255]);
    assert_eq!(src.seek(SeekFrom::Start(8)).unwrap(), 8);
    src.read_exact(&mut four).unwrap();
    assert_eq!(&four, b"XENF");
    assert!(src.seek(SeekFrom::Current(-100)).is_err());
}

#[test]
fn the_writer_refuses_an_xl_header_its_reader_would_refuse() {
    use format_spec::layout::ViolationRule;
    use format_spec::xl::XL_OPTIONAL_DATA_MAX;
    for endian in [Endian::Little, Endian::Big] {
        let mut pre = XlPreamble::with_json_config(endian, "{}");
        // At the bound: written, and read back.
        pre.optional_data.resize(XL_OPTIONAL_DATA_MAX as usize, 0);
        pre.header.optional_data_len = XL_OPTIONAL_DATA_MAX;
        let w = OuterWriter::xl(Vec::new(), &pre).expect("at the bound");
        assert!(!w.finish().unwrap().is_empty());
        // One over: refused before anything is written.
        pre.optional_data.push(0);
        pre.header.optional_data_len += 1;
        match OuterWriter::xl(Vec::new(), &pre) {
            Err(WriteError::XlHeader(v)) => {
                assert_eq!(v.field, "optional_data_len");
                assert_eq!(v.rule, ViolationRule::TooLarge);
                assert_eq!(v.value, u64::from(XL_OPTIONAL_DATA_MAX) + 1);
            }
            other => panic!("{endian:?}: {:?}", other.map(|_| ())),
        }
        // Unknown mandatory flags (a reserved rule lenient mode checks):
        // refused. Unknown optional flags (strict only): written.
        let mut pre = XlPreamble::with_json_config(endian, "{}");
        pre.header.mandatory_flags |= 1 << 31;
        match OuterWriter::xl(Vec::new(), &pre) {
            Err(WriteError::XlHeader(v)) => {
                assert_eq!(
                    (v.field, v.rule),
                    ("mandatory_flags", ViolationRule::ReservedNonZero)
                );
                assert_eq!(v.value, 1 << 31);
            }
            other => panic!("{endian:?}: {:?}", other.map(|_| ())),
        }
        let mut pre = XlPreamble::with_json_config(endian, "{}");
        pre.header.optional_flags = 1;
        OuterWriter::xl(Vec::new(), &pre).expect("optional flags are the caller's");
    }
}
