//! Builders shared by the stream tests: raw streams octet by octet (to
//! break exactly one rule) and valid streams through the writer.

#![allow(dead_code)]

use format_spec::binrw::Endian;
use format_spec::layout::Wire;
use format_spec::libxc::{DomainHeader, ImageHeader, REC_ALIGN};
use format_spec::stream::StreamWriter;

/// Size of the image header plus the domain header: the first record's offset.
pub const HEADERS: u64 = (ImageHeader::LAYOUT.size + DomainHeader::LAYOUT.size) as u64;

/// Ends an HVM stream as a saver does after its pages: X86_TSC_INFO, a
/// valid HVM_CONTEXT blob (HEADER, END; strict verification checks it),
/// then END. Returns the stream's octets.
pub fn finish_hvm(mut w: StreamWriter<Vec<u8>>) -> Vec<u8> {
    use format_spec::hvm_context::{write, HvmHeader};
    use format_spec::libxc::{LibxcRecord, X86TscInfo};
    w.write(&LibxcRecord::X86TscInfo(X86TscInfo {
        mode: 0,
        khz: 3_000_000,
        nsec: 1,
        incarnation: 1,
        _res1: 0,
    }))
    .unwrap();
    let ctx = write(&HvmHeader::new(7, 3_000_000), &[], Endian::Little).unwrap();
    w.write(&LibxcRecord::HvmContext(format_spec::body::Opaque(ctx)))
        .unwrap();
    w.finish().unwrap()
}

/// A stream assembled octet by octet.
pub struct Raw {
    pub bytes: Vec<u8>,
    pub endian: Endian,
}

impl Raw {
    /// Image header (big-endian) and domain header for `version` and
    /// domain type `dtype` (1 PV, 2 HVM).
    pub fn new(version: u32, dtype: u32, endian: Endian) -> Self {
        let mut bytes = vec![0xff; 8];
        bytes.extend_from_slice(b"XENF");
        bytes.extend_from_slice(&version.to_be_bytes());
        let opts: u16 = if endian == Endian::Big { 1 } else { 0 };
        bytes.extend_from_slice(&opts.to_be_bytes());
        bytes.extend_from_slice(&[0; 6]);
        let mut r = Raw { bytes, endian };
        r.put32(dtype);
        r.put16(12);
        r.put16(0);
        r.put32(4);
        r.put32(17);
        assert_eq!(r.bytes.len() as u64, HEADERS);
        r
    }

    pub fn le(version: u32, dtype: u32) -> Self {
        Raw::new(version, dtype, Endian::Little)
    }

    pub fn put16(&mut self, v: u16) {
        let b = match self.endian {
            Endian::Big => v.to_be_bytes(),
            Endian::Little => v.to_le_bytes(),
        };
        self.bytes.extend_from_slice(&b);
    }

    pub fn put32(&mut self, v: u32) {
        let b = self.b32(v);
        self.bytes.extend_from_slice(&b);
    }

    pub fn b32(&self, v: u32) -> [u8; 4] {
        match self.endian {
            Endian::Big => v.to_be_bytes(),
            Endian::Little => v.to_le_bytes(),
        }
    }

    pub fn b64(&self, v: u64) -> [u8; 8] {
        match self.endian {
            Endian::Big => v.to_be_bytes(),
            Endian::Little => v.to_le_bytes(),
        }
    }

    /// A valid DOMAIN_CONTEXT blob (HEADER, END) in the stream's byte
    /// order: strict verification checks the blob's own rules too.
    pub fn dc_blob(&self) -> Vec<u8> {
        use format_spec::domain_context::{write, DcEntry, DcHeader};
        let mut blob = Vec::new();
        write(
            &[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End],
            self.endian,
            &mut blob,
        )
        .expect("a two-entry blob");
        blob
    }

    /// Appends a DOMAIN_CONTEXT record with a valid blob; returns its offset.
    pub fn dc(&mut self) -> u64 {
        let blob = self.dc_blob();
        self.rec(format_spec::libxc::LibxcRecord::DOMAIN_CONTEXT, &blob)
    }

    /// A valid HVM_CONTEXT blob (HEADER, END) in the stream's byte order,
    /// assembled by hand from Xen's layout: descriptor (type, instance,
    /// length) and a 24-octet HEADER (magic, version, changeset, cpuid,
    /// gtsc_khz). Strict verification checks the blob's own rules too.
    pub fn hvm_blob(&self) -> Vec<u8> {
        let mut b = Vec::new();
        let p16 = |b: &mut Vec<u8>, v: u16| match self.endian {
            Endian::Big => b.extend_from_slice(&v.to_be_bytes()),
            Endian::Little => b.extend_from_slice(&v.to_le_bytes()),
        };
        p16(&mut b, 1);
        p16(&mut b, 0);
        b.extend_from_slice(&self.b32(24));
        b.extend_from_slice(&self.b32(0x5438_1286));
        b.extend_from_slice(&self.b32(1));
        b.extend_from_slice(&self.b64(u64::MAX));
        b.extend_from_slice(&self.b32(0x60fb1));
        b.extend_from_slice(&self.b32(2_000_000));
        p16(&mut b, 0);
        p16(&mut b, 0);
        b.extend_from_slice(&self.b32(0));
        b
    }

    /// Appends an HVM_CONTEXT record with a valid blob; returns its offset.
    pub fn hvm(&mut self) -> u64 {
        let blob = self.hvm_blob();
        self.rec(format_spec::libxc::LibxcRecord::HVM_CONTEXT, &blob)
    }

    /// Appends a record with zero padding; returns its offset.
    pub fn rec(&mut self, rtype: u32, body: &[u8]) -> u64 {
        let pad = (REC_ALIGN as usize - body.len() % REC_ALIGN as usize) % REC_ALIGN as usize;
        self.rec_padded(rtype, body, &vec![0; pad])
    }

    /// Appends a record with the given padding octets; returns its offset.
    pub fn rec_padded(&mut self, rtype: u32, body: &[u8], pad: &[u8]) -> u64 {
        let off = self.bytes.len() as u64;
        self.put32(rtype);
        self.put32(body.len() as u32);
        self.bytes.extend_from_slice(body);
        self.bytes.extend_from_slice(pad);
        off
    }

    /// A body from 32- and 64-bit words in stream order.
    pub fn words(&self, words: &[W]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in words {
            match *w {
                W::B(v) => out.push(v),
                W::D(v) => out.extend_from_slice(&self.b32(v)),
                W::Q(v) => out.extend_from_slice(&self.b64(v)),
            }
        }
        out
    }

    /// A PAGE_DATA body: count, _res1, entries, then one page of `fill`
    /// per entry whose type has data.
    pub fn page_data(&self, entries: &[u64], res1: u32, fill: u8) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.b32(entries.len() as u32));
        out.extend_from_slice(&self.b32(res1));
        let mut pages = 0;
        for e in entries {
            out.extend_from_slice(&self.b64(*e));
            let t = e >> 60;
            if !(0xd..=0xf).contains(&t) {
                pages += 1;
            }
        }
        out.extend(std::iter::repeat_n(fill, pages * 4096));
        out
    }

    pub fn end(&mut self) -> u64 {
        self.rec(0, &[])
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// One word of a hand-made body.
#[derive(Clone, Copy)]
pub enum W {
    B(u8),
    D(u32),
    Q(u64),
}

/// Record type codes, short names for the tests.
pub mod t {
    use format_spec::libxc::LibxcRecord as L;
    pub const END: u32 = L::END;
    pub const PAGE_DATA: u32 = L::PAGE_DATA;
    pub const PV_INFO: u32 = L::X86_PV_INFO;
    pub const P2M: u32 = L::X86_PV_P2M_FRAMES;
    pub const VCPU_BASIC: u32 = L::X86_PV_VCPU_BASIC;
    pub const SHARED_INFO: u32 = L::SHARED_INFO;
    pub const TSC: u32 = L::X86_TSC_INFO;
    pub const HVM_CONTEXT: u32 = L::HVM_CONTEXT;
    pub const HVM_PARAMS: u32 = L::HVM_PARAMS;
    pub const TOOLSTACK: u32 = L::TOOLSTACK;
    pub const CHECKPOINT: u32 = L::CHECKPOINT;
    pub const DIRTY: u32 = L::CHECKPOINT_DIRTY_PFN_LIST;
    pub const SDE: u32 = L::STATIC_DATA_END;
    pub const CPUID: u32 = L::X86_CPUID_POLICY;
    pub const MSR: u32 = L::X86_MSR_POLICY;
    pub const DOMAIN_CONTEXT: u32 = L::DOMAIN_CONTEXT;
}
