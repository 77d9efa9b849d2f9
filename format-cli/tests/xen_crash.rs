//! Streams on which Xen's own restore code crashes are refused by
//! `xenstream verify` in both modes, with a message saying what Xen's
//! restore would do. The two libxc streams are run through the kit's
//! restore harness (Xen's unmodified `xc_domain_restore()`) first, to show
//! that they crash it; the libxl one (an empty CHECKPOINT_STATE) is
//! refused by libxl's reader, which the harness does not hold.

use std::path::Path;
use std::process::Command;

use format_spec::binrw::Endian;
use format_spec::libxc::{LibxcRecord, PageType};
use format_spec::libxl::LibxlRecord;
use format_spec::outer::OuterWriter;
use generated_tests::vectors::{base, page_data, pfn_entry, vectors, Guest};
use generated_tests::xen_restore::{harness, Outcome, Setup};

const BIN: &str = env!("CARGO_BIN_EXE_xenstream");

/// `xenstream verify [--strict] FILE`: exit code and everything printed.
fn verify(path: &Path, strict: bool) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("verify");
    if strict {
        cmd.arg("--strict");
    }
    let out = cmd.arg(path).output().expect("run xenstream");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn refused_in_both_modes(path: &Path, what: &str) {
    for strict in [false, true] {
        let (code, text) = verify(path, strict);
        assert_eq!(code, Some(1), "{what} (strict {strict}): {text}");
        assert!(
            text.contains("Xen's restore would"),
            "{what} (strict {strict}): the message does not say what Xen does: {text}"
        );
        assert!(
            text.contains("rule CrashesXenRestore"),
            "{what} (strict {strict}): {text}"
        );
    }
}

fn pv_setup() -> Setup {
    Setup {
        hvm: false,
        vcpus: 1,
        stream_type: "plain",
        checkpoints: None,
    }
}

#[test]
fn streams_that_crash_xens_restore_are_refused() {
    let dir = std::env::temp_dir().join(format!("xenstream-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // A PV page-table entry naming a pfn beyond the P2M: an assert in
    // pfn_to_mfn.
    let pte = vectors()
        .into_iter()
        .find(|v| v.name == "pte-beyond-p2m-v3-pv-le")
        .expect("the vector")
        .bytes;
    // PAGE_DATA for pfn 0 before X86_PV_P2M_FRAMES: a segfault.
    let mut s = base(Guest::Pv, 3, Endian::Little, 0);
    s.replace(&page_data(&[pfn_entry(PageType::Notab, 0)]));
    s.move_after(LibxcRecord::X86_PV_P2M_FRAMES, LibxcRecord::PAGE_DATA);
    let early = s.to_bytes();

    for (name, bytes) in [("pte-beyond-p2m", &pte), ("memory-before-p2m", &early)] {
        let run = harness().run(bytes, 0, &pv_setup());
        assert!(
            matches!(run.outcome, Outcome::Crash(_)),
            "{name}: Xen's restore did not crash: {:?}\n{}",
            run.outcome,
            run.stderr
        );
        let path = dir.join(format!("{name}.bin"));
        std::fs::write(&path, bytes).unwrap();
        refused_in_both_modes(&path, name);
    }

    // An empty CHECKPOINT_STATE in a libxl stream: libxl reads the id
    // through a null body pointer.
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    w.raw_record(LibxlRecord::CHECKPOINT_STATE, &[]).unwrap();
    let bytes = w.finish().unwrap();
    let path = dir.join("checkpoint-state-empty.bin");
    std::fs::write(&path, bytes).unwrap();
    refused_in_both_modes(&path, "checkpoint-state-empty");
    let _ = std::fs::remove_dir_all(&dir);
}
