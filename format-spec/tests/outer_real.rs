//! The real `xl save` files (Xen 4.17) read end to end through the outer
//! reader, with the libxc stream skipped in place.

mod outer_support;

use std::fs::File;
use std::io::BufReader;

use format_spec::binrw::Endian;
use format_spec::libxc::{DomainType, LibxcRecord};
use format_spec::libxl::{EmulatorId, LibxlRecord, HDR_VERSION};
use format_spec::outer::{Format, FormatChoice, Mode, OuterEvent, OuterReader};
use format_spec::xl::{XL_MANDATORY_FLAG_JSON, XL_MANDATORY_FLAG_STREAMV2, XL_PREAMBLE_SIZE};
use outer_support::walk;

/// Facts from ../shared/real-streams/README.md and the files themselves:
/// (name, optional_data_len, file size, domain type, emulator context).
const REAL: [(&str, u32, u64, DomainType, bool); 2] = [
    (
        "pv64-1vcpu-96M.xl",
        851,
        100_872_363,
        DomainType::X86Pv,
        false,
    ),
    (
        "hvm-1vcpu-128M.xl",
        1237,
        142_582_589,
        DomainType::X86Hvm,
        true,
    ),
];

fn check_real(name: &str, opt_len: u32, size: u64, dtype: DomainType, emulator: bool, mode: Mode) {
    let path = test_support::real_stream(name);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    let input = BufReader::with_capacity(1 << 20, File::open(&path).unwrap());
    let mut r = OuterReader::open(input, FormatChoice::Auto, mode).unwrap();
    assert_eq!(r.format(), Format::Xl);

    // xl header: flags 0x3 (JSON + stream v2), little-endian, the optional
    // data holding config_len and a NUL-terminated JSON configuration.
    let pre = r.xl_preamble().unwrap().clone();
    assert_eq!(pre.endian, Endian::Little);
    assert_eq!(
        pre.header.mandatory_flags,
        XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2
    );
    assert_eq!(pre.header.mandatory_flags, 0x3);
    assert_eq!(pre.header.optional_flags, 0);
    assert_eq!(pre.header.optional_data_len, opt_len);
    let config = pre.config().unwrap().unwrap();
    assert_eq!(
        config.len() as u32,
        opt_len - 4,
        "config_len covers the rest"
    );
    let json = pre.json_config().unwrap();
    assert!(json.starts_with('{') && json.trim_end().ends_with('}'));
    assert!(json.contains("\"c_info\""));

    // libxl header: version 2, little-endian, not legacy, right after the
    // optional data.
    let lh = *r.libxl_header().unwrap();
    assert_eq!(lh.version, HDR_VERSION);
    assert_eq!(lh.version, 2);
    assert_eq!(lh.endian(), Endian::Little);
    assert!(!lh.is_legacy());
    assert_eq!(
        r.offset(),
        (XL_PREAMBLE_SIZE as u64) + u64::from(opt_len) + 16
    );

    let w = walk(&mut r).unwrap();
    assert_eq!(w.domain_type, dtype as u32);
    assert_eq!(w.libxc_version, 3);
    assert_eq!(w.libxc.len(), 1);
    assert_eq!(*w.libxc[0].codes.last().unwrap(), LibxcRecord::END);

    // First libxl record: LIBXC_CONTEXT; then (HVM) EMULATOR_CONTEXT from
    // QEMU upstream; then END, ending exactly at the end of the file.
    let OuterEvent::Libxc(h) = &w.events[0] else {
        panic!("first event {:?}", w.events[0])
    };
    assert!(!h.resume);
    let first = h.record.as_ref().unwrap();
    assert_eq!(first.index, 0);
    assert_eq!(first.record, LibxlRecord::LibxcContext);
    let mut rest = w.events[1..].iter();
    if emulator {
        let Some(OuterEvent::Record(rec)) = rest.next() else {
            panic!("expected EMULATOR_CONTEXT")
        };
        let LibxlRecord::EmulatorContext(ctx) = &rec.record else {
            panic!(
                "expected EMULATOR_CONTEXT, got {:?}",
                rec.record.layout().spec_name
            )
        };
        assert_eq!(ctx.header.emulator(), Some(EmulatorId::QemuUpstream));
        assert_eq!(ctx.header.index, 0);
        assert_eq!(ctx.blob_len() as u32, rec.length - 8);
        // QEMU's migration stream starts with its own magic "QEVM".
        assert_eq!(&ctx.blob[..4], b"QEVM");
    }
    let Some(OuterEvent::End(Some(end))) = rest.next() else {
        panic!("expected END")
    };
    assert_eq!(end.record, LibxlRecord::End);
    assert_eq!(end.offset + 8, size, "libxl END is the last 8 octets");
    assert!(rest.next().is_none());
    assert_eq!(w.end_offset, size);
    assert!(r.next().unwrap().is_none());
}

#[test]
fn real_pv_file_end_to_end_strict() {
    let (n, l, s, t, e) = REAL[0];
    check_real(n, l, s, t, e, Mode::Strict);
}

#[test]
fn real_hvm_file_end_to_end_strict() {
    let (n, l, s, t, e) = REAL[1];
    check_real(n, l, s, t, e, Mode::Strict);
}

#[test]
fn real_hvm_file_end_to_end_lenient_explicit_format() {
    let (n, l, s, t, e) = REAL[1];
    check_real(n, l, s, t, e, Mode::Lenient);
    // Naming the format explicitly reads the same file.
    let path = test_support::real_stream(n);
    let r = OuterReader::open(
        BufReader::new(File::open(path).unwrap()),
        "xl".parse::<FormatChoice>().unwrap(),
        Mode::Strict,
    )
    .unwrap();
    assert_eq!(r.xl_preamble().unwrap().header.optional_data_len, l);
}
