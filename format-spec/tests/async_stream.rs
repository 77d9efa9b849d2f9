//! The async writer and reader against their blocking twins: the same
//! octets written (also into an output that takes a few octets at a time),
//! the same refusals with the same kinds and offsets, and a checkpointed
//! stream paused and resumed around another layer's octets.
#![cfg(feature = "tokio")]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use format_spec::asynchronous::{AsyncStreamReader, AsyncStreamWriter};
use format_spec::libxc::{DomainType, HvmParams, HvmParamsEntry, LibxcRecord, PAGE_SIZE};
use format_spec::stream::{
    ErrorKind, Record, StreamReader, StreamWriter, Verifier, VerifyOptions, WriterOptions,
};
use tokio::io::AsyncWrite;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// An output that takes 1 to 7 octets per write, and is not ready every
/// other time.
#[derive(Default)]
struct Trickle {
    out: Vec<u8>,
    n: usize,
}

impl AsyncWrite for Trickle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.n += 1;
        if self.n.is_multiple_of(2) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let k = buf.len().min(1 + self.n % 7);
        self.out.extend_from_slice(&buf[..k]);
        Poll::Ready(Ok(k))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn params() -> LibxcRecord {
    LibxcRecord::HvmParams(HvmParams {
        count: 1,
        _res1: 0,
        param: vec![HvmParamsEntry { index: 2, value: 3 }],
    })
}

/// Segment 1, CHECKPOINT, 24 octets of another layer, segment 2, END.
fn blocking_stream() -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.write_page_data(&[1, 2], &vec![0xab; 2 * PAGE_SIZE])
        .unwrap();
    w.write(&params()).unwrap();
    w.write_optional(0x8000_1234, b"optional").unwrap();
    w.checkpoint().unwrap();
    w.get_mut().extend_from_slice(&[0xee; 24]);
    let at = w.get_mut().len() as u64;
    w.resume_at(at).unwrap();
    w.write_page_data(&[3], &vec![0xcd; PAGE_SIZE]).unwrap();
    w.finish().unwrap()
}

async fn async_stream<W: AsyncWrite + Unpin>(out: W, other: impl Fn(&mut W)) -> W {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = AsyncStreamWriter::new(out, opts).await.unwrap();
    w.write(&LibxcRecord::StaticDataEnd).await.unwrap();
    w.write_page_data(&[1, 2], &vec![0xab; 2 * PAGE_SIZE])
        .await
        .unwrap();
    w.write(&params()).await.unwrap();
    w.write_optional(0x8000_1234, b"optional").await.unwrap();
    let cp = w.checkpoint().await.unwrap();
    other(w.get_mut());
    w.resume_at(cp.offset + 8 + 24).unwrap();
    let info = w
        .write_page_data(&[3], &vec![0xcd; PAGE_SIZE])
        .await
        .unwrap();
    assert_eq!(info.offset, cp.offset + 8 + 24);
    assert_eq!(w.interleaved(), 24);
    w.finish().await.unwrap()
}

#[test]
fn the_async_writer_writes_the_blocking_writers_octets() {
    let want = blocking_stream();
    let got = block_on(async_stream(Vec::new(), |v| {
        v.extend_from_slice(&[0xee; 24])
    }));
    assert_eq!(got, want);
    let got = block_on(async_stream(Trickle::default(), |t| {
        t.out.extend_from_slice(&[0xee; 24])
    }));
    assert_eq!(got.out, want);
}

#[test]
fn the_async_writer_refuses_what_the_blocking_one_refuses() {
    let opts = WriterOptions::new(DomainType::X86Pv).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    let blocking = [
        w.write(&LibxcRecord::DomainContext(format_spec::body::Opaque(
            vec![1],
        )))
        .unwrap_err(),
        w.write_page_data(&[1, 2], &[0u8; PAGE_SIZE]).unwrap_err(),
        w.write(&params()).unwrap_err(),
        w.write_optional(0x1234, b"x").unwrap_err(),
    ];
    let asynchronous = block_on(async {
        let mut w = AsyncStreamWriter::new(Vec::new(), opts).await.unwrap();
        [
            w.write(&LibxcRecord::DomainContext(format_spec::body::Opaque(
                vec![1],
            )))
            .await
            .unwrap_err(),
            w.write_page_data(&[1, 2], &[0u8; PAGE_SIZE])
                .await
                .unwrap_err(),
            w.write(&params()).await.unwrap_err(),
            w.write_optional(0x1234, b"x").await.unwrap_err(),
        ]
    });
    let kinds = |e: &[format_spec::stream::StreamError; 4]| {
        e.iter()
            .map(|e| (e.kind(), e.offset(), e.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&asynchronous), kinds(&blocking));
    assert_eq!(
        blocking.iter().map(|e| e.kind()).collect::<Vec<_>>(),
        [
            ErrorKind::RecordTooNew,
            ErrorKind::BadLength,
            ErrorKind::WrongGuestType,
            ErrorKind::Misuse
        ]
    );
}

#[test]
fn the_async_reader_pauses_and_resumes_like_the_blocking_one() {
    let bytes = blocking_stream();
    let opts = VerifyOptions {
        bare: false,
        ..VerifyOptions::strict()
    };

    // Blocking: every record, the pause, the other layer, the rest.
    let mut input = &bytes[..];
    let mut r = StreamReader::with_options(&mut input, opts.reader_options()).unwrap();
    let mut v = Verifier::new(&r, opts);
    let mut want = Vec::new();
    while let Some(info) = v.step(&mut r).unwrap() {
        want.push(info);
        if info.rtype == LibxcRecord::CHECKPOINT {
            break;
        }
    }
    let (_, paused) = r.suspend().unwrap();
    let at = paused.position() + 24;
    input = &input[24..];
    let mut r = StreamReader::resume(&mut input, paused, at).unwrap();
    while let Some(info) = v.step(&mut r).unwrap() {
        want.push(info);
    }
    let want_report = v.into_report();

    let (got, got_report, records) = block_on(async {
        let mut input = &bytes[..];
        let mut r = AsyncStreamReader::with_options(&mut input, opts.reader_options())
            .await
            .unwrap();
        let mut v = Verifier::for_async(&r, opts);
        let mut got = Vec::new();
        while let Some(info) = v.step_async(&mut r).await.unwrap() {
            got.push(info);
            if info.rtype == LibxcRecord::CHECKPOINT {
                break;
            }
        }
        let (_, paused) = r.suspend().await.unwrap();
        let at = paused.position() + 24;
        input = &input[24..];
        let mut r = AsyncStreamReader::resume(&mut input, paused, at).unwrap();
        while let Some(info) = v.step_async(&mut r).await.unwrap() {
            got.push(info);
        }
        // And typed records, read whole, from the start again.
        let mut r = AsyncStreamReader::new(&bytes[..]).await.unwrap();
        let mut records = Vec::new();
        while let Some((info, rec)) = r.next_record().await.unwrap() {
            records.push((info.rtype, rec));
            if info.rtype == LibxcRecord::CHECKPOINT {
                break;
            }
        }
        (got, v.into_report(), records)
    });
    assert_eq!(got, want);
    assert_eq!(got_report, want_report);
    assert_eq!(want_report.segments, 2);
    assert_eq!(want_report.data_pages, 3);
    assert_eq!(want_report.interleaved, 24);

    let mut r = StreamReader::new(&bytes[..]).unwrap();
    let mut want_records = Vec::new();
    while let Some((info, rec)) = r.next_record().unwrap() {
        want_records.push((info.rtype, rec));
        if info.rtype == LibxcRecord::CHECKPOINT {
            break;
        }
    }
    assert_eq!(records, want_records);
    assert!(matches!(records[3].1, Record::Unknown { .. }));
    assert_eq!(records.len(), 5);
}
