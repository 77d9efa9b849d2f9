//! The generated `xg_sr_stream_format.h`, compiled and used for real.
//!
//! * it compiles as C11, GNU C99 and C++11 with warnings as errors;
//! * a probe generated from the descriptors statically asserts every size,
//!   offset, field type and macro value, and a probe with one wrong value
//!   fails to compile (so the probe can catch a mismatch);
//! * every name and value Xen's own code relies on (read from
//!   `shared/reference/upstream-api.md`) is defined with its upstream value;
//! * `c/read_stream.c`, built against the header alone, summarises streams
//!   written by Rust (both byte orders, from a file and from a pipe) and the
//!   two real `xl save` files.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::layout::SpecEnum;
use format_spec::libxc::{
    DomainHeader, DomainType, HvmParams, HvmParamsEntry, LibxcRecord, PageData, PageDataHeader,
    PageType, X86CpuidPolicy, XenCpuidLeaf, CURRENT_VERSION, PAGE_DATA_TYPE_SHIFT, PAGE_SHIFT,
    PAGE_SIZE, REC_LENGTH_MAX,
};
use generated_tests::cc::{self, Lang, MODES};
use generated_tests::mini_stream::MiniStream;
use generated_tests::probe::{self, Expect};
use generated_tests::summary::{self, page_type_key, record_key, Summary};

/// The header's file name and the directory to pass with `-I`.
fn header() -> (PathBuf, String) {
    let path = generated_tests::libxc_header();
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask codegen`",
        path.display()
    );
    let dir = path.parent().unwrap().to_path_buf();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    (dir, name)
}

/// Compiles `source` (text) in `mode`; returns the outcome.
fn compile_text(dir: &Path, stem: &str, mode: &cc::Mode, source: &str) -> cc::Outcome {
    let ext = match mode.lang {
        Lang::C => "c",
        Lang::Cxx => "cc",
    };
    let src = dir.join(format!("{stem}.{ext}"));
    std::fs::write(&src, source).unwrap();
    let (include, _) = header();
    cc::compile(mode, &include, &src, &dir.join(format!("{stem}.o")))
}

#[test]
fn checked_in_header_is_what_the_generator_writes() {
    let want = xtask::c::outputs()
        .into_iter()
        .find(|o| o.path == xtask::c::LIBXC_HEADER_PATH)
        .expect("the C generator writes the libxc header");
    let have = std::fs::read_to_string(generated_tests::libxc_header()).unwrap();
    assert!(
        have == want.contents,
        "generated header is stale: run `cargo xtask codegen`"
    );
    assert!(!have.contains('\r'), "the header must use LF line endings");
}

#[test]
fn header_compiles_in_every_mode() {
    let dir = generated_tests::scratch_dir("compile");
    let (_, name) = header();
    for (i, mode) in MODES.iter().enumerate() {
        let src =
            format!("#include \"{name}\"\n#include \"{name}\"\nint main(void) {{ return 0; }}\n");
        let out = compile_text(&dir, &format!("plain{i}"), mode, &src);
        assert!(
            out.ok,
            "{} rejects the header:\n{}",
            mode.label(),
            out.stderr
        );
    }
}

#[test]
fn probe_from_descriptors_holds_in_every_mode() {
    let dir = generated_tests::scratch_dir("probe");
    let (_, name) = header();
    for (i, mode) in MODES.iter().enumerate() {
        let expects = probe::expectations(mode.lang);
        // Every struct, every field and every C-named value is covered.
        let structs = probe::header_structs();
        let fields: usize = structs.iter().map(|s| s.fields.len()).sum();
        assert!(expects.len() >= structs.len() + 3 * fields + LibxcRecord::LAYOUT.records.len());
        assert!(expects.iter().any(|e| e.expr == "REC_TYPE_DOMAIN_CONTEXT"));
        let src = probe::source(mode.lang, &name, &expects);
        let out = compile_text(&dir, &format!("probe{i}"), mode, &src);
        assert!(out.ok, "probe fails with {}:\n{}", mode.label(), out.stderr);
    }
}

#[test]
fn probe_fails_on_a_wrong_expectation() {
    let dir = generated_tests::scratch_dir("probe-wrong");
    let (_, name) = header();
    for (i, mode) in MODES.iter().enumerate() {
        let expects = probe::expectations(mode.lang);
        // Break each kind of expectation in turn: a size, an offset, a type
        // test, a record code.
        let kinds: [fn(&Expect) -> bool; 4] = [
            |e| e.expr.starts_with("sizeof(struct"),
            |e| e.expr.starts_with("offsetof(") && e.value > 0,
            |e| e.value == 1 && (e.expr.contains("_Generic") || e.expr.contains("is_same")),
            |e| e.expr == "REC_TYPE_DOMAIN_CONTEXT",
        ];
        for (k, kind) in kinds.iter().enumerate() {
            let mut wrong = expects.clone();
            let victim = wrong.iter_mut().find(|e| kind(e)).expect("kind present");
            victim.value ^= 2;
            let broken = victim.expr.clone();
            let src = probe::source(mode.lang, &name, &wrong);
            let out = compile_text(&dir, &format!("wrong{i}-{k}"), mode, &src);
            assert!(
                !out.ok,
                "{}: a wrong value for {broken} compiled",
                mode.label()
            );
            assert!(
                out.stderr.contains(&broken.replace('"', "'")),
                "{}: diagnostics do not name {broken}:\n{}",
                mode.label(),
                out.stderr
            );
        }
    }
}

/// The `xg_sr_stream_format.h` section of `upstream-api.md`.
fn upstream_section() -> String {
    let path = test_support::shared_dir()
        .join("reference")
        .join("upstream-api.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set XEN_STREAM_SHARED)", path.display()));
    let start = text
        .find("## C: xg_sr_stream_format.h")
        .expect("upstream-api.md has the libxc header section");
    let rest = &text[start + 3..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_string()
}

/// The backtick-quoted spans of a line.
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

fn parse_hex(s: &str) -> u64 {
    let t = s.trim().trim_end_matches(['U', 'L']);
    u64::from_str_radix(t.trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("bad number {s:?}: {e}"))
}

/// Expectations read from Xen's API list, independent of the descriptors.
fn upstream_expectations(lang: Lang) -> (Vec<Expect>, String, String) {
    let section = upstream_section();
    let mut out = Vec::new();
    let mut guard = String::new();
    let mut include = String::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if line.starts_with("Include guard") {
            let spans = code_spans(line);
            guard = spans[0].to_string();
            include = spans[1].to_string();
        } else if cells.len() == 5 && cells[1].starts_with("`xc_sr_") {
            // | `struct` | size | `type name` @off, ... |
            let ty = format!("struct {}", code_spans(cells[1])[0]);
            out.push(Expect {
                expr: format!("sizeof({ty})"),
                value: cells[2].parse().unwrap(),
            });
            for field in cells[3].split(", ") {
                let decl = code_spans(field)[0];
                let offset: u64 = field.rsplit('@').next().unwrap().parse().unwrap();
                let (ftype, fname) = decl.rsplit_once(' ').unwrap();
                out.push(Expect {
                    expr: format!("offsetof({ty}, {fname})"),
                    value: offset,
                });
                let member = format!("(({ty} *)0)->{fname}");
                let (elem, count) = match ftype.split_once('[') {
                    Some((e, n)) => (e, Some(n.trim_end_matches(']'))),
                    None => (ftype, None),
                };
                let elem_c = if elem.starts_with("uint") {
                    elem.to_string()
                } else {
                    format!("struct {elem}")
                };
                let access = if count.is_some() {
                    format!("{member}[0]")
                } else {
                    member.clone()
                };
                let test = match lang {
                    Lang::C => format!("_Generic({access}, {elem_c}: 1, default: 0)"),
                    Lang::Cxx => format!(
                        "std::is_same<std::remove_cv<std::remove_reference<decltype({access})>::type>::type, {elem_c}>::value"
                    ),
                };
                out.push(Expect {
                    expr: test,
                    value: 1,
                });
                if let Some(n) = count.filter(|n| !n.is_empty()) {
                    out.push(Expect {
                        expr: format!("sizeof({member}) / sizeof({member}[0])"),
                        value: n.parse().unwrap(),
                    });
                }
            }
        } else if cells.len() == 4 && cells[1].starts_with('`') && cells[2].starts_with("0x") {
            // | `MACRO` | value |
            out.push(Expect {
                expr: code_spans(cells[1])[0].to_string(),
                value: parse_hex(cells[2]),
            });
        } else if line.contains("` = 0x") {
            // Prose additions: `NAME` = 0x...U
            let name = code_spans(line)[0];
            let value = line.split("` = ").nth(1).unwrap();
            let value = value.split([' ', ',', ')']).next().unwrap();
            out.push(Expect {
                expr: name.to_string(),
                value: parse_hex(value),
            });
        }
    }
    (out, guard, include)
}

#[test]
fn every_upstream_name_is_defined_with_its_value() {
    let (_, name) = header();
    let text = std::fs::read_to_string(generated_tests::libxc_header()).unwrap();
    let dir = generated_tests::scratch_dir("upstream");
    for (i, mode) in MODES.iter().enumerate() {
        let (expects, guard, include) = upstream_expectations(mode.lang);
        // 10 structs with 35 fields and 31 macros upstream, plus DOMAIN_CONTEXT.
        assert!(expects.len() > 100, "parsed only {} items", expects.len());
        assert!(expects.iter().any(|e| e.expr == "REC_TYPE_DOMAIN_CONTEXT"));
        assert!(text.contains(&format!("#ifndef {guard}\n#define {guard}\n")));
        assert!(text.contains(&format!("#include {include}\n")));
        let src = probe::source(mode.lang, &name, &expects);
        let out = compile_text(&dir, &format!("upstream{i}"), mode, &src);
        assert!(
            out.ok,
            "{}: the header breaks Xen's API:\n{}",
            mode.label(),
            out.stderr
        );
    }
}

/// The C reader, compiled once per test binary (C11 and GNU C99 both
/// checked; the C11 build is the one run).
fn reader() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = generated_tests::scratch_dir("reader");
        let (include, _) = header();
        let src = generated_tests::c_sources().join("read_stream.c");
        let mut built = None;
        for (i, mode) in MODES.iter().filter(|m| m.lang == Lang::C).enumerate() {
            let bin = dir.join(format!("read_stream{i}"));
            let out = cc::compile(mode, &include, &src, &bin);
            assert!(
                out.ok,
                "read_stream.c with {}:\n{}",
                mode.label(),
                out.stderr
            );
            built.get_or_insert(bin);
        }
        built.unwrap()
    })
}

/// Runs the reader; returns (exit code, stdout, stderr).
fn run_reader(args: &[String], stdin: Option<&[u8]>) -> (i32, String, String) {
    let mut cmd = Command::new(reader());
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run read_stream");
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            // The reader may stop early (at END); a broken pipe is fine.
            let _ = pipe.write_all(&data);
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn parse_summary(code: i32, stdout: &str, stderr: &str) -> Summary {
    summary::parse(stdout)
        .unwrap_or_else(|e| panic!("bad summary ({e}), exit {code}:\n{stdout}\n{stderr}"))
}

/// An entry of a PAGE_DATA pfn array.
fn pfn_entry(t: PageType, pfn: u64) -> u64 {
    (t.value() << PAGE_DATA_TYPE_SHIFT) | pfn
}

/// A PAGE_DATA record: `entries` with contents for those whose type has data.
fn page_data(entries: &[(PageType, u64)]) -> LibxcRecord {
    let pfn: Vec<u64> = entries.iter().map(|&(t, p)| pfn_entry(t, p)).collect();
    let mut pages = Vec::new();
    for &(t, p) in entries {
        if t.has_data() {
            let fill = (p as u8).wrapping_mul(7).wrapping_add(1);
            pages.resize(pages.len() + PAGE_SIZE, fill);
        }
    }
    LibxcRecord::PageData(PageData {
        header: PageDataHeader {
            count: pfn.len() as u32,
            _res1: 0,
            pfn,
        },
        pages,
    })
}

/// A v4 HVM stream with every kind of record the summary looks at.
fn sample_stream(endian: Endian, with_end: bool) -> MiniStream {
    let dhdr = DomainHeader {
        r#type: DomainType::X86Hvm.value() as u32,
        page_shift: PAGE_SHIFT,
        _res1: 0,
        xen_major: 4,
        xen_minor: 21,
    };
    let mut s = MiniStream::new(CURRENT_VERSION, endian, &dhdr).unwrap();
    let leaves = (0..5)
        .map(|i| XenCpuidLeaf {
            leaf: i,
            subleaf: u32::MAX,
            a: i * 3,
            b: 1,
            c: 2,
            d: 3,
        })
        .collect();
    s.record(&LibxcRecord::X86CpuidPolicy(X86CpuidPolicy { leaves }))
        .unwrap();
    s.record(&LibxcRecord::StaticDataEnd).unwrap();
    s.record(&page_data(&[
        (PageType::Notab, 0),
        (PageType::Notab, 1),
        (PageType::Xtab, 2),
        (PageType::L1tab, 3),
    ]))
    .unwrap();
    s.record(&page_data(&[
        (PageType::Xtab, 0x10),
        (PageType::Xtab, 0x11),
    ]))
    .unwrap();
    s.record(&page_data(&[
        (PageType::Xalloc, 0x20),
        (PageType::Broken, 0x21),
        (PageType::Notab, 0xf_ffff_ffff_ffff),
    ]))
    .unwrap();
    let param = (0..3)
        .map(|i| HvmParamsEntry {
            index: i + 1,
            value: 0x1000 * i,
        })
        .collect();
    s.record(&LibxcRecord::HvmParams(HvmParams {
        count: 3,
        _res1: 0,
        param,
    }))
    .unwrap();
    s.record(&LibxcRecord::HvmContext(Opaque(vec![0xab; 13])))
        .unwrap();
    s.record(&LibxcRecord::DomainContext(Opaque(vec![0x5a; 21])))
        .unwrap();
    if with_end {
        s.record(&LibxcRecord::End).unwrap();
    }
    s
}

#[test]
fn c_reader_summarises_rust_written_streams() {
    let dir = generated_tests::scratch_dir("rust-streams");
    for endian in [Endian::Little, Endian::Big] {
        let (bytes, facts) = sample_stream(endian, true).finish();
        // Sanity of the sample itself: what the comparison relies on.
        assert_eq!(facts.pfn_entries, 9);
        assert_eq!(facts.data_pages, 4);
        assert_eq!(facts.records.values().sum::<u64>(), 9);

        // From a file, with junk before the stream.
        let junk = b"not a stream, 29 octets long!";
        let path = dir.join(format!("{endian:?}.bin"));
        let mut file = junk.to_vec();
        file.extend_from_slice(&bytes);
        std::fs::write(&path, &file).unwrap();
        let args = [path.to_string_lossy().into_owned(), junk.len().to_string()];
        let (code, out, err) = run_reader(&args, None);
        assert_eq!(code, 0, "{endian:?}: exit {code}: {err}");
        let got = parse_summary(code, &out, &err);
        assert_eq!(
            got,
            facts.expected_summary(junk.len() as u64),
            "{endian:?} file"
        );

        // From a pipe, the offset skipped by reading.
        let args = ["-".to_string(), junk.len().to_string()];
        let (code, out, err) = run_reader(&args, Some(&file));
        assert_eq!(code, 0, "{endian:?} pipe: exit {code}: {err}");
        let got = parse_summary(code, &out, &err);
        assert_eq!(
            got,
            facts.expected_summary(junk.len() as u64),
            "{endian:?} pipe"
        );
        assert_eq!(
            got["endianness"],
            if endian == Endian::Big {
                "big"
            } else {
                "little"
            }
        );
    }
}

#[test]
fn c_reader_reports_missing_end_and_oversized_records() {
    // No END: the summary is printed, end_reached is "no", exit status 3.
    let (bytes, facts) = sample_stream(Endian::Little, false).finish();
    let (code, out, err) = run_reader(&["-".to_string()], Some(&bytes));
    assert_eq!(code, 3, "{err}");
    let got = parse_summary(code, &out, &err);
    assert_eq!(got["end_reached"], "no");
    assert_eq!(got, facts.expected_summary(0));

    // A record header claiming more than REC_LENGTH_MAX: refused by name.
    let mut s = sample_stream(Endian::Big, false);
    s.record(&LibxcRecord::StaticDataEnd).unwrap();
    let (mut bytes, _) = s.finish();
    let hdr_at = bytes.len() - 8;
    bytes[hdr_at + 4..].copy_from_slice(&(REC_LENGTH_MAX + 1).to_be_bytes());
    let (code, _, err) = run_reader(&["-".to_string()], Some(&bytes));
    assert_eq!(code, 1);
    assert!(err.contains("REC_LENGTH_MAX"), "{err}");
    assert!(err.contains(&format!("offset {}", hdr_at)), "{err}");

    // A record cut short inside its body.
    let (bytes, _) = sample_stream(Endian::Little, true).finish();
    let (code, _, err) = run_reader(&["-".to_string()], Some(&bytes[..bytes.len() - 60]));
    assert_eq!(code, 1);
    assert!(err.contains("truncated"), "{err}");
}

/// Offset of the libxc image header in an `xl save` file: the first
/// IHDR_MARKER followed by IHDR_ID within the first 64 KiB.
fn libxc_offset(path: &Path) -> usize {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .take(64 * 1024)
        .read_to_end(&mut head)
        .unwrap();
    let mut needle = format_spec::libxc::IHDR_MARKER.to_be_bytes().to_vec();
    needle.extend_from_slice(&format_spec::libxc::IHDR_ID.to_be_bytes());
    head.windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap_or_else(|| {
            panic!(
                "{}: no libxc image header in the first 64 KiB",
                path.display()
            )
        })
}

/// Checks a real stream's summary against the facts its README states.
fn check_real(
    name: &str,
    domain_type: DomainType,
    present: &[u32],
    page_data_records: u64,
    pfn_entries: u64,
    data_pages: u64,
    via_pipe: bool,
) {
    let path = test_support::real_stream(name);
    let offset = libxc_offset(&path);
    let (code, out, err) = if via_pipe {
        let bytes = std::fs::read(&path).unwrap();
        run_reader(&["-".to_string(), offset.to_string()], Some(&bytes))
    } else {
        let args = [path.to_string_lossy().into_owned(), offset.to_string()];
        run_reader(&args, None)
    };
    assert_eq!(code, 0, "{name}: exit {code}: {err}");
    let s = parse_summary(code, &out, &err);
    let domain_name = DomainType::LAYOUT
        .variant(domain_type.value())
        .and_then(|v| v.c_name)
        .unwrap();
    assert_eq!(s["start_offset"], offset.to_string());
    assert_eq!(s["version"], "3", "{name}");
    assert_eq!(s["endianness"], "little", "{name}");
    assert_eq!(s["domain_type_name"], domain_name, "{name}");
    assert_eq!(s["page_shift"], PAGE_SHIFT.to_string(), "{name}");
    assert_eq!(s["xen_version"], "4.17", "{name}");
    assert_eq!(s["end_reached"], "yes", "{name}");
    assert_eq!(
        s["page_data_records"],
        page_data_records.to_string(),
        "{name}"
    );
    assert_eq!(s["pfn_entries"], pfn_entries.to_string(), "{name}");
    assert_eq!(s["data_pages"], data_pages.to_string(), "{name}");
    assert_eq!(s["domain_context_records"], "0", "{name}");

    // Exactly the record types the README lists, plus PAGE_DATA and END.
    let seen: BTreeSet<String> = s
        .keys()
        .filter(|k| k.starts_with("records_"))
        .cloned()
        .collect();
    let mut want: BTreeSet<String> = present.iter().map(|&c| record_key(c)).collect();
    want.insert(record_key(LibxcRecord::PAGE_DATA));
    want.insert(record_key(LibxcRecord::END));
    assert_eq!(seen, want, "{name}: record types");
    for code in present {
        assert_eq!(s[&record_key(*code)], "1", "{name}: 0x{code:x} once");
    }
    assert_eq!(
        s["records"],
        (present.len() as u64 + page_data_records + 1).to_string(),
        "{name}: total records"
    );

    // The per-type pfn counts add up, and the types with data account for
    // exactly the pages the C reader found by length.
    let mut total = 0;
    let mut with_data = 0;
    for (k, v) in s.iter().filter(|(k, _)| k.starts_with("page_type_")) {
        let t = u64::from_str_radix(k.trim_start_matches("page_type_0x"), 16).unwrap();
        let n: u64 = v.parse().unwrap();
        let ty = PageType::from_value(t).unwrap_or_else(|| panic!("{name}: page type {t:#x}"));
        total += n;
        if ty.has_data() {
            with_data += n;
        }
    }
    assert_eq!(total, pfn_entries, "{name}: page types");
    assert_eq!(with_data, data_pages, "{name}: pages with data by type");
    if pfn_entries > data_pages {
        // The README: "the rest XTAB".
        assert_eq!(
            s[&page_type_key(PageType::Xtab.value())],
            (pfn_entries - data_pages).to_string()
        );
    }
}

#[test]
fn c_reader_on_real_pv_save_file() {
    check_real(
        "pv64-1vcpu-96M.xl",
        DomainType::X86Pv,
        &[
            LibxcRecord::X86_PV_INFO,
            LibxcRecord::X86_CPUID_POLICY,
            LibxcRecord::X86_MSR_POLICY,
            LibxcRecord::STATIC_DATA_END,
            LibxcRecord::X86_PV_P2M_FRAMES,
            LibxcRecord::X86_TSC_INFO,
            LibxcRecord::SHARED_INFO,
            LibxcRecord::X86_PV_VCPU_BASIC,
            LibxcRecord::X86_PV_VCPU_EXTENDED,
        ],
        24,
        24_576,
        24_576,
        false,
    );
}

#[test]
fn c_reader_on_real_hvm_save_file() {
    check_real(
        "hvm-1vcpu-128M.xl",
        DomainType::X86Hvm,
        &[
            LibxcRecord::X86_CPUID_POLICY,
            LibxcRecord::X86_MSR_POLICY,
            LibxcRecord::STATIC_DATA_END,
            LibxcRecord::X86_TSC_INFO,
            LibxcRecord::HVM_CONTEXT,
            LibxcRecord::HVM_PARAMS,
        ],
        1020,
        1_044_480,
        32_763,
        true,
    );
}
