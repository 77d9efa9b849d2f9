//! Shared test vectors: valid and invalid libxc streams, each with the
//! verdict a strict verifier must reach (the rules listed in
//! `format_spec::stream`, "The verifier rules", and the error catalogue
//! `generated/docs/verifier-errors.md`).
//!
//! Valid streams are built from the description's own types (headers with
//! binrw, bodies with [`LibxcRecord::write_body`]); invalid ones come from a
//! small mutator working on the record list or on the bytes. Every verifier
//! of the project (the generated Python, the Rust verifier, the C program)
//! is meant to run [`vectors`] and agree with `expect`.
//!
//! The framing here ([`Stream::to_bytes`]) is deliberately minimal and lives
//! in one place. It is not `format_spec::stream::StreamWriter`, on purpose:
//! that writer refuses whatever the strict verifier refuses, and most
//! vectors are streams it must refuse.

use format_spec::binrw::Endian;
use format_spec::body::{write_wire, Opaque};
use format_spec::hvm_context::{self as hvm, HvmHeader, HvmSize, HvmType, HVM_FILE_VERSION};
use format_spec::layout::{SpecEnum, Wire};
use format_spec::libxc::{
    DomainHeader, DomainType, HvmParams, HvmParamsEntry, ImageHeader, LibxcRecord, PageData,
    PageDataHeader, PageType, PfnEntry, RecordHeader, X86CpuidPolicy, X86MsrPolicy, X86PvInfo,
    X86PvP2mFrames, X86PvVcpu, X86TscInfo, XenCpuidLeaf, XenMsrEntry, PAGE_DATA_TYPE_SHIFT,
    PAGE_SHIFT, PAGE_SIZE, REC_ALIGN, REC_LENGTH_MAX,
};

/// One test stream and what a strict verifier must say about it.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Unique, file-name-safe name (`v3-pv-le`, `drop-sde-v3-pv-le`, ...).
    pub name: String,
    /// The whole bare libxc stream.
    pub bytes: Vec<u8>,
    /// `None`: the stream is valid. `Some(KIND)`: the first error's KIND.
    pub expect: Option<&'static str>,
    /// For rejected streams, the exception class the generated Python
    /// raises (`StreamError`, `RecordError`, or `TruncatedError` for truncation).
    pub python_class: Option<&'static str>,
    /// For blob errors (`DomainContext`, `HvmContext`), the blob rule both
    /// verifiers must name (the Rust error source's kind, the Python
    /// exception's `detail`); `None` when not checked.
    pub detail: Option<&'static str>,
}

/// A record before framing. `length` and `padding` override what the
/// framing would write, to build broken streams.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// Record type.
    pub code: u32,
    /// Body octets.
    pub body: Vec<u8>,
    /// Length field to write instead of the body's length.
    pub length: Option<u32>,
    /// Padding to write instead of zeros up to [`REC_ALIGN`].
    pub padding: Option<Vec<u8>>,
}

impl RawRecord {
    /// A record with a described body.
    pub fn new(rec: &LibxcRecord, endian: Endian) -> RawRecord {
        let mut body = Vec::new();
        rec.write_body(&mut body, endian)
            .expect("vector bodies are writable");
        RawRecord::raw(rec.code(), body)
    }

    /// A record with arbitrary body octets.
    pub fn raw(code: u32, body: Vec<u8>) -> RawRecord {
        RawRecord {
            code,
            body,
            length: None,
            padding: None,
        }
    }
}

/// A stream before framing.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Byte order of everything after the image header.
    pub endian: Endian,
    /// Image header (always written big-endian).
    pub ihdr: ImageHeader,
    /// Domain header.
    pub dhdr: DomainHeader,
    /// The records, END included.
    pub records: Vec<RawRecord>,
    /// Octets after the last record.
    pub trailer: Vec<u8>,
}

impl Stream {
    /// The stream's octets and the offset of each record.
    pub fn to_bytes_with_offsets(&self) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        write_wire(&self.ihdr, &mut out, Endian::Big).expect("image header");
        write_wire(&self.dhdr, &mut out, self.endian).expect("domain header");
        let mut offsets = Vec::new();
        for r in &self.records {
            offsets.push(out.len());
            let length = r.length.unwrap_or(r.body.len() as u32);
            let rh = RecordHeader {
                r#type: r.code,
                length,
            };
            write_wire(&rh, &mut out, self.endian).expect("record header");
            out.extend_from_slice(&r.body);
            match &r.padding {
                Some(p) => out.extend_from_slice(p),
                None => {
                    let align = REC_ALIGN as usize;
                    out.resize(out.len().next_multiple_of(align), 0);
                }
            }
        }
        out.extend_from_slice(&self.trailer);
        (out, offsets)
    }

    /// The stream's octets.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_with_offsets().0
    }

    /// Index of the first record of type `code`.
    pub fn find(&self, code: u32) -> usize {
        self.records
            .iter()
            .position(|r| r.code == code)
            .unwrap_or_else(|| panic!("no record 0x{code:x} in the base stream"))
    }

    /// Index of the last record of type `code`.
    pub fn find_last(&self, code: u32) -> usize {
        self.records
            .iter()
            .rposition(|r| r.code == code)
            .unwrap_or_else(|| panic!("no record 0x{code:x} in the base stream"))
    }

    /// Removes every record of type `code`.
    pub fn remove(&mut self, code: u32) {
        self.find(code);
        self.records.retain(|r| r.code != code);
    }

    /// Inserts `rec` before the first record of type `before`.
    pub fn insert_before(&mut self, before: u32, rec: RawRecord) {
        let i = self.find(before);
        self.records.insert(i, rec);
    }

    /// Moves the first record of type `code` to just before the first
    /// record of type `before`.
    pub fn move_before(&mut self, code: u32, before: u32) {
        let rec = self.records.remove(self.find(code));
        self.insert_before(before, rec);
    }

    /// Moves the first record of type `code` to just after the first
    /// record of type `after`.
    pub fn move_after(&mut self, code: u32, after: u32) {
        let rec = self.records.remove(self.find(code));
        let i = self.find(after);
        self.records.insert(i + 1, rec);
    }

    /// The first record of type `code`.
    pub fn get_mut(&mut self, code: u32) -> &mut RawRecord {
        let i = self.find(code);
        &mut self.records[i]
    }

    /// Replaces the body of the first record of type `code` by `rec`'s.
    pub fn replace(&mut self, rec: &LibxcRecord) {
        let endian = self.endian;
        *self.get_mut(rec.code()) = RawRecord::new(rec, endian);
    }
}

/// Guest type of a base stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guest {
    /// x86 PV.
    Pv,
    /// x86 HVM.
    Hvm,
}

fn endian_name(e: Endian) -> &'static str {
    match e {
        Endian::Big => "be",
        Endian::Little => "le",
    }
}

fn guest_name(g: Guest) -> &'static str {
    match g {
        Guest::Pv => "pv",
        Guest::Hvm => "hvm",
    }
}

/// A pfn entry of `ty` for frame `pfn` (not masked: a vector may set
/// reserved bits through it).
pub fn pfn_entry(ty: PageType, pfn: u64) -> u64 {
    PfnEntry::new(0, ty).0 | pfn
}

/// The pfn of the PV vectors' start-info page (vCPU 0's `rdx`).
const PV_START_INFO_PFN: u64 = 0;
/// The pfn of the PV vectors' top-level page table (vCPU 0's CR3).
const PV_CR3_PFN: u64 = 3;
/// Offset of `ctrlreg[3]` in Xen's `vcpu_guest_context_x86_64_t` (public
/// `arch-x86/xen.h`, measured with the kit's headers); `user_regs.rdx`,
/// the start-info pfn, is at 616, `gdt_ents` at 4960, all left zero.
const VCPU64_CR3_OFFSET: usize = 5008;

/// A page-table page whose present entries name pfns 0 to 3 (within the
/// PV vectors' P2M): Xen's restore rewrites each to a machine frame.
fn page_table_page(pfn: u64) -> Vec<u8> {
    let mut page = vec![0u8; PAGE_SIZE];
    for i in 0..4u64 {
        let pte = (((pfn + i) % 4) << PAGE_SHIFT) | 0x67;
        page[8 * i as usize..8 * i as usize + 8].copy_from_slice(&pte.to_le_bytes());
    }
    page
}

/// A PV guest's vCPU 0 basic state as Xen's restore takes it: a 64-bit
/// `vcpu_guest_context` whose CR3 names the L4 table at [`PV_CR3_PFN`],
/// the rest zero (start info at pfn 0, no GDT frames).
fn vcpu_basic(res: u32) -> X86PvVcpu {
    let size = format_spec::libxc::pv_vcpu_basic_size(8).expect("a 64-bit vCPU context size");
    let mut context = vec![0u8; size];
    context[VCPU64_CR3_OFFSET..VCPU64_CR3_OFFSET + 8]
        .copy_from_slice(&(PV_CR3_PFN << PAGE_SHIFT).to_le_bytes());
    X86PvVcpu {
        vcpu_id: 0,
        _res1: res,
        context,
    }
}

/// A PAGE_DATA record for `entries`, each page with data filled with a
/// pattern derived from its frame number.
pub fn page_data(entries: &[u64]) -> LibxcRecord {
    let mut pages = Vec::new();
    for e in entries {
        match PageType::of_entry(*e) {
            Some(t) if t.is_page_table() => pages.extend(page_table_page(PfnEntry(*e).pfn())),
            Some(t) if t.has_data() => {
                let pfn = PfnEntry(*e).pfn();
                if pfn == PV_START_INFO_PFN {
                    // A PV guest's start-info page: the xenstore and console
                    // frames it names (pfn 0) lie within the P2M.
                    pages.extend(std::iter::repeat_n(0u8, PAGE_SIZE));
                } else {
                    pages.extend((0..PAGE_SIZE).map(|i| (pfn as usize * 31 + i) as u8));
                }
            }
            _ => {}
        }
    }
    LibxcRecord::PageData(PageData {
        header: PageDataHeader {
            count: entries.len() as u32,
            _res1: 0,
            pfn: entries.to_vec(),
        },
        pages,
    })
}

/// A DOMAIN_CONTEXT blob: a HEADER entry then END (domain-context.md).
fn domain_context_blob(endian: Endian) -> Vec<u8> {
    let u16b = |v: u16| match endian {
        Endian::Big => v.to_be_bytes(),
        Endian::Little => v.to_le_bytes(),
    };
    let u32b = |v: u32| match endian {
        Endian::Big => v.to_be_bytes(),
        Endian::Little => v.to_le_bytes(),
    };
    let mut b = Vec::new();
    // HEADER descriptor: typecode 1, instance 0, 16 octets (12 + padding).
    b.extend(u16b(1));
    b.extend(u16b(0));
    b.extend(u32b(16));
    b.extend(u32b(0x5341_5645)); // "SAVE"
    b.extend(u16b(4));
    b.extend(u16b(17));
    b.extend(u32b(1));
    b.extend([0; 4]);
    // END descriptor.
    b.extend(u16b(0));
    b.extend(u16b(0));
    b.extend(u32b(0));
    b
}

/// The entries of the HVM context blob the HVM vectors carry, HEADER first
/// and END last, as (type code, instance, body): one vCPU's state and the
/// platform devices, the types and order of the blob Xen 4.17 wrote in the
/// real save file, with the body sizes of the description's size table
/// (`HVM_TYPE_RULES`) and a CPU_MSR entry holding one MSR.
pub fn hvm_context_entries(endian: Endian) -> Vec<(u16, u16, Vec<u8>)> {
    let mut header = Vec::new();
    write_wire(&HvmHeader::new(0x0006_0fb1, 2_000_000), &mut header, endian).expect("HVM header");
    let mut v = vec![(HvmType::Header as u16, 0, header)];
    let fixed = |t: HvmType| match t.rule().size {
        HvmSize::Fixed { size, .. } => size,
        other => panic!("{t:?} has no fixed size: {other:?}"),
    };
    let devices = [
        (HvmType::Cpu, 0),
        (HvmType::Pic, 0),
        (HvmType::Pic, 1),
        (HvmType::Ioapic, 0),
        (HvmType::Lapic, 0),
        (HvmType::LapicRegs, 0),
        (HvmType::PciIrq, 0),
        (HvmType::IsaIrq, 0),
        (HvmType::PciLink, 0),
        (HvmType::Pit, 0),
        (HvmType::Rtc, 0),
        (HvmType::Hpet, 0),
        (HvmType::Pmtimer, 0),
        (HvmType::Mtrr, 0),
        (HvmType::VmceVcpu, 0),
        (HvmType::TscAdjust, 0),
    ];
    for (i, (t, instance)) in devices.into_iter().enumerate() {
        v.push((t as u16, instance, vec![i as u8 + 1; fixed(t)]));
    }
    // CPU_MSR: count 1, 4 octets of alignment, then {index, _rsvd, val}.
    let u32b = |x: u32| match endian {
        Endian::Big => x.to_be_bytes(),
        Endian::Little => x.to_le_bytes(),
    };
    let mut msr = Vec::new();
    msr.extend(u32b(1));
    msr.extend(u32b(0));
    msr.extend(u32b(0xc000_0103));
    msr.extend(u32b(0));
    msr.extend(match endian {
        Endian::Big => 7u64.to_be_bytes(),
        Endian::Little => 7u64.to_le_bytes(),
    });
    v.push((HvmType::CpuMsr as u16, 0, msr));
    v.push((HvmType::End as u16, 0, Vec::new()));
    v
}

/// Assembles HVM context entries into a blob (descriptors and bodies).
pub fn hvm_context_assemble(entries: &[(u16, u16, Vec<u8>)], endian: Endian) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, instance, body) in entries {
        hvm::push_entry(&mut out, endian, *t, *instance, body).expect("small body");
    }
    out
}

/// A valid HVM context blob ([`hvm_context_entries`]).
pub fn hvm_context_blob(endian: Endian) -> Vec<u8> {
    hvm_context_assemble(&hvm_context_entries(endian), endian)
}

/// Sets the 32-bit field at `offset` of `body`.
fn put_u32(body: &mut [u8], offset: usize, value: u32, endian: Endian) {
    body[offset..offset + 4].copy_from_slice(&match endian {
        Endian::Big => value.to_be_bytes(),
        Endian::Little => value.to_le_bytes(),
    });
}

/// A broken HVM context blob: its name, the blob rule it breaks
/// (`HvmErrorKind` variant) and how to build it in a byte order.
pub type HvmBlobMutation = (&'static str, &'static str, fn(Endian) -> Vec<u8>);

/// One broken blob per rule of `hvm_context::entries` and `verify`.
pub const HVM_BLOB_MUTATIONS: &[HvmBlobMutation] = &[
    (
        "hvm-blob-truncated-descriptor",
        "TruncatedDescriptor",
        |e| {
            let mut l = hvm_context_entries(e);
            l.pop();
            let mut b = hvm_context_assemble(&l, e);
            b.extend([0; 4]);
            b
        },
    ),
    ("hvm-blob-overrun", "Overrun", |e| {
        let mut l = hvm_context_entries(e);
        l.pop();
        l.push((HvmType::End as u16, 0, vec![0; 16]));
        let mut b = hvm_context_assemble(&l, e);
        b.truncate(b.len() - 16);
        b
    }),
    ("hvm-blob-missing-end", "MissingEnd", |e| {
        let mut l = hvm_context_entries(e);
        l.pop();
        hvm_context_assemble(&l, e)
    }),
    ("hvm-blob-header-not-first", "HeaderNotFirst", |e| {
        let mut l = hvm_context_entries(e);
        l.swap(0, 1);
        hvm_context_assemble(&l, e)
    }),
    ("hvm-blob-duplicate-header", "DuplicateHeader", |e| {
        let mut l = hvm_context_entries(e);
        let h = l[0].clone();
        l.insert(2, h);
        hvm_context_assemble(&l, e)
    }),
    ("hvm-blob-bad-magic", "BadMagic", |e| {
        let mut l = hvm_context_entries(e);
        let off = HvmHeader::LAYOUT.field("magic").expect("magic").offset;
        put_u32(&mut l[0].2, off, 0xdead_beef, e);
        hvm_context_assemble(&l, e)
    }),
    ("hvm-blob-bad-version", "BadVersion", |e| {
        let mut l = hvm_context_entries(e);
        let off = HvmHeader::LAYOUT.field("version").expect("version").offset;
        put_u32(&mut l[0].2, off, HVM_FILE_VERSION + 1, e);
        hvm_context_assemble(&l, e)
    }),
    ("hvm-blob-unknown-type", "UnknownType", |e| {
        let mut l = hvm_context_entries(e);
        let unknown = HvmType::LAYOUT.variants.len() as u16;
        let end = l.len() - 1;
        l.insert(end, (unknown, 0, vec![0; 8]));
        hvm_context_assemble(&l, e)
    }),
    ("hvm-blob-wrong-fixed-size", "BadLength", |e| {
        let mut l = hvm_context_entries(e);
        let pic = l
            .iter()
            .position(|x| x.0 == HvmType::Pic as u16)
            .expect("PIC");
        l[pic].2.push(0);
        hvm_context_assemble(&l, e)
    }),
    ("hvm-blob-msr-count", "MsrCount", |e| {
        let mut l = hvm_context_entries(e);
        let msr = l
            .iter()
            .position(|x| x.0 == HvmType::CpuMsr as u16)
            .expect("MSR");
        put_u32(&mut l[msr].2, 0, 2, e);
        hvm_context_assemble(&l, e)
    }),
    ("hvm-blob-data-after-end", "TrailingData", |e| {
        let mut b = hvm_context_blob(e);
        b.extend([0; 8]);
        b
    }),
];

fn cpuid_policy() -> LibxcRecord {
    LibxcRecord::X86CpuidPolicy(X86CpuidPolicy {
        leaves: vec![
            XenCpuidLeaf {
                leaf: 0,
                subleaf: u32::MAX,
                a: 0xd,
                b: 0x756e_6547,
                c: 0x6c65_746e,
                d: 0x4965_6e69,
            },
            XenCpuidLeaf {
                leaf: 7,
                subleaf: 0,
                a: 0,
                b: 0x029c_6fbf,
                c: 0,
                d: 0,
            },
        ],
    })
}

fn msr_policy(flags: u32) -> LibxcRecord {
    LibxcRecord::X86MsrPolicy(X86MsrPolicy {
        entries: vec![
            XenMsrEntry {
                idx: 0xce,
                flags: 0,
                val: 0x8000_0000,
            },
            XenMsrEntry {
                idx: 0x10a,
                flags,
                val: 0,
            },
        ],
    })
}

fn tsc_info(res: u32) -> LibxcRecord {
    LibxcRecord::X86TscInfo(X86TscInfo {
        mode: 0,
        khz: 2_400_000,
        nsec: 123_456_789,
        incarnation: 1,
        _res1: res,
    })
}

fn vcpu(ctx_len: usize, res: u32) -> X86PvVcpu {
    X86PvVcpu {
        vcpu_id: 0,
        _res1: res,
        context: (0..ctx_len).map(|i| i as u8 ^ 0x5a).collect(),
    }
}

fn hvm_params(count: u32, n: usize, res: u32) -> LibxcRecord {
    LibxcRecord::HvmParams(HvmParams {
        count,
        _res1: res,
        param: (0..n as u64)
            .map(|i| HvmParamsEntry {
                index: 2 + i,
                value: 0xfeff_0000 + i,
            })
            .collect(),
    })
}

fn pv_info(width: u8, levels: u8, res: [u8; 6]) -> LibxcRecord {
    LibxcRecord::X86PvInfo(X86PvInfo {
        guest_width: width,
        pt_levels: levels,
        _res: res,
    })
}

/// PV memory: a normal page, an L1 table, an invalid (XTAB) entry and a
/// pinned L4 table.
fn pv_pages() -> Vec<u64> {
    vec![
        pfn_entry(PageType::Notab, 0),
        pfn_entry(PageType::L1tab, 1),
        pfn_entry(PageType::Xtab, 2),
        pfn_entry(PageType::L4tabPin, 3),
    ]
}

/// HVM memory: two normal pages and one entry of each type without data.
fn hvm_pages(first: u64) -> Vec<u64> {
    vec![
        pfn_entry(PageType::Notab, first),
        pfn_entry(PageType::Notab, first + 1),
        pfn_entry(PageType::Xtab, first + 2),
        pfn_entry(PageType::Broken, first + 3),
        pfn_entry(PageType::Xalloc, first + 4),
    ]
}

/// The records of one valid segment's dynamic state for `guest`.
fn dynamic_records(guest: Guest, version: u32, endian: Endian, first_pfn: u64) -> Vec<RawRecord> {
    let r = |rec: LibxcRecord| RawRecord::new(&rec, endian);
    let mut v = Vec::new();
    match guest {
        Guest::Pv => {
            v.push(r(page_data(&pv_pages())));
            if version >= 4 {
                v.push(r(LibxcRecord::DomainContext(Opaque(domain_context_blob(
                    endian,
                )))));
            } else {
                v.push(r(tsc_info(0)));
                v.push(r(LibxcRecord::SharedInfo(Opaque(vec![0x11; PAGE_SIZE]))));
            }
            v.push(r(LibxcRecord::X86PvVcpuBasic(vcpu_basic(0))));
            v.push(r(LibxcRecord::X86PvVcpuExtended(vcpu(13, 0))));
            v.push(r(LibxcRecord::X86PvVcpuXsave(vcpu(24, 0))));
            v.push(r(LibxcRecord::X86PvVcpuMsrs(vcpu(16, 0))));
        }
        Guest::Hvm => {
            v.push(r(page_data(&hvm_pages(first_pfn))));
            v.push(r(page_data(&[pfn_entry(PageType::Notab, first_pfn + 8)])));
            if version >= 4 {
                v.push(r(LibxcRecord::DomainContext(Opaque(domain_context_blob(
                    endian,
                )))));
            } else {
                v.push(r(tsc_info(0)));
            }
            v.push(r(hvm_params(2, 2, 0)));
            v.push(r(LibxcRecord::HvmContext(Opaque(hvm_context_blob(endian)))));
        }
    }
    v
}

/// A valid stream of `version` for `guest` in byte order `endian`, with
/// `checkpoints` CHECKPOINT-terminated segments before the final one.
pub fn base(guest: Guest, version: u32, endian: Endian, checkpoints: usize) -> Stream {
    let r = |rec: LibxcRecord| RawRecord::new(&rec, endian);
    let mut records = Vec::new();
    if guest == Guest::Pv {
        records.push(r(pv_info(8, 4, [0; 6])));
    }
    if version >= 3 {
        records.push(r(cpuid_policy()));
        records.push(r(msr_policy(0)));
        records.push(r(LibxcRecord::StaticDataEnd));
    }
    if guest == Guest::Pv {
        records.push(r(LibxcRecord::X86PvP2mFrames(X86PvP2mFrames {
            start_pfn: 0,
            end_pfn: 3,
            p2m_pfns: vec![PV_START_INFO_PFN],
        })));
    }
    for seg in 0..=checkpoints {
        records.extend(dynamic_records(guest, version, endian, 16 * seg as u64));
        if seg < checkpoints {
            records.push(r(LibxcRecord::Checkpoint));
        }
    }
    records.push(r(LibxcRecord::End));
    let ty = match guest {
        Guest::Pv => DomainType::X86Pv,
        Guest::Hvm => DomainType::X86Hvm,
    };
    Stream {
        endian,
        ihdr: ImageHeader::new(version, endian),
        dhdr: DomainHeader {
            r#type: ty.value() as u32,
            page_shift: PAGE_SHIFT,
            _res1: 0,
            xen_major: 4,
            xen_minor: 17,
        },
        records,
        trailer: Vec::new(),
    }
}

/// An unknown record type with bit 31 set (optional).
pub const UNKNOWN_OPTIONAL: u32 = 0x8000_0abc;
/// An unknown record type with bit 31 clear (mandatory).
pub const UNKNOWN_MANDATORY: u32 = 0x0000_0abc;

/// A mutation of a base stream.
type Mutate = fn(&mut Stream);

/// Structured mutations: (name, guest, version, mutation, KIND, Python class).
const MUTATIONS: &[(&str, Guest, u32, Mutate, &str, &str)] = &[
    // Image and domain headers.
    (
        "ihdr-bad-marker",
        Guest::Pv,
        3,
        |s| s.ihdr.marker ^= 1,
        "BadMarker",
        "StreamError",
    ),
    (
        "ihdr-bad-id",
        Guest::Pv,
        3,
        |s| s.ihdr.id = 0x5845_4e47,
        "BadId",
        "StreamError",
    ),
    (
        "ihdr-version-1",
        Guest::Pv,
        3,
        |s| s.ihdr.version = 1,
        "UnsupportedVersion",
        "StreamError",
    ),
    (
        "ihdr-version-5",
        Guest::Hvm,
        4,
        |s| s.ihdr.version = 5,
        "UnsupportedVersion",
        "StreamError",
    ),
    (
        "ihdr-options-bit1",
        Guest::Pv,
        3,
        |s| s.ihdr.options |= 2,
        "ReservedNonZero",
        "StreamError",
    ),
    (
        "ihdr-res1",
        Guest::Pv,
        3,
        |s| s.ihdr._res1 = 1,
        "ReservedNonZero",
        "StreamError",
    ),
    (
        "ihdr-res2",
        Guest::Hvm,
        3,
        |s| s.ihdr._res2 = 0x100,
        "ReservedNonZero",
        "StreamError",
    ),
    (
        "dhdr-type-3",
        Guest::Pv,
        3,
        |s| s.dhdr.r#type = 3,
        "BadDomainType",
        "StreamError",
    ),
    (
        "dhdr-type-0",
        Guest::Hvm,
        3,
        |s| s.dhdr.r#type = 0,
        "BadDomainType",
        "StreamError",
    ),
    (
        "dhdr-page-shift-13",
        Guest::Hvm,
        3,
        |s| s.dhdr.page_shift = 13,
        "BadPageShift",
        "StreamError",
    ),
    (
        "dhdr-res1",
        Guest::Pv,
        3,
        |s| s.dhdr._res1 = 1,
        "ReservedNonZero",
        "StreamError",
    ),
    // Framing.
    (
        "drop-end",
        Guest::Pv,
        3,
        |s| s.remove(LibxcRecord::END),
        "Truncated",
        "TruncatedError",
    ),
    (
        "record-too-long",
        Guest::Pv,
        3,
        |s| s.get_mut(LibxcRecord::X86_PV_INFO).length = Some(REC_LENGTH_MAX + 1),
        "RecordTooLong",
        "StreamError",
    ),
    (
        "padding-nonzero-vcpu",
        Guest::Pv,
        3,
        |s| s.get_mut(LibxcRecord::X86_PV_VCPU_EXTENDED).padding = Some(vec![0, 1, 0]),
        "PaddingNonZero",
        "StreamError",
    ),
    (
        "padding-nonzero-hvm-context",
        Guest::Hvm,
        4,
        |s| {
            // The valid blob is a multiple of 8 octets: four more (which the
            // blob rules would refuse as data after END) make room for
            // padding, and the padding error comes first.
            let r = s.get_mut(LibxcRecord::HVM_CONTEXT);
            r.body.extend([0; 4]);
            r.padding = Some(vec![0, 0, 0, 0x80]);
        },
        "PaddingNonZero",
        "StreamError",
    ),
    (
        "unknown-mandatory",
        Guest::Hvm,
        3,
        |s| {
            s.insert_before(
                LibxcRecord::PAGE_DATA,
                RawRecord::raw(UNKNOWN_MANDATORY, vec![1; 8]),
            )
        },
        "UnknownMandatory",
        "StreamError",
    ),
    (
        "unknown-mandatory-0x14",
        Guest::Pv,
        4,
        |s| s.insert_before(LibxcRecord::END, RawRecord::raw(0x14, vec![1; 8])),
        "UnknownMandatory",
        "StreamError",
    ),
    (
        "sde-in-v2",
        Guest::Pv,
        2,
        |s| {
            s.insert_before(
                LibxcRecord::X86_PV_P2M_FRAMES,
                RawRecord::raw(LibxcRecord::STATIC_DATA_END, vec![]),
            )
        },
        "RecordTooNew",
        "StreamError",
    ),
    (
        "cpuid-policy-in-v2",
        Guest::Hvm,
        2,
        |s| {
            let r = RawRecord::new(&cpuid_policy(), s.endian);
            s.insert_before(LibxcRecord::PAGE_DATA, r)
        },
        "RecordTooNew",
        "StreamError",
    ),
    (
        "domain-context-in-v3",
        Guest::Hvm,
        3,
        |s| {
            let r = RawRecord::new(
                &LibxcRecord::DomainContext(Opaque(domain_context_blob(s.endian))),
                s.endian,
            );
            s.insert_before(LibxcRecord::HVM_PARAMS, r)
        },
        "RecordTooNew",
        "StreamError",
    ),
    (
        "toolstack",
        Guest::Hvm,
        3,
        |s| {
            s.insert_before(
                LibxcRecord::END,
                RawRecord::raw(LibxcRecord::TOOLSTACK, vec![7; 12]),
            )
        },
        "DeprecatedRecord",
        "StreamError",
    ),
    (
        "back-channel-dirty-pfns",
        Guest::Hvm,
        3,
        |s| {
            s.insert_before(
                LibxcRecord::END,
                RawRecord::raw(LibxcRecord::CHECKPOINT_DIRTY_PFN_LIST, vec![0; 16]),
            )
        },
        "BackChannelRecord",
        "StreamError",
    ),
    (
        "trailing-data",
        Guest::Pv,
        3,
        |s| s.trailer = vec![0; 8],
        "TrailingData",
        "StreamError",
    ),
    (
        "trailing-octet",
        Guest::Hvm,
        4,
        |s| s.trailer = vec![0xff],
        "TrailingData",
        "StreamError",
    ),
    // Body lengths.
    (
        "corrupt-length-pv-info",
        Guest::Pv,
        3,
        |s| s.get_mut(LibxcRecord::X86_PV_INFO).length = Some(16),
        "BadLength",
        "RecordError",
    ),
    (
        "corrupt-length-end",
        Guest::Hvm,
        3,
        |s| s.get_mut(LibxcRecord::END).body = vec![0; 8],
        "BadLength",
        "RecordError",
    ),
    (
        "short-tsc-info",
        Guest::Hvm,
        3,
        |s| s.get_mut(LibxcRecord::X86_TSC_INFO).body.truncate(16),
        "BadLength",
        "RecordError",
    ),
    (
        "short-shared-info",
        Guest::Pv,
        2,
        |s| s.get_mut(LibxcRecord::SHARED_INFO).body.truncate(4095),
        "BadLength",
        "RecordError",
    ),
    (
        "hvm-params-count-mismatch",
        Guest::Hvm,
        3,
        |s| set_u32(s, LibxcRecord::HVM_PARAMS, 0, 3),
        "BadLength",
        "RecordError",
    ),
    (
        "empty-hvm-context",
        Guest::Hvm,
        3,
        |s| s.get_mut(LibxcRecord::HVM_CONTEXT).body.clear(),
        "BadLength",
        "RecordError",
    ),
    (
        "empty-domain-context",
        Guest::Pv,
        4,
        |s| s.get_mut(LibxcRecord::DOMAIN_CONTEXT).body.clear(),
        "BadLength",
        "RecordError",
    ),
    (
        "ragged-p2m-frames",
        Guest::Pv,
        3,
        |s| {
            s.get_mut(LibxcRecord::X86_PV_P2M_FRAMES)
                .body
                .extend([0; 4])
        },
        "BadLength",
        "RecordError",
    ),
    (
        "ragged-cpuid-policy",
        Guest::Pv,
        3,
        |s| s.get_mut(LibxcRecord::X86_CPUID_POLICY).body.push(0),
        "BadLength",
        "RecordError",
    ),
    (
        "short-vcpu",
        Guest::Pv,
        3,
        |s| s.get_mut(LibxcRecord::X86_PV_VCPU_XSAVE).body.truncate(4),
        "BadLength",
        "RecordError",
    ),
    (
        "short-page-data",
        Guest::Hvm,
        3,
        |s| s.get_mut(LibxcRecord::PAGE_DATA).body.truncate(4),
        "BadLength",
        "RecordError",
    ),
    (
        "page-data-missing-page",
        Guest::Pv,
        3,
        |s| {
            let b = &mut s.get_mut(LibxcRecord::PAGE_DATA).body;
            b.truncate(b.len() - PAGE_SIZE)
        },
        "BadLength",
        "RecordError",
    ),
    // Body values and reserved fields.
    (
        "pv-info-width-5",
        Guest::Pv,
        3,
        |s| s.replace(&pv_info(5, 4, [0; 6])),
        "BadValue",
        "RecordError",
    ),
    (
        "pv-info-levels-2",
        Guest::Pv,
        2,
        |s| s.replace(&pv_info(8, 2, [0; 6])),
        "BadValue",
        "RecordError",
    ),
    (
        "pv-info-res",
        Guest::Pv,
        3,
        |s| s.replace(&pv_info(8, 4, [0, 0, 0, 1, 0, 0])),
        "ReservedNonZero",
        "RecordError",
    ),
    (
        "page-data-res1",
        Guest::Hvm,
        3,
        |s| {
            let e = s.endian;
            let rec = page_data(&hvm_pages(0));
            let LibxcRecord::PageData(mut p) = rec else {
                unreachable!()
            };
            p.header._res1 = 1;
            *s.get_mut(LibxcRecord::PAGE_DATA) = RawRecord::new(&LibxcRecord::PageData(p), e);
        },
        "ReservedNonZero",
        "RecordError",
    ),
    (
        "page-data-pfn-bit52",
        Guest::Pv,
        3,
        |s| {
            let mut pages = pv_pages();
            pages[1] |= 1 << 52;
            s.replace(&page_data(&pages))
        },
        "ReservedNonZero",
        "RecordError",
    ),
    (
        "vcpu-res1",
        Guest::Pv,
        3,
        |s| s.replace(&LibxcRecord::X86PvVcpuBasic(vcpu_basic(1))),
        "ReservedNonZero",
        "RecordError",
    ),
    (
        "tsc-info-res1",
        Guest::Hvm,
        2,
        |s| s.replace(&tsc_info(0x10)),
        "ReservedNonZero",
        "RecordError",
    ),
    (
        "hvm-params-res1",
        Guest::Hvm,
        3,
        |s| s.replace(&hvm_params(2, 2, 1)),
        "ReservedNonZero",
        "RecordError",
    ),
    (
        "msr-policy-flags",
        Guest::Hvm,
        3,
        |s| s.replace(&msr_policy(1)),
        "ReservedNonZero",
        "RecordError",
    ),
    (
        "page-count-0",
        Guest::Hvm,
        3,
        |s| s.get_mut(LibxcRecord::PAGE_DATA).body = vec![0; 8],
        "BadPageCount",
        "RecordError",
    ),
    (
        "page-count-too-big",
        Guest::Pv,
        3,
        |s| set_u32(s, LibxcRecord::PAGE_DATA, 0, 100_000),
        "BadPageCount",
        "RecordError",
    ),
    (
        "page-type-5",
        Guest::Hvm,
        3,
        |s| bad_page_type(s, 5),
        "BadPageType",
        "RecordError",
    ),
    (
        "page-type-6",
        Guest::Hvm,
        3,
        |s| bad_page_type(s, 6),
        "BadPageType",
        "RecordError",
    ),
    (
        "page-type-7",
        Guest::Pv,
        3,
        |s| bad_page_type(s, 7),
        "BadPageType",
        "RecordError",
    ),
    (
        "page-type-8",
        Guest::Pv,
        4,
        |s| bad_page_type(s, 8),
        "BadPageType",
        "RecordError",
    ),
    // Order.
    (
        "drop-sde-pv",
        Guest::Pv,
        3,
        |s| s.remove(LibxcRecord::STATIC_DATA_END),
        "MissingStaticDataEnd",
        "StreamError",
    ),
    (
        "drop-sde-hvm",
        Guest::Hvm,
        4,
        |s| s.remove(LibxcRecord::STATIC_DATA_END),
        "MissingStaticDataEnd",
        "StreamError",
    ),
    (
        "sde-missing-at-end",
        Guest::Hvm,
        3,
        |s| {
            s.records
                .retain(|r| [LibxcRecord::X86_CPUID_POLICY, LibxcRecord::END].contains(&r.code))
        },
        "MissingStaticDataEnd",
        "StreamError",
    ),
    (
        "duplicate-sde",
        Guest::Pv,
        3,
        |s| {
            s.insert_before(
                LibxcRecord::X86_PV_P2M_FRAMES,
                RawRecord::raw(LibxcRecord::STATIC_DATA_END, vec![]),
            )
        },
        "DuplicateStaticDataEnd",
        "StreamError",
    ),
    (
        "hvm-context-in-pv",
        Guest::Pv,
        3,
        |s| {
            s.insert_before(
                LibxcRecord::END,
                RawRecord::raw(LibxcRecord::HVM_CONTEXT, hvm_context_blob(s.endian)),
            )
        },
        "WrongGuestType",
        "StreamError",
    ),
    (
        "hvm-params-in-pv",
        Guest::Pv,
        2,
        |s| {
            let r = RawRecord::new(&hvm_params(1, 1, 0), s.endian);
            s.insert_before(LibxcRecord::END, r)
        },
        "WrongGuestType",
        "StreamError",
    ),
    (
        "pv-info-in-hvm",
        Guest::Hvm,
        3,
        |s| {
            let r = RawRecord::new(&pv_info(8, 4, [0; 6]), s.endian);
            s.insert_before(LibxcRecord::X86_CPUID_POLICY, r)
        },
        "WrongGuestType",
        "StreamError",
    ),
    (
        "p2m-before-pv-info",
        Guest::Pv,
        3,
        |s| s.move_after(LibxcRecord::X86_PV_INFO, LibxcRecord::X86_PV_P2M_FRAMES),
        "OutOfOrder",
        "StreamError",
    ),
    (
        "page-data-before-p2m",
        Guest::Pv,
        4,
        |s| s.move_after(LibxcRecord::X86_PV_P2M_FRAMES, LibxcRecord::PAGE_DATA),
        "CrashesXenRestore",
        "RecordError",
    ),
    // Xen's restore rules (format_spec::stream::rules).
    (
        "pv-info-twice",
        Guest::Pv,
        3,
        |s| {
            let r = RawRecord::new(&pv_info(8, 4, [0; 6]), s.endian);
            s.insert_before(LibxcRecord::STATIC_DATA_END, r);
        },
        "DuplicateRecord",
        "StreamError",
    ),
    (
        "pv-info-width-4-levels-4",
        Guest::Pv,
        3,
        |s| s.replace(&pv_info(4, 4, [0; 6])),
        "BadValue",
        "RecordError",
    ),
    (
        "p2m-end-below-start",
        Guest::Pv,
        3,
        |s| {
            s.replace(&LibxcRecord::X86PvP2mFrames(X86PvP2mFrames {
                start_pfn: 600,
                end_pfn: 3,
                p2m_pfns: vec![0],
            }))
        },
        "BadValue",
        "RecordError",
    ),
    (
        "p2m-frame-count",
        Guest::Pv,
        3,
        |s| {
            s.replace(&LibxcRecord::X86PvP2mFrames(X86PvP2mFrames {
                start_pfn: 0,
                end_pfn: 600,
                p2m_pfns: vec![0],
            }))
        },
        "BadLength",
        "RecordError",
    ),
    (
        "p2m-end-zero",
        Guest::Pv,
        3,
        |s| {
            s.replace(&LibxcRecord::X86PvP2mFrames(X86PvP2mFrames {
                start_pfn: 0,
                end_pfn: 0,
                p2m_pfns: vec![0],
            }))
        },
        "CrashesXenRestore",
        "RecordError",
    ),
    (
        "pfn-beyond-p2m",
        Guest::Pv,
        3,
        |s| {
            let mut pages = pv_pages();
            pages[2] += 2;
            s.replace(&page_data(&pages))
        },
        "PfnBeyondP2m",
        "RecordError",
    ),
    (
        "pte-beyond-p2m",
        Guest::Pv,
        3,
        |s| {
            // Entry 5 of the L1 table (the second page after the pfn
            // array) names pfn 0x100. Guest memory is little-endian
            // whatever the stream's byte order.
            let i = s.find(LibxcRecord::PAGE_DATA);
            let body = &mut s.records[i].body;
            let at = 8 + 8 * pv_pages().len() + PAGE_SIZE + 8 * 5;
            let pte: u64 = (0x100 << PAGE_SHIFT) | 1;
            body[at..at + 8].copy_from_slice(&pte.to_le_bytes());
        },
        "CrashesXenRestore",
        "RecordError",
    ),
    (
        "vcpu-basic-short",
        Guest::Pv,
        3,
        |s| s.replace(&LibxcRecord::X86PvVcpuBasic(vcpu(40, 0))),
        "BadLength",
        "RecordError",
    ),
    (
        "vcpu0-basic-missing",
        Guest::Pv,
        3,
        |s| s.remove(LibxcRecord::X86_PV_VCPU_BASIC),
        "MissingRecord",
        "StreamError",
    ),
    (
        "cpuid-policy-empty",
        Guest::Hvm,
        3,
        |s| s.get_mut(LibxcRecord::X86_CPUID_POLICY).body.clear(),
        "BadLength",
        "RecordError",
    ),
    (
        "static-after-sde",
        Guest::Hvm,
        3,
        |s| s.move_after(LibxcRecord::X86_MSR_POLICY, LibxcRecord::STATIC_DATA_END),
        "OutOfOrder",
        "StreamError",
    ),
    (
        "shared-info-before-pv-info",
        Guest::Pv,
        2,
        |s| s.move_before(LibxcRecord::SHARED_INFO, LibxcRecord::X86_PV_INFO),
        "OutOfOrder",
        "StreamError",
    ),
    (
        "vcpu-before-page-data",
        Guest::Pv,
        2,
        |s| s.move_before(LibxcRecord::X86_PV_VCPU_BASIC, LibxcRecord::PAGE_DATA),
        "OutOfOrder",
        "StreamError",
    ),
    (
        "hvm-params-after-context",
        Guest::Hvm,
        4,
        |s| s.move_after(LibxcRecord::HVM_PARAMS, LibxcRecord::HVM_CONTEXT),
        "OutOfOrder",
        "StreamError",
    ),
    (
        "drop-domain-context-pv",
        Guest::Pv,
        4,
        |s| s.remove(LibxcRecord::DOMAIN_CONTEXT),
        "MissingDomainContext",
        "StreamError",
    ),
    (
        "drop-domain-context-hvm",
        Guest::Hvm,
        4,
        |s| s.remove(LibxcRecord::DOMAIN_CONTEXT),
        "MissingDomainContext",
        "StreamError",
    ),
    (
        // The blob's HEADER magic (octets 8-11 of the blob) is wrong.
        "domain-context-bad-magic",
        Guest::Pv,
        4,
        |s| set_u32(s, LibxcRecord::DOMAIN_CONTEXT, 8, 0xdead_beef),
        "DomainContext",
        "RecordError",
    ),
];

/// Overwrites the 32-bit field at `offset` in the body of the first record
/// of type `code` (to break a count the writer would refuse).
fn set_u32(s: &mut Stream, code: u32, offset: usize, value: u32) {
    let endian = s.endian;
    let b = &mut s.get_mut(code).body;
    b[offset..offset + 4].copy_from_slice(&match endian {
        Endian::Big => value.to_be_bytes(),
        Endian::Little => value.to_le_bytes(),
    });
}

/// Sets the type of the first pfn of the first PAGE_DATA to `ty` (a
/// reserved page type), keeping the body length right for a page with data.
fn bad_page_type(s: &mut Stream, ty: u64) {
    let endian = s.endian;
    let b = &mut s.get_mut(LibxcRecord::PAGE_DATA).body;
    let entry = (ty << PAGE_DATA_TYPE_SHIFT) | 0x42;
    b[8..16].copy_from_slice(&match endian {
        Endian::Big => entry.to_be_bytes(),
        Endian::Little => entry.to_le_bytes(),
    });
}

/// Every vector, in a fixed order: valid streams first, then the
/// mutations of each base in both byte orders, then truncations.
pub fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    let valid = |name: String, s: &Stream| Vector {
        name,
        bytes: s.to_bytes(),
        expect: None,
        python_class: None,
        detail: None,
    };
    for endian in [Endian::Little, Endian::Big] {
        let e = endian_name(endian);
        for version in [2, 3, 4] {
            for guest in [Guest::Pv, Guest::Hvm] {
                let s = base(guest, version, endian, 0);
                out.push(valid(format!("v{version}-{}-{e}", guest_name(guest)), &s));
            }
        }
        for version in [3, 4] {
            for guest in [Guest::Pv, Guest::Hvm] {
                let s = base(guest, version, endian, 2);
                out.push(valid(
                    format!("v{version}-{}-checkpoint-{e}", guest_name(guest)),
                    &s,
                ));
            }
        }
        // An unknown optional record is skipped.
        for (version, guest) in [(2, Guest::Pv), (4, Guest::Hvm)] {
            let mut s = base(guest, version, endian, 0);
            s.insert_before(
                LibxcRecord::PAGE_DATA,
                RawRecord::raw(UNKNOWN_OPTIONAL, vec![0xab; 5]),
            );
            out.push(valid(
                format!("v{version}-{}-unknown-optional-{e}", guest_name(guest)),
                &s,
            ));
        }
        // Accepted with warnings.
        let mut s = base(Guest::Hvm, 3, endian, 0);
        s.move_after(LibxcRecord::HVM_PARAMS, LibxcRecord::HVM_CONTEXT);
        out.push(valid(format!("v3-hvm-params-after-context-{e}"), &s));
        let mut s = base(Guest::Pv, 4, endian, 0);
        let shared = RawRecord::new(
            &LibxcRecord::SharedInfo(Opaque(vec![0x22; PAGE_SIZE])),
            endian,
        );
        let tsc = RawRecord::new(&tsc_info(0), endian);
        s.insert_before(LibxcRecord::DOMAIN_CONTEXT, tsc);
        s.insert_before(LibxcRecord::DOMAIN_CONTEXT, shared);
        out.push(valid(format!("v4-pv-deprecated-records-{e}"), &s));
        let mut s = base(Guest::Hvm, 4, endian, 0);
        s.replace(&hvm_params(0, 0, 0));
        out.push(valid(format!("v4-hvm-params-empty-{e}"), &s));
        let mut s = base(Guest::Pv, 3, endian, 0);
        s.replace(&LibxcRecord::X86PvVcpuMsrs(vcpu(0, 0)));
        out.push(valid(format!("v3-pv-vcpu-empty-{e}"), &s));
        // An unknown optional record in the second segment of a
        // checkpointed stream: Xen's restore fails on it when it replays
        // the segment at the next CHECKPOINT.
        let mut s = base(Guest::Hvm, 3, endian, 2);
        let second = s
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.code == LibxcRecord::CHECKPOINT)
            .nth(1)
            .map(|(i, _)| i)
            .expect("two checkpoints");
        s.records
            .insert(second, RawRecord::raw(UNKNOWN_OPTIONAL, vec![1, 2, 3]));
        out.push(Vector {
            name: format!("unknown-in-checkpoint-segment-v3-hvm-{e}"),
            bytes: s.to_bytes(),
            expect: Some("UnknownInCheckpoint"),
            python_class: Some("StreamError"),
            detail: None,
        });
        let mut s = base(Guest::Hvm, 3, endian, 0);
        s.insert_before(
            LibxcRecord::END,
            RawRecord::new(&LibxcRecord::Verify, endian),
        );
        s.insert_before(
            LibxcRecord::END,
            RawRecord::new(&page_data(&hvm_pages(0)), endian),
        );
        out.push(valid(format!("v3-hvm-verify-{e}"), &s));
    }

    for endian in [Endian::Little, Endian::Big] {
        for &(name, guest, version, mutate, kind, class) in MUTATIONS {
            let mut s = base(guest, version, endian, 0);
            mutate(&mut s);
            out.push(Vector {
                name: format!(
                    "{name}-v{version}-{}-{}",
                    guest_name(guest),
                    endian_name(endian)
                ),
                bytes: s.to_bytes(),
                expect: Some(kind),
                python_class: Some(class),
                detail: None,
            });
        }
        // One broken HVM context blob per blob rule, in v3 and v4 streams.
        for &(name, rule, blob) in HVM_BLOB_MUTATIONS {
            for version in [3, 4] {
                let mut s = base(Guest::Hvm, version, endian, 0);
                s.get_mut(LibxcRecord::HVM_CONTEXT).body = blob(endian);
                out.push(Vector {
                    name: format!("{name}-v{version}-hvm-{}", endian_name(endian)),
                    bytes: s.to_bytes(),
                    expect: Some("HvmContext"),
                    python_class: Some("RecordError"),
                    detail: Some(rule),
                });
            }
        }
        // A checkpointed v4 stream whose first segment lacks DOMAIN_CONTEXT.
        let mut s = base(Guest::Hvm, 4, endian, 1);
        let i = s.find(LibxcRecord::DOMAIN_CONTEXT);
        s.records.remove(i);
        out.push(Vector {
            name: format!(
                "drop-domain-context-segment1-v4-hvm-{}",
                endian_name(endian)
            ),
            bytes: s.to_bytes(),
            expect: Some("MissingDomainContext"),
            python_class: Some("StreamError"),
            detail: None,
        });
        // HVM_PARAMS after HVM_CONTEXT only in the second segment of a v4 stream.
        let mut s = base(Guest::Hvm, 4, endian, 1);
        let ctx = s.find_last(LibxcRecord::HVM_CONTEXT);
        let params = s.find_last(LibxcRecord::HVM_PARAMS);
        s.records.swap(ctx, params);
        out.push(Vector {
            name: format!(
                "hvm-params-after-context-segment2-v4-hvm-{}",
                endian_name(endian)
            ),
            bytes: s.to_bytes(),
            expect: Some("OutOfOrder"),
            python_class: Some("StreamError"),
            detail: None,
        });
    }

    // Truncations of one valid stream at telling places.
    for endian in [Endian::Little, Endian::Big] {
        let s = base(Guest::Pv, 3, endian, 0);
        let (bytes, offsets) = s.to_bytes_with_offsets();
        let ext = offsets[s.find(LibxcRecord::X86_PV_VCPU_EXTENDED)];
        let page = offsets[s.find(LibxcRecord::PAGE_DATA)];
        let cuts = [
            ("empty", 0),
            ("in-ihdr", 10),
            ("in-dhdr", 24 + 8),
            ("in-rhdr", offsets[0] + 4),
            ("in-page-data", page + 8 + 16 + 100),
            // The 13-octet body ends at ext + 21; its padding runs to ext + 24.
            ("in-padding", ext + 8 + 13 + 1),
            ("before-end", *offsets.last().expect("END")),
            ("in-end", bytes.len() - 1),
        ];
        for (what, at) in cuts {
            out.push(Vector {
                name: format!("truncated-{what}-v3-pv-{}", endian_name(endian)),
                bytes: bytes[..at].to_vec(),
                expect: Some("Truncated"),
                python_class: Some("TruncatedError"),
                detail: None,
            });
        }
    }
    out
}
