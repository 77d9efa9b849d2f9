//! Reading and verifying through a real pipe (a `cat` child process), and
//! the reader stopping exactly at END with the rest of the pipe intact.

use std::io::{BufReader, Read, Write};
use std::process::{Command, Stdio};

use format_spec::libxc::{DomainType, LibxcRecord, PageType, PAGE_SIZE};
use format_spec::stream::{
    verify, ErrorKind, ReaderOptions, StreamReader, StreamWriter, VerifyOptions, WriterOptions,
};

fn sample() -> (Vec<u8>, u64) {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(3),
    )
    .unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let xtab = (PageType::Xtab as u64) << 60;
    let mut pages_written = 0;
    for batch in 0..40u64 {
        let pfns: Vec<u64> = (0..256)
            .map(|i| if i % 3 == 0 { xtab | i } else { batch << 8 | i })
            .collect();
        let n = pfns.iter().filter(|p| *p & xtab != xtab).count();
        let mut pages = vec![0u8; n * PAGE_SIZE];
        for (k, p) in pages.chunks_mut(PAGE_SIZE).enumerate() {
            p.fill((batch as u8).wrapping_add(k as u8));
        }
        pages_written += n as u64;
        w.write_page_data(&pfns, &pages).unwrap();
    }
    (w.finish().unwrap(), pages_written)
}

/// A `cat` child whose stdout carries `bytes`, written into its stdin by
/// a thread: a real pipe, and no temporary file to clean up.
fn cat(bytes: &[u8]) -> std::process::Child {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let mut stdin = child.stdin.take().unwrap();
    let bytes = bytes.to_vec();
    // The reader may stop before the end (a truncated stream, END): a
    // write error on the closed pipe is then expected and ignored.
    std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    child
}

#[test]
fn verify_from_a_pipe() {
    let (bytes, pages) = sample();
    assert!(bytes.len() > 20 << 20);
    let mut child = cat(&bytes);
    let out = child.stdout.take().unwrap();
    let rep = verify(BufReader::new(out), VerifyOptions::strict()).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(rep.data_pages, pages);
    assert_eq!(rep.bytes(), bytes.len() as u64);
}

#[test]
fn truncated_pipe_reports_where_it_ended() {
    let (bytes, _) = sample();
    let cut = bytes.len() / 2 + 5;
    let mut child = cat(&bytes[..cut]);
    let out = child.stdout.take().unwrap();
    let err = verify(BufReader::new(out), VerifyOptions::strict()).unwrap_err();
    child.wait().unwrap();
    assert_eq!(err.kind(), ErrorKind::Truncated);
    assert_eq!(err.offset(), cut as u64);
}

#[test]
fn pages_from_a_pipe_into_caller_buffers_and_what_follows_end() {
    let (mut bytes, pages) = sample();
    let stream_len = bytes.len() as u64;
    bytes.extend_from_slice(b"libxl records follow");
    let mut child = cat(&bytes);
    let out = child.stdout.take().unwrap();
    // Unbuffered on purpose: the reader must not read past END by itself.
    let mut r = StreamReader::with_options(out, ReaderOptions::default()).unwrap();
    let mut buf = vec![0u8; 8 * PAGE_SIZE];
    let (mut n, mut checked) = (0u64, 0u64);
    while let Some(info) = r.next_header().unwrap() {
        if info.rtype != LibxcRecord::PAGE_DATA {
            continue;
        }
        let mut b = r.page_batch().unwrap();
        let batch = (b.pfns()[1] >> 8) as u8;
        let mut k = 0u8;
        while b.pages_left() > 0 {
            let take = b.pages_left().min(8);
            b.read_pages(&mut buf[..take * PAGE_SIZE]).unwrap();
            for p in buf[..take * PAGE_SIZE].chunks(PAGE_SIZE) {
                assert!(p.iter().all(|x| *x == batch.wrapping_add(k)));
                k = k.wrapping_add(1);
                checked += 1;
            }
            n += take as u64;
        }
    }
    assert_eq!((n, checked), (pages, pages));
    assert_eq!(r.position(), stream_len);
    let mut rest = String::new();
    r.into_inner().read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "libxl records follow");
    child.wait().unwrap();
}
