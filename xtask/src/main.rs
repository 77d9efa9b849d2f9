//! `cargo xtask`: repository automation.
//!
//! * `cargo xtask codegen`: regenerate the checked-in outputs under `generated/`
//!   (the Xen files and this repository's generated docs).
//! * `cargo xtask codegen --check`: fail if any of them is stale.
//! * `cargo xtask codegen --xen-tree DIR`: also write them into a Xen checkout.
//! * `cargo xtask bench [--size-mib N]`: throughput and memory of the stream
//!   reader, verifier and writer (see `bench.rs`).

mod bench;

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: cargo xtask codegen [--check] [--xen-tree DIR]\n\n\
         codegen            regenerate generated/ from the description in format-spec\n\
         --check            write nothing; exit 1 if any generated file is stale\n\
         --xen-tree DIR     also write the files at their paths inside a Xen checkout\n\n\
         usage: cargo xtask bench [--size-mib N] [--repeat N] [--dir DIR] [--keep]\n\n\
         bench              time the stream reader, verifier and writer (release build)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        return usage();
    };
    if cmd == "bench" {
        return bench::run(rest);
    }
    if cmd == "bench-rss" {
        return bench::rss_helper(rest);
    }
    if cmd != "codegen" {
        return usage();
    }
    let mut check = false;
    let mut xen_tree: Option<PathBuf> = None;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--xen-tree" => match it.next() {
                Some(d) => xen_tree = Some(PathBuf::from(d)),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    let mut roots = vec![(xtask::generated_dir(), xtask::repo_outputs())];
    if let Some(t) = xen_tree {
        if !t.is_dir() {
            eprintln!("error: --xen-tree {}: not a directory", t.display());
            return ExitCode::from(2);
        }
        roots.push((t, xtask::outputs()));
    }
    let mut failed = false;
    for (root, outputs) in roots {
        match xtask::sync(&root, &outputs, check) {
            Ok(stale) => {
                for p in &stale {
                    if check {
                        eprintln!("stale: {}", p.display());
                    } else {
                        println!("wrote {}", p.display());
                    }
                }
                if check && !stale.is_empty() {
                    failed = true;
                }
            }
            Err(e) => {
                eprintln!("error: writing under {}: {e}", root.display());
                return ExitCode::from(2);
            }
        }
    }
    if failed {
        eprintln!("generated files are stale: run `cargo xtask codegen` and commit the result");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
