//! Relays a save file over a loopback TCP socket, verifying it on the
//! receiving side as it arrives.
//!
//! ```sh
//! cargo run --release -p format-spec --example relay -- guest.xl [COPY]
//! ```
//!
//! Two threads: the sender reads FILE and writes it to a TCP connection to
//! 127.0.0.1 (a port the receiver bound, chosen by the system); the
//! receiver (the main thread) accepts the connection and verifies what
//! arrives, strictly, every layer ([`format_spec::save::verify`]: a
//! socket cannot seek, so page contents are read through). With COPY, the
//! receiver also writes every octet it received there, as a relay would
//! pass the stream on. It prints what arrived:
//!
//! ```text
//! received 100872363 octets: valid (strict) xl file, libxc v3, x86 PV, 24906 data pages
//! ```
//!
//! Exit status 0 when the stream arrived whole and valid; 1 when it is
//! invalid (the rule, offset and layer on standard error) or the relay
//! failed.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;

use format_spec::save::{self, Options};
use format_spec::Mode;

/// Hands on every octet read, to `copy` if there is one, and counts them.
struct Tee<R, W> {
    inner: R,
    copy: Option<W>,
    octets: u64,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = self.copy.as_mut() {
            c.write_all(&buf[..n])?;
        }
        self.octets += n as u64;
        Ok(n)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first().cloned() else {
        eprintln!("usage: relay FILE [COPY]");
        return ExitCode::from(1);
    };
    let run = || -> Result<bool, Box<dyn std::error::Error>> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let file = File::open(&path)?;
        // The sender: the file into the socket, then close it.
        let sender = thread::spawn(move || -> io::Result<u64> {
            let mut sock = TcpStream::connect(addr)?;
            let n = io::copy(&mut BufReader::new(file), &mut sock)?;
            sock.shutdown(std::net::Shutdown::Write)?;
            Ok(n)
        });
        // The receiver: verify what arrives.
        let (sock, _) = listener.accept()?;
        let copy = match args.get(1) {
            Some(p) => Some(BufWriter::new(File::create(p)?)),
            None => None,
        };
        let mut input = Tee {
            inner: BufReader::with_capacity(1 << 16, sock),
            copy,
            octets: 0,
        };
        let verdict = save::verify(&mut input, Options::verify(Mode::Strict));
        // Whatever the verdict, take the rest, so the sender can finish.
        io::copy(&mut input, &mut io::sink())?;
        if let Some(mut c) = input.copy.take() {
            c.flush()?;
        }
        let sent = sender.join().map_err(|_| "the sender thread panicked")??;
        if sent != input.octets {
            return Err(format!("sent {sent} octets but received {}", input.octets).into());
        }
        match verdict {
            // Strict verification refuses an input without a libxc stream.
            Ok(save::SaveReport {
                format,
                libxc: Some(libxc),
                ..
            }) => {
                println!(
                    "received {} octets: valid (strict) {} file, libxc v{}, {}, {} data pages",
                    input.octets,
                    format,
                    libxc.image_header.version,
                    libxc
                        .domain_type()
                        .map_or("unknown guest".to_string(), |d| d.to_string()),
                    libxc.data_pages
                );
                Ok(true)
            }
            Ok(_) => Ok(false),
            Err(e) => {
                eprintln!(
                    "relay: received {} octets: invalid: {e} (rule {}, offset {}, {:?} layer)",
                    input.octets,
                    e.kind(),
                    e.offset(),
                    e.layer()
                );
                Ok(false)
            }
        }
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("relay: {e}");
            ExitCode::from(1)
        }
    }
}
