//! A migration relay on tokio: a task accepts a stream on a 127.0.0.1 TCP
//! socket, verifies it (every layer, strict, with
//! `format_spec::asynchronous::verify_save`) while forwarding each octet
//! to a second socket, and stops forwarding at the first rule the stream
//! breaks.
//!
//! ```sh
//! cargo run --example async_relay --features tokio -- save.xl [COPY]
//! ```
//!
//! The example sends `save.xl` to the relay, receives what the relay
//! forwards on the second socket (into `COPY` if given), and prints the
//! verdict and the octet counts.

use std::io;

use format_spec::asynchronous::verify_save;
use format_spec::save::{Options, SaveReport};
use format_spec::Mode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the relay did with one stream.
#[derive(Debug)]
pub struct Relayed {
    /// Octets received from the sender and forwarded.
    pub octets: u64,
    /// The verifier's verdict on them.
    pub verdict: Result<SaveReport, format_spec::save::Error>,
}

/// Accepts one connection on `listener`, forwards what it sends to `to`
/// while verifying it, and returns the count and the verdict.
pub async fn relay_one(listener: TcpListener, to: std::net::SocketAddr) -> io::Result<Relayed> {
    let (mut from, _) = listener.accept().await?;
    let mut out = TcpStream::connect(to).await?;
    // The verifier reads its own copy of the octets through an in-memory
    // pipe, in its own task, as they are forwarded.
    let (mut feed, verifier_input) = tokio::io::duplex(256 << 10);
    let verifier = tokio::spawn(async move {
        let input = tokio::io::BufReader::with_capacity(64 << 10, verifier_input);
        verify_save(input, Options::verify(Mode::Strict)).await
    });
    let mut buf = vec![0u8; 256 << 10];
    let mut octets = 0u64;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        // Once the verifier has stopped (an error, or the stream is over
        // and more octets come), nothing more is forwarded.
        if feed.write_all(&buf[..n]).await.is_err() {
            break;
        }
        out.write_all(&buf[..n]).await?;
        octets += n as u64;
    }
    drop(feed);
    out.shutdown().await?;
    let verdict = verifier.await.map_err(io::Error::other)?;
    Ok(Relayed { octets, verdict })
}

/// Runs a whole relay on loopback: the relay task, a receiver on the
/// second socket and a sender of `data`; returns what the relay did and
/// the octets that arrived.
pub async fn run(data: Vec<u8>) -> io::Result<(Relayed, Vec<u8>)> {
    let relay_in = TcpListener::bind("127.0.0.1:0").await?;
    let relay_at = relay_in.local_addr()?;
    let sink = TcpListener::bind("127.0.0.1:0").await?;
    let sink_at = sink.local_addr()?;

    let relay = tokio::spawn(relay_one(relay_in, sink_at));
    let receiver = tokio::spawn(async move {
        let (mut s, _) = sink.accept().await?;
        let mut got = Vec::new();
        s.read_to_end(&mut got).await?;
        Ok::<_, io::Error>(got)
    });
    let sender = tokio::spawn(async move {
        let mut s = TcpStream::connect(relay_at).await?;
        s.write_all(&data).await?;
        s.shutdown().await
    });
    let relayed = relay.await.map_err(io::Error::other)??;
    let got = receiver.await.map_err(io::Error::other)??;
    let sent = sender.await.map_err(io::Error::other)?;
    // A relay that refused the stream closes the connection on the
    // sender, whose last writes may then fail: only a sender of a valid
    // stream must have succeeded.
    if relayed.verdict.is_ok() {
        sent?;
    }
    Ok((relayed, got))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(input) = args.next() else {
        eprintln!("usage: async_relay SAVE_FILE [COPY]");
        std::process::exit(2);
    };
    let data = std::fs::read(&input)?;
    let sent = data.len();
    let (relayed, got) = run(data).await?;
    if let Some(copy) = args.next() {
        std::fs::write(copy, &got)?;
    }
    println!(
        "sent {sent} octets, relayed {}, received {}",
        relayed.octets,
        got.len()
    );
    match relayed.verdict {
        // Strict verification refuses an input without a libxc stream.
        Ok(r) => {
            let (records, pages) = r.libxc.map_or((0, 0), |l| (l.records, l.data_pages));
            println!(
                "valid {} stream: {records} libxc records, {pages} pages",
                r.format
            )
        }
        Err(e) => {
            println!("invalid: {e} (rule {}, offset {})", e.kind(), e.offset());
            std::process::exit(1);
        }
    }
    Ok(())
}
