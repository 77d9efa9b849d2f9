//! The whole-input reader (`format_spec::save`): every layer's events in
//! order with absolute offsets, checkpointed streams, verification in one
//! call, the one error type, and the writer's offsets and completion.

use std::fs::File;
use std::io::{BufReader, Write};

use format_spec::binrw::Endian;
use format_spec::layout::Wire;
use format_spec::libxc::{DomainType, LibxcRecord, PAGE_SIZE};
use format_spec::libxl::{CheckpointStateId, EmulatorId, LibxlHeader};
use format_spec::outer::{Format, FormatChoice, LibxcStop, OuterWriter, WriteError};
use format_spec::save::{self, Error, Event, Layer, Options, SaveReader};
use format_spec::stream::{RecordInfo, StreamWriter, WriterOptions};
use format_spec::xl::XlPreamble;
use format_spec::Mode;

/// What a walk over every event saw.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    /// Event names, in order (`LIBXL:END`, `LIBXC:PAGE_DATA`, ...).
    names: Vec<String>,
    /// libxc records: (index, offset, type).
    libxc: Vec<(u64, u64, u32)>,
    /// Offsets of every event that has one, in order.
    offsets: Vec<u64>,
    /// PAGE_DATA pfn entries seen through the page batches.
    pfn_entries: u64,
    /// Resumes: (offset, stream offset, next index, segment).
    resumes: Vec<(u64, u64, u64, u64)>,
}

fn walk<R: std::io::Read>(mut r: SaveReader<R>) -> Result<Seen, Error> {
    let mut s = Seen::default();
    while let Some(ev) = r.next()? {
        match ev {
            Event::Xl(_) => {
                s.names.push("XL".into());
                s.offsets.push(0);
            }
            Event::LibxlHeader { offset, .. } => {
                s.names.push("LIBXL_HEADER".into());
                s.offsets.push(offset);
            }
            Event::LibxlRecord(rec) => {
                s.names
                    .push(format!("LIBXL:{}", rec.record.layout().spec_name));
                s.offsets.push(rec.offset);
            }
            Event::LibxlSkipped(k) => {
                s.names.push("LIBXL:SKIPPED".into());
                s.offsets.push(k.offset);
            }
            Event::LibxcHeaders { offset, .. } => {
                s.names.push("LIBXC_HEADERS".into());
                s.offsets.push(offset);
            }
            Event::LibxcResume {
                offset,
                stream_offset,
                next_index,
                segment,
            } => {
                s.names.push("LIBXC_RESUME".into());
                s.resumes.push((offset, stream_offset, next_index, segment));
            }
            Event::LibxcRecord(info) => {
                s.names
                    .push(format!("LIBXC:{}", info.name().unwrap_or("?")));
                s.libxc.push((info.index, info.offset, info.rtype));
                s.offsets.push(info.offset);
                if info.rtype == LibxcRecord::PAGE_DATA {
                    s.pfn_entries += r.page_batch()?.pfns().len() as u64;
                }
            }
        }
    }
    Ok(s)
}

fn real(name: &str) -> BufReader<File> {
    BufReader::with_capacity(
        1 << 16,
        File::open(test_support::real_stream(name)).unwrap(),
    )
}

const REAL: [&str; 2] = ["pv64-1vcpu-96M.xl", "hvm-1vcpu-128M.xl"];

#[test]
fn real_files_every_layer_in_order() {
    for name in REAL {
        let r = SaveReader::seekable(real(name), Options::mode(Mode::Strict)).unwrap();
        assert_eq!(r.format(), Format::Xl);
        let json = r.xl_preamble().unwrap().json_config().unwrap().to_string();
        assert!(json.contains("\"c_info\""));
        let s = walk(r).unwrap();
        // The layers nest: xl header, libxl header, LIBXC_CONTEXT, the
        // libxc headers right after it, the libxc records to END, then the
        // libxl records after the libxc stream, END last.
        assert_eq!(
            &s.names[..4],
            ["XL", "LIBXL_HEADER", "LIBXL:LIBXC_CONTEXT", "LIBXC_HEADERS"]
        );
        assert_eq!(
            s.offsets[3],
            s.offsets[2] + 8,
            "{name}: the libxc stream starts after LIBXC_CONTEXT"
        );
        assert_eq!(s.names.last().unwrap(), "LIBXL:END");
        let libxc_end = s.names.iter().position(|n| n == "LIBXC:END").unwrap();
        assert!(s.names[4..libxc_end]
            .iter()
            .all(|n| n.starts_with("LIBXC:")));
        assert!(s.names[libxc_end + 1..]
            .iter()
            .all(|n| n.starts_with("LIBXL:")));
        // Offsets are absolute and strictly increasing.
        assert!(s.offsets.windows(2).all(|w| w[0] < w[1]), "{name}");
        // Record indices count from 0 without gaps.
        for (i, r) in s.libxc.iter().enumerate() {
            assert_eq!(r.0, i as u64);
        }
        assert!(s.resumes.is_empty());

        // Verification in one call agrees with the walk, seekable or not.
        let rep = save::verify_seekable(real(name), Options::verify(Mode::Strict)).unwrap();
        assert_eq!(rep.format, Format::Xl);
        assert_eq!(
            rep.libxc.as_ref().expect("a libxc stream").records,
            s.libxc.len() as u64
        );
        assert_eq!(
            rep.libxc.as_ref().expect("a libxc stream").pfn_entries,
            s.pfn_entries
        );
        assert!(
            rep.libxc.as_ref().expect("a libxc stream").pfn_entries > 20_000,
            "{name}: {}",
            rep.libxc.as_ref().expect("a libxc stream").pfn_entries
        );
        assert_eq!(rep.libxc.as_ref().expect("a libxc stream").segments, 1);
        assert!(rep.libxc.as_ref().expect("a libxc stream").complete);
        assert_eq!(rep.libxl_records["LIBXC_CONTEXT"], 1);
        assert_eq!(rep.libxl_records["END"], 1);
        assert_eq!(
            rep.end_offset,
            std::fs::metadata(test_support::real_stream(name))
                .unwrap()
                .len()
        );
        let piped = save::verify(real(name), Options::verify(Mode::Lenient)).unwrap();
        assert_eq!(
            piped.libxc.as_ref().expect("a libxc stream").data_pages,
            rep.libxc.as_ref().expect("a libxc stream").data_pages
        );
        assert_eq!(piped.libxl_records, rep.libxl_records);
    }
}

/// A v3 HVM stream of `segments` segments nested in an xl file, built with
/// both writers; returns the file and the offsets the writer reported at
/// the start of each segment.
fn checkpointed(segments: usize) -> (Vec<u8>, Vec<u64>) {
    let mut libxc = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(3),
    )
    .unwrap();
    libxc.write(&LibxcRecord::StaticDataEnd).unwrap();
    let mut cuts = Vec::new();
    for seg in 0..segments {
        let pfn = 2 * seg as u64;
        libxc
            .write_page_data(&[pfn, pfn + 1], &vec![seg as u8; 2 * PAGE_SIZE])
            .unwrap();
        if seg + 1 < segments {
            let cp: RecordInfo = libxc.checkpoint().unwrap();
            cuts.push(cp.end_offset() as usize);
        }
    }
    let libxc = libxc.finish().unwrap();

    let pre = XlPreamble::with_json_config(Endian::Little, "{}");
    let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
    w.libxc_context().unwrap();
    let mut starts = vec![w.offset()];
    let mut from = 0;
    for cut in cuts {
        w.libxc().write_all(&libxc[from..cut]).unwrap();
        w.libxc_finished(LibxcStop::Checkpoint).unwrap();
        w.emulator_context(EmulatorId::QemuUpstream, 0, b"ctx")
            .unwrap();
        // Xen's COLO layout: CHECKPOINT_END, then CHECKPOINT_STATE.
        w.checkpoint_end().unwrap();
        w.checkpoint_state(CheckpointStateId::New).unwrap();
        starts.push(w.offset());
        from = cut;
    }
    w.libxc().write_all(&libxc[from..]).unwrap();
    w.libxc_finished(LibxcStop::End).unwrap();
    let end = w.offset();
    let file = w.finish().unwrap();
    assert_eq!(
        file.len() as u64,
        end + 8,
        "the writer's offset counts every octet"
    );
    (file, starts)
}

#[test]
fn checkpointed_stream_pauses_and_resumes_with_absolute_offsets() {
    let (file, starts) = checkpointed(3);
    let s = walk(SaveReader::new(&file[..], Options::mode(Mode::Strict)).unwrap()).unwrap();
    let seq: Vec<&str> = s.names.iter().map(String::as_str).collect();
    assert_eq!(
        seq,
        [
            "XL",
            "LIBXL_HEADER",
            "LIBXL:LIBXC_CONTEXT",
            "LIBXC_HEADERS",
            "LIBXC:STATIC_DATA_END",
            "LIBXC:PAGE_DATA",
            "LIBXC:CHECKPOINT",
            "LIBXL:EMULATOR_CONTEXT",
            "LIBXL:CHECKPOINT_END",
            "LIBXL:CHECKPOINT_STATE",
            "LIBXC_RESUME",
            "LIBXC:PAGE_DATA",
            "LIBXC:CHECKPOINT",
            "LIBXL:EMULATOR_CONTEXT",
            "LIBXL:CHECKPOINT_END",
            "LIBXL:CHECKPOINT_STATE",
            "LIBXC_RESUME",
            "LIBXC:PAGE_DATA",
            "LIBXC:END",
            "LIBXL:END",
        ]
    );
    // Each segment resumes where the writer said it starts, record
    // indices going on: STATIC_DATA_END 0, PAGE_DATA 1, CHECKPOINT 2,
    // PAGE_DATA 3, ...
    assert_eq!(
        s.resumes,
        [(starts[1], starts[0], 3, 2), (starts[2], starts[0], 5, 3)]
    );
    assert_eq!(s.libxc[3], (3, starts[1], LibxcRecord::PAGE_DATA));
    assert_eq!(s.pfn_entries, 6);
    assert!(s.offsets.windows(2).all(|w| w[0] < w[1]));

    // One verifier sees all three segments.
    let rep = save::verify(&file[..], Options::verify(Mode::Strict)).unwrap();
    assert_eq!(rep.libxc.as_ref().expect("a libxc stream").segments, 3);
    assert_eq!(rep.libxc.as_ref().expect("a libxc stream").data_pages, 6);
    assert_eq!(rep.libxl_records["CHECKPOINT_END"], 2);
    assert_eq!(rep.libxl_records["EMULATOR_CONTEXT"], 2);
    assert!(rep.libxc.as_ref().expect("a libxc stream").interleaved > 0);
}

#[test]
fn a_bare_libxc_stream_has_only_libxc_events() {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(3),
    )
    .unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.checkpoint().unwrap();
    w.write_page_data(&[7], &[1; PAGE_SIZE]).unwrap();
    let bytes = w.finish().unwrap();
    let r = SaveReader::new(&bytes[..], Options::default()).unwrap();
    assert_eq!(r.format(), Format::Libxc);
    assert!(!r.nested());
    let s = walk(r).unwrap();
    // A bare stream goes on after its CHECKPOINT without leaving the
    // libxc layer.
    assert_eq!(
        s.names,
        [
            "LIBXC_HEADERS",
            "LIBXC:STATIC_DATA_END",
            "LIBXC:CHECKPOINT",
            "LIBXC:PAGE_DATA",
            "LIBXC:END"
        ]
    );
    assert_eq!(s.offsets[0], 0);
    let rep = save::verify(&bytes[..], Options::verify(Mode::Strict)).unwrap();
    assert_eq!(
        (
            rep.libxc.as_ref().expect("a libxc stream").segments,
            rep.libxc.as_ref().expect("a libxc stream").data_pages
        ),
        (2, 1)
    );
    assert!(rep.libxl_records.is_empty());

    // Strict verification of a bare stream refuses octets after END.
    let mut more = bytes.clone();
    more.push(0);
    let e = save::verify(&more[..], Options::verify(Mode::Strict)).unwrap_err();
    assert_eq!(
        (e.kind(), e.layer(), e.offset()),
        ("TrailingData", Layer::Libxc, bytes.len() as u64)
    );
    assert!(save::verify(&more[..], Options::verify(Mode::Lenient)).is_ok());
}

#[test]
fn one_error_type_keeps_each_layers_kind_record_offset_and_field() {
    let (file, starts) = checkpointed(2);

    // Cut inside the second segment's PAGE_DATA: the libxc layer reports
    // it, at the end of the input, with the record (strict mode; lenient
    // mode fails over to the first checkpoint, as Xen's restore does).
    let cut = starts[1] as usize + 40;
    let r = save::verify(&file[..cut], Options::verify(Mode::Lenient)).unwrap();
    let f = r
        .libxc
        .as_ref()
        .expect("a libxc stream")
        .failover
        .clone()
        .expect("a failover");
    assert_eq!((f.checkpoints, f.dropped_at), (1, starts[1]));
    let e = save::verify(&file[..cut], Options::verify(Mode::Strict)).unwrap_err();
    assert_eq!(
        (e.kind(), e.layer(), e.offset()),
        ("Truncated", Layer::Libxc, cut as u64)
    );
    let rec = e.libxc_record().unwrap();
    assert_eq!(
        (rec.index, rec.offset, rec.rtype),
        (3, starts[1], LibxcRecord::PAGE_DATA)
    );
    assert!(!e.is_io());

    // A bad libxl ident: the outer layer, with its field.
    let mut bad = file.clone();
    let at = bad.windows(8).position(|w| w == b"LibxlFmt").unwrap();
    bad[at] = b'X';
    let e = save::verify(
        &bad[..],
        Options::verify(Mode::Strict).format(FormatChoice::Exactly(Format::Xl)),
    )
    .unwrap_err();
    assert_eq!(
        (e.kind(), e.layer(), e.offset()),
        ("BadIdent", Layer::Outer, at as u64)
    );
    assert_eq!(e.field_name(), Some("ident"));
    assert!(matches!(e, Error::Outer(_)));

    // A bad libxc marker: the libxc layer, with the field.
    let mut bad = file.clone();
    let marker = starts[0] as usize;
    bad[marker] = 0;
    let e = save::verify(&bad[..], Options::verify(Mode::Strict)).unwrap_err();
    assert_eq!((e.kind(), e.offset()), ("BadMarker", starts[0]));
    assert_eq!(e.field().map(|f| f.field), Some("marker"));
    assert_eq!(e.field_name(), Some("marker"));

    // Truncated inside a libxl record after the libxc stream: the outer
    // layer, with the record index.
    let e = save::verify(&file[..file.len() - 4], Options::verify(Mode::Strict)).unwrap_err();
    assert_eq!((e.kind(), e.layer()), ("Truncated", Layer::Outer));
    assert_eq!(e.offset(), file.len() as u64 - 4);

    // After an error the reader says so instead of guessing.
    let mut r = SaveReader::new(&file[..cut], Options::default()).unwrap();
    let err = loop {
        match r.next() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), "Truncated");
    assert!(r.next().is_err());
}

#[test]
fn verifying_an_input_without_a_libxc_stream_says_so() {
    let w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    let file = w.finish().unwrap();
    // Strictly, the libxl layer refuses its END: nothing to restore.
    let e = save::verify(&file[..], Options::verify(Mode::Strict)).unwrap_err();
    assert_eq!(e.kind(), "UnexpectedRecord", "{e}");
    assert_eq!(e.offset(), file.len() as u64 - 8);
    // Leniently it is valid, as libxl's reader takes it, and the report
    // says there is no libxc stream.
    let rep = save::verify(&file[..], Options::verify(Mode::Lenient)).unwrap();
    assert!(rep.libxc.is_none());
    assert_eq!(rep.libxl_records["END"], 1);
    assert_eq!(rep.end_offset, file.len() as u64);
    // Without verification there is no report to give.
    let r = SaveReader::new(&file[..], Options::mode(Mode::Lenient)).unwrap();
    let e = r.run().unwrap_err();
    assert!(matches!(e, Error::NoLibxcStream { offset } if offset == file.len() as u64));
    assert_eq!(e.kind(), "NoLibxcStream");
    // Reading it is fine: a header and END.
    let s = walk(SaveReader::new(&file[..], Options::default()).unwrap()).unwrap();
    assert_eq!(s.names, ["LIBXL_HEADER", "LIBXL:END"]);
    assert_eq!(s.offsets, [0, (LibxlHeader::LAYOUT.size as u64)]);
}

#[test]
fn the_writer_refuses_what_the_reader_would_refuse_once_told() {
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    assert_eq!(w.offset(), (LibxlHeader::LAYOUT.size as u64));
    // Not in the libxc layer yet.
    assert!(matches!(
        w.libxc_finished(LibxcStop::End),
        Err(WriteError::State { .. })
    ));
    w.libxc_context().unwrap();
    assert_eq!(w.offset(), (LibxlHeader::LAYOUT.size as u64) + 8);
    w.libxc_finished(LibxcStop::Checkpoint).unwrap();
    // END inside a checkpoint is refused; CHECKPOINT_END closes it.
    let mut w2 = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    w2.libxc_context().unwrap();
    w2.libxc_finished(LibxcStop::Checkpoint).unwrap();
    assert!(matches!(w2.finish(), Err(WriteError::State { .. })));
    w.checkpoint_end().unwrap();
    w.libxc_finished(LibxcStop::End).unwrap();
    assert!(matches!(w.checkpoint_end(), Err(WriteError::State { .. })));
    assert!(matches!(w.libxc_context(), Err(WriteError::State { .. })));
    // Octets written straight to the output are not counted; through
    // libxc() they are.
    let before = w.offset();
    w.inner().extend_from_slice(&[0; 8]);
    assert_eq!(w.offset(), before);
    w.libxc().write_all(&[0; 8]).unwrap();
    assert_eq!(w.offset(), before + 8);
}

#[test]
fn one_mode_lenient_by_default() {
    // outer::Mode and stream::Mode are the crate's one Mode.
    let m: format_spec::stream::Mode = format_spec::outer::Mode::Strict;
    assert_eq!(m, Mode::Strict);
    assert_eq!(Mode::default(), Mode::Lenient);
    assert_eq!(Options::default().mode, Mode::Lenient);
    assert_eq!(
        format_spec::stream::ReaderOptions::default().mode,
        Mode::Lenient
    );
}

#[test]
fn convert_reads_through_the_save_reader_with_absolute_offsets() {
    use format_spec::convert::{convert, ConvertOptions};
    let (file, starts) = checkpointed(3);
    // Converts, checkpoints and all; the outer layers are copied.
    let mut out = Vec::new();
    let rep = convert(&file[..], &mut out, ConvertOptions::to(4).lossy(true)).unwrap();
    assert_eq!(
        (rep.from, rep.to, rep.segments, rep.data_pages),
        (3, 4, 3, 6)
    );
    assert_eq!(rep.bytes_in, file.len() as u64);
    let back = save::verify(&out[..], Options::verify(Mode::Strict)).unwrap();
    assert_eq!(back.libxc.as_ref().expect("a libxc stream").segments, 3);
    assert_eq!(
        back.libxl_records,
        save::verify(&file[..], Options::verify(Mode::Strict))
            .unwrap()
            .libxl_records
    );

    // A bad page type in the third segment's first pfn entry: the error
    // names its absolute offset in the input (past two checkpoints'
    // libxl records).
    let entry = starts[2] as usize + 16;
    let mut bad = file.clone();
    bad[entry + 7] = 0x50;
    let e = convert(&bad[..], &mut Vec::new(), ConvertOptions::to(4)).unwrap_err();
    assert_eq!((e.kind(), e.offset()), ("BadPageType", entry as u64));
}
