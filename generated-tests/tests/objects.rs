//! Xen's own C code compiled against the generated files gives the same
//! machine code and data as against Xen's hand-written ones.
//!
//! The kit's 13 C files (libxenguest's save/restore and libxl's stream
//! code) are built by the kit's `compile.sh` with Xen's debug flags, then
//! with `-O2 -g0`, then with `-fPIC`, from three copies of the kit's tree:
//! Xen's as it is; with the two generated headers dropped in; and with the
//! generated name tables of `xg_sr_common.c` spliced in as well. Every
//! `.text*`, `.rodata*` and `.data*` section is compared byte for byte.
//!
//! The headers change nothing. The name tables add the v4 record
//! (DOMAIN_CONTEXT), so `xg_sr_common.o` must differ, and only it: and it
//! must be exactly the object of Xen's file with the v4 patch mail's hunk
//! applied by hand.

use std::path::Path;

use generated_tests::xen_kit::{
    apply_v4_patch, code_sections, compile, copy_tree, drop_in_headers, objects, splice_tables,
};

/// Xen's debug build (compile.sh's own flags), release-style, shared-library.
const FLAG_SETS: [&[&str]; 3] = [&[], &["-O2", "-g0"], &["-fPIC"]];

/// The object that holds the name tables.
const TABLES_OBJECT: &str = "xg_sr_common.o";

/// The names of the objects of `a` and `b` whose code sections differ.
fn differing(a: &Path, b: &Path) -> Vec<String> {
    let names = objects(a);
    assert_eq!(names, objects(b));
    names
        .into_iter()
        .filter(|n| code_sections(&a.join(n)) != code_sections(&b.join(n)))
        .collect()
}

#[test]
fn xens_code_compiles_to_the_same_objects_with_the_generated_files() {
    let dir = generated_tests::scratch_dir("objects");
    let xen = copy_tree(&dir.join("xen"));
    let headers = copy_tree(&dir.join("headers"));
    drop_in_headers(&headers);
    let tables = copy_tree(&dir.join("tables"));
    drop_in_headers(&tables);
    splice_tables(&tables);
    let by_hand = copy_tree(&dir.join("by-hand"));
    drop_in_headers(&by_hand);
    apply_v4_patch(&by_hand, xtask::c_tables::COMMON_C_PATH);

    for (i, flags) in FLAG_SETS.iter().enumerate() {
        let out = |name: &str| dir.join(format!("{name}-{i}"));
        for tree in [&xen, &headers, &tables, &by_hand] {
            let name = tree.file_name().unwrap().to_string_lossy().into_owned();
            compile(tree, &out(&name), flags);
        }
        assert_eq!(
            differing(&out("xen"), &out("headers")),
            Vec::<String>::new(),
            "objects that change with the generated headers, flags {flags:?}"
        );
        assert_eq!(
            differing(&out("headers"), &out("tables")),
            vec![TABLES_OBJECT.to_string()],
            "objects that change with the generated name tables, flags {flags:?}"
        );
        assert_eq!(
            differing(&out("by-hand"), &out("tables")),
            Vec::<String>::new(),
            "the generated tables against Xen's file with the v4 hunk, flags {flags:?}"
        );
        // What changed is the new entry: its name is in the strings.
        let strings = |d: &Path| -> Vec<u8> {
            code_sections(&d.join(TABLES_OBJECT))
                .into_iter()
                .filter(|(n, _)| n.starts_with(".rodata"))
                .flat_map(|(_, b)| b)
                .collect()
        };
        let has = |bytes: &[u8]| bytes.windows(15).any(|w| w == b"Domain context\0");
        assert!(!has(&strings(&out("headers"))) && has(&strings(&out("tables"))));
    }
}
