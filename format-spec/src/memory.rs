//! Guest memory out of a libxc stream, in one forward pass.
//!
//! A stream may send a page several times (live migration sends dirty
//! pages again; `--debug` streams resend everything), and may later mark a
//! page that had contents as not present. The guest's memory at the end of
//! the stream holds, for every pfn, the contents of its **last** copy:
//!
//! * a PAGE_DATA entry with contents (a normal or page-table type) gives
//!   the pfn those contents, replacing any earlier copy;
//! * an `XTAB` entry (the pfn left the guest's physical map) or a `BROKEN`
//!   entry (the page was lost to a memory error) for a pfn that had
//!   contents **drops** it: the pfn has no contents in the image any more;
//! * an `XALLOC` entry (allocate only) changes nothing: earlier contents
//!   stay, and a pfn never sent stays absent.
//!
//! [`MemoryExtractor`] applies these rules record by record and hands the
//! outcome to a [`PageSink`]: [`RawSink`] (a sparse raw image), [`ElfSink`]
//! (an ELF64 core file) or [`OnePage`] (one pfn). [`extract`] drives a
//! [`StreamReader`] over a bare libxc stream to the end and returns the
//! sink's output and a [`Summary`]; [`extract_save_file`] does the same for
//! a whole `xl save` file or libxl stream through
//! [`SaveReader`], checkpoints included.
//!
//! ## Memory
//!
//! The extractor keeps a sparse bitmap of the pfns that have contents
//! ([`PfnSet`]: 64 octets per 512 pfns in use, so one bit per page of a
//! guest and, for pages scattered on purpose, under 100 octets per 4 KiB
//! page the stream carried) and one PAGE_DATA record (the reader's
//! buffer); page contents go straight to the sink. Entries without contents
//! never grow the bitmap.
//!
//! ## Checkpointed streams
//!
//! A checkpointed stream (Remus, COLO) is a run of segments, each ended by
//! a CHECKPOINT record; checkpoint *n* is the state after the *n*-th
//! CHECKPOINT. [`Checkpoint::Nth`] stops reading at that record (nothing
//! after it is read). [`Checkpoint::Last`], the default, wants the last
//! *complete* state, which is only known once the stream ends: if it ends
//! with END, that is everything; if it breaks off (the primary died, which
//! is what a checkpointed stream is for), it is the last CHECKPOINT, and the
//! pages of the unfinished segment must not reach the image. To stay in one
//! pass with bounded memory, the extractor writes segment 1 (everything up
//! to the first CHECKPOINT, so every stream that is not checkpointed) straight
//! to the sink, and **stages** each later segment in an unnamed journal file
//! (the PAGE_DATA entries and contents, in stream order) that it replays into
//! the sink when the segment's CHECKPOINT or END arrives, and throws away if
//! the stream breaks off first. Later segments thus cost one extra write and
//! read of their pages on disk, never memory.
//!
//! ```
//! use format_spec::libxc::{DomainType, LibxcRecord, PageType, PAGE_SIZE};
//! use format_spec::memory::{extract, ExtractOptions, RawSink};
//! use format_spec::stream::{StreamReader, StreamWriter, WriterOptions};
//! use std::io::Cursor;
//!
//! let xtab = (PageType::Xtab as u64) << 60;
//! let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm))?;
//! w.write(&LibxcRecord::StaticDataEnd)?;
//! w.write_page_data(&[0, 1, 2], &[[1u8; PAGE_SIZE], [2; PAGE_SIZE], [3; PAGE_SIZE]].concat())?;
//! w.write_page_data(&[1], &[9u8; PAGE_SIZE])?; // pfn 1 again: this copy wins
//! w.write_page_data(&[2 | xtab], &[])?;        // pfn 2 leaves the guest
//! w.write(&LibxcRecord::HvmContext(format_spec::body::Opaque(vec![0; 8])))?;
//! w.write(&LibxcRecord::DomainContext(format_spec::body::Opaque(vec![0; 8])))?;
//! let stream = w.finish()?;
//!
//! let mut reader = StreamReader::new(&stream[..])?;
//! let (image, summary) =
//!     extract(&mut reader, RawSink::new(Cursor::new(Vec::new())), &ExtractOptions::default())?;
//! let image = image.into_inner();
//! assert_eq!(image[0], 1);
//! assert_eq!(image[PAGE_SIZE], 9);
//! assert!(image[2 * PAGE_SIZE..].iter().all(|b| *b == 0)); // dropped: zeros
//! assert_eq!((summary.pages, summary.superseded, summary.dropped), (2, 1, 1));
//! assert_eq!(summary.ranges, [(0, 2)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use binrw::Endian;

use crate::bytes::{u64_at, u64_octets};
use crate::layout::SpecEnum;
use crate::libxc::{
    LibxcRecord, PageData, PageType, PAGE_DATA_PFN_MASK, PAGE_DATA_TYPE_SHIFT, PAGE_SIZE,
    PAGE_TYPE_CODES,
};
use crate::outer::{FormatChoice, OuterError};
use crate::save::{Event, Options, SaveReader};
use crate::stream::{Mode, RecordInfo, StreamError, StreamReader};

const PAGE: u64 = PAGE_SIZE as u64;

/// Pfns per bitmap chunk of a [`PfnSet`].
const CHUNK_PFNS: u64 = 512;
/// 64-bit words per chunk.
const WORDS: usize = (CHUNK_PFNS / 64) as usize;

/// A sparse set of pfns: a bitmap in chunks of 512 pfns, allocated only
/// where pfns are present, so a guest's memory costs one bit per pfn in use
/// and a hostile pfn near 2^52 costs one chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PfnSet {
    chunks: BTreeMap<u64, Box<[u64; WORDS]>>,
    len: u64,
}

impl PfnSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn split(pfn: u64) -> (u64, usize, u64) {
        let word = (pfn % CHUNK_PFNS) / 64;
        (pfn / CHUNK_PFNS, word as usize, 1u64 << (pfn % 64))
    }

    /// Whether `pfn` is in the set.
    pub fn contains(&self, pfn: u64) -> bool {
        let (c, w, bit) = Self::split(pfn);
        self.chunks.get(&c).is_some_and(|words| words[w] & bit != 0)
    }

    /// Adds `pfn`; returns false if it was there already.
    pub fn insert(&mut self, pfn: u64) -> bool {
        let (c, w, bit) = Self::split(pfn);
        let words = self.chunks.entry(c).or_insert_with(|| Box::new([0; WORDS]));
        let fresh = words[w] & bit == 0;
        words[w] |= bit;
        self.len += u64::from(fresh);
        fresh
    }

    /// Removes `pfn`; returns false if it was not there.
    pub fn remove(&mut self, pfn: u64) -> bool {
        let (c, w, bit) = Self::split(pfn);
        let Some(words) = self.chunks.get_mut(&c) else {
            return false;
        };
        let was = words[w] & bit != 0;
        words[w] &= !bit;
        if was {
            self.len -= 1;
            if words.iter().all(|x| *x == 0) {
                self.chunks.remove(&c);
            }
        }
        was
    }

    /// Number of pfns in the set.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The set as maximal runs of consecutive pfns, in increasing order:
    /// `(first pfn, number of pfns)`.
    pub fn runs(&self) -> Runs<'_> {
        Runs {
            chunks: self.chunks.iter(),
            chunk: None,
            word: 0,
            bits: 0,
            bits_base: 0,
            pending: None,
        }
    }
}

/// Iterator over the runs of a [`PfnSet`] (see [`PfnSet::runs`]).
#[derive(Debug)]
pub struct Runs<'a> {
    chunks: std::collections::btree_map::Iter<'a, u64, Box<[u64; WORDS]>>,
    chunk: Option<(u64, &'a [u64; WORDS])>,
    word: usize,
    bits: u64,
    bits_base: u64,
    pending: Option<(u64, u64)>,
}

impl Runs<'_> {
    /// The next run of set bits inside one word, as `[start, end)`.
    fn piece(&mut self) -> Option<(u64, u64)> {
        loop {
            if self.bits != 0 {
                let tz = self.bits.trailing_zeros();
                let ones = (self.bits >> tz).trailing_ones();
                let mask = if tz + ones == 64 {
                    !0u64 << tz
                } else {
                    ((1u64 << ones) - 1) << tz
                };
                self.bits &= !mask;
                let start = self.bits_base + u64::from(tz);
                return Some((start, start + u64::from(ones)));
            }
            if let Some((base, words)) = self.chunk {
                if self.word < WORDS {
                    self.bits = words[self.word];
                    self.bits_base = base + 64 * self.word as u64;
                    self.word += 1;
                    continue;
                }
            }
            let (c, words) = self.chunks.next()?;
            self.chunk = Some((c * CHUNK_PFNS, words));
            self.word = 0;
        }
    }
}

impl Iterator for Runs<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        loop {
            match (self.piece(), self.pending) {
                (Some((s, e)), Some((ps, pe))) if pe == s => self.pending = Some((ps, e)),
                (Some(p), Some((ps, pe))) => {
                    self.pending = Some(p);
                    return Some((ps, pe - ps));
                }
                (Some(p), None) => self.pending = Some(p),
                (None, _) => return self.pending.take().map(|(s, e)| (s, e - s)),
            }
        }
    }
}

/// Where the final pages go.
///
/// The extractor calls [`pages`](Self::pages) with runs of consecutive
/// pfns (one PAGE_DATA record usually holds a few long runs, so an output
/// file sees few large writes), [`drop_page`](Self::drop_page) when a pfn
/// that had contents is marked not present, and [`finish`](Self::finish)
/// once with the set of pfns that have contents in the final image. A pfn
/// may come again in a later call: the later contents win.
pub trait PageSink {
    /// What the sink gives back at the end.
    type Output;

    /// Contents of `data.len() / PAGE_SIZE` pages, for pfns `first_pfn`,
    /// `first_pfn + 1`, and so on.
    fn pages(&mut self, first_pfn: u64, data: &[u8]) -> io::Result<()>;

    /// `pfn`, which had contents, has none any more.
    fn drop_page(&mut self, pfn: u64) -> io::Result<()>;

    /// The stream is done; `present` holds the pfns with contents.
    fn finish(self, present: &PfnSet) -> io::Result<Self::Output>;

    /// A pfn entry of type `ptype`, which carries no contents (XTAB,
    /// XALLOC or BROKEN), was applied to `pfn`; called before
    /// [`drop_page`](Self::drop_page) when it takes contents away. Most
    /// sinks ignore it (the default does).
    fn no_contents(&mut self, pfn: u64, ptype: PageType) -> io::Result<()> {
        let _ = (pfn, ptype);
        Ok(())
    }
}

/// Byte offset of `pfn`'s page in an image laid out as `base + pfn * PAGE_SIZE`,
/// refusing pfns whose page would end past the largest seekable offset.
fn page_offset(base: u64, pfn: u64, pages: u64) -> io::Result<u64> {
    pfn.checked_add(pages)
        .and_then(|end| end.checked_mul(PAGE))
        .and_then(|end| end.checked_add(base))
        .filter(|end| *end <= i64::MAX as u64)
        .map(|_| base + pfn * PAGE)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pfn {pfn:#x} lies beyond the largest offset a file can hold"),
            )
        })
}

/// Writes `data` at `off`, seeking only when the output is elsewhere.
fn write_at<W: Write + Seek>(out: &mut W, pos: &mut u64, off: u64, data: &[u8]) -> io::Result<()> {
    if *pos != off {
        out.seek(SeekFrom::Start(off))?;
    }
    out.write_all(data)?;
    *pos = off + data.len() as u64;
    Ok(())
}

static ZERO_PAGE: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

/// A raw image: the page of pfn *p* at byte offset *p* × [`PAGE_SIZE`].
///
/// Pages never sent are holes on a file system that supports sparse files
/// (the sink seeks over them; nothing is written there), and read as zeros.
/// A dropped page is overwritten with zeros, so no stale contents remain;
/// it is not punched back into a hole (the raw format cannot tell a zero
/// page from a missing one anyway: [`Summary::ranges`] says which pfns are
/// present). The file ends at the end of the highest page ever written.
/// The output must be seekable; give it a fresh (truncated) file.
#[derive(Debug)]
pub struct RawSink<W> {
    out: W,
    pos: u64,
}

impl<W: Write + Seek> RawSink<W> {
    /// A sink writing to `out`, which should be empty.
    pub fn new(mut out: W) -> Self {
        let pos = out.stream_position().unwrap_or(u64::MAX);
        RawSink { out, pos }
    }
}

impl<W: Write + Seek> PageSink for RawSink<W> {
    type Output = W;

    fn pages(&mut self, first_pfn: u64, data: &[u8]) -> io::Result<()> {
        let off = page_offset(0, first_pfn, (data.len() / PAGE_SIZE) as u64)?;
        write_at(&mut self.out, &mut self.pos, off, data)
    }

    fn drop_page(&mut self, pfn: u64) -> io::Result<()> {
        let off = page_offset(0, pfn, 1)?;
        write_at(&mut self.out, &mut self.pos, off, &ZERO_PAGE)
    }

    fn finish(mut self, _present: &PfnSet) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// ELF constants the core file uses (values from the ELF64 gABI).
pub mod elf {
    /// ELF header size.
    pub const EHDR_SIZE: u64 = 64;
    /// Program header entry size.
    pub const PHDR_SIZE: u64 = 56;
    /// Section header entry size.
    pub const SHDR_SIZE: u64 = 64;
    /// `ET_CORE`.
    pub const ET_CORE: u16 = 4;
    /// `EM_X86_64`.
    pub const EM_X86_64: u16 = 62;
    /// `PT_LOAD`.
    pub const PT_LOAD: u32 = 1;
    /// `PF_X | PF_W | PF_R`: guest memory may hold anything.
    pub const PF_RWX: u32 = 7;
    /// `PN_XNUM`: `e_phnum` when the real count is in section 0's `sh_info`.
    pub const PN_XNUM: u16 = 0xffff;
    /// File offset of the page of pfn 0 in an [`ElfSink`](super::ElfSink) core.
    pub const DATA_BASE: u64 = super::PAGE;
}

/// Little-endian field writer for the ELF structures.
struct Le(Vec<u8>);

impl Le {
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// The 64-octet ELF64 header of an x86-64 little-endian core file with
/// `phnum` program headers at `phoff`. At [`elf::PN_XNUM`] or more, the
/// header says `PN_XNUM` and points at one section header (at `shoff`)
/// whose `sh_info` holds the count (see [`elf_xnum_section`]).
pub fn elf_header(phnum: u64, phoff: u64, shoff: u64) -> [u8; 64] {
    let xnum = phnum >= u64::from(elf::PN_XNUM);
    let mut b = Le(Vec::with_capacity(64));
    b.0.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    b.0.extend_from_slice(&[0; 8]);
    b.u16(elf::ET_CORE)
        .u16(elf::EM_X86_64)
        .u32(1)
        .u64(0)
        .u64(if phnum == 0 { 0 } else { phoff })
        .u64(if xnum { shoff } else { 0 })
        .u32(0)
        .u16(elf::EHDR_SIZE as u16)
        .u16(elf::PHDR_SIZE as u16)
        .u16(if xnum { elf::PN_XNUM } else { phnum as u16 })
        .u16(if xnum { elf::SHDR_SIZE as u16 } else { 0 })
        .u16(u16::from(xnum))
        .u16(0);
    b.0.try_into().expect("the ELF header is 64 octets")
}

/// The section header 0 that carries a program header count of
/// [`elf::PN_XNUM`] or more in `sh_info` (all other fields zero; a count
/// beyond `u32::MAX` is capped, which needs a 16 TiB core).
pub fn elf_xnum_section(phnum: u64) -> [u8; 64] {
    let mut b = Le(Vec::with_capacity(64));
    b.u32(0).u32(0).u64(0).u64(0).u64(0).u64(0);
    b.u32(0).u32(phnum.min(u64::from(u32::MAX)) as u32);
    b.u64(0).u64(0);
    b.0.try_into().expect("a section header is 64 octets")
}

/// One `PT_LOAD` program header for `pages` pages from `first_pfn`, laid out
/// as [`ElfSink`] lays them out.
pub fn elf_load_phdr(first_pfn: u64, pages: u64) -> [u8; 56] {
    let addr = first_pfn * PAGE;
    let size = pages * PAGE;
    let mut b = Le(Vec::with_capacity(56));
    b.u32(elf::PT_LOAD)
        .u32(elf::PF_RWX)
        .u64(elf::DATA_BASE + addr)
        .u64(addr)
        .u64(addr)
        .u64(size)
        .u64(size)
        .u64(PAGE);
    b.0.try_into().expect("a program header is 56 octets")
}

/// An ELF64 core file (`ET_CORE`, `EM_X86_64`, little-endian) with one
/// `PT_LOAD` per run of consecutive pfns with contents.
///
/// Layout, written in one pass: the page of pfn *p* at file offset
/// [`elf::DATA_BASE`] + *p* × [`PAGE_SIZE`] (sparse, like [`RawSink`]);
/// at the end, after the highest page written, the program headers, then
/// (only with [`elf::PN_XNUM`] or more of them) one section header holding
/// the count; last, the ELF header is written at offset 0.
///
/// Each segment has `p_paddr` = `p_vaddr` = guest physical address
/// (pfn × page size). The stream knows nothing about the guest's virtual
/// addresses; an identity `p_vaddr` keeps the segments apart (tools such as
/// gdb look memory up by `p_vaddr`, and a zero `p_vaddr` everywhere would
/// make every segment overlap at address 0), so `x/s 0x1234000` in gdb reads
/// guest physical address 0x1234000. Dropped pages are overwritten with
/// zeros and fall outside every segment. There are no notes (no registers):
/// the core holds memory only.
#[derive(Debug)]
pub struct ElfSink<W> {
    out: W,
    pos: u64,
    end: u64,
}

impl<W: Write + Seek> ElfSink<W> {
    /// A sink writing to `out`, which should be empty.
    pub fn new(mut out: W) -> Self {
        let pos = out.stream_position().unwrap_or(u64::MAX);
        ElfSink {
            out,
            pos,
            end: elf::DATA_BASE,
        }
    }
}

impl<W: Write + Seek> PageSink for ElfSink<W> {
    type Output = W;

    fn pages(&mut self, first_pfn: u64, data: &[u8]) -> io::Result<()> {
        let off = page_offset(elf::DATA_BASE, first_pfn, (data.len() / PAGE_SIZE) as u64)?;
        write_at(&mut self.out, &mut self.pos, off, data)?;
        self.end = self.end.max(self.pos);
        Ok(())
    }

    fn drop_page(&mut self, pfn: u64) -> io::Result<()> {
        let off = page_offset(elf::DATA_BASE, pfn, 1)?;
        write_at(&mut self.out, &mut self.pos, off, &ZERO_PAGE)?;
        self.end = self.end.max(self.pos);
        Ok(())
    }

    fn finish(mut self, present: &PfnSet) -> io::Result<W> {
        let phoff = self.end;
        let phnum = present.runs().count() as u64;
        self.out.seek(SeekFrom::Start(phoff))?;
        let mut buf = Vec::with_capacity(64 << 10);
        for (first, pages) in present.runs() {
            buf.extend_from_slice(&elf_load_phdr(first, pages));
            if buf.len() >= 60 << 10 {
                self.out.write_all(&buf)?;
                buf.clear();
            }
        }
        let shoff = phoff + phnum * elf::PHDR_SIZE;
        if phnum >= u64::from(elf::PN_XNUM) {
            buf.extend_from_slice(&elf_xnum_section(phnum));
        }
        self.out.write_all(&buf)?;
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&elf_header(phnum, phoff, shoff))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A sink that keeps the last contents of one pfn (for `xenstream page`).
#[derive(Debug, Clone)]
pub struct OnePage {
    pfn: u64,
    data: Vec<u8>,
    state: PageState,
}

/// What a stream said about one pfn, as [`OnePage`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageState {
    /// No entry of the pfn was applied.
    NeverSent,
    /// Only entries without contents were applied (the last one's type:
    /// XTAB, XALLOC or BROKEN).
    WithoutContents(PageType),
    /// The pfn had contents and was then marked not present (XTAB or
    /// BROKEN, the type given).
    Dropped(PageType),
    /// The contents of the last copy.
    Present(Vec<u8>),
}

impl OnePage {
    /// A sink for `pfn`.
    pub fn new(pfn: u64) -> Self {
        OnePage {
            pfn,
            data: Vec::new(),
            state: PageState::NeverSent,
        }
    }
}

impl PageSink for OnePage {
    type Output = PageState;

    fn pages(&mut self, first_pfn: u64, data: &[u8]) -> io::Result<()> {
        let n = (data.len() / PAGE_SIZE) as u64;
        if self.pfn >= first_pfn && self.pfn - first_pfn < n {
            let at = ((self.pfn - first_pfn) * PAGE) as usize;
            self.data.clear();
            self.data.extend_from_slice(&data[at..at + PAGE_SIZE]);
            self.state = PageState::Present(Vec::new());
        }
        Ok(())
    }

    fn drop_page(&mut self, _pfn: u64) -> io::Result<()> {
        // `no_contents`, called first, has recorded the drop and its type.
        Ok(())
    }

    fn no_contents(&mut self, pfn: u64, ptype: PageType) -> io::Result<()> {
        if pfn != self.pfn {
            return Ok(());
        }
        let had = matches!(self.state, PageState::Present(_) | PageState::Dropped(_));
        self.state = match (had, drops_contents(ptype)) {
            // XALLOC leaves contents (or their absence) as they are.
            (true, false) => return Ok(()),
            (true, true) => PageState::Dropped(ptype),
            (false, _) => PageState::WithoutContents(ptype),
        };
        Ok(())
    }

    fn finish(self, _present: &PfnSet) -> io::Result<PageState> {
        Ok(match self.state {
            PageState::Present(_) => PageState::Present(self.data),
            s => s,
        })
    }
}

/// Which state of a checkpointed stream to extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checkpoint {
    /// The last complete state: everything if the stream ends with END,
    /// else the state at the last CHECKPOINT record (see the module docs).
    #[default]
    Last,
    /// The state right after the n-th CHECKPOINT record (counting from 1);
    /// reading stops there.
    Nth(u64),
}

/// How [`extract`] and [`MemoryExtractor`] work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Which state of a checkpointed stream to extract.
    pub checkpoint: Checkpoint,
    /// Directory for the journal that stages segments after the first
    /// CHECKPOINT (with [`Checkpoint::Last`]); `None`: the system's
    /// temporary directory. The file is unlinked as soon as it is open.
    pub journal_dir: Option<PathBuf>,
}

/// Which state the image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageState {
    /// Everything up to the END record.
    End,
    /// The state after the n-th CHECKPOINT record.
    Checkpoint(u64),
}

impl fmt::Display for ImageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageState::End => f.write_str("end of stream"),
            ImageState::Checkpoint(n) => write!(f, "checkpoint {n}"),
        }
    }
}

/// What an extraction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The state the image holds.
    pub state: ImageState,
    /// CHECKPOINT records read.
    pub checkpoints: u64,
    /// PAGE_DATA records applied to the image.
    pub records: u64,
    /// Pfns with contents in the image.
    pub pages: u64,
    /// Page copies applied (pages with contents in the applied records).
    pub copies: u64,
    /// Copies that replaced an earlier copy of the same pfn.
    pub superseded: u64,
    /// Pfns that had contents and were then marked `XTAB` or `BROKEN`
    /// (each time it happened).
    pub dropped: u64,
    /// PAGE_DATA entries applied, by page type value (index = type).
    pub by_type: [u64; PAGE_TYPE_CODES],
    /// The pfns with contents as runs `(first pfn, number of pfns)`.
    pub ranges: Vec<(u64, u64)>,
    /// Set when the stream broke off in a segment after the state the image
    /// holds: what went wrong (the unfinished segment was left out).
    pub abandoned: Option<String>,
    /// What the caller should know about a valid stream (for example, a
    /// libxl stream that ends before any libxc stream, so the image is
    /// empty).
    pub notes: Vec<String>,
}

impl Summary {
    fn new() -> Self {
        Summary {
            state: ImageState::End,
            checkpoints: 0,
            records: 0,
            pages: 0,
            copies: 0,
            superseded: 0,
            dropped: 0,
            by_type: [0; PAGE_TYPE_CODES],
            ranges: Vec::new(),
            abandoned: None,
            notes: Vec::new(),
        }
    }

    /// The entry count for one page type.
    pub fn count(&self, t: PageType) -> u64 {
        self.by_type[t.value() as usize]
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "state:        {}", self.state)?;
        writeln!(f, "checkpoints:  {}", self.checkpoints)?;
        writeln!(f, "page records: {}", self.records)?;
        writeln!(
            f,
            "pages:        {} ({} KiB)",
            self.pages,
            self.pages * PAGE / 1024
        )?;
        writeln!(f, "copies:       {}", self.copies)?;
        writeln!(f, "superseded:   {}", self.superseded)?;
        writeln!(f, "dropped:      {}", self.dropped)?;
        writeln!(f, "page types:")?;
        for v in PageType::LAYOUT.variants {
            let n = self.by_type[v.value as usize];
            if n > 0 {
                writeln!(f, "  {:<24} {n}", v.human)?;
            }
        }
        writeln!(f, "ranges:       {}", self.ranges.len())?;
        const SHOWN: usize = 32;
        for (first, n) in self.ranges.iter().take(SHOWN) {
            let pfns = match n {
                1 => format!("{first:#x} (1 page"),
                n => format!("{first:#x}-{:#x} ({n} pages", first + n - 1),
            };
            writeln!(
                f,
                "  pfn {pfns}, physical {:#x}-{:#x})",
                first * PAGE,
                (first + n) * PAGE - 1
            )?;
        }
        if self.ranges.len() > SHOWN {
            writeln!(f, "  ... {} more", self.ranges.len() - SHOWN)?;
        }
        if let Some(a) = &self.abandoned {
            writeln!(f, "abandoned:    {a}")?;
        }
        for n in &self.notes {
            writeln!(f, "note:         {n}")?;
        }
        Ok(())
    }
}

/// Why an extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The stream is bad or could not be read (boxed: a stream error is
    /// large, and this keeps `Result<_, MemoryError>` small).
    #[error(transparent)]
    Stream(Box<StreamError>),
    /// The outer layers of a save file (xl header, libxl stream) are bad
    /// or could not be read (boxed like [`MemoryError::Stream`]).
    #[error(transparent)]
    Outer(Box<OuterError>),
    /// The sink could not write.
    #[error("writing the page of pfn {pfn:#x}: {source}")]
    Output {
        /// The first pfn of the write that failed.
        pfn: u64,
        /// What went wrong.
        source: io::Error,
    },
    /// The sink could not finish the image.
    #[error("finishing the image: {0}")]
    Finish(io::Error),
    /// The staging journal failed.
    #[error("the journal staging checkpoint {segment}: {source}")]
    Journal {
        /// The segment being staged (checkpoint number it would complete).
        segment: u64,
        /// What went wrong.
        source: io::Error,
    },
    /// Reading stopped before the stream's END and before any CHECKPOINT
    /// (no checkpoint was asked for): there is no complete state.
    #[error("the stream stopped before its END record and before any CHECKPOINT: no complete state to extract")]
    NoCompleteState,
    /// The checkpoint asked for is not in the stream.
    #[error(
        "checkpoint {asked} was asked for, but the stream {how} after {found} CHECKPOINT records"
    )]
    NoSuchCheckpoint {
        /// The checkpoint asked for.
        asked: u64,
        /// CHECKPOINT records the stream holds.
        found: u64,
        /// "ended" or "stopped".
        how: &'static str,
    },
}

impl From<crate::save::Error> for MemoryError {
    fn from(e: crate::save::Error) -> Self {
        match e {
            crate::save::Error::Stream(e) => MemoryError::Stream(Box::new(e)),
            crate::save::Error::Outer(e) => MemoryError::Outer(Box::new(e)),
            crate::save::Error::NoLibxcStream { offset } => {
                MemoryError::Stream(Box::new(StreamError::Misuse {
                    at: crate::stream::Location::at(offset),
                    what: "the input holds no libxc stream".into(),
                }))
            }
        }
    }
}

impl From<StreamError> for MemoryError {
    fn from(e: StreamError) -> Self {
        MemoryError::Stream(Box::new(e))
    }
}

impl From<OuterError> for MemoryError {
    fn from(e: OuterError) -> Self {
        MemoryError::Outer(Box::new(e))
    }
}

/// What the caller of [`MemoryExtractor::record`] does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next record.
    Continue,
    /// The state asked for is complete: stop reading and call
    /// [`MemoryExtractor::finish`].
    Stop,
}

/// The byte order of the journal's counts and pfn entries (a file of
/// this process only).
const JOURNAL_ORDER: Endian = Endian::Little;

/// The staging journal: PAGE_DATA contents of segments not yet complete.
struct Journal {
    w: BufWriter<File>,
    staged: bool,
}

impl Journal {
    fn create(dir: &std::path::Path) -> io::Result<Journal> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = dir.join(format!(".xenstream-journal-{}-{nanos}", std::process::id()));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Unlinked at once: the file lives as long as the handle.
        let _ = std::fs::remove_file(&path);
        Ok(Journal {
            w: BufWriter::with_capacity(1 << 20, file),
            staged: false,
        })
    }

    fn append(&mut self, entries: &[u64], data: &[u8]) -> io::Result<()> {
        self.staged = true;
        self.w
            .write_all(&u64_octets(entries.len() as u64, JOURNAL_ORDER))?;
        for e in entries {
            self.w.write_all(&u64_octets(*e, JOURNAL_ORDER))?;
        }
        self.w.write_all(data)
    }
}

/// Applies a stream's PAGE_DATA records to a [`PageSink`], record by record.
///
/// Drive it yourself when the libxc stream is embedded in a higher layer
/// (a libxl stream carries its own records after each CHECKPOINT): call
/// [`record`](Self::record) after every [`StreamReader::next_header`],
/// [`broke_off`](Self::broke_off) if reading fails, and
/// [`finish`](Self::finish) at the end. [`extract`] does this for a bare
/// libxc stream.
pub struct MemoryExtractor<S> {
    sink: S,
    opts: ExtractOptions,
    set: PfnSet,
    sum: Summary,
    ended: bool,
    reached: bool,
    staging: bool,
    journal: Option<Journal>,
    entries: Vec<u64>,
    data: Vec<u8>,
}

impl<S> fmt::Debug for MemoryExtractor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryExtractor")
            .field("opts", &self.opts)
            .field("summary", &self.sum)
            .field("staging", &self.staging)
            .finish()
    }
}

/// The pfn entry types that take contents away from a pfn.
fn drops_contents(t: PageType) -> bool {
    matches!(t, PageType::Xtab | PageType::Broken)
}

impl<S: PageSink> MemoryExtractor<S> {
    /// An extractor writing to `sink`.
    pub fn new(sink: S, opts: ExtractOptions) -> Self {
        MemoryExtractor {
            sink,
            opts,
            set: PfnSet::new(),
            sum: Summary::new(),
            ended: false,
            reached: false,
            staging: false,
            journal: None,
            entries: Vec::new(),
            data: Vec::new(),
        }
    }

    /// The pfns with contents so far (staged segments not included).
    pub fn present(&self) -> &PfnSet {
        &self.set
    }

    /// Handles the record `reader.next_header()` has just returned: reads
    /// a PAGE_DATA body and applies (or stages) it; counts CHECKPOINT and
    /// END. Other records are left for the reader to skip.
    pub fn record<R: Read>(
        &mut self,
        reader: &mut StreamReader<R>,
        info: RecordInfo,
    ) -> Result<Flow, MemoryError> {
        if self.reached {
            return Ok(Flow::Stop);
        }
        match info.rtype {
            LibxcRecord::PAGE_DATA => {
                let mut batch = reader.page_batch()?;
                let (entries, data) = batch.contents()?;
                if self.staging {
                    let segment = self.sum.checkpoints + 1;
                    let j = self.journal.as_mut().expect("a journal while staging");
                    j.append(entries, data)
                        .map_err(|source| MemoryError::Journal { segment, source })?;
                } else {
                    Self::apply(&mut self.sink, &mut self.set, &mut self.sum, entries, data)?;
                }
            }
            LibxcRecord::CHECKPOINT => {
                self.commit()?;
                self.sum.checkpoints += 1;
                match self.opts.checkpoint {
                    Checkpoint::Nth(n) if n == self.sum.checkpoints => {
                        self.reached = true;
                        return Ok(Flow::Stop);
                    }
                    Checkpoint::Nth(_) => {}
                    Checkpoint::Last => self.start_staging()?,
                }
            }
            LibxcRecord::END => {
                self.commit()?;
                self.ended = true;
                return Ok(Flow::Stop);
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn start_staging(&mut self) -> Result<(), MemoryError> {
        if self.journal.is_none() {
            let dir = self
                .opts
                .journal_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir);
            let j = Journal::create(&dir).map_err(|source| MemoryError::Journal {
                segment: self.sum.checkpoints + 1,
                source,
            })?;
            self.journal = Some(j);
        }
        self.staging = true;
        Ok(())
    }

    /// Replays the staged segment into the sink.
    fn commit(&mut self) -> Result<(), MemoryError> {
        let segment = self.sum.checkpoints + 1;
        let Some(j) = self.journal.as_mut().filter(|j| j.staged) else {
            return Ok(());
        };
        let jerr = |source| MemoryError::Journal { segment, source };
        j.w.flush().map_err(jerr)?;
        let file = j.w.get_mut();
        file.seek(SeekFrom::Start(0)).map_err(jerr)?;
        let mut r = BufReader::with_capacity(1 << 20, &*file);
        loop {
            let mut n = [0u8; 8];
            match r.read_exact(&mut n) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(jerr(e)),
            }
            let count = u64_at(&n, 0, JOURNAL_ORDER).unwrap_or(0) as usize;
            self.entries.clear();
            for _ in 0..count {
                r.read_exact(&mut n).map_err(jerr)?;
                self.entries.push(u64_at(&n, 0, JOURNAL_ORDER).unwrap_or(0));
            }
            // The reader checked these entries before they were staged.
            let with_data = PageData::pages_with_data(&self.entries)
                .map_err(|e| jerr(io::Error::new(io::ErrorKind::InvalidData, e)))?;
            self.data.resize(with_data * PAGE_SIZE, 0);
            r.read_exact(&mut self.data).map_err(jerr)?;
            Self::apply(
                &mut self.sink,
                &mut self.set,
                &mut self.sum,
                &self.entries,
                &self.data,
            )?;
        }
        drop(r);
        file.set_len(0).map_err(jerr)?;
        file.seek(SeekFrom::Start(0)).map_err(jerr)?;
        j.staged = false;
        Ok(())
    }

    /// Applies one PAGE_DATA record (entries checked by the reader).
    fn apply(
        sink: &mut S,
        set: &mut PfnSet,
        sum: &mut Summary,
        entries: &[u64],
        data: &[u8],
    ) -> Result<(), MemoryError> {
        sum.records += 1;
        // The run of consecutive pfns being gathered: (first pfn, first
        // page index in `data`, number of pages).
        let mut run: Option<(u64, usize, usize)> = None;
        let flush = |sink: &mut S, run: Option<(u64, usize, usize)>| match run {
            Some((pfn, k, n)) => sink
                .pages(pfn, &data[k * PAGE_SIZE..(k + n) * PAGE_SIZE])
                .map_err(|source| MemoryError::Output { pfn, source }),
            None => Ok(()),
        };
        let mut k = 0usize;
        for &e in entries {
            let t = (e >> PAGE_DATA_TYPE_SHIFT) as usize;
            sum.by_type[t] += 1;
            let pfn = e & PAGE_DATA_PFN_MASK;
            let Some(ptype) = PageType::of_entry(e) else {
                continue;
            };
            if ptype.has_data() {
                sum.copies += 1;
                if !set.insert(pfn) {
                    sum.superseded += 1;
                }
                run = match run {
                    Some((first, k0, n)) if first + n as u64 == pfn => Some((first, k0, n + 1)),
                    other => {
                        flush(sink, other)?;
                        Some((pfn, k, 1))
                    }
                };
                k += 1;
            } else {
                flush(sink, run.take())?;
                sink.no_contents(pfn, ptype)
                    .map_err(|source| MemoryError::Output { pfn, source })?;
                if drops_contents(ptype) && set.remove(pfn) {
                    sum.dropped += 1;
                    sink.drop_page(pfn)
                        .map_err(|source| MemoryError::Output { pfn, source })?;
                }
            }
        }
        flush(sink, run)
    }

    /// The stream could not be read further (`err`). With
    /// [`Checkpoint::Last`] and at least one complete checkpoint, the
    /// unfinished segment is thrown away and the image is finished at the
    /// last checkpoint ([`Summary::abandoned`] says why); otherwise the
    /// error is returned.
    pub fn broke_off(mut self, err: MemoryError) -> Result<(S::Output, Summary), MemoryError> {
        let is_stream = matches!(err, MemoryError::Stream(_) | MemoryError::Outer(_));
        if is_stream && self.staging && self.opts.checkpoint == Checkpoint::Last {
            self.journal = None;
            self.staging = false;
            self.sum.abandoned = Some(format!(
                "the stream broke off after checkpoint {}: {err}",
                self.sum.checkpoints
            ));
            self.reached = true;
            return self.finish();
        }
        Err(err)
    }

    /// Finishes the image: the sink's output and the summary.
    ///
    /// Fails if the state asked for was not reached: [`Checkpoint::Nth`]
    /// beyond the stream's checkpoints, or [`Checkpoint::Last`] before END
    /// with no complete checkpoint.
    pub fn finish(mut self) -> Result<(S::Output, Summary), MemoryError> {
        match self.opts.checkpoint {
            Checkpoint::Nth(n) if !self.reached => {
                return Err(MemoryError::NoSuchCheckpoint {
                    asked: n,
                    found: self.sum.checkpoints,
                    how: if self.ended { "ended" } else { "stopped" },
                })
            }
            Checkpoint::Nth(n) => self.sum.state = ImageState::Checkpoint(n),
            Checkpoint::Last if self.ended => self.sum.state = ImageState::End,
            Checkpoint::Last if self.sum.checkpoints > 0 => {
                // Stopped early by the caller: staged pages are not applied.
                self.sum.state = ImageState::Checkpoint(self.sum.checkpoints)
            }
            Checkpoint::Last => return Err(MemoryError::NoCompleteState),
        }
        self.sum.pages = self.set.len();
        self.sum.ranges = self.set.runs().collect();
        let out = self.sink.finish(&self.set).map_err(MemoryError::Finish)?;
        Ok((out, self.sum))
    }
}

/// Reads `reader` to the end (or to the checkpoint asked for) and writes
/// the guest's memory to `sink`; returns the sink's output and a summary.
///
/// With [`Checkpoint::Last`], a stream that breaks off after at least one
/// CHECKPOINT gives the state at its last CHECKPOINT (see
/// [`MemoryExtractor::broke_off`]); any other read error is returned.
pub fn extract<R: Read, S: PageSink>(
    reader: &mut StreamReader<R>,
    sink: S,
    opts: &ExtractOptions,
) -> Result<(S::Output, Summary), MemoryError> {
    let mut x = MemoryExtractor::new(sink, opts.clone());
    loop {
        let step = match reader.next_header() {
            Ok(Some(info)) => x.record(reader, info),
            Ok(None) => Ok(Flow::Stop),
            Err(e) => Err(e.into()),
        };
        match step {
            Ok(Flow::Continue) => {}
            Ok(Flow::Stop) => return x.finish(),
            Err(e) => return x.broke_off(e),
        }
    }
}

/// Like [`extract`], for a whole input read with [`SaveReader`]: an
/// `xl save` file, a bare libxl stream or a bare libxc stream (`format`
/// says which, or detects it). Every layer is read leniently (what a
/// restore checks), and the libxl records between the checkpoints of a
/// checkpointed stream are read and ignored. Reading stops at the libxc
/// END record (or at the checkpoint asked for): what follows it is not
/// looked at. Offsets in errors are absolute in every segment.
pub fn extract_save_file<R: Read, S: PageSink>(
    input: R,
    format: FormatChoice,
    sink: S,
    opts: &ExtractOptions,
) -> Result<(S::Output, Summary), MemoryError> {
    let mut r = SaveReader::new(input, Options::mode(Mode::Lenient).format(format))?;
    let mut x = MemoryExtractor::new(sink, opts.clone());
    let mut saw_libxc = false;
    loop {
        let step = match r.next() {
            Err(e) => Err(e.into()),
            Ok(None) if !saw_libxc => {
                // libxl's restore accepts END here and restores nothing.
                x.ended = true;
                x.sum.notes.push(
                    "the stream ends before any libxc stream: it holds no guest memory, \
                     the image is empty"
                        .into(),
                );
                Ok(Flow::Stop)
            }
            Ok(None) => Ok(Flow::Stop),
            Ok(Some(Event::LibxcRecord(info))) => match r.libxc() {
                Some(reader) => x.record(reader, info),
                None => Ok(Flow::Continue),
            },
            Ok(Some(Event::LibxcHeaders { .. })) => {
                saw_libxc = true;
                Ok(Flow::Continue)
            }
            Ok(Some(_)) => Ok(Flow::Continue),
        };
        match step {
            Ok(Flow::Continue) => {}
            Ok(Flow::Stop) => return x.finish(),
            Err(e) => return x.broke_off(e),
        }
    }
}
