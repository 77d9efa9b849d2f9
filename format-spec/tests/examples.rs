//! The runnable examples of `format-spec/examples/`, run as their docs say
//! on the real save files, their output checked against the library's own
//! verifier and memory extraction.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use format_spec::libxc::{PageType, PfnEntry, PAGE_SIZE};
use format_spec::memory::{extract_save_file, Checkpoint, ExtractOptions, OnePage, PageState};
use format_spec::outer::FormatChoice;
use format_spec::save::{self, Options};
use format_spec::Mode;
use test_support::{real_stream, REAL_STREAMS};

/// The example binary `name`. `cargo test` builds the examples beside the
/// test binaries, but not when only some test targets are selected
/// (`--test examples`): a missing or stale binary fails here, rather than
/// testing old code.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    let built = std::fs::metadata(&path).and_then(|m| m.modified());
    let changed = std::fs::metadata(&source)
        .and_then(|m| m.modified())
        .unwrap();
    assert!(
        matches!(built, Ok(t) if t >= changed),
        "{} is missing or older than its source: run `cargo test -p format-spec` \
         (which builds the examples) or `cargo build -p format-spec --examples`",
        path.display()
    );
    path
}

fn run(name: &str, args: &[&Path], stdin: Option<&Path>) -> Output {
    let mut cmd = Command::new(example(name));
    cmd.args(args);
    if let Some(p) = stdin {
        cmd.stdin(File::open(p).unwrap());
    } else {
        cmd.stdin(Stdio::null());
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("examples-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the first `len` octets of `src`.
fn truncated(src: &Path, len: u64, dir: &Path) -> PathBuf {
    let out = dir.join("truncated.xl");
    let mut data = Vec::new();
    File::open(src)
        .unwrap()
        .take(len)
        .read_to_end(&mut data)
        .unwrap();
    std::fs::write(&out, data).unwrap();
    out
}

#[test]
fn pages_by_type_counts_what_the_verifier_counts() {
    for name in REAL_STREAMS {
        let path = real_stream(name);
        let out = run("pages_by_type", &[], Some(&path));
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        // The verifier counts the same entries by its own code.
        let rep = save::verify_seekable(
            BufReader::new(File::open(&path).unwrap()),
            Options::verify(Mode::Lenient),
        )
        .unwrap();
        let mut want = String::new();
        for (nibble, n) in rep
            .libxc
            .as_ref()
            .expect("a libxc stream")
            .pages_by_type
            .iter()
            .enumerate()
        {
            if *n > 0 {
                let t = PfnEntry((nibble as u64) << 60).page_type().unwrap();
                want += &format!("{} ({}) {n}\n", t.short_name(), t.human());
            }
        }
        want += &format!(
            "total {} pfn entries, {} with contents\n",
            rep.libxc.as_ref().expect("a libxc stream").pfn_entries,
            rep.libxc.as_ref().expect("a libxc stream").data_pages
        );
        assert_eq!(stdout, want, "{name}");
        // Facts of the files: the PV guest's 96 MiB are all sent, with its
        // page tables; the HVM guest has XTAB holes.
        if name.starts_with("pv64") {
            assert!(stdout.contains("L4TAB_PIN (L4 page table (pinned)) "));
            assert!(stdout.contains("total 24576 pfn entries, 24576 with contents"));
        } else {
            assert!(stdout.contains("XTAB (invalid) "));
        }
    }
    // A broken input: exit 1 with the rule and offset.
    let dir = scratch("pages");
    let cut = truncated(&real_stream(REAL_STREAMS[0]), 5000, &dir);
    let out = run("pages_by_type", &[], Some(&cut));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("rule Truncated, offset 5000"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn write_v4_writes_a_strictly_valid_v4_file_with_a_domain_context() {
    let dir = scratch("v4");
    let path = dir.join("guest-v4.xl");
    let out = run("write_v4", &[&path], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let len = std::fs::metadata(&path).unwrap().len();
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with(&format!("wrote {}: {len} octets\n", path.display())));
    assert!(stdout.contains("valid (strict): libxc v4, 6 records, 16 data pages"));
    // Checked again here, by the library, piped (no seeking).
    let rep = save::verify(
        BufReader::new(File::open(&path).unwrap()),
        Options::verify(Mode::Strict),
    )
    .unwrap();
    assert_eq!(
        rep.libxc
            .as_ref()
            .expect("a libxc stream")
            .image_header
            .version,
        4
    );
    let dc = format_spec::libxc::LibxcRecord::DOMAIN_CONTEXT;
    assert_eq!(
        rep.libxc
            .as_ref()
            .expect("a libxc stream")
            .records_by_type
            .get(&dc),
        Some(&1)
    );
    assert_eq!(rep.libxc.as_ref().expect("a libxc stream").data_pages, 16);
    assert_eq!(rep.end_offset, len);

    // With a real save file, its first 16 pages and its Xen version.
    for name in REAL_STREAMS {
        let src = real_stream(name);
        let out = run("write_v4", &[&path, &src], None);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let rep = save::verify_seekable(
            BufReader::new(File::open(&path).unwrap()),
            Options::verify(Mode::Strict),
        )
        .unwrap();
        assert_eq!(
            rep.libxc
                .as_ref()
                .expect("a libxc stream")
                .image_header
                .version,
            4
        );
        assert_eq!(
            (
                rep.libxc
                    .as_ref()
                    .expect("a libxc stream")
                    .domain_header
                    .xen_major,
                rep.libxc
                    .as_ref()
                    .expect("a libxc stream")
                    .domain_header
                    .xen_minor
            ),
            (4, 17)
        );
        // Every page written is the source's page of that pfn.
        let mut r = save::SaveReader::seekable(
            BufReader::new(File::open(&path).unwrap()),
            Options::default(),
        )
        .unwrap();
        let mut checked = 0;
        while let Some(ev) = r.next().unwrap() {
            let save::Event::LibxcRecord(info) = ev else {
                continue;
            };
            if info.rtype != format_spec::libxc::LibxcRecord::PAGE_DATA {
                continue;
            }
            let mut batch = r.page_batch().unwrap();
            let pfns: Vec<u64> = batch
                .entries()
                .filter(|e| e.has_data())
                .map(|e| e.pfn())
                .collect();
            let mut page = vec![0u8; PAGE_SIZE];
            for pfn in pfns {
                batch.read_pages(&mut page).unwrap();
                let PageState::Present(want) = library_page(&src, pfn) else {
                    panic!("{name}: pfn {pfn:#x} is not in the source");
                };
                assert!(page == want, "{name}: pfn {pfn:#x} differs");
                checked += 1;
            }
        }
        assert_eq!(checked, 16, "{name}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn relay_verifies_what_arrives_over_tcp() {
    let dir = scratch("relay");
    for name in REAL_STREAMS {
        let path = real_stream(name);
        let copy = dir.join("copy.xl");
        let out = run("relay", &[&path, &copy], None);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let len = std::fs::metadata(&path).unwrap().len();
        let guest = if name.starts_with("pv64") {
            "x86 PV"
        } else {
            "x86 HVM"
        };
        assert!(
            text(&out.stdout).starts_with(&format!(
                "received {len} octets: valid (strict) xl file, libxc v3, {guest}, "
            )),
            "{}",
            text(&out.stdout)
        );
        // The copy is the file, octet for octet.
        assert_eq!(std::fs::metadata(&copy).unwrap().len(), len);
        let (mut a, mut b) = (
            BufReader::new(File::open(&path).unwrap()),
            BufReader::new(File::open(&copy).unwrap()),
        );
        let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
        loop {
            let n = a.read(&mut x).unwrap();
            b.read_exact(&mut y[..n]).unwrap();
            assert!(x[..n] == y[..n], "{name}: the copy differs");
            if n == 0 {
                break;
            }
        }
    }
    // A stream cut short arrives whole but invalid: exit 1.
    let cut = truncated(&real_stream(REAL_STREAMS[1]), 3_000_000, &dir);
    let out = run("relay", &[&cut], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("received 3000000 octets: invalid"), "{err}");
    assert!(
        err.contains("rule Truncated, offset 3000000, Libxc layer"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The page of `pfn` as the library's memory extraction finds it.
fn library_page(path: &Path, pfn: u64) -> PageState {
    let opts = ExtractOptions {
        checkpoint: Checkpoint::Last,
        journal_dir: None,
    };
    let input = BufReader::new(File::open(path).unwrap());
    extract_save_file(input, FormatChoice::Auto, OnePage::new(pfn), &opts)
        .unwrap()
        .0
}

#[test]
fn page_writes_the_last_copy_of_one_pfn() {
    for name in REAL_STREAMS {
        let path = real_stream(name);
        // Pfns at the start, above 4095 (where `entry & 0xfff` went
        // wrong), and near the end of the guests' RAM.
        for pfn in [0u64, 1, 0x1000, 0x1234, 0x5fff] {
            let arg = format!("{pfn:#x}");
            let out = run("page", &[&path, Path::new(&arg)], None);
            let PageState::Present(want) = library_page(&path, pfn) else {
                panic!("{name}: pfn {pfn:#x} has no contents");
            };
            assert!(out.status.success(), "{name} {arg}: {}", text(&out.stderr));
            assert_eq!(out.stdout.len(), PAGE_SIZE);
            assert!(out.stdout == want, "{name}: pfn {pfn:#x} differs");
        }
        // Some page holds the guests' fixture text.
        let hit = (0..0x6000u64).step_by(0x101).any(|pfn| {
            let arg = format!("{pfn}");
            let out = run("page", &[&path, Path::new(&arg)], None);
            out.stdout
                .windows(test_support::FIXTURE_LINE.len())
                .any(|w| w == test_support::FIXTURE_LINE)
        });
        assert!(hit, "{name}: no sampled page holds the fixture text");
    }
    // An HVM pfn the stream marks XTAB: no contents, exit 1.
    let hvm = real_stream(REAL_STREAMS[1]);
    let xtab = first_xtab(&hvm);
    assert!(!matches!(library_page(&hvm, xtab), PageState::Present(_)));
    let arg = format!("{xtab:#x}");
    let out = run("page", &[&hvm, Path::new(&arg)], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("has no contents"));
    // Bad arguments: exit 2.
    assert_eq!(run("page", &[&hvm], None).status.code(), Some(2));
}

/// The first pfn of the file marked XTAB.
fn first_xtab(path: &Path) -> u64 {
    let mut r = save::SaveReader::seekable(
        BufReader::new(File::open(path).unwrap()),
        Options::default(),
    )
    .unwrap();
    while let Some(ev) = r.next().unwrap() {
        if let save::Event::LibxcRecord(info) = ev {
            if info.rtype == format_spec::libxc::LibxcRecord::PAGE_DATA {
                let batch = r.page_batch().unwrap();
                let found = batch
                    .entries()
                    .find(|e| e.page_type() == Some(PageType::Xtab));
                if let Some(e) = found {
                    return e.pfn();
                }
            }
        }
    }
    panic!("no XTAB entry");
}
