//! The zero-copy conversion (`convert_zero_copy`) against the buffered one
//! (`convert`): the same output octets, report and errors, over files,
//! pipes and sockets, on both real save files and synthetic streams; the
//! kernel moves the page contents where it can (`kernel_octets`), and the
//! conversion falls back to the buffer where it refuses (an `O_APPEND`
//! output, two sockets).

#![cfg(unix)]

mod common;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use format_spec::convert::{
    convert, convert_zero_copy, ConvertError, ConvertOptions, ConvertReport,
};
use format_spec::libxc::{DomainType, LibxcRecord, PAGE_SIZE};
use format_spec::stream::{StreamWriter, WriterOptions};

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("zero-copy-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the input reaches the conversion and where the output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    FileToFile,
    FileToPipe,
    PipeToPipe,
    PipeToFile,
    /// The output is opened with `O_APPEND`: the kernel refuses.
    FileToAppend,
    /// Unix sockets both ways: nothing the kernel offers.
    SocketToSocket,
}

const ROUTES: [Route; 6] = [
    Route::FileToFile,
    Route::FileToPipe,
    Route::PipeToPipe,
    Route::PipeToFile,
    Route::FileToAppend,
    Route::SocketToSocket,
];

impl Route {
    /// Whether the kernel moves page contents on this route.
    fn kernel(self) -> bool {
        !matches!(self, Route::FileToAppend | Route::SocketToSocket)
    }
}

/// Runs the zero-copy conversion of `input` on `route`; returns the result
/// and the octets written.
fn run(
    dir: &TempDir,
    route: Route,
    input: &[u8],
    opts: ConvertOptions,
) -> (Result<ConvertReport, ConvertError>, Vec<u8>) {
    let in_path = dir.file("in.bin", input);
    let out_path = dir.0.join("out.bin");
    let _ = std::fs::remove_file(&out_path);
    std::thread::scope(|s| {
        // The input side.
        let file_in = || File::open(&in_path).unwrap();
        let pipe_in = || {
            let (r, mut w) = std::io::pipe().unwrap();
            s.spawn(move || {
                // The conversion may stop early (an error): a closed pipe
                // is not this thread's failure.
                let _ = w.write_all(input);
            });
            r
        };
        // The output side: a file, read back after, or a pipe drained by
        // a thread.
        let file_out = |append: bool| {
            let mut o = OpenOptions::new();
            o.create(true).write(true);
            if append {
                o.append(true);
            } else {
                o.truncate(true);
            }
            o.open(&out_path).unwrap()
        };
        let read_file = || std::fs::read(&out_path).unwrap();
        let pipe_out = || {
            let (mut r, w) = std::io::pipe().unwrap();
            let h = s.spawn(move || {
                let mut v = Vec::new();
                r.read_to_end(&mut v).unwrap();
                v
            });
            (w, h)
        };
        match route {
            Route::FileToFile => {
                let res = convert_zero_copy(file_in(), file_out(false), opts);
                (res, read_file())
            }
            Route::FileToAppend => {
                // Something there already: appended after it.
                std::fs::write(&out_path, b"before").unwrap();
                let res = convert_zero_copy(file_in(), file_out(true), opts);
                let mut out = read_file();
                assert_eq!(&out[..6], b"before");
                out.drain(..6);
                (res, out)
            }
            Route::FileToPipe => {
                let (w, h) = pipe_out();
                let res = convert_zero_copy(file_in(), w, opts);
                (res, h.join().unwrap())
            }
            Route::PipeToPipe => {
                let r = pipe_in();
                let (w, h) = pipe_out();
                let res = convert_zero_copy(r, w, opts);
                (res, h.join().unwrap())
            }
            Route::PipeToFile => {
                let res = convert_zero_copy(pipe_in(), file_out(false), opts);
                (res, read_file())
            }
            Route::SocketToSocket => {
                let (a, mut feed) = UnixStream::pair().unwrap();
                let (b, mut drain) = UnixStream::pair().unwrap();
                s.spawn(move || {
                    let _ = feed.write_all(input);
                });
                let h = s.spawn(move || {
                    let mut v = Vec::new();
                    drain.read_to_end(&mut v).unwrap();
                    v
                });
                let res = convert_zero_copy(a, b, opts);
                (res, h.join().unwrap())
            }
        }
    })
}

/// The buffered conversion's result and output.
fn buffered(input: &[u8], opts: ConvertOptions) -> (Result<ConvertReport, ConvertError>, Vec<u8>) {
    let mut out = Vec::new();
    let res = convert(input, &mut out, opts);
    (res, out)
}

/// Converts `input` on every route and checks the output octets and the
/// report (or the error) against the buffered conversion's.
fn same_on_every_route(dir: &TempDir, what: &str, input: &[u8], opts: ConvertOptions) {
    let (want, want_out) = buffered(input, opts);
    for route in ROUTES {
        let (got, out) = run(dir, route, input, opts);
        let ctx = format!("{what}, {route:?}");
        match (&want, got) {
            (Ok(want), Ok(got)) => {
                assert!(out == want_out, "{ctx}: the output octets differ");
                assert_eq!(want.kernel_octets, 0, "{ctx}: convert moves nothing");
                let contents = want.data_pages * PAGE_SIZE as u64;
                if route.kernel() && contents >= 1 << 20 {
                    // All but what the 16 KiB input buffer held.
                    assert!(
                        got.kernel_octets > contents / 2 && got.kernel_octets <= contents,
                        "{ctx}: the kernel moved {} of {contents} octets of page contents",
                        got.kernel_octets
                    );
                } else if !route.kernel() {
                    assert_eq!(got.kernel_octets, 0, "{ctx}: the kernel refuses this route");
                }
                let got = ConvertReport {
                    kernel_octets: 0,
                    ..got
                };
                assert_eq!(&got, want, "{ctx}: the reports differ");
            }
            (Err(want), Err(got)) => {
                assert_eq!(got.kind(), want.kind(), "{ctx}: {got}");
                assert_eq!(got.offset(), want.offset(), "{ctx}: {got}");
                assert_eq!(got.to_string(), want.to_string(), "{ctx}");
                // Up to the error, the same octets went out.
                assert!(
                    want_out.starts_with(&out) || out.starts_with(&want_out),
                    "{ctx}: the partial outputs differ"
                );
            }
            (want, got) => panic!("{ctx}: buffered {want:?}, zero-copy {got:?}"),
        }
    }
}

/// A version 3 HVM stream with `records` PAGE_DATA records of 1024 pages
/// (each page's first octets name it), some XTAB entries among them.
fn synthetic_v3(records: usize) -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let mut pages = vec![0u8; 1024 * PAGE_SIZE];
    for r in 0..records {
        let pfns: Vec<u64> = (0..1024).map(|i| (r * 1024 + i) as u64).collect();
        for (i, p) in pages.chunks_mut(PAGE_SIZE).enumerate() {
            p[..8].copy_from_slice(&((r * 1024 + i) as u64).to_le_bytes());
            p[8] = r as u8;
        }
        w.write_page_data(&pfns, &pages).unwrap();
    }
    // An XTAB-only record: a pfn array and no contents.
    let xtab = ((format_spec::libxc::PageType::Xtab as u64)
        << format_spec::libxc::PAGE_DATA_TYPE_SHIFT)
        | 0xf_0000;
    w.write_page_data(&[xtab, xtab + 1], &[]).unwrap();
    common::finish_hvm(w)
}

#[test]
fn synthetic_streams_every_way_and_route() {
    let dir = TempDir::new("synthetic");
    let v3 = synthetic_v3(6);
    let mut v4 = Vec::new();
    convert(&v3[..], &mut v4, ConvertOptions::to(4)).unwrap();
    let mut v2 = Vec::new();
    convert(&v3[..], &mut v2, ConvertOptions::to(2)).unwrap();
    same_on_every_route(&dir, "v3 to v4", &v3, ConvertOptions::to(4));
    same_on_every_route(&dir, "v4 to v3", &v4, ConvertOptions::to(3));
    same_on_every_route(&dir, "v3 to v2", &v3, ConvertOptions::to(2));
    same_on_every_route(&dir, "v2 to v4", &v2, ConvertOptions::to(4));
}

#[test]
fn real_save_files_every_route() {
    let dir = TempDir::new("real");
    for name in test_support::REAL_STREAMS {
        let data = std::fs::read(test_support::real_stream(name)).unwrap();
        same_on_every_route(&dir, name, &data, ConvertOptions::to(4));
        let mut v4 = Vec::new();
        convert(&data[..], &mut v4, ConvertOptions::to(4)).unwrap();
        same_on_every_route(&dir, &format!("{name} back"), &v4, ConvertOptions::to(3));
    }
}

/// Cut inside page contents (the kernel's move comes up short), inside a
/// pfn array and inside a later record: the same error, at the same
/// offset, as the buffered conversion, on every route.
#[test]
fn truncated_inputs_fail_alike() {
    let dir = TempDir::new("truncated");
    let v3 = synthetic_v3(3);
    let record = 16 + 1024 * 8 + 1024 * PAGE_SIZE;
    let first = 24 + 24 + 8; // headers, STATIC_DATA_END
    for cut in [
        first + 16 + 1024 * 8 + 5 * PAGE_SIZE + 100,
        first + record + 16 + 1024 * 8 + 300 * PAGE_SIZE,
        first + 2 * record + 10,
        first + 3 * record - 1,
        v3.len() - 3,
    ] {
        let (res, _) = buffered(&v3[..cut], ConvertOptions::to(4));
        assert_eq!(
            res.as_ref().unwrap_err().kind(),
            "Truncated",
            "cut at {cut}"
        );
        same_on_every_route(
            &dir,
            &format!("cut at {cut}"),
            &v3[..cut],
            ConvertOptions::to(4),
        );
    }
}

/// An output that stops taking octets (its reader went away) while page
/// contents are moved: a write error, not an input error.
#[test]
fn a_closed_output_pipe_is_a_write_error() {
    let v3 = synthetic_v3(4);
    let dir = TempDir::new("closed");
    let path = dir.file("in.bin", &v3);
    let (r, w) = std::io::pipe().unwrap();
    let reader = std::thread::spawn(move || {
        // Take a little, then close.
        let mut r = r;
        let mut buf = vec![0u8; 100_000];
        r.read_exact(&mut buf).unwrap();
    });
    let res = convert_zero_copy(File::open(&path).unwrap(), w, ConvertOptions::to(4));
    reader.join().unwrap();
    let e = res.unwrap_err();
    assert_eq!(e.kind(), "Write", "{e}");
    assert!(matches!(e, ConvertError::Write { .. }), "{e}");
}

/// The input's current offset is where the stream starts (a caller that
/// read a prefix of its own): the kernel moves from there on.
#[test]
fn starts_at_the_input_offset() {
    let dir = TempDir::new("offset");
    let v3 = synthetic_v3(2);
    let mut data = b"PREFIX--".to_vec();
    data.extend_from_slice(&v3);
    let p = dir.file("in.bin", &data);
    let mut f = File::open(&p).unwrap();
    f.seek(std::io::SeekFrom::Start(8)).unwrap();
    let out_path = dir.0.join("out.bin");
    let rep =
        convert_zero_copy(&f, File::create(&out_path).unwrap(), ConvertOptions::to(4)).unwrap();
    assert!(rep.kernel_octets > 0);
    let (want, want_out) = buffered(&v3, ConvertOptions::to(4));
    assert_eq!(want.unwrap().bytes_out, rep.bytes_out);
    assert!(std::fs::read(&out_path).unwrap() == want_out);
    assert!(Path::new(&out_path).exists());
}
