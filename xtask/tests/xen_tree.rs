//! `cargo xtask codegen --xen-tree` on a copy of the Xen kit's tree (Xen
//! master without the v4 change), as a Xen maintainer would run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run xtask")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A writable copy of the kit's tree under `target/`.
fn copy_of_kit(name: &str) -> PathBuf {
    let dir = xtask::repo_root()
        .join("target")
        .join("xen-tree-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let kit = test_support::shared_dir().join("xen-kit/tree");
    assert!(kit.is_dir(), "the Xen kit is missing at {}", kit.display());
    let ok = Command::new("cp")
        .arg("-r")
        .arg(&kit)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(ok.success());
    dir
}

fn read(tree: &Path, path: &str) -> String {
    std::fs::read_to_string(tree.join(path)).unwrap()
}

const HEADER: &str = "tools/libs/guest/xg_sr_stream_format.h";

#[test]
fn check_on_an_unconverted_tree_prints_diffs_and_fails() {
    let tree = copy_of_kit("unconverted");
    let before = read(&tree, "docs/specs/libxc-migration-stream.pandoc");
    let out = xtask(&["codegen", "--check", "--xen-tree", tree.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let diff = text(&out.stdout);
    for file in [
        "tools/libs/guest/xg_sr_common.c",
        "docs/specs/libxc-migration-stream.pandoc",
        HEADER,
        "tools/python/xen/migration/libxc.py",
    ] {
        assert!(
            diff.contains(&format!("--- a/{file}\n+++ b/{file}\n")),
            "{file}"
        );
    }
    assert!(diff.contains("+    [REC_TYPE_DOMAIN_CONTEXT]               = \"Domain context\",\n"));
    assert!(diff.contains("-% Revision 3\n+% Revision 4\n"));
    assert!(diff.contains("+             0x00000013: DOMAIN_CONTEXT\n"));
    assert!(diff.contains("+dom_ctx          The domain context blob, as Xen hands it out.\n"));
    // --check writes nothing.
    assert_eq!(
        read(&tree, "docs/specs/libxc-migration-stream.pandoc"),
        before
    );
}

#[test]
fn adopting_gives_revision_4_in_all_four_files_and_then_is_current() {
    let tree = copy_of_kit("adopted");
    let t = tree.to_str().unwrap();
    let out = xtask(&["codegen", "--xen-tree", t]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(read(&tree, "tools/libs/guest/xg_sr_common.c")
        .contains("    [REC_TYPE_DOMAIN_CONTEXT]               = \"Domain context\",\n"));
    let spec = read(&tree, "docs/specs/libxc-migration-stream.pandoc");
    assert!(spec.contains("% Revision 4\n") && spec.contains("0x00000013: DOMAIN_CONTEXT\n"));
    assert!(spec.contains("DOMAIN_CONTEXT\n--------------\n") && spec.contains("    | dom_ctx "));
    // The new section has its field table, in the description's words.
    let section = &spec[spec.find("DOMAIN_CONTEXT\n--------------\n").unwrap()..];
    let section = &section[..section.find("\\clearpage").unwrap()];
    assert!(
        section.contains(
            "Field            Description\n\
             -----------      ---------------------------------------------------\n\
             dom_ctx          The domain context blob, as Xen hands it out.\n\
             --------------------------------------------------------------------\n"
        ),
        "{section}"
    );
    // Xen's own tables come back as Xen wrote them.
    let kit_spec = read(
        &test_support::shared_dir().join("xen-kit/tree"),
        "docs/specs/libxc-migration-stream.pandoc",
    );
    assert!(spec.contains(
        "guest_width (w)  Guest width in octets (either 4 or 8).\n\n\
         pt_levels (ptl)  Number of page table levels (either 3 or 4).\n"
    ));
    let tables = |t: &str| t.matches("\nField ").count();
    assert_eq!(tables(&spec), tables(&kit_spec) + 1);
    assert!(
        read(&tree, HEADER).contains("#define REC_TYPE_DOMAIN_CONTEXT             0x00000013U\n")
    );
    assert!(read(&tree, "tools/python/xen/migration/libxc.py").contains("REC_TYPE_domain_context"));
    // Everything else of Xen's C file is Xen's.
    let xen = read(
        &test_support::shared_dir().join("xen-kit/tree"),
        "tools/libs/guest/xg_sr_common.c",
    );
    let ours = read(&tree, "tools/libs/guest/xg_sr_common.c");
    assert_eq!(ours.lines().count(), xen.lines().count() + 1);
    let out = xtask(&["codegen", "--check", "--xen-tree", t]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // Xen's own build of its code, -Werror included, on the adopted tree.
    let objects = tree.with_extension("objects");
    let compile = test_support::shared_dir().join("xen-kit/compile.sh");
    let out = Command::new("bash")
        .arg(compile)
        .arg(&tree)
        .arg(&objects)
        .output()
        .unwrap();
    assert!(out.status.success(), "compile.sh: {}", text(&out.stderr));
}

#[test]
fn a_hand_edit_is_named_and_kept_unless_forced() {
    for adopted_first in [false, true] {
        let tree = copy_of_kit(if adopted_first {
            "edited-after"
        } else {
            "edited-before"
        });
        let t = tree.to_str().unwrap();
        if adopted_first {
            assert!(xtask(&["codegen", "--xen-tree", t]).status.success());
        }
        let header = read(&tree, HEADER);
        let edited = header.replacen(
            "#define REC_TYPE_OPTIONAL ",
            "#define REC_TYPE_MY_HACK 0x00000042U\n#define REC_TYPE_OPTIONAL ",
            1,
        );
        assert_ne!(edited, header);
        std::fs::write(tree.join(HEADER), &edited).unwrap();
        let out = xtask(&["codegen", "--xen-tree", t]);
        assert_eq!(out.status.code(), Some(1), "adopted first: {adopted_first}");
        let err = text(&out.stderr);
        assert!(
            err.contains("#define REC_TYPE_MY_HACK 0x00000042U"),
            "{err}"
        );
        assert!(
            err.contains("xg_sr_stream_format.h") && err.contains("--force"),
            "{err}"
        );
        assert_eq!(read(&tree, HEADER), edited, "the hand edit survives");
        let out = xtask(&["codegen", "--xen-tree", t, "--force"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(!read(&tree, HEADER).contains("MY_HACK"));
    }
}

/// A field table's entries are the description's: an entry Xen's table
/// lacks comes back with the description's words, an entry the
/// description does not have is a hand edit, named and kept unless
/// `--force`; what Xen's entries say stays Xen's text.
#[test]
fn field_table_entries_come_from_the_description() {
    const SPEC: &str = "docs/specs/libxc-migration-stream.pandoc";
    let tree = copy_of_kit("field-tables");
    let t = tree.to_str().unwrap();
    let spec = read(&tree, SPEC);
    let khz = "khz              TSC frequency, in kHz.\n\n";
    let edited = spec.replacen(khz, "", 1).replacen(
        "nsec             Elapsed time, in nanoseconds.\n",
        "nsec             Elapsed time, in nanoseconds (Xen's words, edited).\n\n\
             bogus            A field no description has.\n",
        1,
    );
    assert!(
        !edited.contains(khz) && edited.contains("bogus "),
        "both edits made"
    );
    std::fs::write(tree.join(SPEC), &edited).unwrap();
    let out = xtask(&["codegen", "--xen-tree", t]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("bogus            A field no description has."),
        "{err}"
    );
    assert_eq!(read(&tree, SPEC), edited, "nothing written");
    let out = xtask(&["codegen", "--xen-tree", t, "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let spec = read(&tree, SPEC);
    assert!(!spec.contains("bogus"));
    assert!(
        spec.contains(
            "mode             TSC mode, TSC_MODE_* constant.\n\n\
         khz              TSC frequency in kHz.\n\n\
         nsec             Elapsed time, in nanoseconds (Xen's words, edited).\n\n\
         incarnation      Incarnation.\n"
        ),
        "{spec}"
    );
}
