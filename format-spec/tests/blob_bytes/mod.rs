//! A little/big-endian byte assembler for the blob tests, written by hand
//! so that golden blobs do not depend on the code under test. Both blobs
//! (DOMAIN_CONTEXT and HVM_CONTEXT) start each entry with the same
//! 8-octet descriptor, which [`Bytes::desc`] writes; each test file adds
//! its own entry builders in an `impl Bytes` block of its own.

#![allow(dead_code)]

use format_spec::binrw::Endian;

/// Octets being assembled in one byte order.
pub struct Bytes {
    pub out: Vec<u8>,
    pub endian: Endian,
}

impl Bytes {
    pub fn new(endian: Endian) -> Self {
        Bytes {
            out: Vec::new(),
            endian,
        }
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        let b = match self.endian {
            Endian::Big => v.to_be_bytes(),
            Endian::Little => v.to_le_bytes(),
        };
        self.raw(&b)
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        let b = match self.endian {
            Endian::Big => v.to_be_bytes(),
            Endian::Little => v.to_le_bytes(),
        };
        self.raw(&b)
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        let b = match self.endian {
            Endian::Big => v.to_be_bytes(),
            Endian::Little => v.to_le_bytes(),
        };
        self.raw(&b)
    }

    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.out.extend_from_slice(b);
        self
    }

    /// `n` octets of `v`.
    pub fn fill(&mut self, n: usize, v: u8) -> &mut Self {
        self.out.resize(self.out.len() + n, v);
        self
    }

    /// `n` zero octets.
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.fill(n, 0)
    }

    /// An entry descriptor: type code, instance, length.
    pub fn desc(&mut self, typecode: u16, instance: u16, length: u32) -> &mut Self {
        self.u16(typecode).u16(instance).u32(length)
    }
}
