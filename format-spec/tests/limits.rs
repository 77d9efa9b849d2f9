//! Hostile limits across every layer: oversized lengths, counts that
//! promise more than the record holds, a 4 GiB length in a 100-octet input,
//! thousands of checkpoints, 100,000 optional records. Each case must end
//! with a typed error (or the right result) at once, and the memory it
//! allocates, measured by a counting global allocator, must stay within a
//! bound proportional to the input: input size + 1 MiB.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::convert::{convert, ConvertOptions};
use format_spec::domain_context as dc;
use format_spec::hvm_context as hvm;
use format_spec::libxc::{
    DomainType, HvmParams, HvmParamsEntry, LibxcRecord, REC_LENGTH_MAX, REC_TYPE_OPTIONAL,
};
use format_spec::libxl::{CheckpointStateId, LibxlRecord};
use format_spec::outer::{self, FormatChoice, LibxcStop, OuterEvent, OuterReader, OuterWriter};
use format_spec::stream::{
    verify, verify_seekable, ErrorKind, Mode, StreamReader, StreamWriter, Verifier, VerifyOptions,
    WriterOptions,
};
use format_spec::xl::{XlPreamble, XL_OPTIONAL_DATA_MAX};

// ---------------------------------------------------------------------------
// Allocation accounting.

/// Counts live heap octets and their high-water mark.
struct Counter;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static HIGH: AtomicUsize = AtomicUsize::new(0);
/// Tests run on several threads, and the counters are global: every test
/// holds this lock from start to end, so that no other test allocates
/// during its measurements.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::SeqCst) + n;
    HIGH.fetch_max(now, Ordering::SeqCst);
}

unsafe impl GlobalAlloc for Counter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let q = unsafe { System.realloc(p, layout, size) };
        if !q.is_null() {
            if size >= layout.size() {
                grew(size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - size, Ordering::SeqCst);
            }
        }
        q
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static COUNTER: Counter = Counter;

const MIB: usize = 1 << 20;

/// Runs `f` and returns its result and the most heap it held at once
/// beyond what was live before. The caller holds [`alone`].
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::SeqCst);
    HIGH.store(before, Ordering::SeqCst);
    let out = f();
    let peak = HIGH.load(Ordering::SeqCst).saturating_sub(before);
    (out, peak)
}

/// Asserts the bound of the brief: no more than the input plus 1 MiB.
fn assert_bounded(what: &str, peak: usize, input: usize) {
    assert!(
        peak <= input + MIB,
        "{what}: {peak} octets of heap for {input} octets of input"
    );
}

// ---------------------------------------------------------------------------
// Building inputs.

fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// Image and domain headers of a little-endian HVM stream of `version`,
/// followed by STATIC_DATA_END when the version has it.
fn libxc_start(version: u32) -> Vec<u8> {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(version),
    )
    .unwrap();
    if version >= 3 {
        w.write(&LibxcRecord::StaticDataEnd).unwrap();
    }
    let mut b = w.finish().unwrap();
    b.truncate(b.len() - 8); // the END record the writer added
    b
}

/// Appends a raw little-endian libxc record with zero padding.
fn raw_record(out: &mut Vec<u8>, rtype: u32, length: u32, body: &[u8]) {
    out.extend_from_slice(&le32(rtype));
    out.extend_from_slice(&le32(length));
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(8) * 8, 0);
}

/// Pads `b` with zero octets to exactly 100.
fn to_100(mut b: Vec<u8>) -> Vec<u8> {
    assert!(b.len() <= 100, "{} octets already", b.len());
    b.resize(100, 0);
    b
}

fn verify_both(b: &[u8], opts: VerifyOptions) -> Result<format_spec::stream::Report, ErrorKind> {
    let piped = verify(b, opts).map_err(|e| e.kind());
    let seeked = verify_seekable(std::io::Cursor::new(b), opts).map_err(|e| e.kind());
    assert_eq!(piped, seeked, "pipe and cursor disagree");
    piped
}

// ---------------------------------------------------------------------------
// Record length above REC_LENGTH_MAX.

#[test]
fn libxc_length_just_above_the_limit_is_refused_before_reading() {
    let _alone = alone();
    for length in [REC_LENGTH_MAX + 1, REC_LENGTH_MAX + 8, 0x8000_0000] {
        let mut b = libxc_start(3);
        raw_record(&mut b, LibxcRecord::HVM_CONTEXT, length, &[]);
        let at = b.len() - 8;
        let (res, peak) = measure(|| verify(&b[..], VerifyOptions::lenient()));
        let e = res.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RecordTooLong, "{e}");
        assert_eq!(e.offset(), at as u64, "points at the record header");
        assert_bounded("libxc RecordTooLong", peak, b.len());
    }
    // At the limit itself the length is legal: the input just ends.
    let mut b = libxc_start(3);
    raw_record(&mut b, LibxcRecord::HVM_CONTEXT, REC_LENGTH_MAX, &[]);
    let (res, peak) = measure(|| verify(&b[..], VerifyOptions::lenient()));
    assert_eq!(res.unwrap_err().kind(), ErrorKind::Truncated);
    assert_bounded("libxc at the limit", peak, b.len());
}

#[test]
fn libxl_length_above_the_limit_is_refused_before_reading() {
    let _alone = alone();
    let mut b = OuterWriter::libxl(Vec::new(), Endian::Little)
        .unwrap()
        .finish()
        .unwrap();
    b.truncate(b.len() - 8); // the END record
    let at = b.len() as u64;
    b.extend_from_slice(&le32(LibxlRecord::EMULATOR_CONTEXT));
    b.extend_from_slice(&le32(REC_LENGTH_MAX + 1));
    // Strict mode refuses the length; lenient mode (libxl has no limit)
    // reads on, without allocating for it, and finds the input too short.
    for (mode, kind, offset) in [
        (outer::Mode::Strict, "RecordTooLong", at),
        (outer::Mode::Lenient, "Truncated", b.len() as u64),
    ] {
        let (res, peak) = measure(|| {
            let mut r = OuterReader::open(&b[..], FormatChoice::Auto, mode).unwrap();
            r.next()
        });
        let e = res.unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert_eq!(e.offset(), offset);
        assert_bounded("libxl RecordTooLong", peak, b.len());
    }
}

// ---------------------------------------------------------------------------
// Counts that promise more than the record holds.

#[test]
fn page_data_count_beyond_the_body() {
    let _alone = alone();
    for count in [1000u32, 0x1000_0000, u32::MAX] {
        // A PAGE_DATA record whose body holds one pfn (and its page) but
        // whose count promises more.
        let mut body = Vec::new();
        body.extend_from_slice(&le32(count));
        body.extend_from_slice(&le32(0));
        body.extend_from_slice(&0x10u64.to_le_bytes());
        body.extend_from_slice(&[0x5a; 4096]);
        let mut b = libxc_start(3);
        let count_at = b.len() + 8;
        raw_record(&mut b, LibxcRecord::PAGE_DATA, body.len() as u32, &body);
        raw_record(&mut b, LibxcRecord::END, 0, &[]);
        for opts in [VerifyOptions::strict(), VerifyOptions::lenient()] {
            let (res, peak) = measure(|| verify(&b[..], opts));
            let e = res.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadPageCount, "count {count}: {e}");
            assert_eq!(e.offset(), count_at as u64, "points at the count field");
            assert_bounded("PAGE_DATA count", peak, b.len());
        }
    }
}

#[test]
fn hvm_params_count_beyond_the_body() {
    let _alone = alone();
    for count in [2u32, 0x1000_0000, u32::MAX] {
        // One 16-octet entry present, `count` promised.
        let mut body = Vec::new();
        body.extend_from_slice(&le32(count));
        body.extend_from_slice(&le32(0));
        body.extend_from_slice(&[0x11; 16]);
        // Straight through the derived body parser...
        let (res, peak) =
            measure(|| LibxcRecord::parse_body(LibxcRecord::HVM_PARAMS, &body, Endian::Little));
        assert!(res.is_err(), "count {count}: {res:?}");
        assert_bounded("HVM_PARAMS parse_body", peak, body.len());
        // ... and through the stream.
        let mut b = libxc_start(3);
        raw_record(&mut b, LibxcRecord::HVM_PARAMS, body.len() as u32, &body);
        raw_record(&mut b, LibxcRecord::END, 0, &[]);
        let (res, peak) = measure(|| verify_both(&b, VerifyOptions::lenient()));
        assert_eq!(res.unwrap_err(), ErrorKind::BadLength, "count {count}");
        assert_bounded("HVM_PARAMS in a stream", peak, b.len());
    }
    // The honest count is accepted, so the refusal above is about the count.
    let good = LibxcRecord::HvmParams(HvmParams {
        count: 1,
        _res1: 0,
        param: vec![HvmParamsEntry { index: 1, value: 2 }],
    });
    let mut body = Vec::new();
    good.write_body(&mut body, Endian::Little).unwrap();
    assert_eq!(
        LibxcRecord::parse_body(LibxcRecord::HVM_PARAMS, &body, Endian::Little).unwrap(),
        Some(good)
    );
}

#[test]
fn blob_counts_beyond_the_blob() {
    let _alone = alone();
    // DOMAIN_CONTEXT: SHARED_INFO whose buffer_size promises 4 GiB.
    let mut blob = Vec::new();
    dc::write(
        &[dc::DcEntry::Header(dc::DcHeader::new(4, 17))],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    blob.extend_from_slice(&2u16.to_le_bytes()); // SHARED_INFO
    blob.extend_from_slice(&0u16.to_le_bytes());
    blob.extend_from_slice(&le32(16)); // length: flags, size, 8 octets
    blob.extend_from_slice(&le32(0)); // flags
    blob.extend_from_slice(&le32(u32::MAX)); // buffer_size
    blob.extend_from_slice(&[0; 8]);
    let (res, peak) = measure(|| dc::verify(&blob, Endian::Little).map(|v| v.len()));
    let e = res.unwrap_err();
    assert!(e.offset < blob.len(), "{e}");
    assert_bounded("DOMAIN_CONTEXT buffer_size", peak, blob.len());
}

// ---------------------------------------------------------------------------
// A 4 GiB length (0xffffffff) on a 100-octet input, in every layer.

#[test]
fn four_gib_length_in_100_octets_libxc() {
    let _alone = alone();
    let mut b = libxc_start(3);
    raw_record(&mut b, LibxcRecord::HVM_CONTEXT, u32::MAX, &[]);
    let b = to_100(b);
    for opts in [VerifyOptions::strict(), VerifyOptions::lenient()] {
        let (res, peak) = measure(|| verify_both(&b, opts));
        assert_eq!(res.unwrap_err(), ErrorKind::RecordTooLong);
        assert_bounded("libxc 4 GiB", peak, b.len());
    }
    // An unknown optional type too: it is not read either.
    let mut b = libxc_start(3);
    raw_record(&mut b, REC_TYPE_OPTIONAL | 0x55, u32::MAX, &[]);
    let b = to_100(b);
    let (res, peak) = measure(|| verify_both(&b, VerifyOptions::lenient()));
    assert_eq!(res.unwrap_err(), ErrorKind::RecordTooLong);
    assert_bounded("libxc optional 4 GiB", peak, b.len());
}

#[test]
fn four_gib_length_in_100_octets_libxl_and_xl() {
    let _alone = alone();
    // libxl record.
    let mut b = OuterWriter::libxl(Vec::new(), Endian::Little)
        .unwrap()
        .finish()
        .unwrap();
    b.truncate(b.len() - 8);
    b.extend_from_slice(&le32(LibxlRecord::EMULATOR_CONTEXT));
    b.extend_from_slice(&le32(u32::MAX));
    let b = to_100(b);
    for (mode, kind) in [
        (outer::Mode::Strict, "RecordTooLong"),
        (outer::Mode::Lenient, "Truncated"),
    ] {
        let (res, peak) = measure(|| {
            let mut r = OuterReader::open(&b[..], FormatChoice::Auto, mode).unwrap();
            r.next()
        });
        assert_eq!(res.unwrap_err().kind(), kind);
        assert_bounded("libxl 4 GiB", peak, b.len());
    }

    // xl optional_data_len.
    let pre = XlPreamble::with_json_config(Endian::Little, "{}");
    let mut b = pre.to_bytes();
    let len_at = b.len() - pre.optional_data.len() - 4;
    b.truncate(len_at + 4);
    b[len_at..].copy_from_slice(&le32(u32::MAX));
    let b = to_100(b);
    let (res, peak) =
        measure(|| OuterReader::open(&b[..], FormatChoice::Auto, outer::Mode::Lenient).map(|_| ()));
    let e = res.unwrap_err();
    assert!(
        matches!(
            e,
            outer::OuterError::OptionalDataTooLong { offset, len: u32::MAX, max: XL_OPTIONAL_DATA_MAX }
                if offset == len_at as u64
        ),
        "{e:?}"
    );
    assert_bounded("xl 4 GiB", peak, b.len());
}

#[test]
fn four_gib_length_in_100_octets_blobs() {
    let _alone = alone();
    // DOMAIN_CONTEXT descriptor length.
    let mut blob = Vec::new();
    dc::write(
        &[dc::DcEntry::Header(dc::DcHeader::new(4, 17))],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    blob.extend_from_slice(&3u16.to_le_bytes());
    blob.extend_from_slice(&0u16.to_le_bytes());
    blob.extend_from_slice(&le32(u32::MAX));
    let blob = to_100(blob);
    let (res, peak) = measure(|| dc::parse(&blob, Endian::Little).map(|v| v.len()));
    let e = res.unwrap_err();
    assert_eq!(e.offset, 24, "{e}");
    assert_bounded("DOMAIN_CONTEXT 4 GiB", peak, blob.len());

    // HVM_CONTEXT descriptor length, right after a valid HEADER entry.
    let mut blob = Vec::new();
    blob.extend_from_slice(&1u16.to_le_bytes());
    blob.extend_from_slice(&0u16.to_le_bytes());
    blob.extend_from_slice(&le32(24));
    blob.extend_from_slice(&le32(hvm::HVM_FILE_MAGIC));
    blob.extend_from_slice(&le32(hvm::HVM_FILE_VERSION));
    blob.extend_from_slice(&[0; 16]);
    blob.extend_from_slice(&2u16.to_le_bytes());
    blob.extend_from_slice(&0u16.to_le_bytes());
    blob.extend_from_slice(&le32(u32::MAX));
    let blob = to_100(blob);
    let (res, peak) = measure(|| hvm::parse(&blob, Endian::Little).map(|v| v.len()));
    let e = res.unwrap_err();
    assert_eq!(e.offset, 32, "{e}");
    assert_bounded("HVM_CONTEXT 4 GiB", peak, blob.len());
}

// ---------------------------------------------------------------------------
// Deep checkpoint nesting.

/// A libxc stream of `n` CHECKPOINT records, each after a one-page
/// PAGE_DATA record, then END.
fn checkpoints(n: usize) -> Vec<u8> {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(3),
    )
    .unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    for i in 0..n {
        w.write_page_data(&[i as u64], &[0u8; 4096][..]).unwrap();
        w.checkpoint().unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn thousands_of_libxc_checkpoints() {
    let _alone = alone();
    let n = 5000;
    let b = checkpoints(n);
    for opts in [VerifyOptions::strict(), VerifyOptions::lenient()] {
        let (res, peak) = measure(|| verify_both(&b, opts));
        let report = res.unwrap();
        // STATIC_DATA_END, n × (PAGE_DATA, CHECKPOINT), END.
        assert_eq!(report.records, 2 * n as u64 + 2);
        assert_eq!(report.data_pages, n as u64);
        assert_bounded("libxc checkpoints", peak, b.len());
    }
    // Bare CHECKPOINT records back to back, 8 octets each.
    let mut b = libxc_start(3);
    for _ in 0..20_000 {
        raw_record(&mut b, LibxcRecord::CHECKPOINT, 0, &[]);
    }
    raw_record(&mut b, LibxcRecord::END, 0, &[]);
    let (res, peak) = measure(|| verify_both(&b, VerifyOptions::lenient()));
    assert_eq!(res.unwrap().records, 20_002);
    assert_bounded("bare checkpoints", peak, b.len());
}

/// Reads through the outer reader's own source (its offsets stay right).
struct ViaOuter<'a>(Rc<RefCell<OuterReader<&'a [u8]>>>);

impl Read for ViaOuter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().inner().read(buf)
    }
}

/// What reading a whole file through both layers gave.
#[derive(Debug, Default, PartialEq, Eq)]
struct Walk {
    libxl_records: u64,
    skipped: u64,
    handovers: u64,
    libxc_records: u64,
}

/// Reads a libxl stream to its end, the libxc parts with the stream
/// verifier, resuming it after each checkpoint.
fn walk(b: &[u8], mode: outer::Mode) -> Result<Walk, String> {
    let r = OuterReader::open(b, FormatChoice::Auto, mode).map_err(|e| e.to_string())?;
    let outer = Rc::new(RefCell::new(r));
    let smode = match mode {
        outer::Mode::Strict => Mode::Strict,
        outer::Mode::Lenient => Mode::Lenient,
    };
    let mut libxc: Option<(StreamReader<ViaOuter<'_>>, Verifier)> = None;
    let mut w = Walk::default();
    loop {
        let ev = outer.borrow_mut().next().map_err(|e| e.to_string())?;
        match ev {
            None => return Ok(w),
            Some(OuterEvent::End(_)) => {}
            Some(OuterEvent::Record(_)) => w.libxl_records += 1,
            Some(OuterEvent::Skipped(_)) => w.skipped += 1,
            Some(OuterEvent::Libxc(h)) => {
                w.handovers += 1;
                if libxc.is_none() {
                    let opts = VerifyOptions {
                        mode: smode,
                        bare: false,
                        base_offset: h.offset,
                        max_warnings: 16,
                        ..VerifyOptions::strict()
                    };
                    let reader =
                        StreamReader::with_options(ViaOuter(outer.clone()), opts.reader_options())
                            .map_err(|e| e.to_string())?;
                    let v = Verifier::new(&reader, opts);
                    libxc = Some((reader, v));
                }
                let (reader, v) = libxc.as_mut().unwrap();
                let stop = loop {
                    let info = v.step(reader).map_err(|e| e.to_string())?;
                    let info = info.ok_or("libxc stream ended without END")?;
                    w.libxc_records += 1;
                    if info.rtype == LibxcRecord::END {
                        break LibxcStop::End;
                    }
                    if info.rtype == LibxcRecord::CHECKPOINT {
                        break LibxcStop::Checkpoint;
                    }
                };
                outer
                    .borrow_mut()
                    .libxc_finished(stop)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
}

#[test]
fn thousands_of_libxl_checkpoint_cycles() {
    let _alone = alone();
    let n = 3000;
    let lib = checkpoints(n);
    // Cut the libxc stream after each CHECKPOINT; between the parts the
    // libxl layer says CHECKPOINT_END then CHECKPOINT_STATE.
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    w.libxc_context().unwrap();
    let mut r = StreamReader::new(&lib[..]).unwrap();
    let mut from = 0;
    while let Some(info) = r.next_header().unwrap() {
        r.skip_record().unwrap();
        if info.rtype == LibxcRecord::CHECKPOINT {
            let cut = info.end_offset() as usize;
            w.inner().extend_from_slice(&lib[from..cut]);
            from = cut;
            // Xen's COLO layout.
            w.checkpoint_end().unwrap();
            w.checkpoint_state(CheckpointStateId::New).unwrap();
        }
    }
    w.inner().extend_from_slice(&lib[from..]);
    let b = w.finish().unwrap();
    for mode in [outer::Mode::Strict, outer::Mode::Lenient] {
        let (res, peak) = measure(|| walk(&b, mode));
        let got = res.unwrap();
        assert_eq!(
            got,
            Walk {
                // CHECKPOINT_END each cycle (a CHECKPOINT_STATE follows
                // it); CHECKPOINT_STATE and LIBXC_CONTEXT are handovers.
                libxl_records: n as u64,
                skipped: 0,
                handovers: n as u64 + 1,
                libxc_records: 2 * n as u64 + 2,
            }
        );
        assert_bounded("libxl checkpoint cycles", peak, b.len());
    }
    // A CHECKPOINT_END without a libxc CHECKPOINT before it is refused.
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    w.checkpoint_end().unwrap();
    let b = w.finish().unwrap();
    let err = walk(&b, outer::Mode::Lenient).unwrap_err();
    assert!(err.contains("CHECKPOINT_END"), "{err}");
}

// ---------------------------------------------------------------------------
// Endless optional records.

#[test]
fn a_hundred_thousand_optional_libxc_records() {
    let _alone = alone();
    let n = 100_000;
    let mut b = libxc_start(3);
    for i in 0..n {
        // Alternate empty and 4-octet (padded) bodies.
        if i % 2 == 0 {
            raw_record(&mut b, REC_TYPE_OPTIONAL | 0x100, 0, &[]);
        } else {
            raw_record(&mut b, REC_TYPE_OPTIONAL | 0x101, 4, &[1, 2, 3, 4]);
        }
    }
    raw_record(&mut b, LibxcRecord::END, 0, &[]);
    for opts in [VerifyOptions::strict(), VerifyOptions::lenient()] {
        let (res, peak) = measure(|| verify_both(&b, opts));
        let report = res.unwrap();
        assert_eq!(report.records, n + 2);
        // Warnings are capped, not grown per record.
        assert!(report.warnings.len() <= opts.max_warnings);
        assert_bounded("optional libxc records", peak, b.len());
        // And the bound is far below the input: memory does not grow with
        // the number of records.
        assert!(peak < MIB, "{peak}");
    }
}

#[test]
fn a_hundred_thousand_optional_libxl_records() {
    let _alone = alone();
    let n = 100_000;
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    for i in 0..n {
        w.raw_record(
            REC_TYPE_OPTIONAL | (0x100 + (i % 3)),
            &b"xyz"[..(i % 4) as usize],
        )
        .unwrap();
    }
    let b = w.finish().unwrap();
    // libxl's reader refuses every record type it does not know, the
    // optional ones too: the first one ends the read, in both modes.
    for mode in [outer::Mode::Strict, outer::Mode::Lenient] {
        let (res, peak) = measure(|| walk(&b, mode));
        let e = res.unwrap_err();
        assert!(e.contains("unknown optional record type"), "{e}");
        assert!(peak < MIB, "{peak} octets for {} octets of input", b.len());
    }
}

#[test]
fn a_hundred_thousand_unknown_blob_entries_are_refused_at_once() {
    let _alone = alone();
    // Blobs have no optional entries: an unknown type ends the walk at the
    // first one, however many follow.
    let mut blob = Vec::new();
    dc::write(
        &[dc::DcEntry::Header(dc::DcHeader::new(4, 17))],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    for _ in 0..100_000 {
        blob.extend_from_slice(&0x77u16.to_le_bytes());
        blob.extend_from_slice(&0u16.to_le_bytes());
        blob.extend_from_slice(&le32(0));
    }
    let (res, peak) = measure(|| dc::verify(&blob, Endian::Little).map(|v| v.len()));
    assert_eq!(res.unwrap_err().offset, 24);
    assert!(peak < MIB, "{peak}");
}

/// A writer that checks what it is given against the expected octets,
/// without holding any of it.
struct Compare<'a> {
    expected: &'a [u8],
    at: usize,
}

impl std::io::Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let end = self.at + buf.len();
        assert!(end <= self.expected.len(), "output longer than expected");
        assert!(
            self.expected[self.at..end] == *buf,
            "output differs within octets {}..{end}",
            self.at
        );
        self.at = end;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Conversion.

const BIG: usize = 128 << 20;

/// A valid v3 HVM stream (Xen's order: HVM_CONTEXT, then HVM_PARAMS when
/// `params`) with one large record: an unknown optional record of 128 MiB
/// or an HVM_CONTEXT blob of 128 MiB (one CPU_XSAVE entry).
fn stream_with_a_large_record(hvm_context: bool, params: bool) -> Vec<u8> {
    use format_spec::hvm_context::{HvmHeader, HvmType};
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.write_page_data(&[1], &[1; 4096]).unwrap();
    let xsave = if hvm_context {
        vec![0x5a; BIG - 64]
    } else {
        w.write_optional(0x8000_4242, &vec![0x5a; BIG]).unwrap();
        vec![0x5a; 600]
    };
    let ctx = hvm::write(
        &HvmHeader::new(7, 3_000_000),
        &[(HvmType::CpuXsave, 0, &xsave[..])],
        Endian::Little,
    )
    .unwrap();
    drop(xsave);
    w.write(&LibxcRecord::HvmContext(Opaque(ctx))).unwrap();
    if params {
        w.write(&LibxcRecord::HvmParams(HvmParams {
            count: 1,
            _res1: 0,
            param: vec![HvmParamsEntry { index: 2, value: 9 }],
        }))
        .unwrap();
    }
    w.finish().unwrap()
}

/// Issue 16 point 7: converting a stream with one 128 MiB record needs one
/// record plus a fixed amount, whichever way and whichever record (an
/// unknown optional record is read once and written from where it was
/// read; a large HVM_CONTEXT is held once, moved, not copied, and the
/// shadow verifier checks it where it is).
#[test]
fn one_large_record_costs_one_record() {
    let _one = alone();
    const FIXED: usize = 4 << 20;
    for hvm_context in [false, true] {
        for params in [false, true] {
            let v3 = stream_with_a_large_record(hvm_context, params);
            let mut v4 = Vec::new();
            convert(&v3[..], &mut v4, ConvertOptions::to(4)).unwrap();
            let mut v2 = Vec::new();
            convert(&v3[..], &mut v2, ConvertOptions::to(2)).unwrap();
            let mut back = Vec::new();
            convert(&v4[..], &mut back, ConvertOptions::to(3)).unwrap();
            assert_eq!(back, v3, "v3 -> v4 -> v3 gives back the octets");
            for (what, input, to, expected) in [
                ("v3 to v4", &v3, 4, &v4),
                ("v4 to v3", &v4, 3, &v3),
                ("v3 to v2", &v3, 2, &v2),
            ] {
                let out = Compare { expected, at: 0 };
                let (res, peak) = measure(|| convert(&input[..], out, ConvertOptions::to(to)));
                let rep = res.unwrap();
                assert_eq!(rep.bytes_out, expected.len() as u64);
                eprintln!(
                    "{what}, 128 MiB {}, HVM_PARAMS {params}: peak {} KiB above 128 MiB",
                    if hvm_context {
                        "HVM_CONTEXT"
                    } else {
                        "optional record"
                    },
                    (peak as i64 - BIG as i64) / 1024
                );
                assert!(
                    peak <= BIG + FIXED,
                    "{what} ({}, HVM_PARAMS {params}): peak {peak} octets of heap, bound {}",
                    if hvm_context {
                        "HVM_CONTEXT"
                    } else {
                        "optional record"
                    },
                    BIG + FIXED
                );
            }
        }
    }
}
