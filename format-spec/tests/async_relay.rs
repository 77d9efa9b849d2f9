//! The `async_relay` example on the real save files: what arrives on the
//! second socket is what was sent, octet for octet, and the relay's
//! verifier finds the files valid; a damaged file is refused with the
//! blocking verifier's kind and offset.
#![cfg(feature = "tokio")]

#[allow(dead_code)]
#[path = "../examples/async_relay.rs"]
mod relay;

use format_spec::save::{self, Options};
use format_spec::Mode;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn relays_the_real_files_unchanged_and_verified() {
    let rt = runtime();
    for name in test_support::REAL_STREAMS {
        let data = std::fs::read(test_support::real_stream(name)).unwrap();
        let (relayed, got) = rt.block_on(relay::run(data.clone())).unwrap();
        assert_eq!(relayed.octets, data.len() as u64, "{name}");
        assert!(
            got == data,
            "{name}: the octets that arrived differ from those sent"
        );
        let report = relayed.verdict.unwrap();
        let want = save::verify(&data[..], Options::verify(Mode::Strict)).unwrap();
        assert_eq!(report, want, "{name}");
    }
}

#[test]
fn a_broken_stream_is_refused_with_the_blocking_verdict() {
    let rt = runtime();
    let name = test_support::REAL_STREAMS[1];
    let mut data = std::fs::read(test_support::real_stream(name)).unwrap();
    // Break the libxc image header's marker, just after the libxl
    // LIBXC_CONTEXT record.
    let want = save::verify(&data[..], Options::verify(Mode::Strict)).unwrap();
    let at = want.libxc.as_ref().expect("a libxc stream").start_offset as usize;
    data[at] ^= 0xff;
    let want = save::verify(&data[..], Options::verify(Mode::Strict)).unwrap_err();
    let (relayed, got) = rt.block_on(relay::run(data.clone())).unwrap();
    let e = relayed.verdict.unwrap_err();
    assert_eq!((e.kind(), e.offset()), (want.kind(), want.offset()));
    assert_eq!(e.offset(), at as u64);
    // Forwarding stopped soon after the error: not the whole file.
    assert!(
        got.len() < data.len(),
        "{} of {} octets forwarded",
        got.len(),
        data.len()
    );
    assert_eq!(&got[..], &data[..got.len()]);
}

#[test]
fn the_example_program_relays_a_real_file_into_its_copy() {
    // `cargo test --features tokio` builds the example beside the tests.
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/async_relay");
    assert!(bin.is_file(), "{} is not built", bin.display());
    let name = test_support::REAL_STREAMS[0];
    let input = test_support::real_stream(name);
    let copy = std::env::temp_dir().join(format!("async-relay-{}.xl", std::process::id()));
    let out = std::process::Command::new(&bin)
        .arg(&input)
        .arg(&copy)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::fs::read(&input).unwrap();
    let got = std::fs::read(&copy).unwrap();
    std::fs::remove_file(&copy).unwrap();
    assert!(got == data, "the copy differs from {name}");
    let n = data.len();
    assert!(
        stdout.contains(&format!("sent {n} octets, relayed {n}, received {n}")),
        "{stdout}"
    );
    assert!(stdout.contains("valid xl stream"), "{stdout}");
}
