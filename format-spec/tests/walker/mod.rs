//! A minimal walker over the libxc records of a real save file, for tests
//! only (the real stream reader lives elsewhere). It finds the libxc image
//! header (eight 0xff octets then "XENF" within the first 64 KiB), skips
//! the image header (24 octets) and the domain header (16 octets), then
//! steps over 8-octet record headers and bodies padded to 8 octets, keeping
//! the bodies of the record types asked for.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use format_spec::binrw::Endian;

/// The records kept: (type, body), in stream order, and the byte order.
pub struct Walked {
    pub endian: Endian,
    pub records: Vec<(u32, Vec<u8>)>,
    /// Every record type seen, in order (PAGE_DATA runs included).
    pub types: Vec<u32>,
}

pub fn walk(path: &Path, keep: &[u32]) -> Walked {
    let mut f = BufReader::new(File::open(path).expect("open real stream"));
    let mut head = vec![0u8; 64 * 1024];
    let n = f.read(&mut head).expect("read start");
    let head = &head[..n];
    let start = (0..n.saturating_sub(12))
        .find(|&i| head[i..i + 8] == [0xff; 8] && &head[i + 8..i + 12] == b"XENF")
        .expect("libxc image header in the first 64 KiB");
    let options = u16::from_be_bytes([head[start + 16], head[start + 17]]);
    let endian = if options & 1 != 0 {
        Endian::Big
    } else {
        Endian::Little
    };
    let u32_of = |b: [u8; 4]| match endian {
        Endian::Big => u32::from_be_bytes(b),
        Endian::Little => u32::from_le_bytes(b),
    };
    f.seek(SeekFrom::Start(start as u64 + 24 + 16)).unwrap();
    let mut records = Vec::new();
    let mut types = Vec::new();
    loop {
        let mut rh = [0u8; 8];
        f.read_exact(&mut rh).expect("record header");
        let typ = u32_of([rh[0], rh[1], rh[2], rh[3]]);
        let len = u32_of([rh[4], rh[5], rh[6], rh[7]]) as usize;
        let padded = (len + 7) & !7;
        types.push(typ);
        if keep.contains(&typ) {
            let mut body = vec![0u8; padded];
            f.read_exact(&mut body).expect("record body");
            body.truncate(len);
            records.push((typ, body));
        } else {
            f.seek(SeekFrom::Current(padded as i64)).unwrap();
        }
        if typ == 0 {
            break;
        }
    }
    Walked {
        endian,
        records,
        types,
    }
}
