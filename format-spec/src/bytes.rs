//! Fixed-width unsigned integers in octets, in either byte order: the one
//! place where hand-written code turns octets into numbers and back (the
//! derived `Wire` code does it for whole structs).
//!
//! Readers take a slice and an offset and give `None` when the slice ends
//! before the integer does; encoders give the octets as an array.

use binrw::Endian;

macro_rules! fixed_width {
    ($($t:ty, $n:literal, $at:ident, $octets:ident;)*) => {$(
        #[doc = concat!("The `", stringify!($t), "` at `off` in `b`, or `None` when `b` ends before it.")]
        pub(crate) fn $at(b: &[u8], off: usize, endian: Endian) -> Option<$t> {
            let raw: [u8; $n] = b.get(off..off.checked_add($n)?)?.try_into().ok()?;
            Some(match endian {
                Endian::Big => <$t>::from_be_bytes(raw),
                Endian::Little => <$t>::from_le_bytes(raw),
            })
        }

        #[doc = concat!("The octets of a `", stringify!($t), "`.")]
        pub(crate) fn $octets(v: $t, endian: Endian) -> [u8; $n] {
            match endian {
                Endian::Big => v.to_be_bytes(),
                Endian::Little => v.to_le_bytes(),
            }
        }
    )*};
}

fixed_width! {
    u16, 2, u16_at, u16_octets;
    u32, 4, u32_at, u32_octets;
    u64, 8, u64_at, u64_octets;
}

/// The unsigned integer of `size` octets (1, 2, 4 or 8) at `off` in `b`,
/// widened; `None` for another size or when `b` ends before it.
pub(crate) fn uint_at(b: &[u8], off: usize, size: usize, endian: Endian) -> Option<u64> {
    match size {
        1 => b.get(off).copied().map(u64::from),
        2 => u16_at(b, off, endian).map(u64::from),
        4 => u32_at(b, off, endian).map(u64::from),
        8 => u64_at(b, off, endian),
        _ => None,
    }
}

/// Decodes the 8-octet integers of `raw` into `out`, one per element of
/// `out` (the shorter of the two bounds the work). The byte order is chosen
/// once, outside the loop, so that the loop compiles to plain loads (or
/// byte swaps).
pub(crate) fn decode_u64s(raw: &[u8], endian: Endian, out: &mut [u64]) {
    let chunks = raw.chunks_exact(8);
    let c8 = |c: &[u8]| [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
    match endian {
        Endian::Little => {
            for (e, c) in out.iter_mut().zip(chunks) {
                *e = u64::from_le_bytes(c8(c));
            }
        }
        Endian::Big => {
            for (e, c) in out.iter_mut().zip(chunks) {
                *e = u64::from_be_bytes(c8(c));
            }
        }
    }
}

/// Appends the octets of every integer of `values` to `out`.
pub(crate) fn extend_u64s(out: &mut Vec<u8>, values: &[u64], endian: Endian) {
    out.reserve(values.len() * 8);
    for v in values {
        out.extend_from_slice(&u64_octets(*v, endian));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_orders_and_short_input() {
        let b = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
        assert_eq!(u16_at(&b, 1, Endian::Big), Some(0x0203));
        assert_eq!(u16_at(&b, 1, Endian::Little), Some(0x0302));
        assert_eq!(u32_at(&b, 5, Endian::Big), Some(0x0607_0809));
        assert_eq!(u32_at(&b, 6, Endian::Big), None);
        assert_eq!(u32_at(&b, usize::MAX, Endian::Big), None);
        assert_eq!(u64_at(&b, 1, Endian::Little), Some(0x0908_0706_0504_0302));
        assert_eq!(uint_at(&b, 8, 1, Endian::Big), Some(9));
        assert_eq!(uint_at(&b, 0, 4, Endian::Little), Some(0x0403_0201));
        assert_eq!(uint_at(&b, 0, 3, Endian::Little), None);
        assert_eq!(u32_octets(0x0102_0304, Endian::Little), [4, 3, 2, 1]);
        assert_eq!(u16_octets(0x0102, Endian::Big), [1, 2]);
    }

    #[test]
    fn arrays_round_trip() {
        let values = [1u64, 0x0102_0304_0506_0708, u64::MAX];
        for endian in [Endian::Big, Endian::Little] {
            let mut raw = Vec::new();
            extend_u64s(&mut raw, &values, endian);
            assert_eq!(raw.len(), 24);
            assert_eq!(u64_at(&raw, 8, endian), Some(values[1]));
            let mut back = [0u64; 3];
            decode_u64s(&raw, endian, &mut back);
            assert_eq!(back, values);
        }
    }
}
