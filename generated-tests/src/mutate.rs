//! A deterministic mutator: thousands of corrupt variants of the valid
//! base streams of [`crate::vectors`], for the differential test of the
//! Rust and Python verifiers.
//!
//! Everything is driven by a seeded [`Rng`] (SplitMix64), so the same seed
//! gives the same variants on every machine. Mutations work either on the
//! record list of a [`Stream`] (drop, duplicate, swap, insert unknown
//! records) or on its octets, with the offsets of every header known
//! (flip octets and header bits, set reserved fields, corrupt lengths,
//! change version, domain type or byte order, truncate).

use format_spec::binrw::Endian;
use format_spec::body::read_wire;
use format_spec::layout::{Constraint, FieldKind, Prim, StructLayout, Wire};
use format_spec::libxc::{
    DomainHeader, ImageHeader, LibxcRecord, RecordHeader, REC_ALIGN, REC_LENGTH_MAX,
};

use crate::vectors::{
    base, vectors, Guest, RawRecord, Stream, UNKNOWN_MANDATORY, UNKNOWN_OPTIONAL,
};

/// SplitMix64: small, fast and good enough to pick mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One element of `items` (non-empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One corrupt (or, by chance, still valid) stream.
#[derive(Debug, Clone)]
pub struct Variant {
    /// `base/mutation#n`, unique.
    pub name: String,
    /// The stream's octets.
    pub bytes: Vec<u8>,
}

/// A valid base stream and its name.
pub struct Base {
    /// Name (`v3-pv-le`, `v4-hvm-checkpoint-be`, ...).
    pub name: String,
    /// The stream.
    pub stream: Stream,
}

/// Splits a well-formed bare stream back into headers and records (the
/// inverse of [`Stream::to_bytes`] for streams with zero padding and no
/// trailer). `None` if the octets are not such a stream.
pub fn parse_stream(bytes: &[u8]) -> Option<Stream> {
    let ih = ImageHeader::LAYOUT.size;
    let dh = DomainHeader::LAYOUT.size;
    let ihdr: ImageHeader = read_wire(bytes.get(..ih)?, Endian::Big).ok()?;
    let endian = ihdr.endian();
    let dhdr: DomainHeader = read_wire(bytes.get(ih..ih + dh)?, endian).ok()?;
    let mut at = ih + dh;
    let mut records = Vec::new();
    loop {
        let rh: RecordHeader = read_wire(bytes.get(at..at + 8)?, endian).ok()?;
        let len = rh.length as usize;
        let body = bytes.get(at + 8..at + 8 + len)?.to_vec();
        at += 8 + len.next_multiple_of(REC_ALIGN as usize);
        records.push(RawRecord::raw(rh.r#type, body));
        if rh.r#type == LibxcRecord::END {
            break;
        }
    }
    let s = Stream {
        endian,
        ihdr,
        dhdr,
        records,
        trailer: Vec::new(),
    };
    (at == bytes.len() && s.to_bytes() == bytes).then_some(s)
}

/// The base streams: every valid vector of [`vectors`] (every version,
/// guest type and byte order, checkpointed streams, streams with unknown
/// optional, deprecated or empty records), plus v3/v4 streams with one
/// checkpoint.
pub fn bases() -> Vec<Base> {
    let mut out = Vec::new();
    for v in vectors() {
        if v.expect.is_none() {
            let stream = parse_stream(&v.bytes)
                .unwrap_or_else(|| panic!("valid vector {} does not re-parse", v.name));
            out.push(Base {
                name: v.name,
                stream,
            });
        }
    }
    for endian in [Endian::Little, Endian::Big] {
        let e = if endian == Endian::Big { "be" } else { "le" };
        for version in [3, 4] {
            for guest in [Guest::Pv, Guest::Hvm] {
                let g = if guest == Guest::Pv { "pv" } else { "hvm" };
                out.push(Base {
                    name: format!("v{version}-{g}-one-checkpoint-{e}"),
                    stream: base(guest, version, endian, 1),
                });
            }
        }
    }
    out
}

/// Byte order helper: writes `v` (of `size` octets) at `at`, if the
/// octets are there (an earlier mutation may have truncated them).
fn put(bytes: &mut [u8], at: usize, size: usize, v: u64, endian: Endian) {
    if at + size > bytes.len() {
        return;
    }
    for i in 0..size {
        let shift = match endian {
            Endian::Little => 8 * i,
            Endian::Big => 8 * (size - 1 - i),
        };
        bytes[at + i] = (v >> shift) as u8;
    }
}

/// A field of a struct at an absolute offset that a mutation may set.
struct Spot {
    at: usize,
    size: usize,
    endian: Endian,
    mask: u64,
}

/// The reserved fields (and reserved bits) of `s` placed at `at`, trailing
/// array elements included for `len` octets of body.
fn reserved_spots(s: &StructLayout, at: usize, len: usize, endian: Endian, out: &mut Vec<Spot>) {
    let endian = format_spec::layout::resolve_endian(s.byte_order, endian);
    for f in s.fields {
        let mask = |p: Prim| match f.constraint {
            Constraint::Reserved => Some(u64::MAX >> (64 - 8 * p.size())),
            Constraint::ReservedBits(m) => Some(m),
            Constraint::None
            | Constraint::Equals(_)
            | Constraint::OneOf(_)
            | Constraint::Enum(_)
            | Constraint::AtMost(_) => None,
        };
        match f.kind {
            FieldKind::Prim(p) => {
                if let Some(mask) = mask(p) {
                    out.push(Spot {
                        at: at + f.offset,
                        size: p.size(),
                        endian,
                        mask,
                    });
                }
            }
            FieldKind::Array(p, n) => {
                if let Some(mask) = mask(p) {
                    for i in 0..n {
                        out.push(Spot {
                            at: at + f.offset + i * p.size(),
                            size: p.size(),
                            endian,
                            mask,
                        });
                    }
                }
            }
            FieldKind::TrailingPrim(p) => {
                if let Some(mask) = mask(p) {
                    let mut off = s.size;
                    while off + p.size() <= len {
                        out.push(Spot {
                            at: at + off,
                            size: p.size(),
                            endian,
                            mask,
                        });
                        off += p.size();
                    }
                }
            }
            FieldKind::TrailingStruct(e) => {
                if e.size > 0 {
                    let mut off = s.size;
                    while off + e.size <= len {
                        reserved_spots(e, at + off, e.size, endian, out);
                        off += e.size;
                    }
                }
            }
        }
    }
}

/// The mutations of the record list, by name.
const RECORD_OPS: &[&str] = &[
    "drop-record",
    "duplicate-record",
    "swap-records",
    "move-record",
    "insert-unknown-optional",
    "insert-unknown-mandatory",
    "insert-known",
];

/// The mutations of the octets, by name.
const BYTE_OPS: &[&str] = &[
    "flip-octet",
    "flip-header-bit",
    "set-reserved",
    "set-reserved",
    "corrupt-length",
    "corrupt-length",
    "truncate-inside",
    "set-version",
    "set-domain-type",
    "flip-endianness",
    "flip-padding",
    "append-octets",
    "set-page-type",
    "set-page-type",
    "set-body-octet",
    "set-body-octet",
];

/// Applies one random mutation to `s` and `bytes` (its octets). Record-list
/// mutations rebuild the octets from `s`, so once `bytes_only` is set (an
/// octet mutation happened) only octet mutations are picked. Returns the
/// mutation's name.
fn mutate_once(
    s: &mut Stream,
    bytes: &mut Vec<u8>,
    rng: &mut Rng,
    bytes_only: &mut bool,
) -> &'static str {
    let op = if *bytes_only || rng.below(2) == 0 {
        *rng.pick(BYTE_OPS)
    } else {
        *rng.pick(RECORD_OPS)
    };
    let n = s.records.len();
    let endian = s.endian;
    // Record-level mutations rebuild the octets.
    let rebuild = |s: &Stream, bytes: &mut Vec<u8>| *bytes = s.to_bytes();
    match op {
        "drop-record" if n > 0 => {
            s.records.remove(rng.below(n));
            rebuild(s, bytes);
        }
        "duplicate-record" if n > 0 => {
            let i = rng.below(n);
            let r = s.records[i].clone();
            s.records.insert(rng.below(n + 1), r);
            rebuild(s, bytes);
        }
        "swap-records" if n > 1 => {
            let (i, j) = (rng.below(n), rng.below(n));
            s.records.swap(i, j);
            rebuild(s, bytes);
        }
        "move-record" if n > 1 => {
            let r = s.records.remove(rng.below(n));
            s.records.insert(rng.below(n), r);
            rebuild(s, bytes);
        }
        "insert-unknown-optional" | "insert-unknown-mandatory" => {
            let code = if op == "insert-unknown-optional" {
                UNKNOWN_OPTIONAL | rng.below(0x100) as u32
            } else {
                // Unused codes below the optional bit, some near the table.
                *rng.pick(&[UNKNOWN_MANDATORY, 0x14, 0x20, 0x7fff_ffff])
            };
            let len = rng.below(20);
            let body = (0..len).map(|_| rng.next_u64() as u8).collect();
            s.records
                .insert(rng.below(n + 1), RawRecord::raw(code, body));
            rebuild(s, bytes);
        }
        "insert-known" => {
            // A record of the table with an arbitrary (often wrong) body.
            let r = rng.pick(LibxcRecord::LAYOUT.records);
            let len = *rng.pick(&[0usize, 4, 8, 16, 24]);
            let body = (0..len)
                .map(|_| {
                    if rng.below(2) == 0 {
                        0
                    } else {
                        rng.next_u64() as u8
                    }
                })
                .collect();
            s.records
                .insert(rng.below(n + 1), RawRecord::raw(r.code, body));
            rebuild(s, bytes);
        }
        _ => {
            mutate_bytes(op, s, bytes, rng, endian);
            *bytes_only = true;
        }
    }
    op
}

/// Offsets of the record headers in `bytes` (as framed by `s`).
fn record_offsets(s: &Stream) -> Vec<usize> {
    s.to_bytes_with_offsets().1
}

fn mutate_bytes(op: &str, s: &Stream, bytes: &mut Vec<u8>, rng: &mut Rng, endian: Endian) {
    let ih = ImageHeader::LAYOUT.size;
    let dh = DomainHeader::LAYOUT.size;
    let offsets = record_offsets(s);
    let random_record = |rng: &mut Rng| -> Option<(usize, &RawRecord)> {
        if offsets.is_empty() {
            return None;
        }
        let i = rng.below(offsets.len());
        Some((offsets[i], &s.records[i]))
    };
    if bytes.is_empty() {
        return;
    }
    match op {
        "flip-octet" => {
            let at = rng.below(bytes.len());
            bytes[at] ^= (rng.below(255) + 1) as u8;
        }
        "flip-header-bit" => {
            // The image header, the domain header or a record header.
            let (at, len) = match rng.below(4) {
                0 => (0, ih),
                1 => (ih, dh),
                _ => match random_record(rng) {
                    Some((o, _)) => (o, 8),
                    None => (0, ih),
                },
            };
            if at + len <= bytes.len() && len > 0 {
                let bit = rng.below(8 * len);
                bytes[at + bit / 8] ^= 1 << (bit % 8);
            }
        }
        "set-reserved" => {
            let mut spots = Vec::new();
            reserved_spots(&ImageHeader::LAYOUT, 0, ih, Endian::Big, &mut spots);
            reserved_spots(&DomainHeader::LAYOUT, ih, dh, endian, &mut spots);
            for (o, r) in offsets.iter().zip(&s.records) {
                if let Some(b) = LibxcRecord::LAYOUT.by_code(r.code).and_then(|l| l.body) {
                    if r.body.len() >= b.size {
                        reserved_spots(b, o + 8, r.body.len(), endian, &mut spots);
                    }
                }
                if r.code == LibxcRecord::PAGE_DATA && r.body.len() >= 16 {
                    // Bits 59-52 of the first pfn entry.
                    spots.push(Spot {
                        at: o + 16,
                        size: 8,
                        endian,
                        mask: format_spec::libxc::PAGE_DATA_PFN_RESERVED_MASK,
                    });
                }
            }
            if spots.is_empty() {
                return;
            }
            let sp = &spots[rng.below(spots.len())];
            if sp.at + sp.size > bytes.len() {
                return;
            }
            let mut bits = rng.next_u64() & sp.mask;
            if bits == 0 {
                bits = sp.mask & sp.mask.wrapping_neg();
            }
            let mut old = 0u64;
            for i in 0..sp.size {
                let shift = match sp.endian {
                    Endian::Little => 8 * i,
                    Endian::Big => 8 * (sp.size - 1 - i),
                };
                old |= u64::from(bytes[sp.at + i]) << shift;
            }
            put(bytes, sp.at, sp.size, old | bits, sp.endian);
        }
        "corrupt-length" => {
            if let Some((o, r)) = random_record(rng) {
                let len = r.body.len() as u64;
                let random = rng.next_u64() & 0xffff;
                let v = *rng.pick(&[
                    0,
                    0xffff_ffff,
                    len + 8,
                    len.saturating_sub(8),
                    len + 1,
                    len.saturating_sub(1),
                    u64::from(REC_LENGTH_MAX),
                    u64::from(REC_LENGTH_MAX) + 1,
                    random,
                ]);
                put(bytes, o + 4, 4, v, endian);
            }
        }
        "truncate-inside" => {
            let at = rng.below(bytes.len());
            bytes.truncate(at);
        }
        "set-version" => {
            let v = *rng.pick(&[0u64, 1, 2, 3, 4, 5, 0xffff_ffff]);
            put(bytes, 12, 4, v, Endian::Big);
        }
        "set-domain-type" => {
            let v = *rng.pick(&[0u64, 1, 2, 3, 0xffff]);
            put(bytes, ih, 4, v, endian);
        }
        "flip-endianness" => {
            // Bit 0 of the options, the last octet of the big-endian u16.
            if let Some(b) = bytes.get_mut(17) {
                *b ^= 1;
            }
        }
        "flip-padding" => {
            let padded: Vec<(usize, &RawRecord)> = offsets
                .iter()
                .copied()
                .zip(&s.records)
                .filter(|(_, r)| r.body.len() % 8 != 0)
                .collect();
            if !padded.is_empty() {
                let (o, r) = padded[rng.below(padded.len())];
                let pad = 8 - r.body.len() % 8;
                let at = o + 8 + r.body.len() + rng.below(pad);
                let x = (rng.below(255) + 1) as u8;
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= x;
                }
            }
        }
        "set-page-type" => {
            let pages: Vec<(usize, &RawRecord)> = offsets
                .iter()
                .copied()
                .zip(&s.records)
                .filter(|(_, r)| r.code == LibxcRecord::PAGE_DATA && r.body.len() >= 16)
                .collect();
            if pages.is_empty() {
                return;
            }
            let (o, r) = pages[rng.below(pages.len())];
            let entries = (r.body.len() - 8) / 8;
            let entry = o + 16 + 8 * rng.below(entries.min(8));
            // The type is the top nibble of the entry.
            let top = match endian {
                Endian::Little => entry + 7,
                Endian::Big => entry,
            };
            let ty = rng.below(16) as u8;
            if let Some(b) = bytes.get_mut(top) {
                *b = (*b & 0x0f) | (ty << 4);
            }
        }
        "set-body-octet" => {
            // One of the first octets of a body, where counts, widths,
            // levels and reserved fields live.
            let bodies: Vec<(usize, &RawRecord)> = offsets
                .iter()
                .copied()
                .zip(&s.records)
                .filter(|(_, r)| !r.body.is_empty())
                .collect();
            if bodies.is_empty() {
                return;
            }
            let (o, r) = bodies[rng.below(bodies.len())];
            let at = o + 8 + rng.below(r.body.len().min(16));
            let v = *rng.pick(&[0u8, 1, 2, 3, 4, 5, 8, 0x80, 0xff]);
            if let Some(b) = bytes.get_mut(at) {
                *b = v;
            }
        }
        "append-octets" => {
            let n = rng.below(9) + 1;
            bytes.extend((0..n).map(|_| rng.next_u64() as u8));
        }
        _ => {}
    }
}

/// Every variant for `seed`: for each base, truncations at every record
/// boundary and inside every record, then `per_base` random variants of
/// one to three stacked mutations.
pub fn variants(seed: u64, per_base: usize) -> Vec<Variant> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for b in bases() {
        let (bytes, offsets) = b.stream.to_bytes_with_offsets();
        // Truncations: at each record header, inside it, and inside the
        // body or padding.
        for (i, &o) in offsets.iter().enumerate() {
            let end = offsets.get(i + 1).copied().unwrap_or(bytes.len());
            let mut cuts = vec![o, o + 4, o + 8 + rng.below(end - o - 8 + 1)];
            cuts.retain(|&c| c < bytes.len());
            cuts.dedup();
            for c in cuts {
                out.push(Variant {
                    name: format!("{}/truncate-at-{c}", b.name),
                    bytes: bytes[..c].to_vec(),
                });
            }
        }
        for k in 0..per_base {
            let mut s = b.stream.clone();
            let mut bytes = s.to_bytes();
            let mut ops = Vec::new();
            let mut bytes_only = false;
            for _ in 0..1 + rng.below(3) {
                ops.push(mutate_once(&mut s, &mut bytes, &mut rng, &mut bytes_only));
            }
            out.push(Variant {
                name: format!("{}/{}#{k}", b.name, ops.join("+")),
                bytes,
            });
        }
    }
    out
}
