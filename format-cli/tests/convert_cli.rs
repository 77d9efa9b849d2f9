//! `xenstream convert`: argument parsing, exit statuses, the output file
//! written only on success, and the v3 -> v4 -> v3 identity through the
//! command. The command module is compiled here directly (its wiring into
//! `main.rs` is left to the lead).

#[allow(dead_code)]
#[path = "../src/convert.rs"]
mod convert;

use std::path::PathBuf;

use format_spec::binrw::Endian;
use format_spec::libxc::{DomainType, LibxcRecord as L, X86TscInfo};
use format_spec::outer::{Format, FormatChoice};
use format_spec::stream::{verify, StreamWriter, VerifyOptions, WriterOptions};

use convert::{convert_status, parse_convert_args, ConvertArgs};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convert-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
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
    w.write(&L::HvmContext(format_spec::body::Opaque(vec![9; 40])))
        .unwrap();
    w.finish().unwrap()
}

#[test]
fn parses_the_documented_forms() {
    let a = parse_convert_args(&args(&["--to", "4", "in.xl", "-o", "out.xl"])).unwrap();
    assert_eq!(
        a,
        ConvertArgs {
            to: 4,
            input: Some("in.xl".into()),
            output: Some("out.xl".into()),
            lossy: false,
            lenient: false,
            format: FormatChoice::Auto,
        }
    );
    let a = parse_convert_args(&args(&[
        "-",
        "--to=3",
        "--output",
        "-",
        "--lossy",
        "--lenient",
        "--format",
        "libxc",
    ]))
    .unwrap();
    assert_eq!((a.to, a.input, a.output), (3, None, None));
    assert!(a.lossy && a.lenient);
    assert_eq!(a.format, FormatChoice::Exactly(Format::Libxc));

    for bad in [
        &["in"][..],
        &["--to", "5"],
        &["--to"],
        &["--to", "4", "a", "b"],
        &["--to", "4", "--frobnicate"],
        &["--to", "4", "--format", "zip"],
    ] {
        assert!(parse_convert_args(&args(bad)).is_err(), "{bad:?}");
        assert_eq!(convert_status(&args(bad)), 2, "{bad:?}");
    }
}

#[test]
fn converts_files_both_ways_and_back_to_the_same_octets() {
    let v3 = hvm_v3();
    let a = tmp("a.v3");
    let b = tmp("b.v4");
    let c = tmp("c.v3");
    std::fs::write(&a, &v3).unwrap();
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    assert_eq!(
        convert_status(&["--to".into(), "4".into(), s(&a), "-o".into(), s(&b)]),
        0
    );
    let v4 = std::fs::read(&b).unwrap();
    let rep = verify(&v4[..], VerifyOptions::strict()).unwrap();
    assert_eq!(rep.image_header.version, 4);
    assert_eq!(rep.records_by_type[&L::DOMAIN_CONTEXT], 1);
    assert_eq!(
        convert_status(&["--to".into(), "3".into(), s(&b), "-o".into(), s(&c)]),
        0
    );
    assert!(std::fs::read(&c).unwrap() == v3, "the stream changed");
}

#[test]
fn a_refused_conversion_exits_1_and_leaves_no_output() {
    let a = tmp("refused.v3");
    // Its own directory: other tests write partial files in parallel.
    let dir = tmp("refused");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("refused.out");
    std::fs::write(&a, hvm_v3()).unwrap();
    let _ = std::fs::remove_file(&out);
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    // Already version 3.
    assert_eq!(
        convert_status(&["--to".into(), "3".into(), s(&a), "-o".into(), s(&out)]),
        1
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A missing input is an I/O error: status 2.
    assert_eq!(
        convert_status(&[
            "--to".into(),
            "4".into(),
            s(&tmp("does-not-exist")),
            "-o".into(),
            s(&out)
        ]),
        2
    );
}
