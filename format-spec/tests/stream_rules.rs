//! One test per verifier rule (the list in `format_spec::stream`, "The
//! verifier rules", and `generated/docs/verifier-errors.md`): a stream that breaks exactly
//! that rule, with the error kind and offset the verifier must report, in
//! strict mode, in lenient mode (where the rule applies or not), and
//! through the seekable path.

mod common;

use std::io::Cursor;

use common::{t, Raw, HEADERS, W};
use format_spec::binrw::Endian;
use format_spec::libxc::REC_LENGTH_MAX;
use format_spec::stream::{
    verify, verify_seekable, ErrorKind, Report, StreamError, VerifyOptions, Warning,
};

#[derive(Clone, Copy, PartialEq)]
enum Modes {
    Both,
    StrictOnly,
}

fn run(bytes: &[u8], opts: VerifyOptions) -> Result<Report, StreamError> {
    let piped = verify(bytes, opts);
    let seeked = verify_seekable(Cursor::new(bytes), opts);
    match (&piped, &seeked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "pipe and seek reports differ"),
        (Err(a), Err(b)) => {
            assert_eq!(a.kind(), b.kind(), "pipe and seek disagree");
            assert_eq!(a.offset(), b.offset(), "pipe and seek disagree");
        }
        _ => panic!("pipe and seek disagree: {piped:?} vs {seeked:?}"),
    }
    piped
}

fn ok(bytes: &[u8]) -> Report {
    match run(bytes, VerifyOptions::strict()) {
        Ok(r) => r,
        Err(e) => panic!("valid stream refused: {e}"),
    }
}

/// Asserts the strict verdict (kind and offset) and the lenient one.
fn expect(bytes: &[u8], kind: ErrorKind, offset: u64, modes: Modes) -> StreamError {
    let err = run(bytes, VerifyOptions::strict()).expect_err("strict verify must fail");
    assert_eq!(err.kind(), kind, "wrong kind: {err}");
    assert_eq!(err.offset(), offset, "wrong offset: {err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("0x{offset:x}")),
        "message lacks the offset: {msg}"
    );
    let lenient = run(bytes, VerifyOptions::lenient());
    match modes {
        Modes::Both => {
            let e = lenient.expect_err("lenient verify must fail too");
            assert_eq!(e.kind(), kind);
            assert_eq!(e.offset(), offset);
        }
        Modes::StrictOnly => {
            if let Err(e) = lenient {
                panic!("lenient mode must accept this: {e}");
            }
        }
    }
    err
}

// ---- baselines -------------------------------------------------------

fn tsc(r: &Raw, res1: u32) -> Vec<u8> {
    r.words(&[W::D(0), W::D(1_000_000), W::Q(5), W::D(1), W::D(res1)])
}

fn hvm_params(r: &Raw, count: u32, res1: u32, entries: &[(u64, u64)]) -> Vec<u8> {
    let mut w = vec![W::D(count), W::D(res1)];
    for (i, v) in entries {
        w.push(W::Q(*i));
        w.push(W::Q(*v));
    }
    r.words(&w)
}

fn pv_info(r: &Raw, width: u8, levels: u8, res: [u8; 6]) -> Vec<u8> {
    let mut w = vec![W::B(width), W::B(levels)];
    w.extend(res.iter().map(|b| W::B(*b)));
    r.words(&w)
}

fn p2m(r: &Raw) -> Vec<u8> {
    r.words(&[W::D(0), W::D(1), W::Q(0x55)])
}

/// A vCPU 0 basic state of the size Xen's restore takes for a 64-bit
/// guest.
fn vcpu(r: &Raw, res1: u32) -> Vec<u8> {
    let mut b = r.words(&[W::D(0), W::D(res1)]);
    b.resize(8 + format_spec::libxc::pv_vcpu_basic_size(8).unwrap(), 0x12);
    b
}

/// A valid v3 HVM stream with one extra record `extra` inserted before
/// END; returns the bytes and the extra record's offset.
fn hvm3_with(extra: impl FnOnce(&mut Raw) -> u64) -> (Vec<u8>, u64) {
    let mut r = Raw::le(3, 2);
    r.rec(t::SDE, &[]);
    let pd = r.page_data(&[0x10], 0, 1);
    r.rec(t::PAGE_DATA, &pd);
    let hp = hvm_params(&r, 1, 0, &[(2, 3)]);
    r.rec(t::HVM_PARAMS, &hp);
    r.hvm();
    let off = extra(&mut r);
    r.end();
    (r.bytes, off)
}

/// A valid v3 PV stream: PV_INFO, SDE, P2M, PAGE_DATA, VCPU_BASIC, END.
fn pv3() -> Raw {
    let mut r = Raw::le(3, 1);
    let b = pv_info(&r, 8, 4, [0; 6]);
    r.rec(t::PV_INFO, &b);
    pv3_after_info(&mut r);
    r
}

/// The records of [`pv3`] after X86_PV_INFO.
fn pv3_after_info(r: &mut Raw) {
    r.rec(t::SDE, &[]);
    let b = p2m(r);
    r.rec(t::P2M, &b);
    let b = r.page_data(&[0, 1], 0, 2);
    r.rec(t::PAGE_DATA, &b);
    let b = vcpu(r, 0);
    r.rec(t::VCPU_BASIC, &b);
}

#[test]
fn baselines_are_valid() {
    let (b, _) = hvm3_with(|r| r.len());
    let rep = ok(&b);
    assert_eq!(rep.records, 5);
    let mut r = pv3();
    r.end();
    let rep = ok(&r.bytes);
    assert_eq!(rep.records, 6);
    assert_eq!(rep.data_pages, 2);
}

// ---- image and domain header ------------------------------------------

#[test]
fn rule_bad_marker() {
    let (mut b, _) = hvm3_with(|r| r.len());
    b[3] = 0x7f;
    expect(&b, ErrorKind::BadMarker, 0, Modes::Both);
}

#[test]
fn rule_bad_id() {
    let (mut b, _) = hvm3_with(|r| r.len());
    b[8] = b'Y';
    expect(&b, ErrorKind::BadId, 8, Modes::Both);
}

#[test]
fn rule_unsupported_version() {
    for v in [0u32, 1, 5] {
        let mut r = Raw::le(v, 2);
        r.end();
        expect(&r.bytes, ErrorKind::UnsupportedVersion, 12, Modes::Both);
    }
}

#[test]
fn rule_reserved_non_zero_in_headers() {
    // ihdr options bit 1, ihdr _res1, ihdr _res2, dhdr _res1.
    for (at, expect_off) in [(17usize, 16u64), (19, 18), (23, 20), (30, 30)] {
        let (mut b, _) = hvm3_with(|r| r.len());
        b[at] = 0x02;
        let e = expect(
            &b,
            ErrorKind::ReservedNonZero,
            expect_off,
            Modes::StrictOnly,
        );
        assert!(e.location().field.is_some());
    }
}

#[test]
fn rule_bad_domain_type() {
    for d in [0u32, 3, 0xffff_ffff] {
        let mut r = Raw::le(3, d);
        r.end();
        expect(&r.bytes, ErrorKind::BadDomainType, 24, Modes::Both);
    }
}

#[test]
fn rule_bad_page_shift() {
    let (mut b, _) = hvm3_with(|r| r.len());
    b[28] = 13;
    expect(&b, ErrorKind::BadPageShift, 28, Modes::Both);
}

// ---- framing ------------------------------------------------------------

#[test]
fn rule_truncated() {
    let (b, _) = hvm3_with(|r| r.len());
    // Inside the image header, the domain header, a record header, the
    // pfn entries, the page contents, a body's padding, and right before END.
    let page_data_at = HEADERS + 8;
    let cuts = [
        10,
        30,
        HEADERS + 4,
        page_data_at + 8 + 10,
        page_data_at + 8 + 16 + 100,
        b.len() as u64 - 8 - 2,
        b.len() as u64 - 8,
    ];
    for cut in cuts {
        expect(&b[..cut as usize], ErrorKind::Truncated, cut, Modes::Both);
    }
}

#[test]
fn rule_record_too_long() {
    let mut r = Raw::le(3, 2);
    r.rec(t::SDE, &[]);
    let off = r.len();
    r.put32(t::HVM_CONTEXT);
    r.put32(REC_LENGTH_MAX + 1);
    r.bytes.extend_from_slice(&[0; 64]);
    let e = expect(&r.bytes, ErrorKind::RecordTooLong, off, Modes::Both);
    assert_eq!(e.record().map(|i| i.index), Some(1));
}

#[test]
fn record_at_the_length_limit_but_short_input_is_truncated() {
    // A header promising REC_LENGTH_MAX octets with only a few behind it:
    // the reader must report truncation (without allocating 128 MiB first).
    let mut r = Raw::le(3, 2);
    r.rec(t::SDE, &[]);
    r.put32(t::HVM_CONTEXT);
    r.put32(REC_LENGTH_MAX);
    r.bytes.extend_from_slice(&[0; 100]);
    expect(&r.bytes, ErrorKind::Truncated, r.len(), Modes::Both);
}

#[test]
fn rule_padding_non_zero() {
    let (b, off) = hvm3_with(|r| r.rec_padded(t::HVM_CONTEXT, &[9, 9, 9], &[0, 0, 7, 0, 0]));
    expect(
        &b,
        ErrorKind::PaddingNonZero,
        off + 8 + 3 + 2,
        Modes::StrictOnly,
    );
}

#[test]
fn rule_unknown_mandatory() {
    let (b, off) = hvm3_with(|r| r.rec(0x0000_1234, &[1, 2, 3, 4]));
    expect(&b, ErrorKind::UnknownMandatory, off, Modes::Both);
}

#[test]
fn unknown_optional_is_skipped_with_a_warning() {
    let (b, off) = hvm3_with(|r| r.rec(0x8000_1234, &[1, 2, 3, 4, 5]));
    let rep = ok(&b);
    assert_eq!(rep.unknown_optional, 1);
    assert!(rep
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::SkippedOptional { record } if record.offset == off)));
}

#[test]
fn rule_record_too_new() {
    // STATIC_DATA_END and the CPU policies in v2, DOMAIN_CONTEXT in v2 and v3.
    // Xen's restore takes the first three in any version (lenient mode
    // too), and does not handle DOMAIN_CONTEXT at all.
    for (version, rtype, body, modes) in [
        (2u32, t::SDE, vec![], Modes::StrictOnly),
        (2, t::CPUID, vec![0; 24], Modes::StrictOnly),
        (2, t::MSR, vec![0; 16], Modes::StrictOnly),
        (2, t::DOMAIN_CONTEXT, vec![1], Modes::Both),
        (3, t::DOMAIN_CONTEXT, vec![1], Modes::Both),
    ] {
        let mut r = Raw::le(version, 2);
        let off = r.rec(rtype, &body);
        r.end();
        expect(&r.bytes, ErrorKind::RecordTooNew, off, modes);
    }
}

#[test]
fn rule_deprecated_record() {
    let (b, off) = hvm3_with(|r| r.rec(t::TOOLSTACK, &[1, 2, 3, 4, 5, 6, 7, 8]));
    expect(&b, ErrorKind::DeprecatedRecord, off, Modes::Both);
}

#[test]
fn rule_back_channel_record() {
    let (b, off) = hvm3_with(|r| {
        let body = r.words(&[W::Q(5), W::Q(6)]);
        r.rec(t::DIRTY, &body)
    });
    expect(&b, ErrorKind::BackChannelRecord, off, Modes::Both);
}

#[test]
fn rule_trailing_data() {
    let (mut b, _) = hvm3_with(|r| r.len());
    let end = b.len() as u64;
    b.extend_from_slice(&[0; 8]);
    expect(&b, ErrorKind::TrailingData, end, Modes::StrictOnly);
    // An embedded stream (bare = false) may be followed by anything.
    let opts = VerifyOptions {
        bare: false,
        ..VerifyOptions::strict()
    };
    assert!(run(&b, opts).is_ok());
}

// ---- record bodies ------------------------------------------------------

#[test]
fn rule_bad_length() {
    // Exact: TSC info of 16 octets; SHARED_INFO not a page; END with a body.
    let (b, off) = hvm3_with(|r| {
        let body = tsc(r, 0)[..16].to_vec();
        r.rec(t::TSC, &body)
    });
    expect(&b, ErrorKind::BadLength, off, Modes::Both);
    let (b, off) = hvm3_with(|r| r.rec(t::SHARED_INFO, &[0; 100]));
    expect(&b, ErrorKind::BadLength, off, Modes::Both);
    // Counted: HVM_PARAMS count 2 with one entry.
    let (b, off) = hvm3_with(|r| {
        let body = hvm_params(r, 2, 0, &[(1, 1)]);
        r.rec(t::HVM_PARAMS, &body)
    });
    expect(&b, ErrorKind::BadLength, off, Modes::Both);
    // NonEmpty: empty HVM_CONTEXT.
    let (b, off) = hvm3_with(|r| r.rec(t::HVM_CONTEXT, &[]));
    expect(&b, ErrorKind::BadLength, off, Modes::Both);
    // Rest: CPUID policy with a partial leaf (here in a v3 stream before SDE).
    let mut r = Raw::le(3, 2);
    let off = r.rec(t::CPUID, &[0; 30]);
    r.end();
    expect(&r.bytes, ErrorKind::BadLength, off, Modes::Both);
    // PageData: one data page announced, half a page given.
    let (b, off) = hvm3_with(|r| {
        let mut body = r.page_data(&[0x20], 0, 1);
        body.truncate(16 + 2048);
        r.rec(t::PAGE_DATA, &body)
    });
    expect(&b, ErrorKind::BadLength, off, Modes::Both);
    // PageData shorter than its fixed part.
    let (b, off) = hvm3_with(|r| r.rec(t::PAGE_DATA, &[1, 0, 0, 0]));
    expect(&b, ErrorKind::BadLength, off, Modes::Both);
    // END with a body: Xen's restore never reads it.
    let mut r = Raw::le(3, 2);
    r.rec(t::SDE, &[]);
    let off = r.rec(t::END, &[0; 8]);
    expect(&r.bytes, ErrorKind::BadLength, off, Modes::StrictOnly);
    // An empty CPU policy: Xen's restore refuses it.
    let mut r = Raw::le(3, 2);
    let off = r.rec(t::CPUID, &[]);
    r.rec(t::SDE, &[]);
    r.end();
    expect(&r.bytes, ErrorKind::BadLength, off, Modes::Both);
}

#[test]
fn rule_bad_value() {
    let mut r = Raw::le(3, 1);
    let body = pv_info(&r, 5, 4, [0; 6]);
    let off = r.rec(t::PV_INFO, &body);
    r.end();
    let e = expect(&r.bytes, ErrorKind::BadValue, off + 8, Modes::Both);
    assert_eq!(
        e.location().field.as_ref().map(|f| f.field),
        Some("guest_width")
    );

    let mut r = Raw::le(3, 1);
    let body = pv_info(&r, 4, 2, [0; 6]);
    let off = r.rec(t::PV_INFO, &body);
    r.end();
    let e = expect(&r.bytes, ErrorKind::BadValue, off + 9, Modes::Both);
    assert_eq!(
        e.location().field.as_ref().map(|f| f.field),
        Some("pt_levels")
    );
}

#[test]
fn rule_reserved_non_zero_in_bodies() {
    // PAGE_DATA _res1.
    let (b, off) = hvm3_with(|r| {
        let body = r.page_data(&[0x30], 1, 0);
        r.rec(t::PAGE_DATA, &body)
    });
    expect(&b, ErrorKind::ReservedNonZero, off + 12, Modes::StrictOnly);
    // PAGE_DATA pfn bits 59-52, in the second entry.
    let (b, off) = hvm3_with(|r| {
        let body = r.page_data(&[0x30, 0x31 | 1 << 55], 0, 0);
        r.rec(t::PAGE_DATA, &body)
    });
    expect(
        &b,
        ErrorKind::ReservedNonZero,
        off + 16 + 8,
        Modes::StrictOnly,
    );
    // TSC _res1.
    let (b, off) = hvm3_with(|r| {
        let body = tsc(r, 9);
        r.rec(t::TSC, &body)
    });
    expect(
        &b,
        ErrorKind::ReservedNonZero,
        off + 8 + 20,
        Modes::StrictOnly,
    );
    // HVM_PARAMS _res1.
    let (b, off) = hvm3_with(|r| {
        let body = hvm_params(r, 1, 1, &[(1, 1)]);
        r.rec(t::HVM_PARAMS, &body)
    });
    expect(&b, ErrorKind::ReservedNonZero, off + 12, Modes::StrictOnly);
    // MSR entry flags, in the second entry.
    let mut r = Raw::le(3, 2);
    let body = r.words(&[W::D(1), W::D(0), W::Q(2), W::D(3), W::D(4), W::Q(5)]);
    let off = r.rec(t::MSR, &body);
    r.rec(t::SDE, &[]);
    r.end();
    let e = expect(
        &r.bytes,
        ErrorKind::ReservedNonZero,
        off + 8 + 16 + 4,
        Modes::StrictOnly,
    );
    assert!(e.to_string().contains("entries[1].flags"), "{e}");
    // X86_PV_INFO _res, octet 3 of it: the offset is the field's first
    // octet (as the Python verifier, which unpacks _res in two parts,
    // reports it); the message names the element.
    let mut r = Raw::le(3, 1);
    let body = pv_info(&r, 8, 4, [0, 0, 0, 1, 0, 0]);
    let off = r.rec(t::PV_INFO, &body);
    pv3_after_info(&mut r);
    r.end();
    let e = expect(
        &r.bytes,
        ErrorKind::ReservedNonZero,
        off + 8 + 2,
        Modes::StrictOnly,
    );
    assert!(e.to_string().contains("X86PvInfo._res[3]"), "{e}");
    // vCPU _res1.
    let mut r = pv3();
    let body = vcpu(&r, 1);
    let off = r.rec(t::VCPU_BASIC, &body);
    r.end();
    expect(
        &r.bytes,
        ErrorKind::ReservedNonZero,
        off + 12,
        Modes::StrictOnly,
    );
}

#[test]
fn rule_bad_page_count() {
    // count 0.
    let (b, off) = hvm3_with(|r| {
        let body = r.words(&[W::D(0), W::D(0)]);
        r.rec(t::PAGE_DATA, &body)
    });
    let e = expect(&b, ErrorKind::BadPageCount, off + 8, Modes::Both);
    assert_eq!(e.location().field.as_ref().map(|f| f.field), Some("count"));
    // count 5, room for one entry.
    let (b, off) = hvm3_with(|r| {
        let body = r.words(&[W::D(5), W::D(0), W::Q(0xf000_0000_0000_0001)]);
        r.rec(t::PAGE_DATA, &body)
    });
    expect(&b, ErrorKind::BadPageCount, off + 8, Modes::Both);
}

#[test]
fn rule_bad_page_type() {
    for ty in [5u64, 6, 7, 8] {
        let (b, off) = hvm3_with(|r| {
            let body = r.words(&[W::D(2), W::D(0), W::Q(0xf << 60 | 1), W::Q(ty << 60 | 2)]);
            r.rec(t::PAGE_DATA, &body)
        });
        expect(&b, ErrorKind::BadPageType, off + 16 + 8, Modes::Both);
    }
}

// ---- order --------------------------------------------------------------

#[test]
fn rule_missing_static_data_end() {
    // PAGE_DATA before any STATIC_DATA_END.
    let mut r = Raw::le(3, 2);
    let body = r.page_data(&[1], 0, 0);
    let off = r.rec(t::PAGE_DATA, &body);
    r.rec(t::SDE, &[]);
    r.end();
    expect(&r.bytes, ErrorKind::MissingStaticDataEnd, off, Modes::Both);
    // END with no STATIC_DATA_END at all.
    let mut r = Raw::le(3, 2);
    r.rec(t::CPUID, &[0; 24]);
    let off = r.end();
    expect(
        &r.bytes,
        ErrorKind::MissingStaticDataEnd,
        off,
        Modes::StrictOnly,
    );
    // Version 2 infers it: no error.
    let mut r = Raw::le(2, 2);
    let body = r.page_data(&[1], 0, 0);
    r.rec(t::PAGE_DATA, &body);
    r.end();
    ok(&r.bytes);
}

#[test]
fn rule_duplicate_static_data_end() {
    let (b, off) = hvm3_with(|r| r.rec(t::SDE, &[]));
    let e = expect(&b, ErrorKind::DuplicateStaticDataEnd, off, Modes::Both);
    assert!(e.to_string().contains(&format!("0x{HEADERS:x}")), "{e}");
}

#[test]
fn rule_wrong_guest_type() {
    let (b, off) = hvm3_with(|r| {
        let body = pv_info(r, 8, 4, [0; 6]);
        r.rec(t::PV_INFO, &body)
    });
    expect(&b, ErrorKind::WrongGuestType, off, Modes::Both);
    let mut r = pv3();
    let off = r.hvm();
    r.end();
    expect(&r.bytes, ErrorKind::WrongGuestType, off, Modes::Both);
}

#[test]
fn rule_out_of_order() {
    // PV: P2M before PV_INFO.
    let mut r = Raw::le(3, 1);
    r.rec(t::SDE, &[]);
    let body = p2m(&r);
    let off = r.rec(t::P2M, &body);
    let body = pv_info(&r, 8, 4, [0; 6]);
    r.rec(t::PV_INFO, &body);
    r.end();
    expect(&r.bytes, ErrorKind::OutOfOrder, off, Modes::Both);
    // PV: PAGE_DATA before P2M, on which Xen's restore crashes.
    let mut r = Raw::le(3, 1);
    let body = pv_info(&r, 8, 4, [0; 6]);
    r.rec(t::PV_INFO, &body);
    r.rec(t::SDE, &[]);
    let body = r.page_data(&[1], 0, 0);
    let off = r.rec(t::PAGE_DATA, &body);
    r.end();
    expect(&r.bytes, ErrorKind::CrashesXenRestore, off, Modes::Both);
    // PV: vCPU before the first PAGE_DATA.
    let mut r = Raw::le(3, 1);
    let body = pv_info(&r, 8, 4, [0; 6]);
    r.rec(t::PV_INFO, &body);
    r.rec(t::SDE, &[]);
    let body = p2m(&r);
    r.rec(t::P2M, &body);
    let body = vcpu(&r, 0);
    let off = r.rec(t::VCPU_BASIC, &body);
    r.end();
    expect(&r.bytes, ErrorKind::OutOfOrder, off, Modes::StrictOnly);
    // HVM v4: HVM_PARAMS after HVM_CONTEXT.
    let mut r = Raw::le(4, 2);
    r.rec(t::SDE, &[]);
    r.hvm();
    let body = hvm_params(&r, 1, 0, &[(1, 2)]);
    let off = r.rec(t::HVM_PARAMS, &body);
    r.dc();
    r.end();
    expect(&r.bytes, ErrorKind::OutOfOrder, off, Modes::StrictOnly);
}

#[test]
fn hvm_params_after_context_is_a_warning_before_v4() {
    for v in [2u32, 3] {
        let mut r = Raw::le(v, 2);
        if v == 3 {
            r.rec(t::SDE, &[]);
        }
        let ctx = r.hvm();
        let body = hvm_params(&r, 1, 0, &[(1, 2)]);
        let off = r.rec(t::HVM_PARAMS, &body);
        r.end();
        let rep = ok(&r.bytes);
        assert!(rep.warnings.iter().any(|w| matches!(w,
            Warning::HvmParamsAfterContext { record, context_offset }
                if record.offset == off && *context_offset == ctx)));
        // The note lenient mode makes of it names the rule's version.
        let since = format_spec::libxc::order_since(&format_spec::stream::rules::HVM_PARAMS_FIRST);
        let note = format_spec::stream::Note {
            first: rep
                .warnings
                .iter()
                .find(|w| matches!(w, Warning::HvmParamsAfterContext { .. }))
                .expect("the warning")
                .clone(),
            count: 1,
        };
        assert!(
            note.to_string()
                .contains(&format!("before version {since},")),
            "{note}"
        );
    }
}

#[test]
fn rule_missing_domain_context() {
    // v4 END without DOMAIN_CONTEXT.
    let mut r = Raw::le(4, 2);
    r.rec(t::SDE, &[]);
    let off = r.end();
    expect(
        &r.bytes,
        ErrorKind::MissingDomainContext,
        off,
        Modes::StrictOnly,
    );
    // v4 checkpointed: the first segment has one, the second not.
    let mut r = Raw::le(4, 2);
    r.rec(t::SDE, &[]);
    r.dc();
    r.rec(t::CHECKPOINT, &[]);
    let body = r.page_data(&[1], 0, 0);
    r.rec(t::PAGE_DATA, &body);
    let off = r.rec(t::CHECKPOINT, &[]);
    r.dc();
    r.end();
    expect(
        &r.bytes,
        ErrorKind::MissingDomainContext,
        off,
        Modes::StrictOnly,
    );
}

#[test]
fn rule_domain_context_blob() {
    // Strict mode checks the DOMAIN_CONTEXT blob's own rules; the error
    // points into the blob and names the blob rule.
    for endian in [Endian::Little, Endian::Big] {
        let mut r = Raw::new(4, 2, endian);
        r.rec(t::SDE, &[]);
        let mut blob = r.dc_blob();
        // The HEADER entry's padding (octets 20 to 23 of the blob).
        blob[21] = 0x5a;
        let off = r.rec(t::DOMAIN_CONTEXT, &blob);
        r.end();
        let err = expect(
            &r.bytes,
            ErrorKind::DomainContext,
            off + 8 + 21,
            Modes::StrictOnly,
        );
        match err {
            StreamError::DomainContext { source, .. } => assert!(
                matches!(
                    source.kind,
                    format_spec::domain_context::DcErrorKind::PaddingNonZero { value: 0x5a }
                ),
                "{source}"
            ),
            e => panic!("not a blob error: {e}"),
        }
        // A blob that is not one at all.
        let mut r = Raw::new(4, 2, endian);
        r.rec(t::SDE, &[]);
        let off = r.rec(t::DOMAIN_CONTEXT, &[1]);
        r.end();
        expect(
            &r.bytes,
            ErrorKind::DomainContext,
            off + 8,
            Modes::StrictOnly,
        );
    }
}

#[test]
fn rule_hvm_context_blob() {
    // Strict mode checks the HVM_CONTEXT blob's own rules; the error points
    // into the blob and names the blob rule. Lenient mode does not look.
    for endian in [Endian::Little, Endian::Big] {
        let mut r = Raw::new(3, 2, endian);
        r.rec(t::SDE, &[]);
        let mut blob = r.hvm_blob();
        // The HEADER's version (blob octets 12 to 15).
        blob[if endian == Endian::Little { 12 } else { 15 }] = 2;
        let off = r.rec(t::HVM_CONTEXT, &blob);
        r.end();
        let err = expect(
            &r.bytes,
            ErrorKind::HvmContext,
            off + 8 + 12,
            Modes::StrictOnly,
        );
        match err {
            StreamError::HvmContext { source, .. } => assert_eq!(
                source.kind,
                format_spec::hvm_context::HvmErrorKind::BadVersion { found: 2 },
                "{source}"
            ),
            e => panic!("not a blob error: {e}"),
        }
        // Octets after END: the error points at the first of them.
        let mut r = Raw::new(3, 2, endian);
        r.rec(t::SDE, &[]);
        let mut blob = r.hvm_blob();
        let end = blob.len() as u64;
        blob.extend_from_slice(&[0; 8]);
        let off = r.rec(t::HVM_CONTEXT, &blob);
        r.end();
        expect(
            &r.bytes,
            ErrorKind::HvmContext,
            off + 8 + end,
            Modes::StrictOnly,
        );
        // A blob that is not one at all.
        let mut r = Raw::new(3, 2, endian);
        r.rec(t::SDE, &[]);
        let off = r.rec(t::HVM_CONTEXT, &[1]);
        r.end();
        expect(&r.bytes, ErrorKind::HvmContext, off + 8, Modes::StrictOnly);
    }
}

// ---- warnings ---------------------------------------------------------

#[test]
fn warnings_for_deprecated_and_empty_records() {
    let mut r = Raw::le(4, 2);
    r.rec(t::SDE, &[]);
    let si = r.rec(t::SHARED_INFO, &[0; 4096]);
    let body = tsc(&r, 0);
    let ts = r.rec(t::TSC, &body);
    let body = hvm_params(&r, 0, 0, &[]);
    let hp = r.rec(t::HVM_PARAMS, &body);
    r.dc();
    r.end();
    let rep = ok(&r.bytes);
    let dep: Vec<u64> = rep
        .warnings
        .iter()
        .filter_map(|w| match w {
            Warning::Deprecated { record, since: 4 } => Some(record.offset),
            _ => None,
        })
        .collect();
    assert_eq!(dep, [si, ts]);
    assert!(rep
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::EmptyContent { record } if record.offset == hp)));
    // The same records in v3 are not deprecated.
    let mut r = Raw::le(3, 2);
    r.rec(t::SDE, &[]);
    r.rec(t::SHARED_INFO, &[0; 4096]);
    r.end();
    assert!(ok(&r.bytes).warnings.is_empty());
}

#[test]
fn big_endian_rules_apply_too() {
    let mut r = Raw::new(3, 2, Endian::Big);
    r.rec(t::SDE, &[]);
    let body = r.words(&[W::D(2), W::D(0), W::Q(0xf << 60 | 1), W::Q(7 << 60 | 2)]);
    let off = r.rec(t::PAGE_DATA, &body);
    r.end();
    expect(&r.bytes, ErrorKind::BadPageType, off + 24, Modes::Both);
}

#[test]
fn messages_name_record_offset_and_field() {
    let (b, off) = hvm3_with(|r| {
        let body = r.words(&[W::D(2), W::D(0), W::Q(0xf << 60 | 1), W::Q(6 << 60 | 2)]);
        r.rec(t::PAGE_DATA, &body)
    });
    let e = run(&b, VerifyOptions::strict()).unwrap_err();
    let msg = e.to_string();
    let want = format!(
        "record 4 (PAGE_DATA) at offset 0x{off:x}, field PageDataHeader.pfn[1] at offset 0x{:x}: ",
        off + 24
    );
    assert!(msg.starts_with(&want), "{msg}");
    assert!(msg.contains("page type 6"), "{msg}");
    let info = e.record().unwrap();
    assert_eq!(
        (info.index, info.offset, info.rtype),
        (4, off, t::PAGE_DATA)
    );
}

#[test]
fn reader_goes_on_after_body_and_type_errors_but_not_after_truncation() {
    use format_spec::stream::{ReaderOptions, StreamReader};
    let mut r = Raw::le(3, 1);
    let body = pv_info(&r, 5, 4, [0; 6]); // BadValue
    r.rec(t::PV_INFO, &body);
    r.rec(0x0000_7777, &[1, 2, 3]); // UnknownMandatory
    r.rec(t::SDE, &[]);
    let body = r.page_data(&[1, 7 << 60], 0, 0); // BadPageType
    r.rec(t::PAGE_DATA, &body);
    let end = r.end();
    let mut rd = StreamReader::with_options(&r.bytes[..], ReaderOptions::default()).unwrap();
    let mut kinds = Vec::new();
    loop {
        match rd.next_header() {
            Ok(None) => break,
            Ok(Some(_)) => {
                if let Err(e) = rd.read_record() {
                    kinds.push(e.kind());
                }
            }
            Err(e) => kinds.push(e.kind()),
        }
    }
    assert_eq!(
        kinds,
        [
            ErrorKind::BadValue,
            ErrorKind::UnknownMandatory,
            ErrorKind::BadPageType
        ]
    );
    assert_eq!(rd.position(), end + 8);

    // Truncated inside a body: the reader refuses to go on.
    let cut = &r.bytes[..(HEADERS + 12) as usize];
    let mut rd = StreamReader::new(cut).unwrap();
    rd.next_header().unwrap();
    assert_eq!(rd.read_body().unwrap_err().kind(), ErrorKind::Truncated);
    assert_eq!(rd.next_header().unwrap_err().kind(), ErrorKind::Misuse);
}
