//! Test-only helpers for the outer-layer tests: a minimal libxc skipper
//! (to be replaced by the real libxc reader at integration) and a tiny
//! libxc stream writer for synthetic files.

#![allow(dead_code)]

use std::io::{self, Read, Write};

use format_spec::binrw::{BinRead, BinWrite, Endian};
use format_spec::libxc::{
    DomainHeader, DomainType, ImageHeader, LibxcRecord, RecordHeader, PAGE_SHIFT,
};
use format_spec::outer::LibxcStop;

/// What the skipper saw of one part of a libxc stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LibxcPart {
    /// Record types, in order, the terminating one included.
    pub codes: Vec<u32>,
}

/// Skips a libxc stream: image header (24 octets) and domain header (16)
/// at the start, then records (8-octet header, body padded to 8) until END
/// (type 0) or CHECKPOINT (type 0x0e).
pub struct LibxcSkipper {
    /// Byte order from the image header.
    pub endian: Endian,
    /// Version from the image header.
    pub version: u32,
    /// Guest type from the domain header.
    pub domain_type: u32,
}

fn read_exact_io<R: Read>(r: &mut R, n: usize) -> io::Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    r.read_exact(&mut v)?;
    Ok(v)
}

impl LibxcSkipper {
    /// Reads the image and domain headers.
    pub fn start<R: Read>(r: &mut R) -> io::Result<Self> {
        let ihdr = read_exact_io(r, 24)?;
        let ih = ImageHeader::read_options(&mut io::Cursor::new(&ihdr), Endian::Big, ())
            .map_err(io::Error::other)?;
        let endian = ih.endian();
        let dhdr = read_exact_io(r, 16)?;
        let dh = DomainHeader::read_options(&mut io::Cursor::new(&dhdr), endian, ())
            .map_err(io::Error::other)?;
        Ok(LibxcSkipper {
            endian,
            version: ih.version,
            domain_type: dh.r#type,
        })
    }

    /// Skips records up to END or CHECKPOINT.
    pub fn records<R: Read>(&self, r: &mut R) -> io::Result<(LibxcStop, LibxcPart)> {
        let mut part = LibxcPart::default();
        let mut sink = vec![0u8; 1 << 16];
        loop {
            let raw = read_exact_io(r, 8)?;
            let rh = RecordHeader::read_options(&mut io::Cursor::new(&raw), self.endian, ())
                .map_err(io::Error::other)?;
            let mut left = (rh.length as u64).div_ceil(8) * 8;
            while left > 0 {
                let n = left.min(sink.len() as u64) as usize;
                r.read_exact(&mut sink[..n])?;
                left -= n as u64;
            }
            part.codes.push(rh.r#type);
            if rh.r#type == LibxcRecord::END {
                return Ok((LibxcStop::End, part));
            }
            if rh.r#type == LibxcRecord::CHECKPOINT {
                return Ok((LibxcStop::Checkpoint, part));
            }
        }
    }
}

/// Writes a libxc image header and an HVM domain header (version 3).
pub fn write_libxc_headers<W: Write>(w: &mut W, endian: Endian) -> io::Result<()> {
    let mut cur = io::Cursor::new(Vec::new());
    ImageHeader::new(3, endian)
        .write_options(&mut cur, Endian::Big, ())
        .map_err(io::Error::other)?;
    DomainHeader {
        r#type: DomainType::X86Hvm as u32,
        page_shift: PAGE_SHIFT,
        _res1: 0,
        xen_major: 4,
        xen_minor: 17,
    }
    .write_options(&mut cur, endian, ())
    .map_err(io::Error::other)?;
    w.write_all(cur.get_ref())
}

/// Writes libxc records, each given as (type, body), with zero padding.
pub fn write_libxc_records<W: Write>(
    w: &mut W,
    endian: Endian,
    records: &[(u32, &[u8])],
) -> io::Result<()> {
    for (code, body) in records {
        let mut cur = io::Cursor::new(Vec::new());
        RecordHeader {
            r#type: *code,
            length: body.len() as u32,
        }
        .write_options(&mut cur, endian, ())
        .map_err(io::Error::other)?;
        let mut buf = cur.into_inner();
        buf.extend_from_slice(body);
        buf.resize(buf.len().div_ceil(8) * 8, 0);
        w.write_all(&buf)?;
    }
    Ok(())
}

/// A small complete libxc stream: headers, STATIC_DATA_END, an optional
/// record body of 12 octets (odd length, so padded), END.
pub fn write_small_libxc<W: Write>(w: &mut W, endian: Endian) -> io::Result<()> {
    write_libxc_headers(w, endian)?;
    write_libxc_records(
        w,
        endian,
        &[
            (LibxcRecord::STATIC_DATA_END, &[]),
            (
                LibxcRecord::HVM_CONTEXT,
                &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            ),
            (LibxcRecord::END, &[]),
        ],
    )
}

/// A reader that hands out at most one octet per call and cannot seek,
/// like a slow pipe.
pub struct Trickle<'a>(pub &'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

/// Everything a walk through a whole stream saw.
#[derive(Debug, Default)]
pub struct Walk {
    /// The outer events, in order.
    pub events: Vec<format_spec::outer::OuterEvent>,
    /// The libxc parts (one per handover).
    pub libxc: Vec<LibxcPart>,
    /// Guest type from the libxc domain header.
    pub domain_type: u32,
    /// libxc image version.
    pub libxc_version: u32,
    /// Offset after the last event.
    pub end_offset: u64,
}

/// Reads a whole stream: outer layers through the reader, the libxc
/// stream with the skipper (panics if the libxc part is malformed).
pub fn walk<R: Read>(
    r: &mut format_spec::outer::OuterReader<R>,
) -> Result<Walk, format_spec::outer::OuterError> {
    use format_spec::outer::OuterEvent;
    let mut out = Walk::default();
    let mut skipper: Option<LibxcSkipper> = None;
    while let Some(ev) = r.next()? {
        if let OuterEvent::Libxc(h) = &ev {
            assert_eq!(
                h.offset,
                r.offset(),
                "handover offset is the current offset"
            );
            if !h.resume {
                let s = LibxcSkipper::start(r.inner()).expect("libxc headers");
                out.domain_type = s.domain_type;
                out.libxc_version = s.version;
                skipper = Some(s);
            }
            let s = skipper.as_ref().expect("libxc stream started");
            let (stop, part) = s.records(r.inner()).expect("libxc records");
            out.libxc.push(part);
            r.libxc_finished(stop)?;
        }
        out.events.push(ev);
    }
    out.end_offset = r.offset();
    Ok(out)
}
