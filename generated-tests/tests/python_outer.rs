//! The generated outer-layer Python modules (`libxl.py`, `xl.py`) and the
//! DOMAIN_CONTEXT blob module (`domain_context.py`): their names and values
//! against the descriptors and Xen's API list, whole save files through
//! the driver (the two real ones included), and the outer-layer vectors,
//! on which the Python verdict must equal the Rust one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use format_spec::domain_context::{
    DcEntry, DcHeader, DcTscInfo, DcType, SharedInfoRef, DOMAIN_CONTEXT_CONSTANTS,
    DOMAIN_CONTEXT_STRUCTS,
};
use format_spec::layout::{
    ConstLayout, EnumLayout, RecordSetLayout, SpecEnum, StructLayout, TextConstLayout,
};
use format_spec::libxl::{
    CheckpointStateId, EmulatorId, LibxlRecord, LIBXL_CONSTANTS, LIBXL_STRUCTS,
    LIBXL_TEXT_CONSTANTS,
};
use format_spec::xl::{XL_CONSTANTS, XL_STRUCTS, XL_TEXT_CONSTANTS};
use generated_tests::outer_vectors::{
    outer_vectors, rust_verdict, second_segment_vectors, xl_config_vectors, OuterVector, Verdict,
};
use generated_tests::python::{
    json_obj, json_str, pyenv_interpreters, python3, python_at, run, scripts_dir, show,
    verify_stream_driver,
};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("python-outer-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// What one module must hold, from the descriptors.
fn module_json(
    consts: &[ConstLayout],
    texts: &[TextConstLayout],
    structs: &[&StructLayout],
    records: Option<&RecordSetLayout>,
    enums: &[&EnumLayout],
) -> String {
    let mut formats = BTreeMap::new();
    for s in structs {
        if let Some(name) = s.py_format_name {
            formats.insert(
                name.to_string(),
                format!(
                    "{{\"size\": {}, \"arity\": {}}}",
                    s.size,
                    s.py_items().len()
                ),
            );
        }
    }
    let mut constants = BTreeMap::new();
    for c in consts {
        if let Some(name) = c.py_name {
            constants.insert(name.to_string(), c.value.to_string());
        }
    }
    let mut text = BTreeMap::new();
    for t in texts {
        if let Some(name) = t.py_name {
            // The octets as a list of numbers.
            let list: Vec<String> = t.value.iter().map(|b| b.to_string()).collect();
            text.insert(name.to_string(), format!("[{}]", list.join(", ")));
        }
    }
    let mut recs = BTreeMap::new();
    let mut tables = BTreeMap::new();
    if let Some(set) = records {
        let mut names = BTreeMap::new();
        for r in set.records {
            recs.insert(r.py_name.to_string(), r.code.to_string());
            names.insert(r.code.to_string(), json_str(r.human));
        }
        tables.insert("rec_type_to_str".to_string(), json_obj(&names));
    }
    let mut enum_values = BTreeMap::new();
    for e in enums {
        let mut table = BTreeMap::new();
        for v in e.variants {
            if let Some(name) = v.py_name {
                enum_values.insert(name.to_string(), (v.value << e.py_shift).to_string());
            }
            table.insert((v.value << e.py_shift).to_string(), json_str(v.human));
        }
        if let Some(t) = e.py_table {
            tables.insert(t.to_string(), json_obj(&table));
        }
    }
    let mut top = BTreeMap::new();
    top.insert("formats".to_string(), json_obj(&formats));
    top.insert("constants".to_string(), json_obj(&constants));
    top.insert("text".to_string(), json_obj(&text));
    top.insert("records".to_string(), json_obj(&recs));
    top.insert("tables".to_string(), json_obj(&tables));
    top.insert("enum_values".to_string(), json_obj(&enum_values));
    json_obj(&top)
}

/// The expectations of `test_outer_api.py`.
fn expected_json() -> String {
    let mut modules = BTreeMap::new();
    modules.insert(
        "libxl".to_string(),
        module_json(
            LIBXL_CONSTANTS,
            LIBXL_TEXT_CONSTANTS,
            LIBXL_STRUCTS,
            Some(&LibxlRecord::LAYOUT),
            &[&EmulatorId::LAYOUT, &CheckpointStateId::LAYOUT],
        ),
    );
    modules.insert(
        "xl".to_string(),
        module_json(XL_CONSTANTS, XL_TEXT_CONSTANTS, XL_STRUCTS, None, &[]),
    );
    modules.insert(
        "domain_context".to_string(),
        module_json(
            DOMAIN_CONTEXT_CONSTANTS,
            &[],
            DOMAIN_CONTEXT_STRUCTS,
            None,
            &[&DcType::LAYOUT],
        ),
    );
    // The fixed body size of each blob entry type, from the description's
    // own entries (SHARED_INFO with an empty buffer: its fixed part).
    let mut body_min = BTreeMap::new();
    let tsc = DcTscInfo {
        mode: 0,
        incarnation: 0,
        elapsed_nsec: 0,
        khz: 0,
        _pad: 0,
    };
    for entry in [
        DcEntry::End,
        DcEntry::Header(DcHeader::new(0, 0)),
        DcEntry::SharedInfo(SharedInfoRef {
            flags: 0,
            buffer: &[],
        }),
        DcEntry::TscInfo(tsc),
    ] {
        body_min.insert(
            (entry.kind() as u16).to_string(),
            entry.body_len().to_string(),
        );
    }
    assert_eq!(body_min.len(), DcType::LAYOUT.variants.len());
    let upstream = test_support::shared_dir().join("reference/upstream-api.md");
    assert!(upstream.is_file(), "{} is missing", upstream.display());
    let mut top = BTreeMap::new();
    top.insert("modules".to_string(), json_obj(&modules));
    top.insert("dc_body_min".to_string(), json_obj(&body_min));
    top.insert(
        "upstream_api".to_string(),
        json_str(upstream.to_str().expect("utf-8 path")),
    );
    json_obj(&top)
}

#[test]
fn outer_modules_import_and_unit_tests_pass() {
    let out = run(python3().args([
        "-c",
        "import xen.migration.libxl, xen.migration.xl, xen.migration.domain_context",
    ]));
    assert!(out.status.success(), "import failed: {}", show(&out));

    let dir = scratch("unit");
    let expected = dir.join("expected.json");
    std::fs::write(&expected, expected_json()).unwrap();
    let out = run(python3()
        .args(["-m", "unittest", "-v", "test_outer_api"])
        .current_dir(scripts_dir())
        .env("XEN_MIGRATION_EXPECTED", &expected));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "unit tests failed: {}", show(&out));
    let ran: usize = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Ran "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("unittest summary");
    assert!(ran >= 12, "only {ran} Python tests ran:\n{stderr}");
}

/// Runs `run_vectors.py` with format detection on `set`, its files in the
/// scratch directory `dir` (one per test: tests run in parallel).
fn python_verdicts(set: &[OuterVector], dir: &str) -> BTreeMap<String, (Verdict, String)> {
    python_verdicts_with(python3(), set, dir)
}

/// [`python_verdicts`] with the interpreter `python`.
fn python_verdicts_with(
    mut python: Command,
    set: &[OuterVector],
    dir: &str,
) -> BTreeMap<String, (Verdict, String)> {
    let dir = scratch(dir);
    let mut manifest = String::new();
    for v in set {
        let path = dir.join(format!("{}.bin", v.name));
        std::fs::write(&path, &v.bytes).unwrap();
        writeln!(manifest, "{}\t{}", v.name, path.display()).unwrap();
    }
    let list = dir.join("manifest.tsv");
    std::fs::write(&list, manifest).unwrap();
    let out = run(python
        .arg(scripts_dir().join("run_vectors.py"))
        .arg(&list)
        .arg("auto"));
    assert!(out.status.success(), "run_vectors.py: {}", show(&out));
    let mut verdicts = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 8, "bad verdict line {line:?}");
        let accept = f[1] == "ACCEPT";
        let verdict = Verdict {
            accept,
            kind: f[3].to_string(),
            detail: f[6].to_string(),
            offset: if accept {
                0
            } else {
                f[7].parse()
                    .unwrap_or_else(|_| panic!("{}: no offset in {line:?}", f[0]))
            },
        };
        verdicts.insert(f[0].to_string(), (verdict, format!("{} {}", f[2], f[5])));
    }
    verdicts
}

#[test]
fn outer_vectors_rust_and_python_agree() {
    let set = outer_vectors();
    let mut names: Vec<&str> = set.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), set.len(), "vector names are not unique");

    // One vector (at least) per outer rule and per blob rule.
    for kind in [
        "UnknownFormat",
        "BadXlMagic",
        "BadByteOrderMarker",
        "UnknownMandatoryFlags",
        "UnknownOptionalFlags",
        "OptionalDataTooLong",
        "BadConfig",
        "MissingConfig",
        "ConfigNotTerminated",
        "LegacyStream",
        "BadIdent",
        "UnsupportedVersion",
        "ReservedNonZero",
        "UnknownMandatory",
        "RecordTooLong",
        "BadLength",
        "PaddingNonZero",
        "UnknownEmulator",
        "Xenstore",
        "BadValue",
        "UnexpectedRecord",
        "UnknownOptional",
        "WrongGuestType",
        "TrailingData",
        "Truncated",
        "DomainContext",
    ] {
        assert!(
            set.iter().any(|v| v.expect == Some(kind)),
            "no vector for {kind}"
        );
    }
    // One broken blob (at least) per DOMAIN_CONTEXT blob rule (DcErrorKind).
    for rule in [
        "TruncatedDescriptor",
        "Overrun",
        "UnknownType",
        "HeaderNotFirst",
        "DuplicateHeader",
        "BadMagic",
        "BadVersion",
        "BadInstance",
        "BodyTooShort",
        "BufferOverrun",
        "MissingEnd",
        "Misaligned",
        "LengthMismatch",
        "ReservedFlags",
        "Duplicate",
        "PaddingNonZero",
    ] {
        assert!(
            set.iter()
                .any(|v| v.expect == Some("DomainContext") && v.detail == Some(rule)),
            "no blob vector for {rule}"
        );
    }
    assert!(set.iter().filter(|v| v.expect.is_none()).count() >= 30);
    // The xl configuration's vectors pin their offsets.
    for kind in ["BadConfig", "MissingConfig", "ConfigNotTerminated"] {
        assert!(
            set.iter().any(|v| v.expect == Some(kind) && v.at.is_some()),
            "no pinned vector for {kind}"
        );
    }

    // The Rust reader reaches the verdict each vector was built for.
    let mut wrong = Vec::new();
    let rust: Vec<Verdict> = set.iter().map(|v| rust_verdict(&v.bytes)).collect();
    for (v, r) in set.iter().zip(&rust) {
        let want_kind = v.expect.unwrap_or("");
        if r.accept != v.expect.is_none()
            || r.kind != want_kind
            || r.detail != v.detail.unwrap_or("")
            || v.at.is_some_and(|at| r.offset != at)
        {
            wrong.push(format!(
                "{}: Rust says {r:?}, built for {:?} {:?} at {:?}",
                v.name, v.expect, v.detail, v.at
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} vectors:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // The generated Python reaches the same verdict, at the same offset.
    let python = python_verdicts(&set, "vectors");
    let mut disagree = Vec::new();
    for (v, r) in set.iter().zip(&rust) {
        let (p, text) = python
            .get(&v.name)
            .unwrap_or_else(|| panic!("no Python verdict for {}", v.name));
        if p != r {
            disagree.push(format!(
                "{}:\n  Rust   {r:?}\n  Python {p:?} ({text})",
                v.name
            ));
        }
    }
    assert!(
        disagree.is_empty(),
        "Rust and Python disagree on {} of {} vectors:\n{}",
        disagree.len(),
        set.len(),
        disagree.join("\n")
    );
}

#[test]
fn xl_config_framing_agrees_on_every_interpreter() {
    // The framing's boundaries, in both byte orders: config_len counting
    // exactly the octets after it (taken) and one more (refused), 1 to 3
    // octets of optional data (refused), the JSON flag's rules.
    let set = xl_config_vectors();
    for name in [
        "xl-config-fills-optional-data",
        "xl-config-len-too-long",
        "xl-config-len-max",
        "xl-optional-data-short-1",
        "xl-optional-data-short",
        "xl-optional-data-short-3",
        "xl-config-not-terminated",
        "xl-json-missing-config",
        "xl-json-empty-config",
        "xl-plain-unterminated-config",
        "xl-plain-empty-config-tail",
    ] {
        for en in ["le", "be"] {
            assert!(
                set.iter().any(|v| v.name == format!("{name}-{en}")),
                "no vector {name}-{en}"
            );
        }
    }
    // Rust: the verdict each vector was built for, at its pinned offset.
    let rust: Vec<Verdict> = set.iter().map(|v| rust_verdict(&v.bytes)).collect();
    for (v, r) in set.iter().zip(&rust) {
        let want = (
            v.expect.is_none(),
            v.expect.unwrap_or(""),
            v.at.unwrap_or(0),
        );
        assert_eq!(
            (r.accept, r.kind.as_str(), r.offset),
            want,
            "{}: Rust",
            v.name
        );
    }
    // Python, on every interpreter: the same verdicts at the same offsets.
    let pythons = pyenv_interpreters();
    assert!(pythons.len() >= 3, "{pythons:?}");
    for (version, py) in &pythons {
        let dir = format!("xl-config-{}", py_dir_name(version));
        let python = python_verdicts_with(python_at(py), &set, &dir);
        for (v, r) in set.iter().zip(&rust) {
            let (p, text) = python
                .get(&v.name)
                .unwrap_or_else(|| panic!("Python {version:?}: no verdict for {}", v.name));
            assert_eq!(p, r, "{}: Python {version:?} ({text})", v.name);
        }
    }
}

/// A directory name for the interpreter of `version` (`3-13-1`).
fn py_dir_name(version: &[u32]) -> String {
    version
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

#[test]
fn errors_in_a_second_segment_are_reported_at_their_exact_offset() {
    // Planted after the libxl records of the first checkpoint, at offsets
    // the writers recorded: the Rust stream verifier (resumed after the
    // checkpoint) and the generated Python both point at them.
    let cases = second_segment_vectors();
    assert_eq!(cases.len(), 4);
    let set: Vec<OuterVector> = cases.iter().map(|(v, _)| v.clone()).collect();
    let python = python_verdicts(&set, "second-segment");
    for (v, at) in &cases {
        let want = Verdict {
            accept: false,
            kind: v.expect.unwrap().to_string(),
            detail: String::new(),
            offset: *at,
        };
        assert_eq!(rust_verdict(&v.bytes), want, "{}: Rust", v.name);
        assert_eq!(python[&v.name].0, want, "{}: Python", v.name);
    }
}

/// Runs the driver on a whole real save file with `-f fmt`.
fn real_file(name: &str, fmt: &str, guest: &str) {
    let path = test_support::real_stream(name);
    let len = std::fs::metadata(&path).unwrap().len();
    let out = run(python3()
        .arg(verify_stream_driver())
        .args(["-v", "-f", fmt])
        .arg(&path));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name} -f {fmt}: {}",
        show(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Xl Header: little endian, mandatory flags 0x3".to_string(),
        "Libxl Header: little endian".to_string(),
        "Libxl Record: Libxc context, length 0".to_string(),
        "Libxc Image Header: Version 3, little endian".to_string(),
        format!("Domain Header: {guest} from Xen 4.17"),
        "Libxl Record: End, length 0".to_string(),
        // It read the whole file, and nothing followed the libxl END.
        format!("Valid xl stream, END at offset {len}"),
    ] {
        assert!(text.contains(&want), "{name}: no {want:?} in:\n{text}");
    }
    // The libxl records come after the libxc END.
    let libxc_end = text.find("Libxc Record: End").expect("libxc END");
    let libxl_end = text.find("Libxl Record: End").expect("libxl END");
    assert!(libxc_end < libxl_end, "{text}");
}

#[test]
fn real_pv_file_verifies_whole() {
    for fmt in ["xl", "auto"] {
        real_file("pv64-1vcpu-96M.xl", fmt, "x86 PV");
    }
}

#[test]
fn real_hvm_file_verifies_whole() {
    for fmt in ["xl", "auto"] {
        real_file("hvm-1vcpu-128M.xl", fmt, "x86 HVM");
    }
    // The HVM file's device model state.
    let path = test_support::real_stream("hvm-1vcpu-128M.xl");
    let out = run(python3()
        .arg(verify_stream_driver())
        .args(["-v", "-f", "xl"])
        .arg(&path));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Libxl Record: Emulator context")
            && text.contains("  Index 0, type Qemu Upstream"),
        "{text}"
    );
}

#[test]
fn driver_formats_and_wrong_format() {
    let set = outer_vectors();
    let dir = scratch("driver");
    let pick = |name: &str| -> PathBuf {
        let v = set
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no vector {name}"));
        let p = dir.join(format!("{name}.bin"));
        std::fs::write(&p, &v.bytes).unwrap();
        p
    };
    let driver = verify_stream_driver();
    let cases = [
        (
            "libxl-hvm-v3-checkpointed-be",
            "libxl",
            0,
            "Valid libxl stream",
        ),
        (
            "libxl-hvm-v3-checkpointed-be",
            "auto",
            0,
            "Valid libxl stream",
        ),
        ("libxc-bare-v4-le", "libxc", 0, "Valid libxc v4 stream"),
        ("libxc-bare-v4-le", "auto", 0, "Valid libxc v4 stream"),
        ("xl-pv-v4-checkpointed-le", "xl", 0, "Valid xl stream"),
        // The wrong format is refused by the header check of the one asked.
        ("xl-pv-v4-checkpointed-le", "libxl", 1, "BadIdent"),
        ("libxl-hvm-v3-checkpointed-be", "xl", 1, "BadXlMagic"),
        ("xl-hvm-v3-le", "libxc", 1, "BadMarker"),
    ];
    for (name, fmt, code, want) in cases {
        let out = run(python3()
            .arg(&driver)
            .args(["-v", "-f", fmt])
            .arg(pick(name)));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{name} -f {fmt}: {}",
            show(&out)
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(want),
            "{name} -f {fmt}: no {want:?} in {text}"
        );
    }

    // A checkpointed xl file through a pipe, in small pieces with pauses
    // so that reads come back short, format detected.
    for (name, code) in [("xl-hvm-v4-checkpointed-be", 0), ("xl-dc-bad-magic", 1)] {
        let bytes = set.iter().find(|v| v.name == name).unwrap().bytes.clone();
        let mut child = python3()
            .arg(&driver)
            .args(["-v", "-f", "auto"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn driver");
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            for (i, chunk) in bytes.chunks(700).enumerate() {
                if stdin.write_all(chunk).is_err() {
                    break;
                }
                stdin.flush().ok();
                let pause = if i == 0 { 500 } else { 5 };
                std::thread::sleep(std::time::Duration::from_millis(pause));
            }
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert_eq!(out.status.code(), Some(code), "{name}: {}", show(&out));
        if code == 0 {
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                text.matches("Libxl Record: Checkpoint end").count(),
                2,
                "{text}"
            );
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("BadMagic"), "{}", show(&out));
        }
    }
}
