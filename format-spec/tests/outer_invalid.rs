//! One invalid vector per rule of the outer layers: each is a valid file
//! from the writer with one thing broken, and must fail with the named
//! error kind at the named offset (and, for strict-only rules, pass in
//! lenient mode).

mod outer_support;

use format_spec::binrw::Endian;
use format_spec::libxl::{EmulatorId, LibxlRecord, LIBXL_STRUCTS, REC_LENGTH_MAX};
use format_spec::outer::{FormatChoice, Mode, OuterError, OuterEvent, OuterReader, OuterWriter};
use format_spec::xl::{XlPreamble, XL_OPTIONAL_DATA_MAX, XL_PREAMBLE_SIZE};
use outer_support::{walk, write_small_libxc, LibxcSkipper, Walk};

const JSON: &str = "{\"c_info\": {}}";

fn read(bytes: &[u8], mode: Mode) -> Result<Walk, OuterError> {
    let mut r = OuterReader::open(bytes, FormatChoice::Auto, mode)?;
    walk(&mut r)
}

fn expect(bytes: &[u8], mode: Mode, kind: &str, offset: u64) -> OuterError {
    let e = read(bytes, mode).expect_err(kind);
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.offset(), offset, "{e}");
    // The message is a sentence naming the offset.
    assert!(e.to_string().contains(&offset.to_string()), "{e}");
    e
}

/// Strict-only rule: strict fails as given, lenient reads the whole file.
fn expect_strict_only(bytes: &[u8], kind: &str, offset: u64) {
    expect(bytes, Mode::Strict, kind, offset);
    let w = read(bytes, Mode::Lenient).unwrap();
    assert!(matches!(w.events.last(), Some(OuterEvent::End(_))));
}

fn preamble() -> XlPreamble {
    XlPreamble::with_json_config(Endian::Little, JSON)
}

/// Offset of the libxl header in files made from [`preamble`].
fn libxl_at() -> usize {
    XL_PREAMBLE_SIZE + preamble().optional_data.len()
}

/// A valid xl file; `before` and `after` add libxl records before
/// LIBXC_CONTEXT and after the libxc stream.
fn file(
    before: impl FnOnce(&mut OuterWriter<Vec<u8>>),
    after: impl FnOnce(&mut OuterWriter<Vec<u8>>),
) -> Vec<u8> {
    let mut w = OuterWriter::xl(Vec::new(), &preamble()).unwrap();
    before(&mut w);
    write_small_libxc(w.libxc_context().unwrap(), Endian::Little).unwrap();
    after(&mut w);
    w.finish().unwrap()
}

fn plain() -> Vec<u8> {
    file(|_| {}, |_| {})
}

/// A file whose first libxl record (at `libxl_at() + 16`) is `code` with
/// this body; returns the file and the record offset.
fn first_record(code: u32, body: &[u8]) -> (Vec<u8>, u64) {
    let f = file(|w| w.raw_record(code, body).unwrap(), |_| {});
    (f, libxl_at() as u64 + 16)
}

#[test]
fn valid_base_file_reads() {
    let w = read(&plain(), Mode::Strict).unwrap();
    assert_eq!(w.events.len(), 2);
}

// ---- format detection and the xl header -------------------------------

#[test]
fn unknown_format() {
    let mut f = plain();
    f[..8].copy_from_slice(b"NotAStrm");
    let e = expect(&f, Mode::Strict, "UnknownFormat", 0);
    assert!(matches!(e, OuterError::UnknownFormat { found } if &found == b"NotAStrm"));
}

#[test]
fn bad_xl_magic() {
    // A text-mode transfer turned the final "\r" into "\n".
    let mut f = plain();
    f[31] = b'\n';
    expect(&f, Mode::Lenient, "BadXlMagic", 0);
    // Forcing the xl format on a libxl stream reports the magic too.
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    write_small_libxc(w.libxc_context().unwrap(), Endian::Little).unwrap();
    let g = w.finish().unwrap();
    let e = OuterReader::open(&g[..], "xl".parse().unwrap(), Mode::Strict).unwrap_err();
    assert_eq!(e.kind(), "BadXlMagic");
}

#[test]
fn bad_byte_order_marker() {
    let mut f = plain();
    f[32..36].copy_from_slice(&[4, 3, 1, 2]);
    let e = expect(&f, Mode::Lenient, "BadByteOrderMarker", 32);
    assert!(matches!(
        e,
        OuterError::BadByteOrderMarker {
            found: [4, 3, 1, 2],
            ..
        }
    ));
}

#[test]
fn unknown_mandatory_flags() {
    let mut f = plain();
    f[36] |= 1 << 2;
    let e = expect(&f, Mode::Lenient, "UnknownMandatoryFlags", 36);
    assert!(matches!(
        e,
        OuterError::UnknownMandatoryFlags { flags: 4, .. }
    ));
}

#[test]
fn unknown_optional_flags_strict_only() {
    let mut f = plain();
    f[40] = 0x10;
    expect_strict_only(&f, "UnknownOptionalFlags", 40);
}

#[test]
fn optional_data_too_long() {
    let mut f = plain();
    for mode in [Mode::Strict, Mode::Lenient] {
        f[44..48].copy_from_slice(&(XL_OPTIONAL_DATA_MAX + 1).to_le_bytes());
        expect(&f, mode, "OptionalDataTooLong", 44);
        // At the limit the reader tries to read it, and the file is too short.
        f[44..48].copy_from_slice(&XL_OPTIONAL_DATA_MAX.to_le_bytes());
        let e = expect(&f, mode, "Truncated", f.len() as u64);
        assert!(e.to_string().contains("optional data"));
    }
}

/// The bound of `optional_data_len` (its `at_most` annotation) is
/// inclusive: a file with exactly [`XL_OPTIONAL_DATA_MAX`] octets of
/// optional data reads to its end in both modes and byte orders; the
/// same file announcing one octet more is refused at the field in both
/// modes, with the value and the bound.
#[test]
fn optional_data_limit_is_inclusive() {
    for endian in [Endian::Little, Endian::Big] {
        let mut pre = XlPreamble::with_json_config(endian, JSON);
        // Octets after the configuration are skipped.
        pre.optional_data.resize(XL_OPTIONAL_DATA_MAX as usize, 0);
        pre.header.optional_data_len = XL_OPTIONAL_DATA_MAX;
        let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
        write_small_libxc(w.libxc_context().unwrap(), endian).unwrap();
        let mut f = w.finish().unwrap();
        for mode in [Mode::Strict, Mode::Lenient] {
            let walk = read(&f, mode).unwrap_or_else(|e| panic!("{endian:?} {mode:?}: {e}"));
            assert!(matches!(walk.events.last(), Some(OuterEvent::End(_))));
        }
        let over = match endian {
            Endian::Little => (XL_OPTIONAL_DATA_MAX + 1).to_le_bytes(),
            Endian::Big => (XL_OPTIONAL_DATA_MAX + 1).to_be_bytes(),
        };
        f[44..48].copy_from_slice(&over);
        for mode in [Mode::Strict, Mode::Lenient] {
            let e = expect(&f, mode, "OptionalDataTooLong", 44);
            assert!(
                matches!(
                    e,
                    OuterError::OptionalDataTooLong { offset: 44, len, max }
                        if len == XL_OPTIONAL_DATA_MAX + 1 && max == XL_OPTIONAL_DATA_MAX
                ),
                "{e:?}"
            );
            assert_eq!(e.field(), Some("optional_data_len"));
        }
    }
}

#[test]
fn config_longer_than_optional_data() {
    let mut f = plain();
    let opt = preamble().optional_data.len() as u32;
    f[48..52].copy_from_slice(&(opt - 3).to_le_bytes());
    let e = expect(&f, Mode::Lenient, "BadConfig", 48);
    assert!(e.to_string().contains("exceeds"), "{e}");
}

#[test]
fn optional_data_too_short_for_config_len() {
    let mut pre = preamble();
    pre.optional_data.truncate(3);
    pre.header.optional_data_len = 3;
    let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
    write_small_libxc(w.libxc_context().unwrap(), Endian::Little).unwrap();
    let f = w.finish().unwrap();
    expect(&f, Mode::Lenient, "BadConfig", 48);
}

#[test]
fn json_flag_without_config_strict_only() {
    let mut pre = XlPreamble::with_json_config(Endian::Little, "");
    pre.header.mandatory_flags |= format_spec::xl::XL_MANDATORY_FLAG_JSON;
    let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
    write_small_libxc(w.libxc_context().unwrap(), Endian::Little).unwrap();
    expect_strict_only(&w.finish().unwrap(), "MissingConfig", 36);
}

#[test]
fn json_config_not_nul_terminated_strict_only() {
    let mut f = plain();
    let nul = libxl_at() - 1;
    assert_eq!(f[nul], 0);
    f[nul] = b'\n';
    expect_strict_only(&f, "ConfigNotTerminated", 52);
}

#[test]
fn legacy_stream_after_xl_header() {
    let mut f = plain();
    f[36] &= !2; // clear XL_MANDATORY_FLAG_STREAMV2: a libxl stream follows, not libxc v2
    let e = expect(&f, Mode::Lenient, "LegacyStream", libxl_at() as u64);
    assert!(matches!(e, OuterError::LegacyStream { found, .. } if &found == b"LibxlFmt"));
}

// ---- the libxl header ---------------------------------------------------

#[test]
fn bad_libxl_ident() {
    let mut f = plain();
    let at = libxl_at();
    f[at + 7] = b'X';
    expect(&f, Mode::Lenient, "BadIdent", at as u64);
}

#[test]
fn unsupported_libxl_version() {
    for version in [1u32, 3] {
        let mut f = plain();
        let at = libxl_at() + 8;
        f[at..at + 4].copy_from_slice(&version.to_be_bytes());
        let e = expect(&f, Mode::Lenient, "UnsupportedVersion", at as u64);
        assert!(matches!(e, OuterError::UnsupportedVersion { version: v, .. } if v == version));
    }
}

#[test]
fn libxl_reserved_option_bits_strict_only() {
    // Bit 2 (inside Xen's Python mask) and bit 31 (outside it, still
    // reserved by the spec).
    for bit in [2u32, 31] {
        let mut f = plain();
        let at = libxl_at() + 12;
        f[at..at + 4].copy_from_slice(&(1u32 << bit).to_be_bytes());
        expect_strict_only(&f, "ReservedNonZero", at as u64);
    }
}

#[test]
fn libxl_legacy_bit_is_valid() {
    let mut f = plain();
    let at = libxl_at() + 12;
    f[at..at + 4].copy_from_slice(&2u32.to_be_bytes());
    let mut r = OuterReader::open(&f[..], FormatChoice::Auto, Mode::Strict).unwrap();
    assert!(r.libxl_header().unwrap().is_legacy());
    walk(&mut r).unwrap();
}

// ---- records ------------------------------------------------------------

#[test]
fn unknown_mandatory_record() {
    let (f, at) = first_record(6, &[]);
    let e = expect(&f, Mode::Lenient, "UnknownMandatory", at);
    assert!(matches!(
        e,
        OuterError::UnknownMandatory {
            index: 0,
            code: 6,
            ..
        }
    ));
}

#[test]
fn record_too_long() {
    let mut f = plain();
    let at = libxl_at() + 16; // LIBXC_CONTEXT
    f[at + 4..at + 8].copy_from_slice(&(REC_LENGTH_MAX + 1).to_le_bytes());
    expect(&f, Mode::Strict, "RecordTooLong", at as u64);
    // libxl has no limit: lenient mode skips the body libxl ignores, and
    // runs out of input.
    expect(&f, Mode::Lenient, "Truncated", f.len() as u64);
    // An unknown optional record is refused before its length matters.
    let (mut g, at) = first_record(0x8000_0001, &[]);
    let at_us = at as usize;
    g[at_us + 4..at_us + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    expect(&g, Mode::Lenient, "UnknownOptional", at);
    expect(&g, Mode::Strict, "UnknownOptional", at);
}

#[test]
fn hostile_length_within_the_limit_fails_on_missing_octets() {
    // A record claiming the maximum length in a tiny input: the reader
    // reads what is there and reports truncation (it allocates as octets
    // arrive, not the claimed length up front).
    let (mut f, at) = first_record(LibxlRecord::EMULATOR_CONTEXT, &[2, 0, 0, 0, 0, 0, 0, 0]);
    let at = at as usize;
    f[at + 4..at + 8].copy_from_slice(&REC_LENGTH_MAX.to_le_bytes());
    let e = expect(&f, Mode::Lenient, "Truncated", f.len() as u64);
    assert!(e.to_string().contains("body"), "{e}");
}

#[test]
fn format_choice_parses_and_prints() {
    for name in ["auto", "xl", "libxl", "libxc"] {
        let c: FormatChoice = name.parse().unwrap();
        assert_eq!(c.to_string(), name);
    }
    assert!("xml".parse::<FormatChoice>().is_err());
}

#[test]
fn record_length_breaks_its_rule() {
    // END, LIBXC_CONTEXT and CHECKPOINT_END are empty; CHECKPOINT_STATE is
    // 4 octets (strict mode: libxl ignores the bodies of the first three
    // and reads only the id of the last); emulator records hold at least
    // their 8-octet sub-header (both modes).
    for (code, body, mode) in [
        (LibxlRecord::CHECKPOINT_END, &[0u8; 4][..], Mode::Strict),
        (LibxlRecord::LIBXC_CONTEXT, &[0u8; 1][..], Mode::Strict),
        (LibxlRecord::CHECKPOINT_STATE, &[0u8; 8][..], Mode::Strict),
        (
            LibxlRecord::EMULATOR_CONTEXT,
            &[2, 0, 0, 0][..],
            Mode::Lenient,
        ),
        (LibxlRecord::EMULATOR_XENSTORE_DATA, &[][..], Mode::Lenient),
    ] {
        let (f, at) = first_record(code, body);
        let e = expect(&f, mode, "BadLength", at);
        let name = LibxlRecord::LAYOUT.by_code(code).unwrap().spec_name;
        assert!(e.to_string().contains(name), "{e}");
    }
    // An empty CHECKPOINT_STATE: libxl's restore reads its id through a
    // null body pointer, so both modes refuse it saying so.
    let (f, at) = first_record(LibxlRecord::CHECKPOINT_STATE, &[]);
    for mode in [Mode::Lenient, Mode::Strict] {
        let e = expect(&f, mode, "CrashesXenRestore", at);
        assert!(e.to_string().contains("Xen's restore would crash"), "{e}");
    }
    // END with a body, at the end of the stream.
    let mut f = plain();
    let end_at = f.len() - 8;
    f[end_at + 4] = 1;
    f.extend_from_slice(&[0; 8]);
    expect(&f, Mode::Strict, "BadLength", end_at as u64);
    read(&f, Mode::Lenient).unwrap();
}

#[test]
fn non_zero_padding_strict_only() {
    // An EMULATOR_CONTEXT of 10 octets, padded with 6 zeros.
    let (mut f, at) = first_record(
        LibxlRecord::EMULATOR_CONTEXT,
        &[2, 0, 0, 0, 0, 0, 0, 0, 1, 2],
    );
    let pad = at as usize + 8 + 10 + 2;
    f[pad] = 0xaa;
    expect(&f, Mode::Strict, "PaddingNonZero", pad as u64);
    read(&f, Mode::Lenient).unwrap();
}

#[test]
fn no_reading_on_after_an_error() {
    let (mut f, at) = first_record(
        LibxlRecord::EMULATOR_CONTEXT,
        &[2, 0, 0, 0, 0, 0, 0, 0, 1, 2],
    );
    let pad = at as usize + 8 + 10;
    f[pad] = 1;
    let mut r = OuterReader::open(&f[..], FormatChoice::Auto, Mode::Strict).unwrap();
    let e = r.next().unwrap_err();
    assert_eq!(e.kind(), "PaddingNonZero");
    for _ in 0..2 {
        let again = r.next().unwrap_err();
        assert!(
            matches!(again, OuterError::AfterError { offset } if offset == pad as u64),
            "{again}"
        );
    }
}

#[test]
fn truncation_anywhere_in_the_outer_layers() {
    let f = file(
        |w| {
            w.emulator_xenstore_data(EmulatorId::QemuUpstream, 0, &[("a", "b")])
                .unwrap()
        },
        |w| {
            w.emulator_context(EmulatorId::QemuUpstream, 0, b"abc")
                .unwrap()
        },
    );
    let mut tested = 0;
    for cut in 0..f.len() {
        let g = &f[..cut];
        let result = (|| {
            let mut r = OuterReader::open(g, FormatChoice::Auto, Mode::Strict)?;
            while let Some(ev) = r.next()? {
                if let OuterEvent::Libxc(_) = ev {
                    // A cut inside the libxc stream is the libxc reader's
                    // business; this test is about the outer layers.
                    let Ok(s) = LibxcSkipper::start(r.inner()) else {
                        return Ok(false);
                    };
                    let Ok((stop, _)) = s.records(r.inner()) else {
                        return Ok(false);
                    };
                    r.libxc_finished(stop)?;
                }
            }
            Ok(true)
        })();
        match result {
            Ok(false) => {}
            Ok(true) => panic!("prefix of {cut} octets read as a whole stream"),
            Err(e) => {
                let e: OuterError = e;
                assert_eq!(e.kind(), "Truncated", "cut {cut}: {e}");
                assert_eq!(e.offset(), cut as u64, "cut {cut}: {e}");
                tested += 1;
            }
        }
    }
    assert!(tested > 100, "only {tested} cuts in the outer layers");
}

// ---- emulator records ---------------------------------------------------

fn xenstore_vector(data: &[u8]) -> (Vec<u8>, u64) {
    let mut body = vec![2, 0, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(data);
    let (f, at) = first_record(LibxlRecord::EMULATOR_XENSTORE_DATA, &body);
    (f, at + 16) // record header and emulator sub-header
}

#[test]
fn xenstore_data_not_nul_terminated() {
    let (f, data) = xenstore_vector(b"key\0value");
    expect(&f, Mode::Lenient, "Xenstore", data + 4);
}

#[test]
fn xenstore_data_odd_number_of_strings() {
    let (f, data) = xenstore_vector(b"key\0value\0lonely\0");
    let e = expect(&f, Mode::Lenient, "Xenstore", data + 10);
    assert!(e.to_string().contains("odd number"), "{e}");
}

#[test]
fn xenstore_data_empty_key() {
    let (f, data) = xenstore_vector(b"k\0v\0\0value\0");
    expect(&f, Mode::Lenient, "Xenstore", data + 4);
}

#[test]
fn xenstore_data_absolute_key() {
    let (f, data) = xenstore_vector(b"/local/domain/0\0v\0");
    expect(&f, Mode::Lenient, "Xenstore", data);
}

#[test]
fn xenstore_key_character_strict_only() {
    let (f, data) = xenstore_vector(b"good\0v\0bad key\0v\0");
    expect_strict_only(&f, "Xenstore", data + 7 + 3);
}

#[test]
fn emulator_id_unknown_strict_only() {
    for code in [
        LibxlRecord::EMULATOR_CONTEXT,
        LibxlRecord::EMULATOR_XENSTORE_DATA,
    ] {
        let (f, at) = first_record(code, &[3, 0, 0, 0, 0, 0, 0, 0]);
        expect_strict_only(&f, "UnknownEmulator", at + 8);
    }
}

// ---- checkpoint records and structure -----------------------------------

#[test]
fn checkpoint_state_unknown_id_and_place() {
    // An id outside the spec's table: strict; out of place: both modes
    // (libxl reads CHECKPOINT_STATE only right after a CHECKPOINT_END).
    let (f, at) = first_record(LibxlRecord::CHECKPOINT_STATE, &[4, 0, 0, 0]);
    expect(&f, Mode::Strict, "BadValue", at + 8);
    expect(&f, Mode::Lenient, "UnexpectedRecord", at);
}

#[test]
fn checkpoint_end_outside_a_checkpoint() {
    let (f, at) = first_record(LibxlRecord::CHECKPOINT_END, &[]);
    let e = expect(&f, Mode::Lenient, "UnexpectedRecord", at);
    assert!(e.to_string().contains("CHECKPOINT_END"), "{e}");
}

#[test]
fn second_libxc_context() {
    let f = file(
        |_| {},
        |w| {
            w.raw_record(LibxlRecord::LIBXC_CONTEXT, &[]).unwrap();
        },
    );
    let at = f.len() as u64 - 16;
    expect(&f, Mode::Lenient, "UnexpectedRecord", at);
}

#[test]
fn end_inside_a_checkpoint() {
    // libxc stops at CHECKPOINT, and the libxl layer ends without
    // CHECKPOINT_END.
    let mut w = OuterWriter::xl(Vec::new(), &preamble()).unwrap();
    let out = w.libxc_context().unwrap();
    outer_support::write_libxc_headers(out, Endian::Little).unwrap();
    outer_support::write_libxc_records(
        w.inner(),
        Endian::Little,
        &[(format_spec::libxc::LibxcRecord::CHECKPOINT, &[])],
    )
    .unwrap();
    let f = w.finish().unwrap();
    expect(&f, Mode::Lenient, "UnexpectedRecord", f.len() as u64 - 8);
}

#[test]
fn end_not_last_strict_only() {
    let mut f = plain();
    let len = f.len() as u64;
    f.extend_from_slice(&[0; 8]); // another END
    expect_strict_only(&f, "TrailingData", len);
    // Also after a bare libxc stream.
    let mut g = Vec::new();
    write_small_libxc(&mut g, Endian::Big).unwrap();
    let len = g.len() as u64;
    g.push(0);
    expect_strict_only(&g, "TrailingData", len);
}

#[test]
fn every_struct_of_the_layer_is_exercised_above() {
    // Guard: if a struct is added to the libxl layer, this list of tested
    // structs must grow with it.
    let names: Vec<&str> = LIBXL_STRUCTS.iter().map(|s| s.rust_name).collect();
    assert_eq!(
        names,
        [
            "LibxlHeader",
            "LibxlRecordHeader",
            "EmulatorHeader",
            "CheckpointState"
        ]
    );
}
