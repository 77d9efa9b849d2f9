//! The HVM_CONTEXT blob: the real one written by Xen 4.17, golden blobs
//! built by hand, one invalid blob per rule, robustness on any input.

mod blob_bytes;
mod walker;

use format_spec::binrw::Endian;
use format_spec::body::RecordBody;
use format_spec::hvm_context::{
    self as hvm, HvmErrorKind, HvmHeader, HvmSize, HvmType, HVM_TYPE_RULES,
};
use format_spec::layout::{SpecEnum, Wire};
use format_spec::libxc::{LibxcRecord, X86TscInfo};
use proptest::prelude::*;

use blob_bytes::Bytes;

/// Entry builders of this blob (the assembler is in `blob_bytes`).
impl Bytes {
    /// HEADER per save.h: magic, version, changeset, cpuid, gtsc_khz.
    fn header(&mut self) -> &mut Self {
        self.desc(1, 0, 24)
            .u32(0x5438_1286)
            .u32(1)
            .u64(u64::MAX)
            .u32(0x60fb1)
            .u32(2_000_000)
    }
}

/// HEADER (0), CPU (32), PIC 0 (1072), PIC 1 (1088), CPU_MSR with two MSRs
/// (1104, 8 + 2*16 octets), END (1152); 1160 octets.
fn golden(endian: Endian) -> Vec<u8> {
    let mut b = Bytes::new(endian);
    b.header();
    assert_eq!(b.out.len(), 32);
    b.desc(2, 0, 1032).fill(1032, 0x11);
    b.desc(3, 0, 8).fill(8, 0x22);
    b.desc(3, 1, 8).fill(8, 0x33);
    assert_eq!(b.out.len(), 1104);
    b.desc(20, 0, 40)
        .u32(2)
        .u32(0)
        .u32(0xc000_0080)
        .u32(0)
        .u64(0x500)
        .u32(0x10)
        .u32(0)
        .u64(42);
    assert_eq!(b.out.len(), 1152);
    b.desc(0, 0, 0);
    b.out
}

#[test]
fn layouts_and_codes() {
    assert_eq!(hvm::HvmDescriptor::LAYOUT.size, 8);
    assert_eq!(HvmHeader::LAYOUT.size, 24);
    assert_eq!(hvm::HVM_FILE_MAGIC, 0x5438_1286);
    let names: Vec<(u64, &str)> = HvmType::LAYOUT
        .variants
        .iter()
        .map(|v| (v.value, v.human))
        .collect();
    let expected = [
        "END",
        "HEADER",
        "CPU",
        "PIC",
        "IOAPIC",
        "LAPIC",
        "LAPIC_REGS",
        "PCI_IRQ",
        "ISA_IRQ",
        "PCI_LINK",
        "PIT",
        "RTC",
        "HPET",
        "PMTIMER",
        "MTRR",
        "VIRIDIAN_DOMAIN",
        "CPU_XSAVE",
        "VIRIDIAN_VCPU",
        "VMCE_VCPU",
        "TSC_ADJUST",
        "CPU_MSR",
    ];
    assert_eq!(names.len(), expected.len());
    for (i, (value, human)) in names.iter().enumerate() {
        assert_eq!((*value, *human), (i as u64, expected[i]));
    }
    // Every type has its rule, and the variable ones are the two save.h
    // leaves open.
    for v in HvmType::LAYOUT.variants {
        let t = HvmType::from_value(v.value).unwrap();
        assert_eq!(t.rule().typ, t);
    }
    let variable: Vec<HvmType> = HVM_TYPE_RULES
        .iter()
        .filter(|r| !matches!(r.size, HvmSize::Fixed { .. }))
        .map(|r| r.typ)
        .collect();
    assert_eq!(variable, [HvmType::CpuXsave, HvmType::CpuMsr]);
    assert_eq!(
        HvmType::Header.rule().size,
        HvmSize::Fixed {
            size: 24,
            older: &[]
        }
    );
}

#[test]
fn golden_blob_in_both_orders() {
    for endian in [Endian::Little, Endian::Big] {
        let blob = golden(endian);
        let list = hvm::verify(&blob, endian).unwrap();
        let seen: Vec<(usize, Option<HvmType>, u16, u32)> = list
            .iter()
            .map(|e| (e.offset, e.typ, e.instance, e.length))
            .collect();
        assert_eq!(
            seen,
            [
                (0, Some(HvmType::Header), 0, 24),
                (32, Some(HvmType::Cpu), 0, 1032),
                (1072, Some(HvmType::Pic), 0, 8),
                (1088, Some(HvmType::Pic), 1, 8),
                (1104, Some(HvmType::CpuMsr), 0, 40),
                (1152, Some(HvmType::End), 0, 0),
            ]
        );
        // Bodies are borrowed in place.
        assert_eq!(list[2].body(&blob).unwrap(), &[0x22; 8]);
        let h = hvm::header(&blob, endian).unwrap();
        assert_eq!((h.magic, h.version, h.cpuid), (0x5438_1286, 1, 0x60fb1));
        h.check().unwrap();
    }
}

#[test]
fn older_sizes_are_accepted() {
    // A pre-4.7 CPU record (1024) and a LAPIC without tdt_msr (16).
    let mut b = Bytes::new(Endian::Little);
    b.header()
        .desc(2, 0, 1024)
        .fill(1024, 0)
        .desc(5, 0, 16)
        .fill(16, 0)
        .desc(0, 0, 0);
    hvm::verify(&b.out, Endian::Little).unwrap();
    // RTC is loaded with an exact-size check: the older 16 is refused.
    let mut b = Bytes::new(Endian::Little);
    b.header().desc(11, 0, 16).fill(16, 0).desc(0, 0, 0);
    assert!(hvm::verify(&b.out, Endian::Little).is_err());
}

/// The HVM_CONTEXT record of the real Xen 4.17 save file parses and
/// verifies; the test lists its entries.
#[test]
fn real_hvm_context_verifies() {
    let path = test_support::real_stream("hvm-1vcpu-128M.xl");
    let w = walker::walk(
        &path,
        &[LibxcRecord::HVM_CONTEXT, LibxcRecord::X86_TSC_INFO],
    );
    assert_eq!(
        w.types
            .iter()
            .filter(|t| **t == LibxcRecord::HVM_CONTEXT)
            .count(),
        1
    );
    let blob = &w
        .records
        .iter()
        .find(|(t, _)| *t == LibxcRecord::HVM_CONTEXT)
        .unwrap()
        .1;
    let list = hvm::verify(blob, w.endian).expect("Xen's own blob verifies");
    let listing: Vec<String> = list
        .iter()
        .map(|e| {
            format!(
                "{:>5} {:<16} instance {} length {}",
                e.offset,
                e.typ.map_or("?", Human::human),
                e.instance,
                e.length
            )
        })
        .collect();
    println!("HVM_CONTEXT of hvm-1vcpu-128M.xl:\n{}", listing.join("\n"));
    let types: Vec<HvmType> = list.iter().filter_map(|e| e.typ).collect();
    use HvmType::*;
    assert_eq!(
        types,
        [
            Header, Cpu, Pic, Pic, Ioapic, Lapic, LapicRegs, PciIrq, IsaIrq, PciLink, Pit, Rtc,
            Hpet, Pmtimer, Mtrr, VmceVcpu, TscAdjust, End
        ]
    );
    // The blob ends exactly with END.
    let last = list.last().unwrap();
    assert_eq!(last.body_offset(), blob.len());
    // The header's TSC frequency is the one X86_TSC_INFO carries.
    let h = hvm::header(blob, w.endian).unwrap();
    let tsc_body = &w
        .records
        .iter()
        .find(|(t, _)| *t == LibxcRecord::X86_TSC_INFO)
        .unwrap()
        .1;
    let tsc = X86TscInfo::read_body(tsc_body, w.endian).unwrap();
    assert_eq!(h.gtsc_khz, tsc.khz);
    // The real RTC entry is 24 octets, the size the rules call current.
    let rtc = list.iter().find(|e| e.typ == Some(Rtc)).unwrap();
    assert_eq!(
        Rtc.rule().size,
        HvmSize::Fixed {
            size: rtc.length as usize,
            older: &[]
        }
    );
}

/// A small extension so the listing can print names.
trait Human {
    fn human(self) -> &'static str;
}

impl Human for HvmType {
    fn human(self) -> &'static str {
        HvmType::LAYOUT.variant(self.value()).unwrap().human
    }
}

// ---- one invalid blob per rule ------------------------------------------

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn err(blob: &[u8]) -> (HvmErrorKind, usize, usize) {
    let e = hvm::verify(blob, Endian::Little).unwrap_err();
    (e.kind, e.offset, e.entry)
}

#[test]
fn invalid_truncated_descriptor() {
    let g = golden(Endian::Little);
    assert_eq!(
        err(&g[..1156]),
        (HvmErrorKind::TruncatedDescriptor { available: 4 }, 1152, 5)
    );
}

#[test]
fn invalid_missing_end() {
    let g = golden(Endian::Little);
    assert_eq!(err(&g[..1152]), (HvmErrorKind::MissingEnd, 1152, 5));
    // The framing-only parser agrees.
    assert_eq!(
        hvm::parse(&g[..1152], Endian::Little).unwrap_err().kind,
        HvmErrorKind::MissingEnd
    );
}

#[test]
fn invalid_overrun() {
    let mut g = golden(Endian::Little);
    put32(&mut g, 32 + 4, 5000);
    assert_eq!(
        err(&g),
        (
            HvmErrorKind::Overrun {
                length: 5000,
                available: 1160 - 40
            },
            32,
            1
        )
    );
}

#[test]
fn invalid_header_not_first() {
    let mut g = golden(Endian::Little);
    put16(&mut g, 0, 14);
    assert_eq!(
        err(&g),
        (HvmErrorKind::HeaderNotFirst { typecode: 14 }, 0, 0)
    );
}

#[test]
fn invalid_second_header() {
    let mut b = Bytes::new(Endian::Little);
    b.header().header().desc(0, 0, 0);
    assert_eq!(err(&b.out), (HvmErrorKind::DuplicateHeader, 32, 1));
}

#[test]
fn invalid_magic_and_version() {
    let mut g = golden(Endian::Little);
    put32(&mut g, 8, 0x1234_5678);
    assert_eq!(
        err(&g),
        (HvmErrorKind::BadMagic { found: 0x1234_5678 }, 8, 0)
    );
    let mut g = golden(Endian::Little);
    put32(&mut g, 12, 2);
    assert_eq!(err(&g), (HvmErrorKind::BadVersion { found: 2 }, 12, 0));
}

#[test]
fn invalid_unknown_type() {
    let mut g = golden(Endian::Little);
    put16(&mut g, 1072, 21);
    assert_eq!(
        err(&g),
        (HvmErrorKind::UnknownType { typecode: 21 }, 1072, 2)
    );
    // Framing alone still accepts it.
    assert_eq!(hvm::parse(&g, Endian::Little).unwrap()[2].typ, None);
}

#[test]
fn invalid_fixed_size() {
    // A PIC of 16 octets instead of 8: re-frame the second PIC.
    let mut b = Bytes::new(Endian::Little);
    b.header().desc(3, 0, 16).fill(16, 0).desc(0, 0, 0);
    assert_eq!(
        err(&b.out),
        (
            HvmErrorKind::BadLength {
                typ: HvmType::Pic,
                length: 16,
                rule: HvmType::Pic.rule().size
            },
            36,
            1
        )
    );
    // A header of 16 octets.
    let mut b = Bytes::new(Endian::Little);
    b.desc(1, 0, 16)
        .u32(0x5438_1286)
        .u32(1)
        .u64(0)
        .desc(0, 0, 0);
    assert_eq!(err(&b.out).1, 4);
    // An END with a body.
    let mut b = Bytes::new(Endian::Little);
    b.header().desc(0, 0, 8).fill(8, 0);
    assert_eq!(
        err(&b.out),
        (
            HvmErrorKind::BadLength {
                typ: HvmType::End,
                length: 8,
                rule: HvmType::End.rule().size
            },
            36,
            1
        )
    );
    // CPU_XSAVE below its minimum.
    let mut b = Bytes::new(Endian::Little);
    b.header().desc(16, 0, 24).fill(24, 0).desc(0, 0, 0);
    assert!(matches!(
        err(&b.out).0,
        HvmErrorKind::BadLength {
            typ: HvmType::CpuXsave,
            ..
        }
    ));
}

#[test]
fn invalid_msr_count() {
    let mut g = golden(Endian::Little);
    put32(&mut g, 1112, 3);
    assert_eq!(
        err(&g),
        (
            HvmErrorKind::MsrCount {
                count: 3,
                length: 40
            },
            1112,
            4
        )
    );
}

#[test]
fn invalid_trailing_data() {
    let mut g = golden(Endian::Little);
    g.extend_from_slice(&[0; 3]);
    assert_eq!(err(&g), (HvmErrorKind::TrailingData { extra: 3 }, 1160, 6));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No input makes the walker, parser or verifier panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256),
                                   big in any::<bool>()) {
        let endian = if big { Endian::Big } else { Endian::Little };
        let _ = hvm::parse(&bytes, endian);
        let _ = hvm::verify(&bytes, endian);
        let _ = hvm::header(&bytes, endian);
    }

    /// Damaged golden blobs never panic; when they still verify, every
    /// entry lies inside the blob.
    #[test]
    fn mutated_golden(at in 0usize..1160, value in any::<u8>(), cut in 0usize..1200) {
        let mut g = golden(Endian::Little);
        g[at] = value;
        g.truncate(cut);
        if let Ok(list) = hvm::verify(&g, Endian::Little) {
            for e in list {
                prop_assert!(e.body(&g).is_some());
            }
        }
    }
}

/// The writer gives the golden bytes, built by hand from the layout, in
/// both byte orders.
#[test]
fn write_gives_the_golden_blob() {
    for endian in [Endian::Little, Endian::Big] {
        let gold = golden(endian);
        let mut msrs = Bytes::new(endian);
        msrs.u32(2)
            .u32(0)
            .u32(0xc000_0080)
            .u32(0)
            .u64(0x500)
            .u32(0x10)
            .u32(0)
            .u64(42);
        let blob = hvm::write(
            &HvmHeader::new(0x60fb1, 2_000_000),
            &[
                (HvmType::Cpu, 0, &[0x11; 1032]),
                (HvmType::Pic, 0, &[0x22; 8]),
                (HvmType::Pic, 1, &[0x33; 8]),
                (HvmType::CpuMsr, 0, &msrs.out),
            ],
            endian,
        )
        .unwrap();
        assert_eq!(blob, gold, "{endian:?}");
        assert!(hvm::verify(&blob, endian).is_ok());
    }
}
