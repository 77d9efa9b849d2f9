//! The blocking and the async front ends give the same verdict, kind and
//! offset on every shared vector and on the real save files, and feeding
//! the input one octet at a time or in random chunk sizes (short reads,
//! and for async inputs also reads that are not ready at first) changes
//! nothing. Needs `--features tokio` (`cargo test --workspace
//! --all-features`).
#![cfg(feature = "tokio")]

use std::io::{self, BufReader, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use format_spec::asynchronous::{self, AsyncSaveReader};
use format_spec::save::{self, Event, Options, SaveReader, SaveReport};
use format_spec::stream::{self, Report, StreamError, VerifyOptions};
use format_spec::Mode;
use generated_tests::outer_vectors::outer_vectors;
use generated_tests::vectors::vectors;
use tokio::io::{AsyncRead, ReadBuf};

/// A small deterministic generator for chunk sizes.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// How an input hands out its octets.
#[derive(Clone)]
enum Chunks {
    /// One octet per read.
    One,
    /// 1 to `max` octets per read, sizes from the seed.
    Random { seed: u64, max: usize },
}

impl Chunks {
    fn sizes(&self) -> (Rng, usize) {
        match self {
            Chunks::One => (Rng(1), 1),
            Chunks::Random { seed, max } => (Rng(*seed), *max),
        }
    }
}

/// A blocking input that returns short reads.
struct ShortRead<'a> {
    data: &'a [u8],
    rng: Rng,
    max: usize,
}

impl<'a> ShortRead<'a> {
    fn new(data: &'a [u8], chunks: &Chunks) -> Self {
        let (rng, max) = chunks.sizes();
        ShortRead { data, rng, max }
    }
}

impl Read for ShortRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (1 + self.rng.below(self.max))
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// An async input that returns short reads, and every other time is not
/// ready at first (it wakes its task and returns `Pending`).
struct ShortAsyncRead<'a> {
    data: &'a [u8],
    rng: Rng,
    max: usize,
    pend: bool,
}

impl<'a> ShortAsyncRead<'a> {
    fn new(data: &'a [u8], chunks: &Chunks) -> Self {
        let (rng, max) = chunks.sizes();
        ShortAsyncRead {
            data,
            rng,
            max,
            pend: false,
        }
    }
}

impl AsyncRead for ShortAsyncRead<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.pend = !self.pend;
        if self.pend {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let max = self.max;
        let n = (1 + self.rng.below(max))
            .min(buf.remaining())
            .min(self.data.len());
        let data = self.data;
        buf.put_slice(&data[..n]);
        self.data = &data[n..];
        Poll::Ready(Ok(()))
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// Verdict of the libxc verifier: the report, or kind and offset.
fn libxc_verdict(r: Result<Report, StreamError>) -> Result<Report, (String, u64)> {
    r.map_err(|e| (e.kind().as_str().to_string(), e.offset()))
}

/// Verdict of the whole-input verifier: the report, or kind, layer and
/// offset.
fn save_verdict(r: Result<SaveReport, save::Error>) -> Result<SaveReport, (String, u64)> {
    r.map_err(|e| (format!("{}/{:?}", e.kind(), e.layer()), e.offset()))
}

fn chunkings() -> Vec<Chunks> {
    vec![
        Chunks::One,
        Chunks::Random { seed: 7, max: 13 },
        Chunks::Random {
            seed: 0x5eed,
            max: 9000,
        },
    ]
}

#[test]
fn libxc_vectors_agree_blocking_and_async_in_any_chunking() {
    let vs = vectors();
    assert!(vs.len() > 50, "{} vectors", vs.len());
    let mut rejected = 0;
    for mode in [VerifyOptions::strict(), VerifyOptions::lenient()] {
        for v in &vs {
            let want = libxc_verdict(stream::verify(&v.bytes[..], mode));
            if mode == VerifyOptions::strict() {
                // The blocking verdict is the vector's (agree.rs checks
                // the same against Python); the async one must match it.
                match (&want, v.expect) {
                    (Ok(_), None) => {}
                    (Err((kind, _)), Some(k)) => {
                        assert_eq!(kind, k, "{}", v.name);
                        rejected += 1;
                    }
                    (got, want) => panic!("{}: {got:?}, expected {want:?}", v.name),
                }
            }
            let got = block_on(asynchronous::verify(&v.bytes[..], mode));
            assert_eq!(libxc_verdict(got), want, "{} (async, whole)", v.name);
            for c in chunkings() {
                let got = stream::verify(ShortRead::new(&v.bytes, &c), mode);
                assert_eq!(
                    libxc_verdict(got),
                    want,
                    "{} (blocking, short reads)",
                    v.name
                );
                let got = block_on(asynchronous::verify(
                    ShortAsyncRead::new(&v.bytes, &c),
                    mode,
                ));
                assert_eq!(libxc_verdict(got), want, "{} (async, short reads)", v.name);
            }
            // The whole-input entry point on the bare libxc stream.
            let opts = Options::verify(mode.mode);
            let want = save_verdict(save::verify(&v.bytes[..], opts));
            let got = block_on(asynchronous::verify_save(
                ShortAsyncRead::new(&v.bytes, &Chunks::One),
                opts,
            ));
            assert_eq!(save_verdict(got), want, "{} (async whole input)", v.name);
        }
    }
    assert!(rejected > 40, "only {rejected} rejected vectors");
}

#[test]
fn outer_vectors_agree_blocking_and_async_in_any_chunking() {
    let vs = outer_vectors();
    assert!(vs.len() > 30, "{} vectors", vs.len());
    let mut rejected = 0;
    for mode in [Mode::Strict, Mode::Lenient] {
        for v in &vs {
            let opts = Options::verify(mode);
            let want = save_verdict(save::verify(&v.bytes[..], opts));
            if mode == Mode::Strict && v.expect.is_some() {
                assert!(want.is_err(), "{}: accepted", v.name);
                rejected += 1;
            }
            let got = block_on(asynchronous::verify_save(&v.bytes[..], opts));
            assert_eq!(save_verdict(got), want, "{} (async, whole)", v.name);
            for c in chunkings() {
                let got = save::verify(ShortRead::new(&v.bytes, &c), opts);
                assert_eq!(
                    save_verdict(got),
                    want,
                    "{} (blocking, short reads)",
                    v.name
                );
                let got = block_on(asynchronous::verify_save(
                    ShortAsyncRead::new(&v.bytes, &c),
                    opts,
                ));
                assert_eq!(save_verdict(got), want, "{} (async, short reads)", v.name);
            }
        }
    }
    assert!(rejected > 20, "only {rejected} rejected vectors");
}

/// Every event of a whole input, with the contents of every page read into
/// one caller buffer (a checksum of them kept), through the blocking reader.
fn blocking_events(bytes: &[u8], chunks: &Chunks) -> (Vec<Event>, u64) {
    let input = BufReader::with_capacity(16 << 10, ShortRead::new(bytes, chunks));
    let mut r = SaveReader::new(input, Options::mode(Mode::Strict)).unwrap();
    let mut events = Vec::new();
    let mut sum = 0u64;
    let mut page = vec![0u8; 4096];
    while let Some(ev) = r.next().unwrap() {
        if let Event::LibxcRecord(info) = &ev {
            if info.rtype == format_spec::libxc::LibxcRecord::PAGE_DATA {
                let mut batch = r.page_batch().unwrap();
                while batch.pages_left() > 0 {
                    batch.read_pages(&mut page).unwrap();
                    sum = checksum(sum, &page);
                }
            }
        }
        events.push(ev);
    }
    (events, sum)
}

/// The same through the async reader.
async fn async_events(bytes: &[u8], chunks: &Chunks) -> (Vec<Event>, u64) {
    let input = tokio::io::BufReader::with_capacity(16 << 10, ShortAsyncRead::new(bytes, chunks));
    let mut r = AsyncSaveReader::new(input, Options::mode(Mode::Strict))
        .await
        .unwrap();
    let mut events = Vec::new();
    let mut sum = 0u64;
    let mut page = vec![0u8; 4096];
    while let Some(ev) = r.next().await.unwrap() {
        if let Event::LibxcRecord(info) = &ev {
            if info.rtype == format_spec::libxc::LibxcRecord::PAGE_DATA {
                let mut batch = r.page_batch().await.unwrap();
                while batch.pages_left() > 0 {
                    batch.read_pages(&mut page).await.unwrap();
                    sum = checksum(sum, &page);
                }
            }
        }
        events.push(ev);
    }
    (events, sum)
}

fn checksum(sum: u64, page: &[u8]) -> u64 {
    page.chunks_exact(8).fold(sum, |s, c| {
        s.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())
    })
}

#[test]
fn real_files_agree_blocking_and_async_in_any_chunking() {
    for name in test_support::REAL_STREAMS {
        let bytes = std::fs::read(test_support::real_stream(name)).unwrap();
        for mode in [Mode::Strict, Mode::Lenient] {
            let opts = Options::verify(mode);
            let want = save::verify(&bytes[..], opts).unwrap();
            let libxc = want.libxc.as_ref().expect("a libxc stream");
            assert!(libxc.complete && libxc.data_pages > 1000, "{name}");
            let got = block_on(asynchronous::verify_save(&bytes[..], opts)).unwrap();
            assert_eq!(got, want, "{name} (async)");
            let chunks = Chunks::Random {
                seed: 99,
                max: 70_000,
            };
            let got = block_on(asynchronous::verify_save(
                ShortAsyncRead::new(&bytes, &chunks),
                opts,
            ))
            .unwrap();
            assert_eq!(got, want, "{name} (async, short reads)");
            let got = save::verify(ShortRead::new(&bytes, &chunks), opts).unwrap();
            assert_eq!(got, want, "{name} (blocking, short reads)");
        }
        // Every event, and the contents of every page, through both.
        let chunks = Chunks::Random { seed: 3, max: 5000 };
        let (events, sum) = blocking_events(
            &bytes,
            &Chunks::Random {
                seed: 1,
                max: 1 << 20,
            },
        );
        assert!(events.len() > 20, "{name}: {} events", events.len());
        assert_eq!(
            blocking_events(&bytes, &chunks),
            (events.clone(), sum),
            "{name}"
        );
        let got = block_on(async_events(&bytes, &chunks));
        assert_eq!(got, (events, sum), "{name} (async)");

        // A damaged copy: the same error, kind and offset through both.
        let mut broken = bytes.clone();
        let at = broken.len() / 2;
        broken.truncate(at);
        let opts = Options::verify(Mode::Strict);
        let want = save_verdict(save::verify(&broken[..], opts));
        assert!(want.is_err(), "{name}: truncated copy accepted");
        let got = block_on(asynchronous::verify_save(
            ShortAsyncRead::new(&broken, &chunks),
            opts,
        ));
        assert_eq!(save_verdict(got), want, "{name} (async, truncated)");
    }
}
