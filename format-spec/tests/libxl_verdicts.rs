//! The libxl layer's verdicts against libxl's own reader
//! (`tools/libs/light/libxl_stream_read.c` in the kit): lenient mode is
//! what it takes, strict mode the spec plus rules with reasons.
//!
//! * bit-31 (optional) record types: libxl's `process_record` refuses
//!   every type it does not know, in both modes;
//! * EMULATOR_* records in a PV guest's stream: refused (both modes;
//!   `generated-tests/tests/libxl_lenient.rs`, on the shared vectors);
//! * Xen's COLO layout, CHECKPOINT_END then CHECKPOINT_STATE then the next
//!   segment: read as libxl records, valid in both modes;
//!   CHECKPOINT_STATE anywhere else, or with a state other than
//!   CHECKPOINT_NEW, is refused;
//! * a Remus stream that ends with the libxc END and no libxl END:
//!   libxl does not read on (`libxl__xc_domain_restore_done`), lenient
//!   accepts it and reads nothing after the libxc END (whatever is
//!   there), strict wants END;
//! * bodies of END, LIBXC_CONTEXT and CHECKPOINT_END: libxl reads and
//!   ignores them (lenient), the spec says they are empty (strict);
//! * an input that ends inside a checkpoint's libxl records: libxl's
//!   reader does not fail over there (its datacopier takes the end of the
//!   input for zero octets, END headers it buffers without end), so it is
//!   `Truncated` in both modes; right after CHECKPOINT_END it is a
//!   checkpoint boundary;
//! * records over 128 MiB: libxl has no limit, lenient reads on with
//!   bounded memory (EMULATOR_XENSTORE_DATA's pairs checked as they
//!   stream past).

use std::io::Read;

use format_spec::binrw::Endian;
use format_spec::libxc::{DomainType, LibxcRecord, REC_LENGTH_MAX, REC_TYPE_OPTIONAL};
use format_spec::libxl::{CheckpointStateId, EmulatorId, LibxlRecord};
use format_spec::outer::OuterWriter;
use format_spec::save::{verify, Error, Options, SaveReport};
use format_spec::stream::{FailoverReason, StreamWriter, WriterOptions};
use format_spec::Mode;

fn both(bytes: &[u8]) -> [Result<SaveReport, Error>; 2] {
    [Mode::Lenient, Mode::Strict].map(|m| verify(bytes, Options::verify(m)))
}

fn kind(r: &Result<SaveReport, Error>) -> String {
    match r {
        Ok(_) => "valid".into(),
        Err(e) => format!("{}@{}", e.kind(), e.offset()),
    }
}

/// A libxc stream for `domain` with `checkpoints` CHECKPOINTs; returns it
/// and the offsets just after each CHECKPOINT.
fn libxc(domain: DomainType, checkpoints: u64) -> (Vec<u8>, Vec<usize>) {
    let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(domain).version(3)).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let mut cuts = Vec::new();
    for i in 0..checkpoints {
        w.write_page_data(&[0x10 + i], &[i as u8; 4096]).unwrap();
        w.checkpoint().unwrap();
        cuts.push(w.position() as usize);
    }
    w.write_page_data(&[0x40], &[7; 4096]).unwrap();
    (w.finish().unwrap(), cuts)
}

/// A libxl stream around an HVM libxc stream with `checkpoints`
/// checkpoints; `between` writes each checkpoint's libxl records and its
/// CHECKPOINT_END (and what follows it); `tail` what follows the libxc END.
fn libxl(
    checkpoints: u64,
    between: &dyn Fn(&mut OuterWriter<Vec<u8>>),
    tail: &dyn Fn(OuterWriter<Vec<u8>>) -> Vec<u8>,
) -> Vec<u8> {
    let (lx, cuts) = libxc(DomainType::X86Hvm, checkpoints);
    let mut o = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    o.libxc_context().unwrap();
    let mut from = 0;
    for cut in cuts {
        o.inner().extend_from_slice(&lx[from..cut]);
        between(&mut o);
        from = cut;
    }
    o.inner().extend_from_slice(&lx[from..]);
    tail(o)
}

fn end(o: OuterWriter<Vec<u8>>) -> Vec<u8> {
    o.finish().unwrap()
}

fn colo(o: &mut OuterWriter<Vec<u8>>) {
    o.emulator_context(EmulatorId::QemuUpstream, 0, b"device state")
        .unwrap();
    o.checkpoint_end().unwrap();
    o.checkpoint_state(CheckpointStateId::New).unwrap();
}

#[test]
fn unknown_optional_libxl_records_are_refused_in_both_modes() {
    let b = libxl(0, &|_| {}, &|mut o| {
        o.raw_record(REC_TYPE_OPTIONAL | 0x77, b"future").unwrap();
        o.finish().unwrap()
    });
    let at = b.len() - 16 - 8;
    for r in both(&b) {
        assert_eq!(kind(&r), format!("UnknownOptional@{at}"));
    }
}

#[test]
fn xens_colo_layout_is_read_as_libxl_records() {
    let b = libxl(2, &colo, &end);
    for r in both(&b) {
        let rep = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rep.libxl_records["CHECKPOINT_STATE"], 2);
        assert_eq!(rep.libxl_records["CHECKPOINT_END"], 2);
        assert_eq!(rep.libxc.unwrap().segments, 3);
    }
    // CHECKPOINT_STATE before CHECKPOINT_END, where libxl buffers it and
    // then refuses it: refused in both modes.
    let b = libxl(
        1,
        &|o| {
            o.checkpoint_state(CheckpointStateId::New).unwrap();
            o.checkpoint_end().unwrap();
        },
        &end,
    );
    for r in both(&b) {
        assert!(kind(&r).starts_with("UnexpectedRecord@"), "{}", kind(&r));
    }
    // A secondary's state sent forward: refused in both modes.
    let b = libxl(
        1,
        &|o| {
            o.checkpoint_end().unwrap();
            o.checkpoint_state(CheckpointStateId::SvmReady).unwrap();
        },
        &end,
    );
    for r in both(&b) {
        assert!(kind(&r).starts_with("BadValue@"), "{}", kind(&r));
    }
}

#[test]
fn a_remus_stream_may_end_with_the_libxc_end() {
    let b = libxl(
        2,
        &|o| {
            o.checkpoint_end().unwrap();
        },
        &|o| o.finish().unwrap(),
    );
    // Without the libxl END (its 8 octets).
    let cut = &b[..b.len() - 8];
    let [lenient, strict] = both(cut);
    let rep = lenient.unwrap_or_else(|e| panic!("{e}"));
    assert!(rep.libxc.unwrap().complete);
    assert_eq!(rep.end_offset, cut.len() as u64);
    assert_eq!(kind(&strict), format!("Truncated@{}", cut.len()));
    // Not in a plain stream: libxl reads on to its END there.
    let plain = libxl(0, &|_| {}, &end);
    let cut = &plain[..plain.len() - 8];
    for r in both(cut) {
        assert_eq!(kind(&r), format!("Truncated@{}", cut.len()));
    }
}

#[test]
fn lenient_reads_nothing_after_the_libxc_end_of_a_checkpointed_stream() {
    // libxl__xc_domain_restore_done completes a Remus or COLO stream when
    // libxc's restore returns: libxl reads no further record, so neither
    // the libxl END nor anything in its place is read.
    let whole = libxl(
        1,
        &|o| {
            o.checkpoint_end().unwrap();
        },
        &end,
    );
    let libxc_end = whole.len() - 8;
    let tails: [(&str, Vec<u8>); 4] = [
        ("the libxl END", whole[libxc_end..].to_vec()),
        ("an unknown record", {
            let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
            w.raw_record(0x77, b"never read").unwrap();
            w.inner()[16..].to_vec()
        }),
        ("a second LIBXC_CONTEXT", {
            let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
            w.libxc_context().unwrap();
            w.inner()[16..].to_vec()
        }),
        ("half a record header", vec![0xff; 5]),
    ];
    for (what, tail) in tails {
        let mut b = whole[..libxc_end].to_vec();
        b.extend_from_slice(&tail);
        let [lenient, strict] = both(&b);
        let rep = lenient.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(rep.end_offset, libxc_end as u64, "{what}");
        assert!(!rep.libxl_records.contains_key("END"), "{what}");
        assert_eq!(rep.libxl_records["CHECKPOINT_END"], 1, "{what}");
        // The libxc stream ends with END after a segment Xen buffers and
        // never replays: the restore is the checkpoint's state.
        let lx = rep.libxc.as_ref().unwrap();
        assert!(lx.complete, "{what}");
        let f = lx.failover.as_ref().expect("the last segment is dropped");
        assert_eq!(f.reason, FailoverReason::EndedWithEnd, "{what}");
        // Strict mode reads the libxl layer to its END, as the spec has it.
        if what == "the libxl END" {
            assert_eq!(kind(&strict), "valid");
            assert_eq!(strict.unwrap().libxl_records["END"], 1);
        } else {
            let e = strict.expect_err(what);
            assert!(e.offset() >= libxc_end as u64, "{what}: {e}");
        }
    }
}

#[test]
fn an_input_ending_inside_a_checkpoints_libxl_records_is_refused_in_both_modes() {
    // Where each checkpoint's libxl records start and end.
    let spans = std::cell::RefCell::new(Vec::new());
    let b = libxl(
        2,
        &|o| {
            let start = o.inner().len() as u64;
            o.emulator_context(EmulatorId::QemuUpstream, 0, b"device state")
                .unwrap();
            o.checkpoint_end().unwrap();
            spans.borrow_mut().push((start, o.inner().len() as u64));
        },
        &end,
    );
    let spans = spans.into_inner();
    assert_eq!(
        kind(&verify(&b[..], Options::verify(Mode::Strict))),
        "valid"
    );
    // Right after a CHECKPOINT_END: a checkpoint boundary, where libxc's
    // reader fails over (valid in both modes).
    for (_, after) in &spans {
        for r in both(&b[..*after as usize]) {
            let rep = r.unwrap_or_else(|e| panic!("{e}"));
            assert!(rep.libxc.unwrap().failover.unwrap().at_boundary());
        }
    }
    // Inside the libxl records of the second checkpoint (after one
    // CHECKPOINT_END), or right after its libxc CHECKPOINT: libxl's
    // reader does not fail over, it hangs; refused in both modes.
    let (start, after) = spans[1];
    for cut in [
        start,
        start + 3,
        start + 8,
        start + 20,
        after - 8,
        after - 1,
    ] {
        for r in both(&b[..cut as usize]) {
            let e = r.expect_err("refused");
            assert_eq!(e.kind(), "Truncated", "{cut}: {e}");
            assert_eq!(e.offset(), cut, "{e}");
            assert!(
                e.to_string()
                    .contains(format_spec::outer::CUT_IN_CHECKPOINT),
                "{e}"
            );
        }
    }
}

#[test]
fn bodies_libxl_ignores_are_accepted_leniently() {
    for code in [LibxlRecord::END, LibxlRecord::LIBXC_CONTEXT] {
        let (lx, _) = libxc(DomainType::X86Hvm, 0);
        let mut o = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
        let body = b"ignored body";
        let b = if code == LibxlRecord::END {
            o.libxc_context().unwrap();
            o.inner().extend_from_slice(&lx);
            let mut b = o.finish().unwrap();
            b.truncate(b.len() - 8);
            let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
            w.raw_record(code, body).unwrap();
            b.extend_from_slice(&w.inner()[16..]);
            b
        } else {
            let at = o.offset();
            o.raw_record(code, body).unwrap();
            o.inner().extend_from_slice(&lx);
            let _ = at;
            // The libxc layer still thinks LIBXC_CONTEXT is to come.
            let mut b = o.inner().clone();
            let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
            w.record(&LibxlRecord::End).unwrap();
            b.extend_from_slice(&w.inner()[16..]);
            b
        };
        let [lenient, strict] = both(&b);
        assert_eq!(kind(&lenient), "valid", "0x{code:x}");
        assert!(kind(&strict).starts_with("BadLength@"), "{}", kind(&strict));
    }
}

/// An input made of parts, some of them long runs of one octet, read
/// without holding them.
struct Parts(Vec<Box<dyn Read>>);

impl Read for Parts {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(p) = self.0.first_mut() {
            let n = p.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            self.0.remove(0);
        }
        Ok(0)
    }
}

#[test]
fn an_emulator_context_over_128_mib_is_read_on_leniently() {
    let (lx, _) = libxc(DomainType::X86Hvm, 0);
    let mut o = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    o.libxc_context().unwrap();
    o.inner().extend_from_slice(&lx);
    let head = o.inner().clone();
    let len = REC_LENGTH_MAX + 8;
    let mut rh = Vec::new();
    rh.extend_from_slice(&LibxlRecord::EMULATOR_CONTEXT.to_le_bytes());
    rh.extend_from_slice(&len.to_le_bytes());
    rh.extend_from_slice(&(EmulatorId::QemuUpstream as u32).to_le_bytes());
    rh.extend_from_slice(&0u32.to_le_bytes());
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    w.record(&LibxlRecord::End).unwrap();
    let tail = w.inner()[16..].to_vec();
    let input = |_: ()| {
        Parts(vec![
            Box::new(std::io::Cursor::new(head.clone())),
            Box::new(std::io::Cursor::new(rh.clone())),
            Box::new(std::io::repeat(0x5a).take(u64::from(len) - 8)),
            Box::new(std::io::Cursor::new(tail.clone())),
        ])
    };
    let rep = verify(input(()), Options::verify(Mode::Lenient)).unwrap();
    assert_eq!(rep.libxl_records["EMULATOR_CONTEXT"], 1);
    assert_eq!(
        rep.end_offset,
        (head.len() + 8) as u64 + u64::from(len) + tail.len() as u64
    );
    let e = verify(input(()), Options::verify(Mode::Strict)).unwrap_err();
    assert_eq!(e.kind(), "RecordTooLong");
    assert_eq!(e.offset(), head.len() as u64);
}

/// The head of a libxl stream (an HVM libxc stream inside), a record
/// header and emulator sub-header of an EMULATOR_XENSTORE_DATA of body
/// length `len`, and the END record that follows its padding.
fn over_limit_xenstore(len: u32) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (lx, _) = libxc(DomainType::X86Hvm, 0);
    let mut o = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    o.libxc_context().unwrap();
    o.inner().extend_from_slice(&lx);
    let head = o.inner().clone();
    let mut rh = Vec::new();
    rh.extend_from_slice(&LibxlRecord::EMULATOR_XENSTORE_DATA.to_le_bytes());
    rh.extend_from_slice(&len.to_le_bytes());
    rh.extend_from_slice(&(EmulatorId::QemuUpstream as u32).to_le_bytes());
    rh.extend_from_slice(&0u32.to_le_bytes());
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    w.record(&LibxlRecord::End).unwrap();
    let mut tail = vec![0; (8 - len as usize % 8) % 8];
    tail.extend_from_slice(&w.inner()[16..]);
    (head, rh, tail)
}

#[test]
fn an_emulator_xenstore_data_over_128_mib_is_checked_as_it_streams_leniently() {
    // One key, and a value of some 128 MiB that only a generator holds.
    let key = b"physmap/1/name\0";
    let value = u64::from(REC_LENGTH_MAX) + 1;
    let len = (8 + key.len() as u64 + value + 1) as u32;
    let (head, rh, tail) = over_limit_xenstore(len);
    let data_at = (head.len() + rh.len()) as u64;
    // `key` then the value's octets, then `last` (its NUL, or not).
    let input = |key: &'static [u8], last: &'static [u8]| {
        Parts(vec![
            Box::new(std::io::Cursor::new(head.clone())),
            Box::new(std::io::Cursor::new(rh.clone())),
            Box::new(std::io::Cursor::new(key)),
            Box::new(std::io::repeat(b'v').take(value)),
            Box::new(std::io::Cursor::new(last)),
            Box::new(std::io::Cursor::new(tail.clone())),
        ])
    };
    let rep = verify(input(key, b"\0"), Options::verify(Mode::Lenient)).unwrap();
    assert_eq!(rep.libxl_records["EMULATOR_XENSTORE_DATA"], 1);
    assert_eq!(rep.end_offset, data_at + len as u64 - 8 + tail.len() as u64);
    let e = verify(input(key, b"\0"), Options::verify(Mode::Strict)).unwrap_err();
    assert_eq!(e.kind(), "RecordTooLong");
    assert_eq!(e.offset(), head.len() as u64);
    // The restore's rules still hold, at the offsets of the data: an
    // absolute key, and a value that runs to the end without its NUL.
    let e = verify(
        input(b"/physmap/name\0", b"\0"),
        Options::verify(Mode::Lenient),
    )
    .unwrap_err();
    assert_eq!(e.kind(), "Xenstore", "{e}");
    assert_eq!(e.offset(), data_at, "{e}");
    let e = verify(input(key, b"v"), Options::verify(Mode::Lenient)).unwrap_err();
    assert_eq!(e.kind(), "Xenstore", "{e}");
    assert_eq!(e.offset(), data_at + key.len() as u64, "{e}");
    assert!(e.to_string().contains("not NUL-terminated"), "{e}");
}

#[test]
fn the_xl_configuration_tells_pvh_from_hvm() {
    use format_spec::xl::{XlGuestType, XlPreamble};
    let ty = |json: &str| XlPreamble::with_json_config(Endian::Little, json).guest_type();
    // The real save files: xl's own JSON.
    for (file, want) in [
        ("hvm-1vcpu-128M.xl", XlGuestType::Hvm),
        ("pv64-1vcpu-96M.xl", XlGuestType::Pv),
    ] {
        let bytes = std::fs::read(test_support::real_stream(file)).unwrap();
        let r = format_spec::save::SaveReader::new(&bytes[..], Options::default()).unwrap();
        assert_eq!(r.xl_preamble().unwrap().guest_type(), Some(want), "{file}");
    }
    assert_eq!(
        ty(
            r#"{"b_info": {"a": [1, -2.5e3, "x\"}", null, true, {}]}, "c_info": {"name": "g", "type": "pvh"}}"#
        ),
        Some(XlGuestType::Pvh)
    );
    // No type, another type, c_info.type elsewhere, not well-formed: none.
    for json in [
        r#"{"c_info": {"name": "g"}}"#,
        r#"{"c_info": {"type": "unknown"}}"#,
        r#"{"b_info": {"type": "pvh"}}"#,
        r#"{"c_info": {"type": "pvh"}"#,
        r#"{"c_info": {"type": "pvh"}} trailing"#,
        "",
    ] {
        assert_eq!(ty(json), None, "{json}");
    }
    // A bare libxl stream has no configuration: a PVH guest's emulator
    // records cannot be told from an HVM guest's there, and are taken.
    let b = libxl(0, &|_| {}, &|mut o| {
        o.emulator_context(EmulatorId::QemuUpstream, 0, b"state")
            .unwrap();
        o.finish().unwrap()
    });
    for r in both(&b) {
        assert_eq!(kind(&r), "valid");
    }
}
