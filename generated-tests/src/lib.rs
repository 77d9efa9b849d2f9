//! Tests that run the generated C and Python outputs.
//!
//! The helpers here are shared by the tests under `tests/`:
//! * [`cc`]: finding the C and C++ compilers and compiling with the flag
//!   sets the tests use;
//! * [`probe`]: a C/C++ source, generated from the descriptors, that
//!   statically asserts every size, offset and macro value of the header;
//! * [`mini_stream`]: a libxc stream written with `format-spec`'s stream
//!   writer, and the facts the C reader should report about it;
//! * [`outer_walk`]: what the Rust outer reader finds in a save file, as
//!   the C reader's summary keys;
//! * [`summary`]: parsing the `key value` lines the C reader prints;
//! * [`vectors`]: the shared set of valid and invalid libxc streams with
//!   the verdict every verifier must reach;
//! * [`agree`]: the verdicts of the Rust and the Python verifiers on one
//!   stream, for the agreement and differential tests;
//! * [`mutate`]: a deterministic mutator making corrupt variants of the
//!   valid base streams;
//! * [`outer_vectors`]: valid and invalid xl save files, libxl streams and
//!   DOMAIN_CONTEXT blobs, with the Rust verdict to compare against;
//! * [`python`]: helpers that run the machine's `python3` on the generated
//!   `xen.migration` package;
//! * [`xl_facts`]: the xl save header's facts as C, for the C reader;
//! * [`xen_kit`]: copies of the Xen kit's tree with generated files dropped
//!   in, its `compile.sh`, and the code sections of the objects.

pub mod agree;
pub mod cc;
pub mod mini_stream;
pub mod mutate;
pub mod outer_vectors;
pub mod outer_walk;
pub mod probe;
pub mod python;
pub mod summary;
pub mod vectors;
pub mod xen_kit;
pub mod xen_restore;
pub mod xl_facts;

use std::path::PathBuf;

/// The checked-in generated libxc header (what users copy into Xen).
pub fn libxc_header() -> PathBuf {
    xtask::generated_dir().join(xtask::c::LIBXC_HEADER_PATH)
}

/// The checked-in generated libxl header.
pub fn libxl_header() -> PathBuf {
    xtask::generated_dir().join(xtask::c::LIBXL_HEADER_PATH)
}

/// The directories of both generated headers, for `-I`.
pub fn header_dirs() -> Vec<PathBuf> {
    [libxc_header(), libxl_header()]
        .iter()
        .map(|p| {
            p.parent()
                .expect("headers live in a directory")
                .to_path_buf()
        })
        .collect()
}

/// The directory of the hand-written C sources of these tests.
pub fn c_sources() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("c")
}

/// A fresh (emptied) scratch directory `target/generated-tests/NAME`; each
/// test uses its own name.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = xtask::repo_root()
        .join("target")
        .join("generated-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}
