//! The checks each fuzz target runs on one input.
//!
//! This file depends on `format-spec` and `std` only, so that the
//! regression tests in `format-spec/tests/fuzz_regressions.rs` can include
//! it (`#[path]`) and replay every saved input through exactly the code the
//! fuzzer ran. Every function takes the raw input and panics only when a
//! property fails: a panic inside `format-spec` itself is a finding, and so
//! is a failed `assert!` here.
//!
//! Properties checked, besides "no panic, no hang, no unbounded
//! allocation" (which libFuzzer watches with `-timeout` and
//! `-rss_limit_mb`):
//! * every stream error points inside the input (or just past its end);
//! * reading from a pipe and from a seekable cursor give the same verdict;
//! * a stream the strict verifier accepts, the lenient one accepts too;
//! * a DOMAIN_CONTEXT blob that verifies is rewritten to the same octets;
//! * a record body that parses is written back and parses to the same
//!   record.

#![allow(clippy::missing_panics_doc)]

use std::cell::RefCell;
use std::io::{Cursor, Read};
use std::rc::Rc;

use format_spec::binrw::Endian;
use format_spec::domain_context as dc;
use format_spec::hvm_context as hvm;
use format_spec::libxc::{LibxcRecord, PAGE_SIZE};
use format_spec::libxl::LibxlRecord;
use format_spec::outer::{self, FormatChoice, LibxcStop, OuterEvent, OuterReader};
use format_spec::stream::{
    self, verify, verify_seekable, ErrorKind, Mode, ReaderOptions, Record, RecordInfo, StreamError,
    StreamReader, Verifier, VerifyOptions,
};

/// An error must name a place within the input (or its end).
fn check_error(e: &StreamError, len: usize, base: u64) {
    assert!(
        e.offset() >= base && e.offset() <= base + len as u64,
        "error offset {} outside the input [{base}, {}]: {e}",
        e.offset(),
        base + len as u64
    );
    // Display must not panic either.
    assert!(!e.to_string().is_empty());
}

/// How a record is consumed: chosen from the record index so that one
/// input exercises every path of the reader.
fn consume<R: Read>(r: &mut StreamReader<R>, info: RecordInfo) -> Result<(), StreamError> {
    match (info.rtype == LibxcRecord::PAGE_DATA, info.index % 4) {
        (true, 0) => {
            // Page by page, into a caller buffer.
            let mut batch = r.page_batch()?;
            let mut page = vec![0u8; PAGE_SIZE];
            while batch.pages_left() > 0 {
                batch.read_pages(&mut page)?;
            }
            Ok(())
        }
        (true, 1) => {
            // All remaining pages at once, into a caller buffer.
            let mut batch = r.page_batch()?;
            let mut all = vec![0u8; batch.pages_left() * PAGE_SIZE];
            batch.read_pages(&mut all)?;
            assert_eq!(batch.pages_left(), 0);
            Ok(())
        }
        (true, 2) => {
            let mut batch = r.page_batch()?;
            let n = batch.pfns().len();
            let (pfns, pages) = batch.contents()?;
            assert_eq!(pfns.len(), n);
            assert_eq!(pages.len() % PAGE_SIZE, 0);
            Ok(())
        }
        (true, _) => r.page_batch()?.skip(),
        (false, 0) => r.skip_record(),
        (false, 1) => r
            .read_body()
            .map(|b| assert_eq!(b.len(), info.length as usize)),
        (false, _) => {
            let rec = r.read_record()?;
            if let Record::Known(k) = &rec {
                assert_eq!(k.code(), info.rtype);
            }
            Ok(())
        }
    }
}

fn read_all<R: Read>(r: &mut StreamReader<R>) -> Result<u64, StreamError> {
    let mut n = 0;
    let mut last = None;
    while let Some(info) = r.next_header()? {
        if let Some(prev) = last {
            assert!(info.offset > prev, "records must advance");
        }
        last = Some(info.offset);
        consume(r, info)?;
        n += 1;
    }
    assert!(r.is_ended());
    Ok(n)
}

/// Reads on after errors, as a listing tool would: after a body or type
/// error the reader goes on to the next record; after `Truncated`, an I/O
/// error or `RecordTooLong` every call fails with `Misuse`. Each record
/// header must lie past the previous one, so the loop ends.
fn read_through<R: Read>(r: &mut StreamReader<R>, len: usize) {
    let mut last: Option<u64> = None;
    let mut broken = false;
    let mut calls = 0usize;
    loop {
        calls += 1;
        assert!(calls <= len / 8 + 16, "no progress after {calls} calls");
        let res = r.next_header();
        if broken {
            let e = res.expect_err("a broken reader went on");
            assert_eq!(e.kind(), ErrorKind::Misuse, "{e}");
            return;
        }
        match res {
            Ok(None) => return,
            Ok(Some(info)) => {
                if let Some(prev) = last {
                    assert!(info.offset > prev, "record at {} after {prev}", info.offset);
                }
                last = Some(info.offset);
                if let Err(e) = consume(r, info) {
                    check_error(&e, len, 0);
                    broken = is_fatal(e.kind());
                }
            }
            Err(e) => {
                check_error(&e, len, 0);
                broken = is_fatal(e.kind());
                if e.kind() == ErrorKind::Misuse {
                    panic!("misuse without an earlier fatal error: {e}");
                }
            }
        }
    }
}

fn is_fatal(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Truncated | ErrorKind::Io | ErrorKind::RecordTooLong
    )
}

/// The record reader over a pipe and over a cursor, in both modes.
pub fn record_reader(data: &[u8]) {
    for mode in [Mode::Lenient, Mode::Strict] {
        let opts = ReaderOptions {
            mode,
            base_offset: 0,
        };
        if let Ok(mut r) = StreamReader::with_options(data, opts) {
            read_through(&mut r, data.len());
        }
    }
    for mode in [Mode::Lenient, Mode::Strict] {
        let opts = ReaderOptions {
            mode,
            base_offset: 0,
        };
        let piped = StreamReader::with_options(data, opts).and_then(|mut r| read_all(&mut r));
        let seeked =
            StreamReader::seekable(Cursor::new(data), opts).and_then(|mut r| read_all(&mut r));
        for res in [&piped, &seeked] {
            if let Err(e) = res {
                check_error(e, data.len(), 0);
            }
        }
        assert_eq!(
            piped.as_ref().ok(),
            seeked.as_ref().ok(),
            "pipe and cursor disagree ({mode:?}): {piped:?} vs {seeked:?}"
        );
    }
    // With a base offset every reported offset moves by it.
    let base = 1 << 40;
    let opts = ReaderOptions {
        mode: Mode::Strict,
        base_offset: base,
    };
    if let Err(e) = StreamReader::with_options(data, opts).and_then(|mut r| read_all(&mut r)) {
        check_error(&e, data.len(), base);
    }
}

/// The verifier in one mode, over a pipe and over a cursor; both must
/// agree on the verdict, the error kind and the report.
pub fn verifier(data: &[u8], opts: VerifyOptions) {
    let piped = verify(data, opts);
    let seeked = verify_seekable(Cursor::new(data), opts);
    match (&piped, &seeked) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "pipe and cursor reports differ");
            assert!(a.bytes() <= data.len() as u64);
        }
        (Err(a), Err(b)) => {
            check_error(a, data.len(), 0);
            check_error(b, data.len(), 0);
            assert_eq!(a.kind(), b.kind(), "pipe: {a}; cursor: {b}");
        }
        _ => panic!("pipe and cursor disagree: {piped:?} vs {seeked:?}"),
    }
}

/// Strict verification; what it accepts, lenient verification accepts.
pub fn verify_strict(data: &[u8]) {
    verifier(data, VerifyOptions::strict());
    if verify(data, VerifyOptions::strict()).is_ok() {
        let lenient = verify(data, VerifyOptions::lenient());
        assert!(
            lenient.is_ok(),
            "strict accepts, lenient refuses: {lenient:?}"
        );
    }
}

/// Lenient verification (what a restore accepts), of a bare stream and
/// of an embedded one (octets after END allowed).
pub fn verify_lenient(data: &[u8]) {
    verifier(data, VerifyOptions::lenient());
    let embedded = VerifyOptions {
        bare: false,
        ..VerifyOptions::lenient()
    };
    verifier(data, embedded);
}

/// Reads through the outer reader's own source, so that the libxc stream
/// is read in place and the outer reader's offsets stay right.
struct ViaOuter<'a>(Rc<RefCell<OuterReader<&'a [u8]>>>);

impl Read for ViaOuter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().inner().read(buf)
    }
}

/// One pass of the outer reader in `mode`, the nested libxc stream read
/// with the stream reader and verifier (checkpoints included).
fn outer_pass(data: &[u8], mode: outer::Mode) {
    let len = data.len() as u64;
    let r = match OuterReader::open(data, FormatChoice::Auto, mode) {
        Ok(r) => r,
        Err(e) => {
            assert!(e.offset() <= len, "{e}");
            return;
        }
    };
    let outer = Rc::new(RefCell::new(r));
    let smode = match mode {
        outer::Mode::Strict => Mode::Strict,
        outer::Mode::Lenient => Mode::Lenient,
    };
    let mut libxc: Option<(StreamReader<ViaOuter<'_>>, Verifier)> = None;
    // Where the current libxc part started: a resumed part is read by the
    // same reader, suspended at its CHECKPOINT and resumed at the
    // handover's offset, so errors are absolute and lie after it.
    let mut first = 0u64;
    let mut events = 0u64;
    loop {
        let ev = outer.borrow_mut().next();
        let ev = match ev {
            Ok(Some(ev)) => ev,
            Ok(None) => return,
            Err(e) => {
                assert!(e.offset() <= len, "outer error past the input: {e}");
                assert!(!e.kind().is_empty());
                return;
            }
        };
        events += 1;
        assert!(events <= len + 2, "more events than octets");
        let OuterEvent::Libxc(h) = ev else { continue };
        assert!(h.offset <= len);
        if !h.resume || libxc.is_none() {
            let opts = VerifyOptions {
                mode: smode,
                bare: false,
                base_offset: h.offset,
                max_warnings: 16,
                ..VerifyOptions::strict()
            };
            let reader =
                match StreamReader::with_options(ViaOuter(outer.clone()), opts.reader_options()) {
                    Ok(r) => r,
                    Err(e) => {
                        check_error(&e, data.len() - h.offset as usize, h.offset);
                        return;
                    }
                };
            let v = Verifier::new(&reader, opts);
            libxc = Some((reader, v));
            first = h.offset;
        } else if let Some((reader, v)) = libxc.take() {
            // A checkpoint handed the libxc stream back: resume it where
            // the libxl layer stopped.
            let (inner, state) = reader
                .suspend()
                .expect("the reader stopped at a CHECKPOINT can be suspended");
            let reader = StreamReader::resume(inner, state, h.offset)
                .expect("resuming at the handover offset");
            libxc = Some((reader, v));
            first = h.offset;
        }
        let Some((reader, v)) = libxc.as_mut() else {
            unreachable!()
        };
        let stop = loop {
            match v.step(reader) {
                Ok(Some(info)) if info.rtype == LibxcRecord::END => break LibxcStop::End,
                Ok(Some(info)) if info.rtype == LibxcRecord::CHECKPOINT => {
                    break LibxcStop::Checkpoint
                }
                Ok(Some(_)) => {}
                Ok(None) => break LibxcStop::End,
                Err(e) => {
                    check_error(&e, data.len() - first as usize, first);
                    return;
                }
            }
        };
        if let Err(e) = outer.borrow_mut().libxc_finished(stop) {
            panic!("libxc_finished refused right after a handover: {e}");
        }
    }
}

/// The outer layers over whole files, both modes.
pub fn outer(data: &[u8]) {
    outer_pass(data, outer::Mode::Lenient);
    outer_pass(data, outer::Mode::Strict);
}

/// The DOMAIN_CONTEXT blob in both byte orders: walk, parse, verify, and
/// rewrite what verifies.
pub fn domain_context(data: &[u8]) {
    for endian in [Endian::Little, Endian::Big] {
        let walked: Vec<_> = dc::entries(data, endian).collect();
        assert!(walked.len() <= data.len() / 8 + 1);
        for item in walked.iter().flatten() {
            assert!(item.body_offset() + item.length as usize <= data.len());
        }
        let parsed = dc::parse(data, endian);
        if let Err(e) = &parsed {
            assert!(e.offset <= data.len(), "{e:?}");
            assert!(!e.to_string().is_empty());
        }
        let Ok(items) = dc::verify(data, endian) else {
            continue;
        };
        assert!(parsed.is_ok(), "verify accepts what parse refuses");
        let entries: Vec<_> = items.iter().map(|i| i.entry).collect();
        let mut out = Vec::new();
        dc::write(&entries, endian, &mut out).expect("a verified blob can be written");
        let again = dc::verify(&out, endian).expect("a rewritten blob verifies");
        let back: Vec<_> = again.iter().map(|i| i.entry).collect();
        assert_eq!(back, entries);
        // The writer puts instance 0; with that, the octets are the same.
        if items.iter().all(|i| i.instance == 0) {
            assert_eq!(out, data, "rewrite differs");
        } else {
            assert_eq!(out.len(), data.len());
        }
    }
}

/// The HVM_CONTEXT blob in both byte orders: walk, parse, verify.
pub fn hvm_context(data: &[u8]) {
    for endian in [Endian::Little, Endian::Big] {
        let _ = hvm::header(data, endian);
        let walked: Vec<_> = hvm::entries(data, endian).collect();
        assert!(walked.len() <= data.len() / 8 + 1);
        for e in walked.iter().flatten() {
            assert!(e.body(data).is_some(), "entry body outside the blob");
        }
        let parsed = hvm::parse(data, endian);
        if let Err(e) = &parsed {
            assert!(e.offset <= data.len(), "{e:?}");
            assert!(!e.to_string().is_empty());
        }
        if let Ok(v) = hvm::verify(data, endian) {
            assert_eq!(Ok(v), parsed, "verify and parse disagree");
        }
    }
}

/// One record body: the first octet picks the record type (an index into
/// the libxc table, then the libxl table) and the byte order; the rest is
/// the body. What parses is written back and parses the same.
pub fn parse_body(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let endian = if sel & 0x80 != 0 {
        Endian::Big
    } else {
        Endian::Little
    };
    let libxc = LibxcRecord::LAYOUT.records;
    let libxl = LibxlRecord::LAYOUT.records;
    let i = (sel & 0x7f) as usize % (libxc.len() + libxl.len());
    if let Some(l) = libxc.get(i) {
        let parsed = LibxcRecord::parse_body(l.code, body, endian);
        if let Ok(Some(rec)) = &parsed {
            assert_eq!(rec.code(), l.code);
            let mut out = Vec::new();
            rec.write_body(&mut out, endian)
                .expect("a parsed record can be written");
            let again = LibxcRecord::parse_body(l.code, &out, endian);
            assert_eq!(again.as_ref().ok(), Some(&Some(rec.clone())), "round trip");
        }
        // The stream layer's own body checks, both modes.
        let info = RecordInfo {
            index: 3,
            offset: 64,
            rtype: l.code,
            length: body.len() as u32,
        };
        for mode in [Mode::Lenient, Mode::Strict] {
            match stream::parse_record(info, body, endian, mode) {
                Ok(rec) => assert_eq!(rec.code(), l.code),
                Err(e) => check_error(&e, body.len() + 8, 64),
            }
        }
    } else {
        let l = &libxl[i - libxc.len()];
        if let Ok(Some(rec)) = LibxlRecord::parse_body(l.code, body, endian) {
            let mut out = Vec::new();
            rec.write_body(&mut out, endian)
                .expect("a parsed record can be written");
            let again = LibxlRecord::parse_body(l.code, &out, endian);
            assert_eq!(again.as_ref().ok(), Some(&Some(rec.clone())), "round trip");
        }
    }
}

/// A target: what it is called and what it runs on one input.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by name, for the replay test.
pub const TARGETS: &[Target] = &[
    ("record_reader", record_reader),
    ("verify_strict", verify_strict),
    ("verify_lenient", verify_lenient),
    ("outer", outer),
    ("domain_context", domain_context),
    ("hvm_context", hvm_context),
    ("parse_body", parse_body),
];
