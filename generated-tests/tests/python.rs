//! Runs the generated `xen.migration` package with the machine's `python3`:
//! its unit tests against the descriptors and Xen's API list, a Python 3.7
//! syntax check, the shared test vectors, a verify-stream-v2-like driver
//! (from a file and from a pipe) and the two real Xen save files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use format_spec::layout::StructLayout;
use format_spec::libxc::{DomainType, LibxcRecord, PageType, LIBXC_CONSTANTS, LIBXC_STRUCTS};
use generated_tests::python::{
    json_obj, json_str, package_root, python3, run, scripts_dir, show, verify_stream_driver,
};
use generated_tests::vectors::{vectors, Vector};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("python-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The expectations of `test_libxc_api.py`, written from the descriptors.
fn expected_json() -> String {
    let mut formats = BTreeMap::new();
    let structs: Vec<&StructLayout> = LIBXC_STRUCTS.to_vec();
    for s in &structs {
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
    for c in LIBXC_CONSTANTS {
        if let Some(name) = c.py_name {
            constants.insert(name.to_string(), c.value.to_string());
        }
    }
    let mut records = BTreeMap::new();
    let mut rec_names = BTreeMap::new();
    for r in LibxcRecord::LAYOUT.records {
        records.insert(r.py_name.to_string(), r.code.to_string());
        rec_names.insert(r.code.to_string(), json_str(r.human));
    }
    let mut enum_values = BTreeMap::new();
    let mut tables = BTreeMap::new();
    tables.insert("rec_type_to_str".to_string(), json_obj(&rec_names));
    for e in [
        &<DomainType as format_spec::layout::SpecEnum>::LAYOUT,
        &<PageType as format_spec::layout::SpecEnum>::LAYOUT,
    ] {
        let mut table = BTreeMap::new();
        for v in e.variants {
            let value = v.value << e.py_shift;
            if let Some(name) = v.py_name {
                enum_values.insert(name.to_string(), value.to_string());
            }
            table.insert(value.to_string(), json_str(v.human));
        }
        if let Some(t) = e.py_table {
            tables.insert(t.to_string(), json_obj(&table));
        }
    }
    let upstream = test_support::shared_dir().join("reference/upstream-api.md");
    assert!(upstream.is_file(), "{} is missing", upstream.display());
    let mut top = BTreeMap::new();
    top.insert("formats".to_string(), json_obj(&formats));
    top.insert("constants".to_string(), json_obj(&constants));
    top.insert("records".to_string(), json_obj(&records));
    top.insert("tables".to_string(), json_obj(&tables));
    top.insert("enum_values".to_string(), json_obj(&enum_values));
    top.insert(
        "upstream_api".to_string(),
        json_str(upstream.to_str().expect("utf-8 path")),
    );
    json_obj(&top)
}

#[test]
fn package_imports_and_unit_tests_pass() {
    let out = run(python3().args([
        "-c",
        "import xen.migration, xen.migration.verify, xen.migration.libxc as l; \
         print(l.__file__)",
    ]));
    assert!(out.status.success(), "import failed: {}", show(&out));
    let file = String::from_utf8_lossy(&out.stdout);
    assert!(
        Path::new(file.trim()).starts_with(package_root()),
        "imported {file} instead of the generated package"
    );

    let dir = scratch("unit");
    let expected = dir.join("expected.json");
    std::fs::write(&expected, expected_json()).unwrap();
    let out = run(python3()
        .arg("-m")
        .arg("unittest")
        .arg("-v")
        .arg("test_libxc_api")
        .current_dir(scripts_dir())
        .env("XEN_MIGRATION_EXPECTED", &expected));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "unit tests failed: {}", show(&out));
    // The run really executed the tests (unittest reports on stderr).
    let ran: usize = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Ran "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("unittest summary");
    assert!(ran >= 15, "only {ran} Python tests ran:\n{stderr}");
}

#[test]
fn generated_files_parse_as_python_3_7() {
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(package_root().join("xen/migration")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "py") {
            files.push(p);
        }
    }
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "__init__.py",
            "domain_context.py",
            "hvm_context.py",
            "libxc.py",
            "libxl.py",
            "verify.py",
            "verify_stream.py",
            "xl.py"
        ],
        "the generated package"
    );
    // The namespace package of the pip package.
    files.push(package_root().join("xen/__init__.py"));
    for entry in std::fs::read_dir(scripts_dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "py") {
            files.push(p);
        }
    }
    let out = run(python3()
        .args([
            "-c",
            "import ast, sys\n\
             for f in sys.argv[1:]:\n\
             \x20   ast.parse(open(f, encoding='utf-8').read(), f, feature_version=(3, 7))\n\
             print(len(sys.argv) - 1)",
        ])
        .args(&files));
    assert!(out.status.success(), "syntax check failed: {}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        files.len().to_string()
    );
}

/// One verdict line of `run_vectors.py`.
struct Verdict {
    accept: bool,
    class: String,
    kind: String,
    warnings: String,
    message: String,
}

fn run_vectors(set: &[Vector]) -> BTreeMap<String, Verdict> {
    let dir = scratch("vectors");
    let mut manifest = String::new();
    for v in set {
        let path = dir.join(format!("{}.bin", v.name));
        std::fs::write(&path, &v.bytes).unwrap();
        writeln!(manifest, "{}\t{}", v.name, path.display()).unwrap();
    }
    let list = dir.join("manifest.tsv");
    std::fs::write(&list, manifest).unwrap();
    let out = run(python3()
        .arg(scripts_dir().join("run_vectors.py"))
        .arg(&list));
    assert!(
        out.status.success(),
        "run_vectors.py failed: {}",
        show(&out)
    );
    let mut verdicts = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 8, "bad verdict line {line:?}");
        verdicts.insert(
            f[0].to_string(),
            Verdict {
                accept: f[1] == "ACCEPT",
                class: f[2].to_string(),
                kind: f[3].to_string(),
                warnings: f[4].to_string(),
                message: f[5].to_string(),
            },
        );
    }
    verdicts
}

#[test]
fn vectors_get_the_expected_verdicts() {
    let set = vectors();
    let mut names: Vec<&str> = set.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), set.len(), "vector names are not unique");
    // The set covers every KIND of the shared rules that applies to a bare
    // libxc stream.
    for kind in [
        "BadMarker",
        "BadId",
        "UnsupportedVersion",
        "ReservedNonZero",
        "BadDomainType",
        "BadPageShift",
        "Truncated",
        "RecordTooLong",
        "PaddingNonZero",
        "UnknownMandatory",
        "RecordTooNew",
        "DeprecatedRecord",
        "BackChannelRecord",
        "TrailingData",
        "BadLength",
        "BadValue",
        "BadPageCount",
        "BadPageType",
        "MissingStaticDataEnd",
        "DuplicateStaticDataEnd",
        "WrongGuestType",
        "OutOfOrder",
        "MissingDomainContext",
        "HvmContext",
    ] {
        assert!(
            set.iter().any(|v| v.expect == Some(kind)),
            "no vector for {kind}"
        );
    }
    assert!(set.iter().filter(|v| v.expect.is_none()).count() >= 30);

    let verdicts = run_vectors(&set);
    let mut failures = Vec::new();
    for v in &set {
        let got = verdicts
            .get(&v.name)
            .unwrap_or_else(|| panic!("no verdict for {}", v.name));
        match v.expect {
            None if !got.accept => failures.push(format!(
                "{}: rejected ({} {}): {}",
                v.name, got.class, got.kind, got.message
            )),
            Some(kind) if got.accept => {
                failures.push(format!("{}: accepted, expected {kind}", v.name))
            }
            Some(kind) if got.kind != kind || Some(got.class.as_str()) != v.python_class => {
                failures.push(format!(
                    "{}: {} {} ({}), expected {} {kind}",
                    v.name,
                    got.class,
                    got.kind,
                    got.message,
                    v.python_class.unwrap_or("?")
                ))
            }
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors wrong:\n{}",
        failures.len(),
        set.len(),
        failures.join("\n")
    );

    // Warnings the rules require (accepted streams).
    for (prefix, warning) in [
        ("v2-pv-unknown-optional-", "unknown optional record"),
        ("v4-hvm-unknown-optional-", "unknown optional record"),
        ("v4-pv-deprecated-records-", "deprecated in version 4"),
        (
            "v3-hvm-params-after-context-",
            "HVM_PARAMS after HVM_CONTEXT",
        ),
        (
            "v4-hvm-params-empty-",
            "HVM_PARAMS record with zero content",
        ),
        (
            "v3-pv-vcpu-empty-",
            "X86_PV_VCPU_MSRS record with zero content",
        ),
    ] {
        for e in ["le", "be"] {
            let name = format!("{prefix}{e}");
            let got = &verdicts[&name];
            assert!(
                got.accept && got.warnings.contains(warning),
                "{name}: expected an accepted stream warning {warning:?}, got {}",
                got.warnings
            );
        }
    }
    // A clean stream has no warnings at all.
    for name in ["v3-pv-le", "v4-hvm-be", "v2-hvm-le"] {
        assert_eq!(verdicts[name].warnings, "", "{name}");
    }
}

fn vector(name: &str) -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
}

#[test]
fn driver_verifies_files_and_pipes() {
    let dir = scratch("driver");
    let driver = verify_stream_driver();
    let good = vector("v4-pv-be");
    let bad = vector("page-type-7-v3-pv-le");
    let good_path = dir.join("good.bin");
    let bad_path = dir.join("bad.bin");
    std::fs::write(&good_path, &good.bytes).unwrap();
    std::fs::write(&bad_path, &bad.bytes).unwrap();

    // From a file, verbose.
    let out = run(python3().arg(&driver).arg("-v").arg(&good_path));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Libxc Image Header: Version 4, big endian"),
        "{text}"
    );
    assert!(text.contains("Libxc Record: Domain context"), "{text}");
    assert!(
        text.contains(&format!("END at offset {}", good.bytes.len())),
        "{text}"
    );
    // Quiet unless -v.
    let out = run(python3().arg(&driver).arg(&good_path));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(out.stdout.is_empty(), "{}", show(&out));

    let out = run(python3().arg(&driver).arg(&bad_path));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BadPageType"), "{err}");

    // Through a pipe on standard input, in small pieces with pauses so that
    // the driver's unbuffered reads come back short.
    for (v, code) in [(&good, 0), (&bad, 1)] {
        let mut child = python3()
            .arg(&driver)
            .arg("-v")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn driver");
        let mut stdin = child.stdin.take().unwrap();
        let bytes = v.bytes.clone();
        let writer = std::thread::spawn(move || {
            // The first pause outlasts the interpreter's start-up, so the
            // later pieces arrive while the verifier is already reading.
            for (i, chunk) in bytes.chunks(1000).enumerate() {
                if stdin.write_all(chunk).is_err() {
                    break;
                }
                stdin.flush().ok();
                let pause = if i == 0 { 500 } else { 20 };
                std::thread::sleep(std::time::Duration::from_millis(pause));
            }
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}: {}", v.name, show(&out));
    }
}

/// Offset of the libxc image header in a real save file: the first eight
/// 0xff octets followed by "XENF" within its first 64 KiB.
fn libxc_start(path: &Path) -> usize {
    use std::io::Read;
    let mut head = vec![0; 64 * 1024];
    let mut f = std::fs::File::open(path).unwrap();
    let n = f.read(&mut head).unwrap();
    let mut needle = vec![0xff; 8];
    needle.extend_from_slice(b"XENF");
    head[..n]
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap_or_else(|| panic!("no libxc image header in {}", path.display()))
}

fn real_stream_verifies(name: &str, guest: &str) {
    let path = test_support::real_stream(name);
    let start = libxc_start(&path);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    let out = run(python3()
        .arg(verify_stream_driver())
        .args(["-v", "--embedded", "--offset"])
        .arg(start.to_string())
        .arg(&path));
    assert_eq!(out.status.code(), Some(0), "{name}: {}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Libxc Image Header: Version 3, little endian"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Domain Header: {guest} from Xen 4.17")),
        "{text}"
    );
    let end: usize = text
        .lines()
        .find_map(|l| l.split("END at offset ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no end offset in:\n{text}"));
    // It stopped right after the libxc END record (type 0, length 0),
    // before the rest of the libxl stream.
    assert!(end < len, "{name}: verifier read to the end of the file");
    let mut f = std::fs::File::open(&path).unwrap();
    use std::io::{Read, Seek, SeekFrom};
    f.seek(SeekFrom::Start((end - 8) as u64)).unwrap();
    let mut rh = [0u8; 8];
    f.read_exact(&mut rh).unwrap();
    assert_eq!(rh, [0; 8], "{name}: the last record read is not END");
}

#[test]
fn real_pv_stream_verifies() {
    real_stream_verifies("pv64-1vcpu-96M.xl", "x86 PV");
}

#[test]
fn real_hvm_stream_verifies() {
    real_stream_verifies("hvm-1vcpu-128M.xl", "x86 HVM");
}

/// Where the input is a regular file, the verifier skips an HVM guest's
/// page contents with seeks (it reads the headers and pfn arrays only);
/// from a pipe it reads everything. Both give the same messages, and a
/// file cut inside page contents fails alike both ways (kind and offset).
#[test]
fn hvm_page_contents_are_skipped_on_files_and_read_on_pipes() {
    const SNIPPET: &str = r#"
import io, subprocess, sys
from xen.migration.xl import VerifyXl
from xen.migration.libxc import VerifyLibxc
from xen.migration.verify import MigrationError

class Counting(object):
    """A file whose reads are counted."""
    def __init__(self, f):
        self.f, self.octets = f, 0
    def read(self, n):
        data = self.f.read(n)
        self.octets += len(data)
        return data
    def seek(self, *args):
        return self.f.seek(*args)
    def tell(self):
        return self.f.tell()
    def fileno(self):
        return self.f.fileno()

def run(cls, read):
    messages = []
    try:
        cls(messages.append, read).verify()
        return messages, None
    except MigrationError as e:
        return messages, (e.kind, e.offset)

path, cut = sys.argv[1], sys.argv[2]
size = len(open(path, "rb").read())
f = Counting(open(path, "rb"))
from_file = run(VerifyXl, f.read)
cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
p = Counting(cat.stdout)
from_pipe = run(VerifyXl, p.read)
cat.wait()
assert from_file == from_pipe, (from_file[1], from_pipe[1])
assert from_file[1] is None, from_file[1]
print("file %d pipe %d size %d" % (f.octets, p.octets, size))
# A bare libxc stream cut inside page contents.
data = open(cut, "rb").read()
c = Counting(open(cut, "rb"))
seeking = run(VerifyLibxc, c.read)
reading = run(VerifyLibxc, io.BytesIO(data).read)
assert seeking == reading, (seeking[1], reading[1])
print("cut %s %d read %d of %d" % (seeking[1][0], seeking[1][1], c.octets,
                                   len(data)))
"#;
    let dir = scratch("skip");
    let script = dir.join("skip.py");
    std::fs::write(&script, SNIPPET).unwrap();
    // An HVM stream with 4 MiB of page contents per record, cut in the
    // middle of the second record's pages.
    let opts = format_spec::stream::WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = format_spec::stream::StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let pages = vec![0x5au8; 1024 * 4096];
    for r in 0..3u64 {
        let pfns: Vec<u64> = (r * 1024..(r + 1) * 1024).collect();
        w.write_page_data(&pfns, &pages).unwrap();
    }
    let stream = w.finish().unwrap();
    let record = 16 + 1024 * 8 + pages.len();
    let cut_at = 48 + record + 16 + 1024 * 8 + 1000 * 4096 + 10;
    let cut = dir.join("cut.bin");
    std::fs::write(&cut, &stream[..cut_at]).unwrap();
    let real = test_support::real_stream("hvm-1vcpu-128M.xl");
    let out = run(python3().arg(&script).arg(&real).arg(&cut));
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (file, pipe, size) = (nums[0], nums[1], nums[2]);
    assert_eq!(pipe, size, "{text}");
    // 1020 pfn arrays of 8 KiB and the other records; not the 128 MiB of
    // page contents.
    assert!(file < 16 << 20, "{text}");
    assert!(text.contains(&format!("cut Truncated {cut_at} ")), "{text}");
    // The pfn arrays, not the pages of the first record nor those the
    // second still holds.
    let read_cut = nums[4];
    assert!(read_cut < 1 << 20, "{text}");
}

/// The blob rule interpreter of `verify.py` reads an `at_most` rule (the
/// `("at_most", bound)` pair `python/blob.rs` writes for
/// `Constraint::AtMost`) as Rust's `check_value` does: the bound is
/// allowed, one more is not. No blob field has such a rule yet; the xl
/// header's `optional_data_len` is the Rust side's example.
#[test]
fn blob_interpreter_reads_an_upper_bound_as_rust_does() {
    use format_spec::layout::{check_value, field_index, Constraint, Wire as _};
    use format_spec::xl::XlHeader;
    let layout = &XlHeader::LAYOUT;
    let i = field_index(layout, "optional_data_len");
    let Constraint::AtMost(max) = layout.fields[i].constraint else {
        panic!("optional_data_len has no at_most rule");
    };
    let values = [0, max - 1, max, max + 1, u64::from(u32::MAX)];
    let rust: Vec<&str> = values
        .iter()
        .map(|&v| {
            if check_value(layout, i, v).is_ok() {
                "True"
            } else {
                "False"
            }
        })
        .collect();
    let list: Vec<String> = values.iter().map(u64::to_string).collect();
    let script = format!(
        "from xen.migration.verify import _blob_allowed, _blob_wanted\n\
         print(' '.join(str(_blob_allowed(('at_most', {max}), v)) for v in ({}, )))\n\
         print(_blob_wanted(('at_most', {max})))",
        list.join(", ")
    );
    let out = run(python3().args(["-c", &script]));
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(rust.join(" ").as_str()));
    assert_eq!(rust, ["True", "True", "True", "False", "False"]);
    assert_eq!(lines.next(), Some(format!("at most {max}").as_str()));
}
