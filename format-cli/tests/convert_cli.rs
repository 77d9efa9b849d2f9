//! `xenstream convert`, run as the built binary: files and pipes, the
//! v3 -> v4 -> v3 identity, exit statuses, messages with offsets, and no
//! output file left behind by a refused conversion.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use format_spec::binrw::Endian;
use format_spec::libxc::{DomainType, LibxcRecord as L, X86TscInfo};
use format_spec::stream::{verify, StreamWriter, VerifyOptions, WriterOptions};

const BIN: &str = env!("CARGO_BIN_EXE_xenstream");

/// A per-test directory, removed with its files when dropped (also when
/// the test fails).
struct TmpDir(PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TmpDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmp_dir(name: &str) -> TmpDir {
    let dir = std::env::temp_dir().join(format!("convert-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TmpDir(dir)
}

fn hvm_v3() -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Hvm)
        .version(3)
        .endian(Endian::Big)
        .xen_version(4, 17);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    w.write_page_data(&[1, 2], &[0x42; 2 * 4096]).unwrap();
    w.write(&L::X86TscInfo(X86TscInfo {
        mode: 0,
        khz: 1_000_000,
        nsec: 99,
        incarnation: 3,
        _res1: 0,
    }))
    .unwrap();
    // A valid HVM_CONTEXT blob (HEADER, END): strict verification checks it.
    let ctx = format_spec::hvm_context::write(
        &format_spec::hvm_context::HvmHeader::new(9, 1_000_000),
        &[],
        Endian::Big,
    )
    .unwrap();
    w.write(&L::HvmContext(format_spec::body::Opaque(ctx)))
        .unwrap();
    w.finish().unwrap()
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.map(<[u8]>::to_vec);
    let feeder = std::thread::spawn(move || {
        if let Some(d) = data {
            // The command may stop reading early on bad input.
            let _ = pipe.write_all(&d);
        }
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn files_both_ways_give_back_the_same_octets() {
    let dir = tmp_dir("files");
    let (a, b, c) = (dir.join("a.v3"), dir.join("b.v4"), dir.join("c.v3"));
    let v3 = hvm_v3();
    std::fs::write(&a, &v3).unwrap();
    let out = run(&["convert", "--to", "4", p(&a), "-o", p(&b)], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("libxc v3 -> v4"), "{msg}");
    let v4 = std::fs::read(&b).unwrap();
    let rep = verify(&v4[..], VerifyOptions::strict()).unwrap();
    assert_eq!(rep.image_header.version, 4);
    assert_eq!(rep.records_by_type[&L::DOMAIN_CONTEXT], 1);
    let out = run(
        &[
            "convert",
            "--to=3",
            "--format",
            "libxc",
            p(&b),
            "--output",
            p(&c),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(std::fs::read(&c).unwrap() == v3, "the stream changed");
}

#[test]
fn standard_input_to_standard_output() {
    let v3 = hvm_v3();
    let out = run(&["convert", "--to", "4"], Some(&v3));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v4 = out.stdout;
    verify(&v4[..], VerifyOptions::strict()).unwrap();
    let out = run(&["convert", "--to", "3", "-", "-o", "-"], Some(&v4));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout == v3, "the stream changed");
}

#[test]
fn refused_conversion_exits_1_and_leaves_no_output() {
    let dir = tmp_dir("refused");
    let a = dir.join("in.v3");
    let out_file = dir.join("out");
    std::fs::write(&a, hvm_v3()).unwrap();
    // Already version 3: the message names the version field's offset.
    let out = run(&["convert", "--to", "3", p(&a), "-o", p(&out_file)], None);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("offset 0xc"), "{msg}");
    assert!(msg.contains("version 3"), "{msg}");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n != "in.v3")
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // Truncated on a pipe: status 1, offset of the end of the input.
    let v3 = hvm_v3();
    let out = run(
        &["convert", "--to", "4", "-o", p(&out_file)],
        Some(&v3[..100]),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("0x64"));
    assert!(!out_file.exists());
}

#[test]
fn usage_and_io_errors_exit_2() {
    for args in [
        &["convert"][..],
        &["convert", "--to", "5"],
        &["convert", "--to", "1"],
        &["convert", "--to", "4", "a", "b"],
        &["convert", "--to", "4", "--format", "zip"],
    ] {
        let out = run(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
    let dir = tmp_dir("io");
    let out = run(
        &[
            "convert",
            "--to",
            "4",
            p(&dir.join("does-not-exist")),
            "-o",
            p(&dir.join("x")),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// A little-endian version 2 PV stream as Xen 4.6-4.13 laid it out
/// (X86_PV_INFO, X86_PV_P2M_FRAMES, PAGE_DATA, X86_TSC_INFO, a vCPU); with
/// `sde`, the same records as version 3 with STATIC_DATA_END before the
/// P2M frames.
fn pv_stream(version: u32, sde: bool) -> Vec<u8> {
    use format_spec::libxc::{X86PvInfo, X86PvP2mFrames, X86PvVcpu};
    let opts = WriterOptions::new(DomainType::X86Pv)
        .version(version)
        .xen_version(4, 8);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&L::X86PvInfo(X86PvInfo {
        guest_width: 8,
        pt_levels: 4,
        _res: [0; 6],
    }))
    .unwrap();
    if sde {
        w.write(&L::StaticDataEnd).unwrap();
    }
    w.write(&L::X86PvP2mFrames(X86PvP2mFrames {
        start_pfn: 0,
        end_pfn: 511,
        p2m_pfns: vec![7],
    }))
    .unwrap();
    w.write_page_data(&[3, 4], &[0x17; 2 * 4096]).unwrap();
    w.write(&L::X86TscInfo(X86TscInfo {
        mode: 0,
        khz: 2_000_000,
        nsec: 5,
        incarnation: 1,
        _res1: 0,
    }))
    .unwrap();
    w.write(&L::X86PvVcpuBasic(X86PvVcpu {
        vcpu_id: 0,
        _res1: 0,
        context: vec![0x21; format_spec::libxc::pv_vcpu_basic_size(8).unwrap()],
    }))
    .unwrap();
    w.finish().unwrap()
}

#[test]
fn version_2_file_converts_to_3_and_4() {
    let dir = tmp_dir("v2");
    let (a, b, c) = (dir.join("a.v2"), dir.join("b.v3"), dir.join("c.v4"));
    std::fs::write(&a, pv_stream(2, false)).unwrap();
    let out = run(&["convert", "--to", "3", p(&a), "-o", p(&b)], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("v2 -> v3"));
    let v3 = std::fs::read(&b).unwrap();
    assert!(v3 == pv_stream(3, true), "v2 -> v3 is not the v3 stream");

    let out = run(&["convert", "--to", "4", p(&a), "-o", p(&c)], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v4 = std::fs::read(&c).unwrap();
    let rep = verify(&v4[..], VerifyOptions::strict()).unwrap();
    assert_eq!(rep.image_header.version, 4);
    assert_eq!(rep.records_by_type[&L::STATIC_DATA_END], 1);
    assert_eq!(rep.records_by_type[&L::DOMAIN_CONTEXT], 1);
    // Back to 3 over a pipe: the v3 stream.
    let out = run(&["convert", "--to", "3"], Some(&v4));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout == v3, "v2 -> v4 -> v3 is not the v3 stream");
}

#[test]
fn version_3_file_converts_back_to_2() {
    let dir = tmp_dir("to2");
    let a = dir.join("in.v3");
    std::fs::write(&a, pv_stream(3, true)).unwrap();
    let b = dir.join("out.v2");
    let out = run(&["convert", "--to", "2", p(&a), "-o", p(&b)], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("v3 -> v2"));
    assert!(std::fs::read(&b).unwrap() == pv_stream(2, false));
    // Already version 2: refused, with the version field's offset.
    let c = dir.join("again");
    let out = run(&["convert", "--to", "2", p(&b), "-o", p(&c)], None);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("offset 0xc") && msg.contains("version 3 or 4"),
        "{msg}"
    );
    assert!(!c.exists());
}

#[test]
fn truncated_version_2_input_names_its_offset() {
    let v2 = pv_stream(2, false);
    let out = run(&["convert", "--to", "4"], Some(&v2[..v2.len() - 12]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let msg = String::from_utf8_lossy(&out.stderr);
    let end = format!("0x{:x}", v2.len() - 12);
    assert!(msg.contains(&end), "{msg} (wanted {end})");
}

#[test]
fn a_version_convert_does_not_write_is_a_usage_error() {
    let targets = format_spec::convert::TARGET_VERSIONS;
    let below = targets[0] - 1;
    let above = targets[targets.len() - 1] + 1;
    for bad in [below.to_string(), above.to_string(), "four".to_string()] {
        let out = run(&["convert", "--to", &bad], Some(&hvm_v3()));
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for v in targets {
            assert!(err.contains(&v.to_string()), "{bad}: {err}");
        }
        assert!(
            out.stdout.is_empty(),
            "{bad}: wrote {} octets",
            out.stdout.len()
        );
    }
}
