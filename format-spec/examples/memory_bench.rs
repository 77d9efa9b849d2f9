//! Throughput of memory extraction against a plain read loop.
//!
//! ```text
//! cargo run --release --example memory_bench -p format-spec -- [SIZE_MIB] [DIR] [ROUNDS]
//! ```
//!
//! Writes a synthetic version 3 HVM stream of SIZE_MIB (default 1024) of
//! page data (1024 pages per PAGE_DATA record, every page sent once) into
//! DIR (default `/dev/shm` when it exists, so neither the stream nor the
//! image touches a disk), then times, best of ROUNDS (default 3):
//!
//! * a `read()` loop over the stream file with a 256 KiB buffer;
//! * extraction into a sink that keeps nothing (the extractor's own cost:
//!   reading, pfn entries, bitmap);
//! * extraction to a raw image file and to an ELF core file in DIR, as
//!   `xenstream memory` does it (1 MiB `BufReader`, [`RawSink`] /
//!   [`ElfSink`] on a fresh `File`);
//! * for reference, a `write()` loop of as many octets in 4 MiB chunks
//!   into a fresh file (the cost of producing the image at all).
//!
//! and prints each throughput and its ratio to the read loop.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use format_spec::body::Opaque;
use format_spec::libxc::{DomainType, LibxcRecord, PAGE_SIZE};
use format_spec::memory::{extract, ElfSink, ExtractOptions, PageSink, RawSink};
use format_spec::stream::{ReaderOptions, StreamReader, StreamWriter, WriterOptions};

const BATCH: usize = 1024;

fn write_stream(path: &Path, mib: u64) -> u64 {
    let out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(out, opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let mut pages = vec![0u8; BATCH * PAGE_SIZE];
    let records = ((mib << 20) / pages.len() as u64).max(1);
    for r in 0..records {
        for (i, b) in pages.iter_mut().enumerate() {
            *b = (i as u64 ^ r) as u8 | 1;
        }
        let pfns: Vec<u64> = (0..BATCH as u64).map(|i| r * BATCH as u64 + i).collect();
        w.write_page_data(&pfns, &pages).unwrap();
    }
    w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 64])))
        .unwrap();
    w.finish().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn best(rounds: u32, mut f: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn read_loop(path: &Path) -> u64 {
    let mut f = File::open(path).unwrap();
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// Keeps nothing: what the extractor itself costs (reading, parsing the
/// pfn entries, the bitmap), without writing an image.
struct Discard;

impl PageSink for Discard {
    type Output = ();
    fn pages(&mut self, _first_pfn: u64, data: &[u8]) -> io::Result<()> {
        std::hint::black_box(data);
        Ok(())
    }
    fn drop_page(&mut self, _pfn: u64) -> io::Result<()> {
        Ok(())
    }
    fn finish(self, _present: &format_spec::memory::PfnSet) -> io::Result<()> {
        Ok(())
    }
}

fn extract_to<S: PageSink>(stream: &Path, sink: S) -> u64 {
    let input = BufReader::with_capacity(1 << 20, File::open(stream).unwrap());
    let mut r = StreamReader::with_options(input, ReaderOptions::default()).unwrap();
    let (_, sum) = extract(&mut r, sink, &ExtractOptions::default()).unwrap();
    sum.pages
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mib: u64 = args.first().map_or(1024, |s| s.parse().expect("SIZE_MIB"));
    let dir = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        let shm = PathBuf::from("/dev/shm");
        if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        }
    });
    let rounds: u32 = args.get(2).map_or(3, |s| s.parse().expect("ROUNDS"));
    let tag = std::process::id();
    let stream = dir.join(format!("memory-bench-{tag}.stream"));
    let image = dir.join(format!("memory-bench-{tag}.img"));
    let len = write_stream(&stream, mib);
    let expect_pages = (mib << 20) / PAGE_SIZE as u64;
    let gib = |secs: f64| len as f64 / secs / (1u64 << 30) as f64;

    read_loop(&stream); // warm the page cache
    let t_read = best(rounds, || assert_eq!(read_loop(&stream), len));
    let fresh = || {
        let _ = std::fs::remove_file(&image);
        File::create(&image).unwrap()
    };
    let t_null = best(rounds, || {
        assert_eq!(extract_to(&stream, Discard), expect_pages);
    });
    let t_raw = best(rounds, || {
        let out = fresh();
        assert_eq!(extract_to(&stream, RawSink::new(out)), expect_pages);
    });
    let t_elf = best(rounds, || {
        let out = fresh();
        assert_eq!(extract_to(&stream, ElfSink::new(out)), expect_pages);
    });
    let chunk = vec![0x5au8; 4 << 20];
    let t_write = best(rounds, || {
        let mut out = fresh();
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            out.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
    });
    let _ = std::fs::remove_file(&image);
    let _ = std::fs::remove_file(&stream);

    println!(
        "memory extraction, {len} octet stream ({} pages) in {}, best of {rounds}",
        expect_pages,
        dir.display()
    );
    println!("  read loop (256 KiB)      {:6.2} GiB/s  1.00", gib(t_read));
    for (name, t) in [
        ("extract, no image", t_null),
        ("extract raw image", t_raw),
        ("extract ELF core", t_elf),
        ("write loop (4 MiB)", t_write),
    ] {
        println!("  {name:<24} {:6.2} GiB/s  {:.2}", gib(t), t_read / t);
    }
    println!(
        "extraction to a file / read loop: {:.2} (goal >= 0.7); without the image: {:.2}; \
         to a file / write loop: {:.2}",
        t_read / t_raw.max(t_elf),
        t_read / t_null,
        t_write / t_raw.max(t_elf)
    );
}
