//! The generated `xg_sr_stream_format.h` and `libxl_sr_stream_format.h`,
//! compiled and used for real.
//!
//! * each compiles as C11, GNU C99 and C++11 with warnings as errors, alone
//!   and together with the other in one translation unit (as libxl does);
//! * a probe generated from the descriptors statically asserts every size,
//!   offset, field type and macro value (the DOMAIN_CONTEXT structs and
//!   constants and the HVM_CONTEXT codes included), for each header and for
//!   both in one unit, and a probe with one wrong value fails to compile
//!   (so the probe can catch a mismatch);
//! * every name and value Xen's own code relies on (read from
//!   `shared/reference/upstream-api.md`) is defined with its upstream value;
//! * the xl facts header the C reader uses agrees with `format-spec/src/xl.rs`;
//! * `c/read_stream.c`, built against the headers alone, summarises libxc
//!   streams written by Rust (both byte orders, from a file and from a
//!   pipe; the DOMAIN_CONTEXT blob walked entry by entry), whole xl save
//!   files written by Rust, and the two real `xl save` files, read whole and
//!   compared with the Rust outer reader and the README's facts.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::domain_context::{self as dc, DcEntry, DcHeader, DcTscInfo, SharedInfoRef};
use format_spec::hvm_context::{self as hvm, HvmHeader};
use format_spec::layout::{SpecEnum, Wire};
use format_spec::libxc::{
    DomainType, HvmParams, HvmParamsEntry, LibxcRecord, PageData, PageDataHeader, PageType,
    X86CpuidPolicy, XenCpuidLeaf, CURRENT_VERSION, PAGE_DATA_TYPE_SHIFT, PAGE_SHIFT, PAGE_SIZE,
    REC_LENGTH_MAX,
};
use format_spec::libxl::{EmulatorId, LibxlRecord};
use format_spec::outer::OuterWriter;
use format_spec::stream::WriterOptions;
use format_spec::xl::XlPreamble;
use generated_tests::cc::{self, Lang, MODES};
use generated_tests::mini_stream::{Facts, MiniStream};
use generated_tests::probe::{self, Contents, Expect, LIBXC, LIBXL};
use generated_tests::summary::{self, page_type_key, record_key, Summary};

/// The checked-in path of the header `c` describes.
fn header_path(c: &Contents) -> PathBuf {
    let path = [
        generated_tests::libxc_header(),
        generated_tests::libxl_header(),
    ]
    .into_iter()
    .find(|p| p.file_name().is_some_and(|n| n == c.file))
    .unwrap_or_else(|| panic!("no generated header named {}", c.file));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask codegen`",
        path.display()
    );
    path
}

/// Compiles `source` (text) in `mode` with both header directories and
/// `dir` on the include path; returns the outcome.
fn compile_text(dir: &Path, stem: &str, mode: &cc::CompileMode, source: &str) -> cc::Outcome {
    let ext = match mode.lang {
        Lang::C => "c",
        Lang::Cxx => "cc",
    };
    let src = dir.join(format!("{stem}.{ext}"));
    std::fs::write(&src, source).unwrap();
    let mut includes = generated_tests::header_dirs();
    includes.push(dir.to_path_buf());
    cc::compile(mode, &includes, &src, &dir.join(format!("{stem}.o")))
}

#[test]
fn checked_in_headers_are_what_the_generator_writes() {
    let outputs = xtask::c::outputs();
    for path in [xtask::c::LIBXC_HEADER_PATH, xtask::c::LIBXL_HEADER_PATH] {
        let want = outputs
            .iter()
            .find(|o| o.path == path)
            .unwrap_or_else(|| panic!("the C generator writes {path}"));
        let have = std::fs::read_to_string(xtask::generated_dir().join(path)).unwrap();
        assert!(
            have == want.contents,
            "{path} is stale: run `cargo xtask codegen`"
        );
        assert!(!have.contains('\r'), "{path} must use LF line endings");
    }
}

#[test]
fn headers_compile_in_every_mode_alone_and_together() {
    let dir = generated_tests::scratch_dir("compile");
    let (xc, xl) = (LIBXC.file, LIBXL.file);
    header_path(&LIBXC);
    header_path(&LIBXL);
    // Each twice (the include guard), then both in either order, as libxl
    // includes both.
    let units = [
        vec![xc, xc],
        vec![xl, xl],
        vec![xc, xl, xc, xl],
        vec![xl, xc],
    ];
    for (i, mode) in MODES.iter().enumerate() {
        for (u, names) in units.iter().enumerate() {
            let mut src = String::new();
            for n in names {
                src.push_str(&format!("#include \"{n}\"\n"));
            }
            src.push_str("int main(void) { return 0; }\n");
            let out = compile_text(&dir, &format!("plain{i}-{u}"), mode, &src);
            assert!(
                out.ok,
                "{} rejects {names:?}:\n{}",
                mode.label(),
                out.stderr
            );
        }
    }
}

#[test]
fn probe_from_descriptors_holds_in_every_mode() {
    let dir = generated_tests::scratch_dir("probe");
    for (i, mode) in MODES.iter().enumerate() {
        let mut all = Vec::new();
        for contents in [LIBXC, LIBXL] {
            header_path(&contents);
            let expects = probe::expectations(mode.lang, &contents);
            // Every struct, every field and every C-named value is covered.
            let structs = contents.header_structs();
            let fields: usize = structs.iter().map(|s| s.fields.len()).sum();
            let records = contents.all_records().count();
            assert!(expects.len() >= structs.len() + 3 * fields + records);
            let src = probe::source(mode.lang, &[contents.file], &expects);
            let out = compile_text(&dir, &format!("probe{i}-{}", contents.file), mode, &src);
            assert!(
                out.ok,
                "{} probe fails with {}:\n{}",
                contents.file,
                mode.label(),
                out.stderr
            );
            all.extend(expects);
        }
        // The blobs' items and the libxl ones are in there.
        for name in [
            "REC_TYPE_DOMAIN_CONTEXT",
            "XC_SR_DC_MAGIC",
            "XC_SR_DC_TYPE_TSC_INFO",
            "sizeof(struct xc_sr_dc_tsc_info)",
            "XC_SR_HVM_FILE_MAGIC",
            "XC_SR_HVM_TYPE_CPU",
            "sizeof(libxl__sr_hdr)",
            "REC_TYPE_EMULATOR_CONTEXT",
            "EMULATOR_QEMU_UPSTREAM",
            "CHECKPOINT_SVM_RESUMED",
        ] {
            assert!(all.iter().any(|e| e.expr == name), "{name} not probed");
        }
        // Both headers in one unit: every value still holds (a macro of one
        // would override the other's otherwise).
        let src = probe::source(mode.lang, &[LIBXC.file, LIBXL.file], &all);
        let out = compile_text(&dir, &format!("probe{i}-both"), mode, &src);
        assert!(
            out.ok,
            "joint probe fails with {}:\n{}",
            mode.label(),
            out.stderr
        );
    }
}

#[test]
fn probe_fails_on_a_wrong_expectation() {
    let dir = generated_tests::scratch_dir("probe-wrong");
    for (i, mode) in MODES.iter().enumerate() {
        for contents in [LIBXC, LIBXL] {
            let expects = probe::expectations(mode.lang, &contents);
            // Break each kind of expectation in turn: a struct size, an
            // offset, a type test, a record code, a blob constant.
            let kinds: [fn(&Expect) -> bool; 5] = [
                |e| e.expr.starts_with("sizeof(") && !e.expr.contains("->"),
                |e| e.expr.starts_with("offsetof(") && e.value > 0,
                |e| e.value == 1 && (e.expr.contains("_Generic") || e.expr.contains("is_same")),
                |e| e.expr.starts_with("REC_TYPE_") && e.value > 0,
                |e| e.expr.starts_with("XC_SR_DC_") || e.expr.starts_with("EMULATOR_"),
            ];
            for (k, kind) in kinds.iter().enumerate() {
                let mut wrong = expects.clone();
                let victim = wrong.iter_mut().find(|e| kind(e)).expect("kind present");
                victim.value ^= 2;
                let broken = victim.expr.clone();
                let src = probe::source(mode.lang, &[contents.file], &wrong);
                let stem = format!("wrong{i}-{k}-{}", contents.file);
                let out = compile_text(&dir, &stem, mode, &src);
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
}

/// The section of `upstream-api.md` headed `heading`.
fn upstream_section(heading: &str) -> String {
    let path = test_support::shared_dir()
        .join("reference")
        .join("upstream-api.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set XEN_STREAM_SHARED)", path.display()));
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("upstream-api.md has no {heading:?} section"));
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

/// Expectations read from the section `heading` of Xen's API list,
/// independent of the descriptors; `typedefs` when the structs are used
/// by their typedef names. Returns them with the guard and the include.
fn upstream_expectations(
    lang: Lang,
    heading: &str,
    typedefs: bool,
) -> (Vec<Expect>, String, String) {
    let section = upstream_section(heading);
    let mut out = Vec::new();
    let mut guard = String::new();
    let mut include = String::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if line.starts_with("Include guard") {
            let spans = code_spans(line);
            guard = spans[0].to_string();
            include = spans[1].to_string();
        } else if cells.len() == 5 && cells[1].starts_with('`') && cells[2].parse::<u64>().is_ok() {
            // | `struct` | size | `type name` @off, ... |
            let name = code_spans(cells[1])[0];
            let ty = if typedefs {
                name.to_string()
            } else {
                format!("struct {name}")
            };
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
    let dir = generated_tests::scratch_dir("upstream");
    let headers = [
        (LIBXC, "## C: xg_sr_stream_format.h", false, 100),
        (LIBXL, "## C: libxl_sr_stream_format.h", true, 30),
    ];
    for (contents, heading, typedefs, at_least) in headers {
        let text = std::fs::read_to_string(header_path(&contents)).unwrap();
        for (i, mode) in MODES.iter().enumerate() {
            let (expects, guard, include) = upstream_expectations(mode.lang, heading, typedefs);
            // libxc: 10 structs with 35 fields and 31 macros upstream, plus
            // DOMAIN_CONTEXT; libxl: 4 structs, 8 fields, 18 macros.
            assert!(
                expects.len() > at_least,
                "{heading}: parsed only {} items",
                expects.len()
            );
            assert!(text.contains(&format!("#ifndef {guard}\n#define {guard}\n")));
            assert!(text.contains(&format!("#include {include}\n")));
            let src = probe::source(mode.lang, &[contents.file], &expects);
            let out = compile_text(&dir, &format!("upstream{i}-{}", contents.file), mode, &src);
            assert!(
                out.ok,
                "{}: {} breaks Xen's API:\n{}",
                mode.label(),
                contents.file,
                out.stderr
            );
        }
    }
    let (libxc, _, _) = upstream_expectations(Lang::C, headers[0].1, false);
    assert!(libxc.iter().any(|e| e.expr == "REC_TYPE_DOMAIN_CONTEXT"));
    let (libxl, _, _) = upstream_expectations(Lang::C, headers[1].1, true);
    assert!(libxl
        .iter()
        .any(|e| e.expr == "sizeof(libxl__sr_hdr)" && e.value == 16));
    assert!(libxl.iter().any(|e| e.expr == "RESTORE_STREAM_IDENT"));
}

/// The C reader, compiled once per test binary (C11 and GNU C99 both
/// checked; the C11 build is the one run).
fn reader() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = generated_tests::scratch_dir("reader");
        generated_tests::xl_facts::write_into(&dir);
        let mut includes = generated_tests::header_dirs();
        includes.push(dir.clone());
        let src = generated_tests::c_sources().join("read_stream.c");
        let mut built = None;
        for (i, mode) in MODES.iter().filter(|m| m.lang == Lang::C).enumerate() {
            let bin = dir.join(format!("read_stream{i}"));
            let out = cc::compile(mode, &includes, &src, &bin);
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

/// The shared info octets of the sample blob: not a multiple of 8, so the
/// entry has padding, and not constant, so a misplaced read shows.
fn sample_shared_info() -> Vec<u8> {
    (0..(dc::DC_SHARED_INFO_SIZE_X86_32 as usize))
        .map(|i| (i * 7 % 251) as u8)
        .collect()
}

/// A DOMAIN_CONTEXT blob with one entry of each type, built by the
/// description's writer.
fn sample_blob(endian: Endian) -> Vec<u8> {
    let buffer = sample_shared_info();
    let entries = [
        DcEntry::Header(DcHeader::new(4, 21)),
        DcEntry::SharedInfo(SharedInfoRef {
            flags: dc::DC_SHARED_INFO_COMPAT,
            buffer: &buffer,
        }),
        DcEntry::TscInfo(DcTscInfo {
            mode: 2,
            incarnation: 5,
            elapsed_nsec: 0x1234_5678_9abc,
            khz: 2_400_000,
            _pad: 0,
        }),
        DcEntry::End,
    ];
    let mut blob = Vec::new();
    dc::write(&entries, endian, &mut blob).unwrap();
    blob
}

/// 32-bit FNV-1a, as the C reader prints it for blob contents.
fn fnv1a(octets: &[u8]) -> u32 {
    octets.iter().fold(2_166_136_261u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    })
}

/// The `dc_*` lines the C reader should print for `blobs` (the bodies of
/// the stream's DOMAIN_CONTEXT records), from the Rust blob reader.
fn expected_dc(blobs: &[&[u8]], endian: Endian) -> Summary {
    let mut s = Summary::new();
    let mut n = 0;
    for blob in blobs {
        for item in dc::parse(blob, endian).expect("the Rust reader accepts the blob") {
            let ty = dc::DcType::LAYOUT
                .variant(item.entry.kind().value())
                .and_then(|v| v.c_name)
                .unwrap();
            s.insert(
                format!("dc_entry_{n}"),
                format!("{ty} {} {} {}", item.instance, item.length, item.offset),
            );
            let mut put = |k: &str, v: String| {
                s.insert(format!("dc_{n}_{k}"), v);
            };
            match item.entry {
                DcEntry::End => {}
                DcEntry::Header(h) => {
                    put("xen_version", format!("{}.{}", h.xen_major, h.xen_minor));
                    put("version", h.version.to_string());
                }
                DcEntry::SharedInfo(si) => {
                    put("flags", format!("{:#x}", si.flags));
                    put("compat", if si.compat() { "yes" } else { "no" }.into());
                    put("buffer_size", si.buffer.len().to_string());
                    put("buffer_fnv", format!("0x{:08x}", fnv1a(si.buffer)));
                }
                DcEntry::TscInfo(t) => {
                    put("mode", t.mode.to_string());
                    put("incarnation", t.incarnation.to_string());
                    put("elapsed_nsec", t.elapsed_nsec.to_string());
                    put("khz", t.khz.to_string());
                }
            }
            n += 1;
        }
    }
    s.insert("dc_entries".into(), n.to_string());
    s
}

/// Splits a summary into its `dc_*` lines and the rest.
fn split_dc(s: &Summary) -> (Summary, Summary) {
    s.clone()
        .into_iter()
        .partition(|(k, _)| k.starts_with("dc_"))
}

/// A v4 HVM stream with every kind of record the summary looks at, END
/// not written yet.
fn sample_stream(endian: Endian) -> MiniStream {
    let opts = WriterOptions::new(DomainType::X86Hvm)
        .version(CURRENT_VERSION)
        .endian(endian)
        .xen_version(4, 21);
    let mut s = MiniStream::new(opts).unwrap();
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
    // A valid HVM_CONTEXT blob (the strict writer checks it): HEADER and
    // END only, as the C reader does not look inside it.
    let hvm_blob = hvm::write(&HvmHeader::new(0x0005_06f1, 2_400_000), &[], endian).unwrap();
    s.record(&LibxcRecord::HvmContext(Opaque(hvm_blob)))
        .unwrap();
    s.record(&LibxcRecord::DomainContext(Opaque(sample_blob(endian))))
        .unwrap();
    s
}

/// Checks the C reader's summary of a stream made by [`sample_stream`]:
/// the libxc lines against the writer's facts, the blob's lines against
/// the Rust blob reader and against the values the sample was built with.
fn assert_libxc_summary(got: &Summary, facts: &Facts, start: u64, endian: Endian, what: &str) {
    let (dcs, rest) = split_dc(got);
    assert_eq!(rest, facts.expected_summary(start), "{endian:?} {what}");
    let blob = sample_blob(endian);
    assert_eq!(
        dcs,
        expected_dc(&[&blob], endian),
        "{endian:?} {what}: blob"
    );
    // Independently of the Rust reader: the values the blob was built from.
    assert_eq!(dcs["dc_entries"], "4");
    assert_eq!(dcs["dc_entry_0"], "XC_SR_DC_TYPE_HEADER 0 16 0");
    assert!(dcs["dc_entry_1"].starts_with("XC_SR_DC_TYPE_SHARED_INFO 0 "));
    assert!(dcs["dc_entry_3"].starts_with("XC_SR_DC_TYPE_END 0 0 "));
    assert_eq!(dcs["dc_0_xen_version"], "4.21");
    assert_eq!(dcs["dc_1_compat"], "yes");
    assert_eq!(
        dcs["dc_1_buffer_size"],
        dc::DC_SHARED_INFO_SIZE_X86_32.to_string()
    );
    assert_eq!(
        dcs["dc_1_buffer_fnv"],
        format!("0x{:08x}", fnv1a(&sample_shared_info()))
    );
    assert_eq!(dcs["dc_2_khz"], "2400000");
    assert_eq!(dcs["dc_2_elapsed_nsec"], 0x1234_5678_9abcu64.to_string());
    // The blob ends the record: END's offset plus its descriptor.
    let end_at: usize = dcs["dc_entry_3"]
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(end_at + 8, blob.len());
}

#[test]
fn c_reader_summarises_rust_written_streams() {
    let dir = generated_tests::scratch_dir("rust-streams");
    for endian in [Endian::Little, Endian::Big] {
        let (bytes, facts) = sample_stream(endian).finish().unwrap();
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
        assert_libxc_summary(&got, &facts, junk.len() as u64, endian, "file");

        // From a pipe, the offset skipped by reading.
        let args = ["-".to_string(), junk.len().to_string()];
        let (code, out, err) = run_reader(&args, Some(&file));
        assert_eq!(code, 0, "{endian:?} pipe: exit {code}: {err}");
        let got = parse_summary(code, &out, &err);
        assert_libxc_summary(&got, &facts, junk.len() as u64, endian, "pipe");
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
    let (bytes, facts) = sample_stream(Endian::Little).unfinished();
    let (code, out, err) = run_reader(&["-".to_string()], Some(&bytes));
    assert_eq!(code, 3, "{err}");
    let got = parse_summary(code, &out, &err);
    assert_eq!(got["end_reached"], "no");
    assert_libxc_summary(&got, &facts, 0, Endian::Little, "no END");

    // A record header claiming more than REC_LENGTH_MAX: refused by name.
    // The last record is a CHECKPOINT (no body): its length is patched.
    let mut s = sample_stream(Endian::Big);
    s.record(&LibxcRecord::Checkpoint).unwrap();
    let (mut bytes, _) = s.unfinished();
    let hdr_at = bytes.len() - 8;
    bytes[hdr_at + 4..].copy_from_slice(&(REC_LENGTH_MAX + 1).to_be_bytes());
    let (code, _, err) = run_reader(&["-".to_string()], Some(&bytes));
    assert_eq!(code, 1);
    assert!(err.contains("REC_LENGTH_MAX"), "{err}");
    assert!(err.contains(&format!("offset {}", hdr_at)), "{err}");

    // A record cut short inside its body.
    let (bytes, _) = sample_stream(Endian::Little).finish().unwrap();
    let (code, _, err) = run_reader(&["-".to_string()], Some(&bytes[..bytes.len() - 60]));
    assert_eq!(code, 1);
    assert!(err.contains("truncated"), "{err}");
}

/// Whether a summary key belongs to the outer layers (xl header, libxl
/// stream) rather than the nested libxc stream.
fn is_outer_key(k: &str) -> bool {
    k.starts_with("xl_") || k.starts_with("libxl_") || k == "format" || k == "trailing_octets"
}

/// Runs the reader with `--save` on `path` (or on its bytes through a
/// pipe) and checks the outer lines against the Rust outer reader: the
/// same keys and values, start_offset (where libxc starts) included.
fn read_save_and_compare(path: &Path, via_pipe: bool) -> Summary {
    let (code, out, err) = if via_pipe {
        let bytes = std::fs::read(path).unwrap();
        run_reader(&["--save".to_string(), "-".to_string()], Some(&bytes))
    } else {
        let args = ["--save".to_string(), path.to_string_lossy().into_owned()];
        run_reader(&args, None)
    };
    assert_eq!(code, 0, "{}: exit {code}: {err}", path.display());
    let got = parse_summary(code, &out, &err);
    let len = std::fs::metadata(path).unwrap().len();
    let file = std::fs::File::open(path).unwrap();
    let want =
        generated_tests::outer_walk::expected_outer_summary(std::io::BufReader::new(file), len);
    for (k, v) in &want {
        assert_eq!(got.get(k), Some(v), "{}: {k}", path.display());
    }
    let got_outer: BTreeSet<&String> = got.keys().filter(|k| is_outer_key(k)).collect();
    let want_outer: BTreeSet<&String> = want.keys().filter(|k| is_outer_key(k)).collect();
    assert_eq!(got_outer, want_outer, "{}: outer keys", path.display());
    // The file is read to its end and the libxl END is its last record.
    assert_eq!(got["libxl_end_offset"], len.to_string());
    assert_eq!(got["trailing_octets"], "0");
    got
}

/// What the README says about a real save file.
struct RealFacts {
    name: &'static str,
    domain_type: DomainType,
    /// libxc record types present once each (besides PAGE_DATA and END).
    present: &'static [u32],
    page_data_records: u64,
    pfn_entries: u64,
    data_pages: u64,
    /// Octets of xl optional data (the JSON configuration).
    optional_data_len: u32,
    /// The emulator of the one EMULATOR_CONTEXT record, if any.
    emulator: Option<EmulatorId>,
    via_pipe: bool,
}

/// Reads a real save file whole with the C reader and checks it against
/// the Rust outer reader and the facts its README states.
fn check_real(f: RealFacts) {
    let RealFacts {
        name,
        domain_type,
        present,
        page_data_records,
        pfn_entries,
        data_pages,
        optional_data_len,
        emulator,
        via_pipe,
    } = f;
    let path = test_support::real_stream(name);
    let s = read_save_and_compare(&path, via_pipe);

    // The outer layers, as the README describes them.
    assert_eq!(s["format"], "xl");
    assert_eq!(s["xl_endianness"], "little", "{name}");
    assert_eq!(
        s["xl_mandatory_flags"], "0x3",
        "{name}: JSON config + stream v2"
    );
    assert_eq!(s["xl_optional_flags"], "0x0", "{name}");
    assert_eq!(
        s["xl_optional_data_len"],
        optional_data_len.to_string(),
        "{name}"
    );
    assert_eq!(s["xl_config_nul_terminated"], "yes", "{name}");
    assert_eq!(s["libxl_version"], "2", "{name}");
    assert_eq!(s["libxl_endianness"], "little", "{name}");
    assert_eq!(s["libxl_legacy"], "no", "{name}");
    assert_eq!(
        s[&format!("libxl_{}", record_key(LibxlRecord::LIBXC_CONTEXT))],
        "1"
    );
    assert_eq!(s[&format!("libxl_{}", record_key(LibxlRecord::END))], "1");
    match emulator {
        Some(id) => {
            let key = format!("libxl_{}", record_key(LibxlRecord::EMULATOR_CONTEXT));
            assert_eq!(s[&key], "1", "{name}");
            assert_eq!(s["libxl_records"], "3", "{name}");
            let line = &s["libxl_emulator_0"];
            let id_name = EmulatorId::LAYOUT
                .variant(id.value())
                .and_then(|v| v.c_name)
                .unwrap();
            assert!(
                line.starts_with(&format!("REC_TYPE_EMULATOR_CONTEXT {id_name} 0 ")),
                "{name}: {line}"
            );
        }
        None => {
            assert_eq!(s["libxl_records"], "2", "{name}");
            assert_eq!(s["libxl_emulator_records"], "0", "{name}");
        }
    }
    // The libxc stream starts right after LIBXC_CONTEXT (an 8-octet record
    // with no body) that follows the libxl header.
    let libxl_at: u64 = s["libxl_offset"].parse().unwrap();
    let libxc_at: u64 = s["start_offset"].parse().unwrap();
    assert_eq!(
        libxc_at,
        libxl_at
            + format_spec::libxl::LibxlHeader::LAYOUT.size as u64
            + format_spec::libxl::LibxlRecordHeader::LAYOUT.size as u64,
        "{name}"
    );
    assert_eq!(s["dc_entries"], "0", "{name}: a v3 stream has no blob");

    let domain_name = DomainType::LAYOUT
        .variant(domain_type.value())
        .and_then(|v| v.c_name)
        .unwrap();
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
    check_real(RealFacts {
        name: "pv64-1vcpu-96M.xl",
        domain_type: DomainType::X86Pv,
        present: &[
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
        page_data_records: 24,
        pfn_entries: 24_576,
        data_pages: 24_576,
        optional_data_len: 851,
        emulator: None,
        via_pipe: false,
    });
}

#[test]
fn c_reader_on_real_hvm_save_file() {
    check_real(RealFacts {
        name: "hvm-1vcpu-128M.xl",
        domain_type: DomainType::X86Hvm,
        present: &[
            LibxcRecord::X86_CPUID_POLICY,
            LibxcRecord::X86_MSR_POLICY,
            LibxcRecord::STATIC_DATA_END,
            LibxcRecord::X86_TSC_INFO,
            LibxcRecord::HVM_CONTEXT,
            LibxcRecord::HVM_PARAMS,
        ],
        page_data_records: 1020,
        pfn_entries: 1_044_480,
        data_pages: 32_763,
        optional_data_len: 1237,
        emulator: Some(EmulatorId::QemuUpstream),
        via_pipe: true,
    });
}

/// An xl save file written by the Rust outer writer around a v4 libxc
/// stream made by [`sample_stream`] (so with a DOMAIN_CONTEXT blob), with
/// both kinds of emulator record. Returns the file, the libxc stream's
/// facts and the offset where the libxc stream starts.
fn sample_save_file(endian: Endian, json: &str, qemu_blob: &[u8]) -> (Vec<u8>, Facts, u64) {
    let (libxc, facts) = sample_stream(endian).finish().unwrap();
    let pre = XlPreamble::with_json_config(endian, json);
    let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
    let at = w.libxc_context().unwrap().len() as u64;
    w.inner().extend_from_slice(&libxc);
    w.emulator_xenstore_data(
        EmulatorId::QemuUpstream,
        0,
        &[
            ("physmap/1/start_addr", "f0000000"),
            ("physmap/1/size", "800000"),
        ],
    )
    .unwrap();
    w.emulator_context(EmulatorId::QemuUpstream, 0, qemu_blob)
        .unwrap();
    (w.finish().unwrap(), facts, at)
}

#[test]
fn c_reader_reads_rust_written_save_files_whole() {
    let dir = generated_tests::scratch_dir("rust-save-files");
    let json = r#"{"c_info": {"name": "guest"}}"#;
    let qemu_blob: Vec<u8> = (0..1001u32).map(|i| (i % 253) as u8).collect();
    for endian in [Endian::Little, Endian::Big] {
        let (file, facts, libxc_at) = sample_save_file(endian, json, &qemu_blob);
        let path = dir.join(format!("{endian:?}.xl"));
        std::fs::write(&path, &file).unwrap();
        for via_pipe in [false, true] {
            let what = format!("{endian:?} pipe={via_pipe}");
            let s = read_save_and_compare(&path, via_pipe);
            // The nested libxc stream and its blob, as for a bare stream.
            let inner: Summary = s
                .clone()
                .into_iter()
                .filter(|(k, _)| !is_outer_key(k))
                .collect();
            assert_libxc_summary(&inner, &facts, libxc_at, endian, &what);
            // The outer layers, against what was written.
            let e = if endian == Endian::Big {
                "big"
            } else {
                "little"
            };
            assert_eq!(s["xl_endianness"], e, "{what}");
            assert_eq!(s["libxl_endianness"], e, "{what}");
            assert_eq!(s["xl_config_len"], (json.len() + 1).to_string(), "{what}");
            assert_eq!(s["libxl_records"], "4", "{what}");
            assert_eq!(s["libxl_emulator_records"], "2", "{what}");
            assert_eq!(
                s["libxl_emulator_0"],
                format!(
                    "REC_TYPE_EMULATOR_XENSTORE_DATA EMULATOR_QEMU_UPSTREAM 0 {}",
                    "physmap/1/start_addr\0f0000000\0physmap/1/size\0800000\0".len()
                ),
                "{what}"
            );
            assert_eq!(s["libxl_emulator_0_pairs"], "2");
            assert_eq!(s["libxl_emulator_0_key_physmap/1/start_addr"], "f0000000");
            assert_eq!(s["libxl_emulator_0_key_physmap/1/size"], "800000");
            assert_eq!(
                s["libxl_emulator_1"],
                format!(
                    "REC_TYPE_EMULATOR_CONTEXT EMULATOR_QEMU_UPSTREAM 0 {}",
                    qemu_blob.len()
                ),
                "{what}"
            );
            assert_eq!(s["libxl_end_offset"], file.len().to_string());
        }
    }
}

#[test]
fn c_reader_refuses_damaged_save_files_by_name() {
    let dir = generated_tests::scratch_dir("bad-save-files");
    let (file, _, libxc_at) = sample_save_file(Endian::Little, "{}", b"qemu");
    let run = |bytes: &[u8], stem: &str| {
        let path = dir.join(stem);
        std::fs::write(&path, bytes).unwrap();
        run_reader(
            &["--save".to_string(), path.to_string_lossy().into_owned()],
            None,
        )
    };
    // A damaged magic.
    let mut bad = file.clone();
    bad[3] ^= 0x20;
    let (code, _, err) = run(&bad, "magic");
    assert_eq!(code, 1);
    assert!(err.contains("magic"), "{err}");
    // An unknown mandatory xl flag.
    let mut bad = file.clone();
    let flags_at = format_spec::xl::XL_HEADER_OFFSET + 4;
    bad[flags_at] |= 0x80;
    let (code, _, err) = run(&bad, "flags");
    assert_eq!(code, 1);
    assert!(err.contains("mandatory flags"), "{err}");
    // LIBXC_CONTEXT turned into an unknown mandatory libxl record.
    let mut bad = file.clone();
    let rec_at = libxc_at as usize - 8;
    bad[rec_at..rec_at + 4].copy_from_slice(&0x77u32.to_le_bytes());
    let (code, _, err) = run(&bad, "record");
    assert_eq!(code, 1);
    assert!(
        err.contains("0x00000077") && err.contains(&format!("offset {rec_at}")),
        "{err}"
    );
    // Cut inside the libxc stream: the libxl END is never reached.
    let (code, _, err) = run(&file[..libxc_at as usize + 100], "cut");
    assert_eq!(code, 1);
    assert!(
        err.contains("truncated") || err.contains("before its END"),
        "{err}"
    );
    // A DOMAIN_CONTEXT blob whose HEADER magic is wrong.
    let mut bad = file.clone();
    let magic = dc::DC_MAGIC.to_le_bytes();
    let at = bad
        .windows(4)
        .position(|w| w == magic)
        .expect("blob magic in the file");
    bad[at] ^= 1;
    let (code, _, err) = run(&bad, "blob");
    assert_eq!(code, 1);
    assert!(err.contains("XC_SR_DC_MAGIC"), "{err}");
}

#[test]
fn xl_facts_header_matches_the_description() {
    use format_spec::xl::{XlHeader, XL_CONSTANTS, XL_MAGIC};
    use generated_tests::xl_facts;
    let dir = generated_tests::scratch_dir("xl-facts");
    xl_facts::write_into(&dir);
    let ty = format!("struct {}", xl_facts::STRUCT_NAME);
    let mut expects = vec![Expect {
        expr: format!("sizeof({ty})"),
        value: XlHeader::LAYOUT.size as u64,
    }];
    for f in XlHeader::LAYOUT.fields {
        expects.push(Expect {
            expr: format!("offsetof({ty}, {})", f.name),
            value: f.offset as u64,
        });
    }
    for c in XL_CONSTANTS {
        if let Some(name) = c.c_name {
            expects.push(Expect {
                expr: name.to_string(),
                value: c.value,
            });
        }
    }
    expects.push(Expect {
        expr: "sizeof(savefileheader_magic)".into(),
        value: XL_MAGIC.len() as u64,
    });
    for (i, &b) in XL_MAGIC.iter().enumerate() {
        expects.push(Expect {
            expr: format!("(unsigned char)savefileheader_magic[{i}]"),
            value: u64::from(b),
        });
    }
    // C only: the magic is a C array, read by the C reader.
    let mode = &MODES[0];
    let mut src = probe::source(
        mode.lang,
        &[xl_facts::FILE_NAME],
        &expects[..expects.len() - XL_MAGIC.len()],
    );
    // Array elements are not constant expressions in C: check them at run time.
    src.push_str("int main(void)\n{\n");
    for e in &expects[expects.len() - XL_MAGIC.len()..] {
        src.push_str(&format!("    if ( {} != {} ) return 1;\n", e.expr, e.value));
    }
    src.push_str("    return 0;\n}\n");
    let path = dir.join("xl_probe.c");
    std::fs::write(&path, &src).unwrap();
    let bin = dir.join("xl_probe");
    let out = cc::compile(mode, std::slice::from_ref(&dir), &path, &bin);
    assert!(out.ok, "{}:\n{}", mode.label(), out.stderr);
    let status = Command::new(&bin).status().unwrap();
    assert!(status.success(), "the magic in xl_save_format.h differs");
}

#[test]
fn every_define_line_of_xens_headers_is_in_the_generated_ones_verbatim() {
    // Xen's own headers (the Xen kit's copy of Xen master): adopting the
    // generated ones must not change a single `#define` line.
    let kit = generated_tests::xen_kit::kit().join("tree");
    for path in [xtask::c::LIBXC_HEADER_PATH, xtask::c::LIBXL_HEADER_PATH] {
        let xen = std::fs::read_to_string(kit.join(path)).expect("Xen's header");
        let ours = std::fs::read_to_string(xtask::generated_dir().join(path)).unwrap();
        let ours: BTreeSet<&str> = ours.lines().collect();
        let defines: Vec<&str> = xen.lines().filter(|l| l.starts_with("#define ")).collect();
        assert!(
            defines.len() >= 10,
            "{path}: {} #define lines",
            defines.len()
        );
        let missing: Vec<&&str> = defines.iter().filter(|l| !ours.contains(**l)).collect();
        assert!(
            missing.is_empty(),
            "{path}: not in the generated header: {missing:#?}"
        );
        // The removed REC_ALIGN_ORDER stays removed.
        assert!(
            !ours.iter().any(|l| l.contains("REC_ALIGN_ORDER")),
            "{path}"
        );
    }
}
