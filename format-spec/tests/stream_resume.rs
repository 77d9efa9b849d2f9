//! Checkpointed (Remus/COLO) libxc streams nested in an `xl save` file:
//! the stream reader is suspended at each CHECKPOINT while the libxl layer
//! reads the checkpoint's records, then resumed on the same input for the
//! next segment, one verifier seeing every segment. The files are written
//! with `OuterWriter` and `StreamWriter`; the offsets the tests expect are
//! the ones the writers recorded.

use std::io::{self, Cursor, Read, Seek, SeekFrom};

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::domain_context::{self as dc, DcEntry, DcHeader};
use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
use format_spec::libxc::{DomainType, HvmParams, HvmParamsEntry, LibxcRecord, PAGE_SIZE};
use format_spec::libxl::{CheckpointStateId, EmulatorId, LibxlRecord};
use format_spec::outer::{
    self, FormatChoice, LibxcStop, OuterError, OuterEvent, OuterReader, OuterWriter,
};
use format_spec::stream::{
    ErrorKind, Mode, RecordInfo, Report, StreamError, StreamReader, StreamWriter, Suspended,
    Verifier, VerifyOptions, WriterOptions,
};
use format_spec::xl::XlPreamble;

/// An unknown record type with bit 31 set (skipped by readers).
const UNKNOWN_OPTIONAL: u32 = 0x8000_0abc;

/// A checkpointed xl file and what the writers recorded about it.
struct Built {
    file: Vec<u8>,
    /// Every libxc record: (index, absolute offset, type, body length).
    libxc: Vec<(u64, u64, u32, u32)>,
    /// Every libxl record after LIBXC_CONTEXT: (absolute offset, type).
    libxl: Vec<(u64, u32)>,
    /// Octets of the libxc stream (headers and records, not the libxl
    /// records between its segments).
    libxc_bytes: u64,
    /// Octets of libxl records between the segments.
    between: u64,
}

impl Built {
    /// The `k`-th libxc record of type `code` (0-based).
    fn nth(&self, code: u32, k: usize) -> (u64, u64, u32, u32) {
        *self
            .libxc
            .iter()
            .filter(|r| r.2 == code)
            .nth(k)
            .unwrap_or_else(|| panic!("no record 0x{code:x} number {k}"))
    }
}

/// A valid HVM_CONTEXT blob (strict verification checks it): HEADER, a
/// 605-octet CPU_XSAVE entry filled with `tag`, END: 653 octets, so the
/// record has 3 octets of padding.
fn hvm_blob(endian: Endian, tag: u8) -> Vec<u8> {
    let xsave = vec![tag; 605];
    hvm::write(
        &HvmHeader::new(u32::from(tag), 1_000_000),
        &[(HvmType::CpuXsave, 0, &xsave[..])],
        endian,
    )
    .unwrap()
}

fn dc_blob(endian: Endian) -> Vec<u8> {
    let mut blob = Vec::new();
    dc::write(
        &[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End],
        endian,
        &mut blob,
    )
    .unwrap();
    blob
}

/// An xl file holding a version `version` HVM stream of `segments`
/// segments (so `segments - 1` checkpoints). Each segment: PAGE_DATA (two
/// pages), HVM_PARAMS, HVM_CONTEXT (5 octets, so 3 of padding) and, in v4,
/// DOMAIN_CONTEXT; each checkpoint: EMULATOR_XENSTORE_DATA,
/// EMULATOR_CONTEXT, CHECKPOINT_STATE, CHECKPOINT_END.
fn build(endian: Endian, version: u32, segments: usize) -> Built {
    let pre = XlPreamble::with_json_config(endian, "{\"c_info\": {}}");
    let mut ow = OuterWriter::xl(Vec::new(), &pre).unwrap();
    ow.libxc_context().unwrap();
    let start = ow.inner().len() as u64;
    let mut opts = WriterOptions::new(DomainType::X86Hvm)
        .version(version)
        .endian(endian);
    opts.base_offset = start;
    let mut sw = StreamWriter::new(std::mem::take(ow.inner()), opts).unwrap();
    let mut libxc = Vec::new();
    let mut libxl = Vec::new();
    // The libxl octets between segments, counted here and by the writer.
    let mut between = 0u64;
    // Records the writer's RecordInfo and checks it against where the
    // octets really went (the writer is told about the libxl octets with
    // resume_at).
    let mut note = |info: RecordInfo, before: usize| {
        assert_eq!(info.offset, before as u64, "writer offset");
        libxc.push((info.index, info.offset, info.rtype, info.length));
    };
    if version >= 3 {
        let b = sw.get_mut().len();
        note(sw.write(&LibxcRecord::StaticDataEnd).unwrap(), b);
    }
    for seg in 0..segments {
        let pfn = 4 * seg as u64;
        let pages: Vec<u8> = (0..2 * PAGE_SIZE).map(|i| (i / 7 + seg) as u8).collect();
        let b = sw.get_mut().len();
        note(sw.write_page_data(&[pfn, pfn + 1], &pages).unwrap(), b);
        let b = sw.get_mut().len();
        let params = LibxcRecord::HvmParams(HvmParams {
            count: 1,
            _res1: 0,
            param: vec![HvmParamsEntry {
                index: 2,
                value: seg as u64,
            }],
        });
        note(sw.write(&params).unwrap(), b);
        let b = sw.get_mut().len();
        let ctx = LibxcRecord::HvmContext(Opaque(hvm_blob(endian, seg as u8 + 1)));
        note(sw.write(&ctx).unwrap(), b);
        if version >= 4 {
            let b = sw.get_mut().len();
            let dcr = LibxcRecord::DomainContext(Opaque(dc_blob(endian)));
            note(sw.write(&dcr).unwrap(), b);
        }
        if seg + 1 == segments {
            break;
        }
        let b = sw.get_mut().len();
        note(sw.checkpoint().unwrap(), b);
        // The checkpoint's libxl records, framed by a writer of their own
        // whose libxl header is dropped.
        let mut part = OuterWriter::libxl(Vec::new(), endian).unwrap();
        let hdr = part.inner().len();
        let here = sw.get_mut().len() as u64;
        let mut at = |part: &mut OuterWriter<Vec<u8>>, code: u32| {
            libxl.push((here + (part.inner().len() - hdr) as u64, code));
        };
        at(&mut part, LibxlRecord::EMULATOR_XENSTORE_DATA);
        part.emulator_xenstore_data(
            EmulatorId::QemuUpstream,
            0,
            &[("physmap/1/size", format!("{seg}"))],
        )
        .unwrap();
        at(&mut part, LibxlRecord::EMULATOR_CONTEXT);
        part.emulator_context(EmulatorId::QemuUpstream, 0, &[seg as u8; 13])
            .unwrap();
        // Xen's COLO layout: CHECKPOINT_END, then CHECKPOINT_STATE.
        at(&mut part, LibxlRecord::CHECKPOINT_END);
        part.checkpoint_end().unwrap();
        at(&mut part, LibxlRecord::CHECKPOINT_STATE);
        part.checkpoint_state(CheckpointStateId::New).unwrap();
        let octets = &part.inner()[hdr..];
        between += octets.len() as u64;
        sw.get_mut().extend_from_slice(octets);
        let resume = sw.get_mut().len() as u64;
        sw.resume_at(resume).unwrap();
    }
    assert_eq!(sw.interleaved(), between);
    let end_at = sw.position();
    let end_index = libxc.len() as u64;
    libxc.push((end_index, end_at, LibxcRecord::END, 0));
    *ow.inner() = sw.finish().unwrap();
    let libxc_end = ow.inner().len() as u64;
    assert_eq!(libxc_end, end_at + 8);
    libxl.push((libxc_end, LibxlRecord::END));
    Built {
        file: ow.finish().unwrap(),
        libxc,
        libxl,
        libxc_bytes: libxc_end - start - between,
        between,
    }
}

/// A reader that hands out at most `chunk` octets per call (as a pipe
/// may), and can seek, so both kinds of reader run over it.
struct Chunked {
    inner: Cursor<Vec<u8>>,
    chunk: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk);
        self.inner.read(&mut buf[..n])
    }
}

impl Seek for Chunked {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[derive(Debug)]
enum Broken {
    Outer(OuterError),
    Stream(StreamError),
}

/// What reading a whole file found.
struct Walked {
    report: Report,
    records: Vec<RecordInfo>,
    libxl: Vec<(u64, u32)>,
}

/// Reads a file the way a tool does: the outer reader, and the stream
/// verifier on the nested libxc stream, suspended at each CHECKPOINT and
/// resumed where the libxl layer hands the stream back.
fn walk<R: Read + Seek>(input: R, mode: Mode, seekable: bool) -> Result<Walked, Broken> {
    let omode = match mode {
        Mode::Strict => outer::Mode::Strict,
        Mode::Lenient => outer::Mode::Lenient,
    };
    let mut r = OuterReader::open(input, FormatChoice::Auto, omode).map_err(Broken::Outer)?;
    let mut verifier: Option<Verifier> = None;
    let mut paused: Option<Suspended> = None;
    let mut records = Vec::new();
    let mut libxl = Vec::new();
    while let Some(ev) = r.next().map_err(Broken::Outer)? {
        match &ev {
            OuterEvent::Record(rec) => libxl.push((rec.offset, rec.record.code())),
            OuterEvent::End(Some(rec)) => libxl.push((rec.offset, rec.record.code())),
            OuterEvent::Libxc(h) => {
                if let Some(rec) = &h.record {
                    if rec.record.code() != LibxlRecord::LIBXC_CONTEXT {
                        libxl.push((rec.offset, rec.record.code()));
                    }
                }
            }
            _ => {}
        }
        let OuterEvent::Libxc(h) = ev else { continue };
        let opts = VerifyOptions {
            mode,
            bare: false,
            base_offset: h.offset,
            ..VerifyOptions::strict()
        };
        let mut reader = match (paused.take(), seekable) {
            (Some(s), true) => StreamReader::resume_seekable(r.inner(), s, h.offset),
            (Some(s), false) => StreamReader::resume(r.inner(), s, h.offset),
            (None, true) => StreamReader::seekable(r.inner(), opts.reader_options()),
            (None, false) => StreamReader::with_options(r.inner(), opts.reader_options()),
        }
        .map_err(Broken::Stream)?;
        assert_eq!(h.resume, verifier.is_some());
        let v = verifier.get_or_insert_with(|| Verifier::new(&reader, opts));
        let stop = loop {
            let info = v
                .step(&mut reader)
                .map_err(Broken::Stream)?
                .expect("END comes before the end of the records");
            records.push(info);
            match info.rtype {
                LibxcRecord::END => break LibxcStop::End,
                LibxcRecord::CHECKPOINT => break LibxcStop::Checkpoint,
                _ => {}
            }
        };
        if stop == LibxcStop::Checkpoint {
            paused = Some(reader.suspend().map_err(Broken::Stream)?.1);
        }
        r.libxc_finished(stop).map_err(Broken::Outer)?;
    }
    let report = verifier.expect("a libxc stream").into_report();
    Ok(Walked {
        report,
        records,
        libxl,
    })
}

fn inputs(file: &[u8]) -> Vec<(&'static str, Chunked, bool)> {
    vec![
        (
            "seekable",
            Chunked {
                inner: Cursor::new(file.to_vec()),
                chunk: usize::MAX,
            },
            true,
        ),
        (
            "3-octet reads",
            Chunked {
                inner: Cursor::new(file.to_vec()),
                chunk: 3,
            },
            false,
        ),
    ]
}

#[test]
fn every_segment_verifies_strictly_at_the_writers_offsets() {
    for endian in [Endian::Little, Endian::Big] {
        for version in [3, 4] {
            let b = build(endian, version, 4);
            for (how, input, seekable) in inputs(&b.file) {
                let ctx = format!("{endian:?} v{version} {how}");
                let w =
                    walk(input, Mode::Strict, seekable).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                let got: Vec<_> = w
                    .records
                    .iter()
                    .map(|i| (i.index, i.offset, i.rtype, i.length))
                    .collect();
                assert_eq!(got, b.libxc, "{ctx}: libxc records");
                assert_eq!(w.libxl, b.libxl, "{ctx}: libxl records");
                let r = &w.report;
                assert!(r.complete, "{ctx}");
                assert_eq!(r.segments, 4, "{ctx}");
                assert_eq!(r.records_by_type[&LibxcRecord::CHECKPOINT], 3, "{ctx}");
                assert_eq!(r.data_pages, 8, "{ctx}");
                assert_eq!(r.interleaved, b.between, "{ctx}");
                assert_eq!(r.bytes(), b.libxc_bytes, "{ctx}");
                // v3: HVM_PARAMS before HVM_CONTEXT in each segment, so no
                // order warnings; nothing else to warn about either.
                assert!(r.warnings.is_empty(), "{ctx}: {:?}", r.warnings);
            }
        }
    }
}

#[test]
fn a_padding_error_in_the_second_segment_is_reported_at_its_offset() {
    let mut b = build(Endian::Big, 4, 3);
    // HVM_CONTEXT of segment 2: 653 octets of body, then 3 of padding.
    let (index, at, _, len) = b.nth(LibxcRecord::HVM_CONTEXT, 1);
    assert!(at > b.libxl[0].0, "segment 2 comes after libxl records");
    let pad = at + 8 + u64::from(len) + 1;
    b.file[pad as usize] = 0x77;
    for (how, input, seekable) in inputs(&b.file) {
        match walk(input, Mode::Strict, seekable) {
            Err(Broken::Stream(e)) => {
                assert_eq!(e.kind(), ErrorKind::PaddingNonZero, "{how}: {e}");
                assert_eq!(e.offset(), pad, "{how}: {e}");
                let rec = e.record().expect("the record");
                assert_eq!((rec.index, rec.offset), (index, at), "{how}");
            }
            Err(Broken::Outer(e)) => panic!("{how}: the libxl layer failed: {e}"),
            Ok(_) => panic!("{how}: accepted"),
        }
    }
    // A restore does not look at padding.
    let (_, input, _) = inputs(&b.file).remove(1);
    assert!(walk(input, Mode::Lenient, false).is_ok());
}

#[test]
fn each_segment_needs_its_own_domain_context() {
    let mut b = build(Endian::Little, 4, 3);
    // Segment 2's DOMAIN_CONTEXT becomes an unknown optional record: it is
    // skipped, and the CHECKPOINT closing segment 2 finds none.
    let (_, dc_at, _, _) = b.nth(LibxcRecord::DOMAIN_CONTEXT, 1);
    let (_, cp_at, _, _) = b.nth(LibxcRecord::CHECKPOINT, 1);
    let at = dc_at as usize;
    b.file[at..at + 4].copy_from_slice(&UNKNOWN_OPTIONAL.to_le_bytes());
    let (_, input, seekable) = inputs(&b.file).remove(0);
    match walk(input, Mode::Strict, seekable) {
        Err(Broken::Stream(e)) => {
            assert_eq!(e.kind(), ErrorKind::MissingDomainContext, "{e}");
            assert_eq!(e.offset(), cp_at, "{e}");
        }
        other => panic!("{:?}", other.err()),
    }
    // Leniently (as Xen's restore) the segment is buffered and replayed at
    // its CHECKPOINT, where the unknown record fails the restore.
    let (_, input, seekable) = inputs(&b.file).remove(0);
    match walk(input, Mode::Lenient, seekable) {
        Err(Broken::Stream(e)) => {
            assert_eq!(e.kind(), ErrorKind::UnknownInCheckpoint, "{e}");
            assert_eq!(e.offset(), dc_at, "{e}");
            assert!(e.to_string().contains(&format!("0x{cp_at:x}")), "{e}");
        }
        other => panic!("{:?}", other.err()),
    }
}

/// Counts the octets read through it.
#[derive(Debug)]
struct Counting<'a> {
    inner: &'a [u8],
    read: usize,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        Ok(n)
    }
}

#[test]
fn suspend_stops_right_after_the_checkpoint_and_resume_reads_nothing_early() {
    let b = build(Endian::Little, 4, 2);
    let (_, cp_at, _, _) = b.nth(LibxcRecord::CHECKPOINT, 0);
    let (_, start, _, _) = b.libxc[0];
    let header = 24 + 16; // image and domain headers
    let mut input = Counting {
        inner: &b.file[(start - header) as usize..],
        read: 0,
    };
    let opts = VerifyOptions {
        bare: false,
        base_offset: start - header,
        ..VerifyOptions::strict()
    };
    let mut reader = StreamReader::with_options(&mut input, opts.reader_options()).unwrap();
    let mut v = Verifier::new(&reader, opts);
    // Not at a CHECKPOINT yet: suspending is refused.
    let first = v.step(&mut reader).unwrap().unwrap();
    assert_ne!(first.rtype, LibxcRecord::CHECKPOINT);
    let err = reader.suspend().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misuse, "{err}");

    let mut input = Counting {
        inner: &b.file[(start - header) as usize..],
        read: 0,
    };
    let mut reader = StreamReader::with_options(&mut input, opts.reader_options()).unwrap();
    let mut v = Verifier::new(&reader, opts);
    while v.step(&mut reader).unwrap().unwrap().rtype != LibxcRecord::CHECKPOINT {}
    let (_, paused) = reader.suspend().unwrap();
    assert_eq!(paused.position(), cp_at + 8);
    assert_eq!(paused.next_index(), b.nth(LibxcRecord::CHECKPOINT, 0).0 + 1);
    // Not one octet past the CHECKPOINT was read.
    assert_eq!(input.read as u64, cp_at + 8 - (start - header));

    // The libxl records of the checkpoint, read by someone else.
    // The last is the CHECKPOINT_STATE after CHECKPOINT_END (Xen's COLO
    // layout): a header, a 4-octet body and its padding.
    assert_eq!(b.libxl[3].1, LibxlRecord::CHECKPOINT_STATE);
    let libxl_end = b.libxl[3].0 + 16;
    let skip = (libxl_end - paused.position()) as usize;
    let mut other = vec![0u8; skip];
    input.read_exact(&mut other).unwrap();
    assert_eq!(
        &other[..4],
        &LibxlRecord::EMULATOR_XENSTORE_DATA.to_le_bytes()
    );
    let before = input.read;

    // Resuming before the pause point is refused.
    let err = StreamReader::resume(&mut input, paused, cp_at).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misuse, "{err}");
    assert_eq!(input.read, before);

    // Start again, and resume properly: nothing is read until asked.
    let mut input = Counting {
        inner: &b.file[(start - header) as usize..],
        read: 0,
    };
    let mut reader = StreamReader::with_options(&mut input, opts.reader_options()).unwrap();
    let mut v = Verifier::new(&reader, opts);
    while v.step(&mut reader).unwrap().unwrap().rtype != LibxcRecord::CHECKPOINT {}
    let (_, paused) = reader.suspend().unwrap();
    input.read_exact(&mut other).unwrap();
    let before = input.read;
    let mut reader = StreamReader::resume(&mut input, paused, libxl_end).unwrap();
    assert_eq!(reader.position(), libxl_end);
    assert_eq!(reader.version(), 4);
    assert_eq!(reader.get_mut().read, before);
    // The verifier goes on with the next segment, at absolute offsets.
    let info = v.step(&mut reader).unwrap().unwrap();
    assert_eq!(info.offset, libxl_end);
    assert_eq!(info.rtype, LibxcRecord::PAGE_DATA);
    v.run(&mut reader).unwrap();
    assert_eq!(v.report().segments, 2);
    assert!(reader.is_ended());
    // After END there is nothing to suspend at.
    let err = reader.suspend().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misuse, "{err}");
}

#[test]
fn the_writer_resumes_only_after_a_checkpoint_and_never_backwards() {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut sw = StreamWriter::new(Vec::new(), opts).unwrap();
    // Right after the headers: no CHECKPOINT yet.
    let err = sw.resume_at(sw.position()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misuse, "{err}");
    assert_eq!(err.location().offset, 40);
    sw.write(&LibxcRecord::StaticDataEnd).unwrap();
    let cp = sw.checkpoint().unwrap();
    let own_end = sw.position();
    assert_eq!(own_end, cp.offset + 8);

    // Behind the stream's own end: refused, and nothing changes.
    sw.get_mut().extend_from_slice(&[0xee; 16]);
    let err = sw.resume_at(own_end - 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misuse, "{err}");
    assert_eq!(err.location().offset, own_end - 1);
    assert_eq!((sw.position(), sw.interleaved()), (own_end, 0));

    // The other layer writes in two steps; each is told.
    sw.resume_at(own_end + 16).unwrap();
    sw.get_mut().extend_from_slice(&[0xdd; 8]);
    // Going back to before the first step is refused too.
    let err = sw.resume_at(own_end + 8).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misuse, "{err}");
    sw.resume_at(own_end + 24).unwrap();
    assert_eq!((sw.position(), sw.interleaved()), (own_end + 24, 24));

    // A refused record writes nothing, so the writer is still right after
    // the CHECKPOINT; errors report absolute offsets.
    let err = sw.write_page_data(&[1, 2], &[0u8; PAGE_SIZE]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadLength, "{err}");
    assert_eq!(err.location().offset, own_end + 24);
    assert_eq!(err.location().record.unwrap().index, cp.index + 1);

    let pd = sw.write_page_data(&[1], &[7u8; PAGE_SIZE]).unwrap();
    assert_eq!((pd.index, pd.offset), (cp.index + 1, own_end + 24));
    // Once a record follows the CHECKPOINT, resuming is refused.
    let err = sw.resume_at(sw.position()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misuse, "{err}");
    let end_at = sw.position();
    let interleaved = sw.interleaved();
    let bytes = sw.finish().unwrap();
    assert_eq!(bytes.len() as u64, end_at + 8);
    assert_eq!(
        &bytes[pd.offset as usize..][..4],
        &LibxcRecord::PAGE_DATA.to_le_bytes()
    );
    assert_eq!(
        &bytes[own_end as usize..][..24],
        &[&[0xee; 16][..], &[0xdd; 8][..]].concat()[..]
    );

    // The result verifies, with the 24 octets counted as another layer's.
    let vopts = VerifyOptions {
        bare: false,
        ..VerifyOptions::strict()
    };
    let mut input = &bytes[..];
    let mut reader = StreamReader::with_options(&mut input, vopts.reader_options()).unwrap();
    let mut v = Verifier::new(&reader, vopts);
    while v.step(&mut reader).unwrap().unwrap().rtype != LibxcRecord::CHECKPOINT {}
    let (input, paused) = reader.suspend().unwrap();
    let mut other = [0u8; 24];
    input.read_exact(&mut other).unwrap();
    let mut reader = StreamReader::resume(input, paused, own_end + 24).unwrap();
    let info = v.step(&mut reader).unwrap().unwrap();
    assert_eq!((info.index, info.offset), (pd.index, pd.offset));
    v.run(&mut reader).unwrap();
    assert_eq!(v.report().segments, 2);
    assert_eq!(v.report().interleaved, interleaved);
    assert_eq!(v.report().bytes(), bytes.len() as u64 - 24);
}
