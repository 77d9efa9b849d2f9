//! `cargo xtask`: repository automation.
//!
//! * `cargo xtask codegen`: regenerate the checked-in outputs under `generated/`
//!   (the Xen files and this repository's generated docs).
//! * `cargo xtask codegen --check`: print a diff of each stale file and fail.
//! * `cargo xtask codegen --xen-tree DIR [--force]`: also bring a Xen checkout
//!   up to date, stopping rather than losing a hand edit there.
//! * `cargo xtask bench [--size-mib N]`: throughput and memory of the stream
//!   reader, verifier and writer (see `bench.rs`).

mod bench;

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: cargo xtask codegen [--check] [--xen-tree DIR] [--force]\n\n\
         codegen            regenerate generated/ from the description in format-spec\n\
         --check            write nothing; print a unified diff of each stale file and\n\
         \x20                  exit 1 if any is stale\n\
         --xen-tree DIR     also bring a Xen checkout up to date: write the generated\n\
         \x20                  files and splice the generated regions (name tables, spec\n\
         \x20                  revision, record list) into Xen's own files\n\
         --force            overwrite hand edits in the Xen tree instead of stopping\n\n\
         usage: cargo xtask bench [--size-mib N] [--repeat N] [--dir DIR] [--keep]\n\n\
         bench              time the stream reader, verifier and writer (release build)"
    );
    ExitCode::from(2)
}

/// What `codegen` was asked to do.
struct Codegen {
    check: bool,
    force: bool,
    xen_tree: Option<PathBuf>,
}

fn parse_codegen(rest: &[String]) -> Option<Codegen> {
    let mut opts = Codegen {
        check: false,
        force: false,
        xen_tree: None,
    };
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => opts.check = true,
            "--force" => opts.force = true,
            "--xen-tree" => opts.xen_tree = Some(PathBuf::from(it.next()?)),
            _ => return None,
        }
    }
    Some(opts)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        return usage();
    };
    match cmd.as_str() {
        "bench" => bench::run(rest),
        "bench-rss" => bench::rss_helper(rest),
        "codegen" => match parse_codegen(rest) {
            Some(opts) => codegen(&opts),
            None => usage(),
        },
        _ => usage(),
    }
}

/// Plans every root, then checks (printing diffs) or writes.
fn codegen(opts: &Codegen) -> ExitCode {
    let generated = xtask::generated_dir();
    let mut roots = Vec::new();
    match xtask::plan_repo(&generated, &xtask::repo_outputs()) {
        Ok(c) => roots.push((generated, c)),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(t) = &opts.xen_tree {
        if !t.is_dir() {
            eprintln!("error: --xen-tree {}: not a directory", t.display());
            return ExitCode::from(2);
        }
        match xtask::plan_xen(t) {
            Ok(c) => roots.push((t.clone(), c)),
            Err(e) => {
                eprintln!("error: --xen-tree: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if opts.check {
        return check(&roots);
    }
    let mut refused = false;
    for (root, changes) in &roots {
        for c in changes.iter().filter(|c| !c.lost.is_empty()) {
            refused = true;
            eprintln!(
                "error: {}: regenerating would lose these hand-written lines:",
                root.join(&c.path).display()
            );
            for l in &c.lost {
                eprintln!("    {l}");
            }
        }
    }
    if refused && !opts.force {
        eprintln!(
            "nothing written: move the edits into the description in format-spec, \
             or run again with --force to overwrite them"
        );
        return ExitCode::from(1);
    }
    for (root, changes) in &roots {
        if let Err(e) = xtask::write_changes(root, changes) {
            eprintln!("error: writing under {}: {e}", root.display());
            return ExitCode::from(2);
        }
        for c in changes {
            println!("wrote {}", root.join(&c.path).display());
        }
    }
    ExitCode::SUCCESS
}

/// `--check`: a unified diff of every stale file on standard output.
fn check(roots: &[(PathBuf, Vec<xtask::Change>)]) -> ExitCode {
    let mut stale = 0;
    for (root, changes) in roots {
        for c in changes {
            stale += 1;
            let shown = root.join(&c.path);
            // Labels relative to the root (`git apply` takes the diff of a
            // Xen tree there), under generated/ for this repository's files.
            let label = if *root == xtask::generated_dir() {
                format!("generated/{}", c.path)
            } else {
                c.path.clone()
            };
            print!("{}", xtask::diff::unified(&label, c.old.as_deref(), &c.new));
            eprintln!("stale: {}", shown.display());
        }
    }
    if stale > 0 {
        eprintln!(
            "{stale} generated file(s) stale: run `cargo xtask codegen` (with the same \
             --xen-tree) and commit the result"
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
