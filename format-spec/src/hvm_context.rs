//! The HVM_CONTEXT blob: what the libxc HVM_CONTEXT record (type 0x09)
//! carries, as produced by `XEN_DOMCTL_gethvmcontext`.
//!
//! Facts come from Xen's public headers (`public/hvm/save.h` and
//! `public/arch-x86/hvm/save.h`) and from a real stream written by Xen 4.17
//! (the ground truth where the two differ; see [`HVM_TYPE_RULES`]). Xen
//! itself names the structs `hvm_save_descriptor` and `hvm_save_header` and
//! the constants `HVM_FILE_MAGIC` and `HVM_FILE_VERSION`; the generated C
//! header gets its own names (`xc_sr_hvm_desc`, `XC_SR_HVM_FILE_MAGIC`, ...,
//! this project's invention) so that it can be included beside Xen's.
//!
//! # Layout
//!
//! A run of entries, each an 8-octet [`HvmDescriptor`] (type code,
//! instance, length) followed by `length` octets of body. Unlike the
//! DOMAIN_CONTEXT blob, `length` excludes the descriptor *and* there is no
//! padding: the next descriptor starts right after the body. The first
//! entry is HEADER ([`HvmHeader`], 24 octets), the last is END (length 0).
//! Per-vCPU types (CPU, LAPIC, ...) use the vCPU number as instance; the
//! two PICs are instances 0 and 1.
//!
//! Xen writes the blob in the byte order of the machine (little-endian on
//! x86); the functions here take the byte order as a parameter, which is
//! the stream's for any stream an x86 Xen writes.
//!
//! [`entries`] walks a blob without copying bodies; [`parse`] collects the
//! entries; [`verify`] checks every rule. None of them panics on any input.

use binrw::Endian;

use crate::blob::{blob_rules, BlobFormat, BlobRule, Broken, Check, Entry, EntryRule, Size, Walk};
use crate::layout::{SpecEnum, Wire};
use crate::stream::rules::Source;
use crate::{spec_consts, SpecEnum, Wire};

spec_consts! {
    /// Named constants of the HVM_CONTEXT blob.
    HVM_CONTEXT_CONSTANTS;

    /// HEADER magic (Xen's `HVM_FILE_MAGIC`).
    HVM_FILE_MAGIC: u32 = 0x5438_1286,
        c: Some("XC_SR_HVM_FILE_MAGIC"), c_expr: Some("0x54381286U"),
        py: Some("HVM_FILE_MAGIC"), py_expr: None;
    /// HEADER version (Xen's `HVM_FILE_VERSION`).
    HVM_FILE_VERSION: u32 = 1,
        c: Some("XC_SR_HVM_FILE_VERSION"), c_expr: None,
        py: Some("HVM_FILE_VERSION"), py_expr: None;
}

/// Entry type codes of the x86 HVM context (Xen's `HVM_SAVE_CODE(...)`).
/// Codes above 20 are not defined by the Xen that wrote the real streams
/// (21 onwards were proposed later; 22 to 34 are set aside for a vendor) and
/// are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, SpecEnum)]
#[spec(py_table = "hvm_type_to_str")]
pub enum HvmType {
    /// Ends the blob.
    #[spec(c = "XC_SR_HVM_TYPE_END", py = "HVM_TYPE_end", human = "END")]
    End = 0,
    /// Identifies the blob; first entry.
    #[spec(c = "XC_SR_HVM_TYPE_HEADER", py = "HVM_TYPE_header", human = "HEADER")]
    Header = 1,
    /// Registers of one vCPU (`struct hvm_hw_cpu`).
    #[spec(c = "XC_SR_HVM_TYPE_CPU", py = "HVM_TYPE_cpu", human = "CPU")]
    Cpu = 2,
    /// One of the two 8259 interrupt controllers (`struct hvm_hw_vpic`).
    #[spec(c = "XC_SR_HVM_TYPE_PIC", py = "HVM_TYPE_pic", human = "PIC")]
    Pic = 3,
    /// The IO-APIC (`struct hvm_hw_vioapic`, 48 pins).
    #[spec(c = "XC_SR_HVM_TYPE_IOAPIC", py = "HVM_TYPE_ioapic", human = "IOAPIC")]
    Ioapic = 4,
    /// Local APIC state of one vCPU (`struct hvm_hw_lapic`).
    #[spec(c = "XC_SR_HVM_TYPE_LAPIC", py = "HVM_TYPE_lapic", human = "LAPIC")]
    Lapic = 5,
    /// Local APIC register page of one vCPU (`struct hvm_hw_lapic_regs`).
    #[spec(
        c = "XC_SR_HVM_TYPE_LAPIC_REGS",
        py = "HVM_TYPE_lapic_regs",
        human = "LAPIC_REGS"
    )]
    LapicRegs = 6,
    /// PCI interrupt wires (`struct hvm_hw_pci_irqs`).
    #[spec(
        c = "XC_SR_HVM_TYPE_PCI_IRQ",
        py = "HVM_TYPE_pci_irq",
        human = "PCI_IRQ"
    )]
    PciIrq = 7,
    /// ISA interrupt wires (`struct hvm_hw_isa_irqs`).
    #[spec(
        c = "XC_SR_HVM_TYPE_ISA_IRQ",
        py = "HVM_TYPE_isa_irq",
        human = "ISA_IRQ"
    )]
    IsaIrq = 8,
    /// PCI-to-ISA interrupt routing (`struct hvm_hw_pci_link`).
    #[spec(
        c = "XC_SR_HVM_TYPE_PCI_LINK",
        py = "HVM_TYPE_pci_link",
        human = "PCI_LINK"
    )]
    PciLink = 9,
    /// The 8254 timer (`struct hvm_hw_pit`).
    #[spec(c = "XC_SR_HVM_TYPE_PIT", py = "HVM_TYPE_pit", human = "PIT")]
    Pit = 10,
    /// The CMOS real-time clock (`struct hvm_hw_rtc`).
    #[spec(c = "XC_SR_HVM_TYPE_RTC", py = "HVM_TYPE_rtc", human = "RTC")]
    Rtc = 11,
    /// The HPET (`struct hvm_hw_hpet`).
    #[spec(c = "XC_SR_HVM_TYPE_HPET", py = "HVM_TYPE_hpet", human = "HPET")]
    Hpet = 12,
    /// The ACPI PM timer (`struct hvm_hw_pmtimer`).
    #[spec(
        c = "XC_SR_HVM_TYPE_PMTIMER",
        py = "HVM_TYPE_pmtimer",
        human = "PMTIMER"
    )]
    Pmtimer = 13,
    /// MTRRs of one vCPU (`struct hvm_hw_mtrr`).
    #[spec(c = "XC_SR_HVM_TYPE_MTRR", py = "HVM_TYPE_mtrr", human = "MTRR")]
    Mtrr = 14,
    /// Viridian (Hyper-V emulation) domain state
    /// (`struct hvm_viridian_domain_context`).
    #[spec(
        c = "XC_SR_HVM_TYPE_VIRIDIAN_DOMAIN",
        py = "HVM_TYPE_viridian_domain",
        human = "VIRIDIAN_DOMAIN"
    )]
    ViridianDomain = 15,
    /// Extended (xsave) state of one vCPU (`struct hvm_hw_cpu_xsave`),
    /// variable length.
    #[spec(
        c = "XC_SR_HVM_TYPE_CPU_XSAVE",
        py = "HVM_TYPE_cpu_xsave",
        human = "CPU_XSAVE"
    )]
    CpuXsave = 16,
    /// Viridian state of one vCPU (`struct hvm_viridian_vcpu_context`).
    #[spec(
        c = "XC_SR_HVM_TYPE_VIRIDIAN_VCPU",
        py = "HVM_TYPE_viridian_vcpu",
        human = "VIRIDIAN_VCPU"
    )]
    ViridianVcpu = 17,
    /// Machine-check state of one vCPU (`struct hvm_vmce_vcpu`).
    #[spec(
        c = "XC_SR_HVM_TYPE_VMCE_VCPU",
        py = "HVM_TYPE_vmce_vcpu",
        human = "VMCE_VCPU"
    )]
    VmceVcpu = 18,
    /// TSC_ADJUST MSR of one vCPU (`struct hvm_tsc_adjust`).
    #[spec(
        c = "XC_SR_HVM_TYPE_TSC_ADJUST",
        py = "HVM_TYPE_tsc_adjust",
        human = "TSC_ADJUST"
    )]
    TscAdjust = 19,
    /// Further MSRs of one vCPU (`struct hvm_msr`), variable length.
    #[spec(
        c = "XC_SR_HVM_TYPE_CPU_MSR",
        py = "HVM_TYPE_cpu_msr",
        human = "CPU_MSR"
    )]
    CpuMsr = 20,
}

/// The 8-octet descriptor in front of every entry (Xen's
/// `struct hvm_save_descriptor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_hvm_desc", py_format = "HVM_DESC_FORMAT")]
pub struct HvmDescriptor {
    /// The entry type ([`HvmType`]).
    #[wire(values = HvmType)]
    pub typecode: u16,
    /// Which instance: the vCPU number for per-vCPU types, else 0 (1 for
    /// the second PIC).
    pub instance: u16,
    /// Octets of body after the descriptor (no padding follows).
    pub length: u32,
}

/// Body of the HEADER entry (Xen's `struct hvm_save_header`), 24 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_hvm_header", py_format = "HVM_HEADER_FORMAT")]
pub struct HvmHeader {
    /// [`HVM_FILE_MAGIC`].
    #[wire(equals = HVM_FILE_MAGIC)]
    pub magic: u32,
    /// [`HVM_FILE_VERSION`].
    #[wire(equals = HVM_FILE_VERSION)]
    pub version: u32,
    /// Changeset of the Xen that saved the blob (Xen 4.17 writes all ones).
    pub changeset: u64,
    /// CPUID leaf 1 EAX of the saving host.
    pub cpuid: u32,
    /// The guest's TSC frequency in kHz.
    pub gtsc_khz: u32,
}

/// The body length an entry type must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HvmSize {
    /// A fixed size: `size` as written by Xen 4.17, or one of the `older`
    /// sizes that earlier Xen versions wrote. For the types with older
    /// sizes Xen's loader zero-extends a short body (it would take any
    /// shorter length); the verifier is stricter and takes only the sizes
    /// a Xen release actually wrote.
    Fixed {
        /// The current size.
        size: usize,
        /// Earlier sizes still accepted.
        older: &'static [usize],
    },
    /// Any size of at least this many octets.
    AtLeast(usize),
    /// A list of MSRs: a 32-bit `count` at offset 0, padding to `fixed`
    /// octets, then exactly `count` elements of `element` octets.
    MsrList {
        /// Octets before the first element.
        fixed: usize,
        /// Octets per element.
        element: usize,
    },
}

impl HvmSize {
    /// The smallest body the rule allows.
    pub fn min(&self) -> usize {
        match *self {
            HvmSize::Fixed { size, older } => older.iter().copied().fold(size, usize::min),
            HvmSize::AtLeast(n) => n,
            HvmSize::MsrList { fixed, .. } => fixed,
        }
    }
}

/// The body length rule of one entry type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HvmTypeRule {
    /// The type.
    pub typ: HvmType,
    /// Its body length rule.
    pub size: HvmSize,
    /// Where the sizes come from.
    pub note: &'static str,
}

const fn fixed(size: usize) -> HvmSize {
    HvmSize::Fixed { size, older: &[] }
}

/// The body length of every type, in code order: the one table the parser,
/// the verifier and the generators read.
///
/// Sizes are those of Xen 4.17's `save.h`, checked against a blob written
/// by Xen 4.17.7 (`hvm-1vcpu-128M.xl`), which holds HEADER, CPU, two PICs,
/// IOAPIC, LAPIC, LAPIC_REGS, PCI_IRQ, ISA_IRQ, PCI_LINK, PIT, RTC, HPET,
/// PMTIMER, MTRR, VMCE_VCPU, TSC_ADJUST and END. Where an older `save.h`
/// differs, the real stream wins: RTC is 24 octets in the real stream (8
/// more octets follow the 16 of the older header), and Xen loads RTC with
/// an exact-size check, so 16 is not accepted.
pub const HVM_TYPE_RULES: &[HvmTypeRule] = &[
    HvmTypeRule {
        typ: HvmType::End,
        size: fixed(0),
        note: "empty",
    },
    HvmTypeRule {
        typ: HvmType::Header,
        size: fixed(HvmHeader::LAYOUT.size),
        note: "HvmHeader",
    },
    HvmTypeRule {
        typ: HvmType::Cpu,
        size: HvmSize::Fixed {
            size: 1032,
            older: &[1024, 1016],
        },
        note: "1032 since Xen 4.7 (flags, pad0); 1024 before; 1016 before 3.4 (no msr_tsc_aux)",
    },
    HvmTypeRule {
        typ: HvmType::Pic,
        size: fixed(8),
        note: "",
    },
    HvmTypeRule {
        typ: HvmType::Ioapic,
        size: fixed(400),
        note: "16-octet header and 48 eight-octet redirection entries",
    },
    HvmTypeRule {
        typ: HvmType::Lapic,
        size: HvmSize::Fixed {
            size: 24,
            older: &[16],
        },
        note: "24 with tdt_msr; 16 before it was added",
    },
    HvmTypeRule {
        typ: HvmType::LapicRegs,
        size: fixed(1024),
        note: "",
    },
    HvmTypeRule {
        typ: HvmType::PciIrq,
        size: fixed(16),
        note: "",
    },
    HvmTypeRule {
        typ: HvmType::IsaIrq,
        size: fixed(8),
        note: "",
    },
    HvmTypeRule {
        typ: HvmType::PciLink,
        size: fixed(8),
        note: "",
    },
    HvmTypeRule {
        typ: HvmType::Pit,
        size: fixed(56),
        note: "three 16-octet channels and 8 octets",
    },
    HvmTypeRule {
        typ: HvmType::Rtc,
        size: fixed(24),
        note: "24 in the Xen 4.17 stream, whose loader wants exactly that; 16 in older save.h",
    },
    HvmTypeRule {
        typ: HvmType::Hpet,
        size: fixed(1048),
        note: "",
    },
    HvmTypeRule {
        typ: HvmType::Pmtimer,
        size: fixed(8),
        note: "",
    },
    HvmTypeRule {
        typ: HvmType::Mtrr,
        size: fixed(240),
        note: "",
    },
    HvmTypeRule {
        typ: HvmType::ViridianDomain,
        size: HvmSize::Fixed {
            size: 32,
            older: &[16],
        },
        note: "32 with time_ref_count and reference_tsc; 16 before",
    },
    HvmTypeRule {
        typ: HvmType::CpuXsave,
        size: HvmSize::AtLeast(600),
        note: "24 octets of masks, then an xsave area of at least 576 octets",
    },
    HvmTypeRule {
        typ: HvmType::ViridianVcpu,
        size: HvmSize::Fixed {
            size: 216,
            older: &[16, 8],
        },
        note: "216 with the SynIC and timer MSRs; 16 and 8 in older Xen",
    },
    HvmTypeRule {
        typ: HvmType::VmceVcpu,
        size: HvmSize::Fixed {
            size: 32,
            older: &[24],
        },
        note: "32 with mcg_ext_ctl; 24 before",
    },
    HvmTypeRule {
        typ: HvmType::TscAdjust,
        size: fixed(8),
        note: "",
    },
    HvmTypeRule {
        typ: HvmType::CpuMsr,
        size: HvmSize::MsrList {
            fixed: 8,
            element: 16,
        },
        note: "count, 4 octets of alignment, then {index, _rsvd, val} per MSR",
    },
];

// The table has one row per type, in code order, so that a type's code is
// its row index: checked when the crate compiles.
const _: () = {
    assert!(HVM_TYPE_RULES.len() == HvmType::LAYOUT.variants.len());
    let mut i = 0;
    while i < HVM_TYPE_RULES.len() {
        assert!(HVM_TYPE_RULES[i].typ as usize == i);
        i += 1;
    }
};

impl HvmType {
    /// The body length rule of the type (from [`HVM_TYPE_RULES`]).
    pub fn rule(self) -> &'static HvmTypeRule {
        &HVM_TYPE_RULES[self as usize]
    }
}

impl HvmSize {
    /// The rule in the form [`crate::blob`] interprets: an MSR list is a
    /// body counted by the 32-bit `count` at its offset 0.
    pub const fn generic(self) -> Size {
        match self {
            HvmSize::Fixed { size, older } => Size::Fixed { size, older },
            HvmSize::AtLeast(n) => Size::AtLeast(n),
            HvmSize::MsrList { fixed, element } => Size::Counted {
                fixed,
                count_at: 0,
                element,
            },
        }
    }
}

/// [`HVM_TYPE_RULES`] as [`crate::blob`] entry types (HEADER's body is
/// [`HvmHeader`]; no type is limited to one entry).
const fn entry_rules() -> [EntryRule; HVM_TYPE_RULES.len()] {
    let mut out = [EntryRule {
        typecode: 0,
        body: None,
        size: Size::exact(0),
        at_most_once: false,
    }; HVM_TYPE_RULES.len()];
    let mut i = 0;
    while i < HVM_TYPE_RULES.len() {
        let r = &HVM_TYPE_RULES[i];
        out[i] = EntryRule {
            typecode: r.typ as u16,
            body: if matches!(r.typ, HvmType::Header) {
                Some(&HvmHeader::LAYOUT)
            } else {
                None
            },
            size: r.size.generic(),
            at_most_once: false,
        };
        i += 1;
    }
    out
}

const ENTRY_RULES: [EntryRule; HVM_TYPE_RULES.len()] = entry_rules();

/// The entry types of the blob, from [`HVM_TYPE_RULES`].
pub const HVM_ENTRIES: &[EntryRule] = &ENTRY_RULES;

/// The entry type of a code [`Check::KnownType`] has checked.
fn hvm_type(code: u16) -> HvmType {
    HvmType::from_value(u64::from(code)).unwrap_or(HvmType::End)
}

/// Where the blob format comes from.
const SAVE_H: Source = Source::Definition {
    document: "HVM_CONTEXT blob (XEN_DOMCTL_gethvmcontext; Xen's public/hvm/save.h and public/arch-x86/hvm/save.h)",
    statement: "a run of entries, each a struct hvm_save_descriptor (typecode, instance, length of body) and the type's struct, HEADER first and END last",
};

/// The rules of the blob, in the order they are checked: the framing of
/// [`entries`] ([`Modes::Both`](crate::stream::ErrorModes::Both)), then those of [`verify`].
#[rustfmt::skip]
pub const HVM_RULES: &[BlobRule<HvmErrorKind>] = blob_rules! { HvmErrorKind; common StrictOnly, SAVE_H;
    Check::BodySize, StrictOnly,
        "each body length is one its type's rule allows (HVM_TYPE_RULES; END has length 0)", SAVE_H,
        |f| HvmErrorKind::BadLength { typ: hvm_type(f.typecode), length: f.length, rule: hvm_type(f.typecode).rule().size };
    header HvmType::Header as u16, &HvmHeader::LAYOUT, StrictOnly, SAVE_H;
    Check::CountMatches, StrictOnly,
        "a CPU_MSR body is 8 octets and its count of 16-octet MSRs", SAVE_H,
        |f| HvmErrorKind::MsrCount { count: f.value as u32, length: f.length };
    Check::NothingAfterEnd, StrictOnly, "nothing follows END", SAVE_H,
        |f| HvmErrorKind::TrailingData { extra: f.value as usize };
};

/// The HVM_CONTEXT blob format, which [`entries`] and [`verify`] interpret
/// (through [`crate::blob`]) and the generated Python (`hvm_context.py`)
/// reads.
pub const HVM_FORMAT: BlobFormat<HvmErrorKind> = BlobFormat::new(
    &HvmDescriptor::LAYOUT,
    HvmType::Header as u16,
    HvmType::End as u16,
    None,
    HVM_ENTRIES,
    HVM_RULES,
);

/// Size of the descriptor (8).
const DESC: usize = HvmDescriptor::LAYOUT.size;

/// One entry of an HVM context blob; the body stays in the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HvmEntry {
    /// Index of the entry (0 for the first).
    pub index: usize,
    /// Offset of the descriptor in the blob.
    pub offset: usize,
    /// The raw type code.
    pub typecode: u16,
    /// The type, if the code is known.
    pub typ: Option<HvmType>,
    /// The instance.
    pub instance: u16,
    /// Body length.
    pub length: u32,
}

impl HvmEntry {
    /// Offset of the body in the blob.
    pub fn body_offset(&self) -> usize {
        self.offset + DESC
    }

    /// The body, borrowed from the blob the entry was parsed from (`None`
    /// if `blob` is not that blob and is too short).
    pub fn body<'a>(&self, blob: &'a [u8]) -> Option<&'a [u8]> {
        let start = self.body_offset();
        blob.get(start..start.checked_add(self.length as usize)?)
    }
}

/// What is wrong with an HVM context blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HvmErrorKind {
    /// Fewer than 8 octets remain where a descriptor should start.
    #[error("only {available} octets remain where an 8-octet descriptor should start")]
    TruncatedDescriptor {
        /// Octets left.
        available: usize,
    },
    /// The body runs past the end of the blob.
    #[error(
        "length {length} runs past the end of the blob ({available} octets follow the descriptor)"
    )]
    Overrun {
        /// The descriptor's length.
        length: u32,
        /// Octets after the descriptor.
        available: usize,
    },
    /// The blob ends without END.
    #[error("the blob ends without an END entry")]
    MissingEnd,
    /// The first entry is not HEADER.
    #[error("the first entry has type code {typecode}, not HEADER")]
    HeaderNotFirst {
        /// Its type code.
        typecode: u16,
    },
    /// HEADER appears again later.
    #[error("a second HEADER")]
    DuplicateHeader,
    /// Wrong HEADER magic.
    #[error("HEADER magic is 0x{found:08x}, expected 0x{HVM_FILE_MAGIC:08x}")]
    BadMagic {
        /// The magic found.
        found: u32,
    },
    /// Wrong HEADER version.
    #[error("HEADER version is {found}, expected {HVM_FILE_VERSION}")]
    BadVersion {
        /// The version found.
        found: u32,
    },
    /// A type code Xen does not define.
    #[error("unknown type code {typecode}")]
    UnknownType {
        /// The type code.
        typecode: u16,
    },
    /// A body whose length breaks its type's rule.
    #[error("{typ:?} entry has length {length}, expected {rule:?}")]
    BadLength {
        /// The type.
        typ: HvmType,
        /// The length found.
        length: u32,
        /// The rule.
        rule: HvmSize,
    },
    /// A CPU_MSR count that does not match the length.
    #[error("CPU_MSR count {count} does not match length {length}")]
    MsrCount {
        /// The count.
        count: u32,
        /// The body length.
        length: u32,
    },
    /// Octets follow END.
    #[error("{extra} octets follow the END entry")]
    TrailingData {
        /// How many.
        extra: usize,
    },
}

/// An HVM context blob that breaks a rule: what, in which entry, where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("HVM context entry {entry}, offset {offset}: {kind}")]
pub struct HvmError {
    /// Offset in the blob of the offending descriptor or field.
    pub offset: usize,
    /// Index of the entry (for errors after the last entry, the index the
    /// next one would have).
    pub entry: usize,
    /// What is wrong.
    pub kind: HvmErrorKind,
}

impl From<Broken<HvmErrorKind>> for HvmError {
    fn from(b: Broken<HvmErrorKind>) -> Self {
        HvmError {
            offset: b.offset,
            entry: b.entry,
            kind: b.kind,
        }
    }
}

/// Walks a blob; made by [`entries`].
#[derive(Debug, Clone)]
pub struct HvmEntries<'a> {
    walk: Walk<'a, HvmErrorKind>,
}

/// Walks the entries of `blob` (byte order `endian`) without copying any
/// body, checking only the framing (the rules of [`HVM_RULES`] in
/// [`Modes::Both`](crate::stream::ErrorModes::Both)): each descriptor and body lies within the blob. Stops
/// after END; a blob that ends without END gives
/// [`HvmErrorKind::MissingEnd`]. Type codes, sizes and the header are left
/// to [`verify`].
pub fn entries(blob: &[u8], endian: Endian) -> HvmEntries<'_> {
    HvmEntries {
        walk: HVM_FORMAT.walk(blob, endian),
    }
}

impl HvmEntries<'_> {
    /// Offset where the next entry would start.
    pub fn position(&self) -> usize {
        self.walk.position()
    }
}

impl Iterator for HvmEntries<'_> {
    type Item = Result<HvmEntry, HvmError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.walk.next()? {
            Ok(e) => Ok(HvmEntry {
                index: e.index,
                offset: e.offset,
                typecode: e.typecode,
                typ: HvmType::from_value(u64::from(e.typecode)),
                instance: e.instance,
                length: e.length,
            }),
            Err(b) => Err(b.into()),
        })
    }
}

/// Collects the entries of a blob (framing only, see [`entries`]),
/// requiring END. Octets after END are ignored. At most `blob.len() / 8`
/// entries.
pub fn parse(blob: &[u8], endian: Endian) -> Result<Vec<HvmEntry>, HvmError> {
    entries(blob, endian).collect()
}

/// Checks every rule (those of [`HVM_RULES`]) and returns the entries:
/// * framing (see [`entries`]) and an END entry;
/// * HEADER first and only there, 24 octets, with [`HVM_FILE_MAGIC`] and
///   [`HVM_FILE_VERSION`];
/// * every type code known ([`HvmType`]);
/// * every body length allowed by its type's rule ([`HVM_TYPE_RULES`]),
///   END with length 0, and a CPU_MSR length that matches its count;
/// * nothing after END.
pub fn verify(blob: &[u8], endian: Endian) -> Result<Vec<HvmEntry>, HvmError> {
    let list = parse(blob, endian)?;
    let walked: Vec<Entry> = list
        .iter()
        .map(|e| Entry {
            index: e.index,
            offset: e.offset,
            typecode: e.typecode,
            instance: e.instance,
            length: e.length,
        })
        .collect();
    HVM_FORMAT.check(blob, endian, &walked)?;
    Ok(list)
}

/// Reads the HEADER of a blob that passed [`verify`] (or any blob whose
/// first entry is a 24-octet HEADER).
pub fn header(blob: &[u8], endian: Endian) -> Option<HvmHeader> {
    let first = entries(blob, endian).next()?.ok()?;
    if first.typ != Some(HvmType::Header) {
        return None;
    }
    crate::body::read_wire(first.body(blob)?, endian).ok()
}

impl HvmHeader {
    /// A HEADER with [`HVM_FILE_MAGIC`], [`HVM_FILE_VERSION`] and the
    /// changeset Xen 4.17 writes (all ones).
    pub fn new(cpuid: u32, gtsc_khz: u32) -> Self {
        HvmHeader {
            magic: HVM_FILE_MAGIC,
            version: HVM_FILE_VERSION,
            changeset: u64::MAX,
            cpuid,
            gtsc_khz,
        }
    }
}

/// An HVM context blob could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HvmWriteError {
    /// A body would not fit the 32-bit length of its descriptor.
    #[error("a {len}-octet body does not fit a 32-bit length")]
    TooLong {
        /// Its length.
        len: usize,
    },
}

/// Appends one entry (descriptor and body, no padding) to `out` in byte
/// order `endian`. Nothing is checked but the length: the caller may write
/// any type code, which is how tests build broken blobs.
pub fn push_entry(
    out: &mut Vec<u8>,
    endian: Endian,
    typecode: u16,
    instance: u16,
    body: &[u8],
) -> Result<(), HvmWriteError> {
    let length =
        u32::try_from(body.len()).map_err(|_| HvmWriteError::TooLong { len: body.len() })?;
    let desc = HvmDescriptor {
        typecode,
        instance,
        length,
    };
    // Writing a fixed-size struct into a Vec cannot fail.
    let _ = crate::body::write_wire(&desc, out, endian);
    out.extend_from_slice(body);
    Ok(())
}

/// A whole blob in byte order `endian`: HEADER (`header`), then `entries`
/// (type, instance, body) in the order given, then END. The bodies are
/// written as given; [`verify`] tells whether their sizes suit their types.
pub fn write(
    header: &HvmHeader,
    entries: &[(HvmType, u16, &[u8])],
    endian: Endian,
) -> Result<Vec<u8>, HvmWriteError> {
    let mut out = Vec::new();
    let mut hdr = Vec::with_capacity(HvmHeader::LAYOUT.size);
    let _ = crate::body::write_wire(header, &mut hdr, endian);
    push_entry(&mut out, endian, HvmType::Header as u16, 0, &hdr)?;
    for (typ, instance, body) in entries {
        push_entry(&mut out, endian, *typ as u16, *instance, body)?;
    }
    push_entry(&mut out, endian, HvmType::End as u16, 0, &[])?;
    Ok(out)
}

/// Every wire struct of the blob (for generators and tests).
pub const HVM_CONTEXT_STRUCTS: &[&crate::layout::StructLayout] =
    &[&HvmDescriptor::LAYOUT, &HvmHeader::LAYOUT];
