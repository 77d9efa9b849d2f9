//! Verdicts of the two strict verifiers on bare libxc streams: the Rust
//! one (`format_spec::stream`, over a plain reader and over a seekable
//! cursor) and the generated Python one (`xen.migration.libxc`, many
//! streams per `python3` process through `python/run_batch.py`).

use std::io::{Cursor, Write as _};
use std::process::Stdio;

use format_spec::stream::{verify, verify_seekable, Report, StreamError, VerifyOptions};

use crate::python::{python3, scripts_dir, show};

/// What a verifier said about one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `None`: accepted. `Some(KIND)`: rejected with that KIND.
    pub kind: Option<String>,
    /// The error's offset (absolute: the streams are bare).
    pub offset: Option<u64>,
    /// Python only: the exception class (`StreamError`, `RecordError`,
    /// `TruncatedError`).
    pub class: Option<String>,
    /// For blob errors (kinds `DomainContext` and `HvmContext`), the blob
    /// rule: the Rust error source's kind, the Python exception's
    /// `detail`. Empty otherwise.
    pub detail: String,
    /// Number of warnings.
    pub warnings: usize,
    /// The error message, for failure reports.
    pub message: String,
}

impl Verdict {
    /// True if the stream was accepted.
    pub fn accepted(&self) -> bool {
        self.kind.is_none()
    }

    /// `ACCEPT` or `KIND@offset`, for messages.
    pub fn short(&self) -> String {
        match (&self.kind, self.offset) {
            (None, _) => "ACCEPT".into(),
            (Some(k), Some(o)) => format!("{k}@{o}"),
            (Some(k), None) => format!("{k}@?"),
        }
    }
}

/// The blob rule of a blob error (the name of its source kind's variant),
/// or "".
pub fn blob_rule(e: &StreamError) -> String {
    let debug = match e {
        StreamError::DomainContext { source, .. } => format!("{:?}", source.kind),
        StreamError::HvmContext { source, .. } => format!("{:?}", source.kind),
        _ => return String::new(),
    };
    debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn rust_one(res: Result<Report, StreamError>) -> Verdict {
    match res {
        Ok(r) => Verdict {
            kind: None,
            offset: None,
            class: None,
            detail: String::new(),
            warnings: r.warnings.len() + r.warnings_dropped as usize,
            message: String::new(),
        },
        Err(e) => Verdict {
            kind: Some(e.kind().as_str().to_string()),
            offset: Some(e.offset()),
            class: e.python_class().map(|c| c.as_str().to_string()),
            detail: blob_rule(&e),
            warnings: 0,
            message: e.to_string(),
        },
    }
}

/// The Rust verifier's strict verdict, from a plain reader and from a
/// seekable cursor. Returns an error describing the difference if the two
/// readers disagree (kind, offset or warnings).
pub fn rust_verdict(bytes: &[u8]) -> Result<Verdict, String> {
    let plain = rust_one(verify(bytes, VerifyOptions::strict()));
    let seek = rust_one(verify_seekable(Cursor::new(bytes), VerifyOptions::strict()));
    if plain != seek {
        return Err(format!(
            "Read and Seek verifiers disagree: {} ({}) vs {} ({})",
            plain.short(),
            plain.message,
            seek.short(),
            seek.message
        ));
    }
    Ok(plain)
}

/// The generated Python verifier's verdicts on `streams`, in order, from
/// one `python3` process.
pub fn python_verdicts(streams: &[&[u8]]) -> Vec<Verdict> {
    let mut child = python3()
        .arg(scripts_dir().join("run_batch.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn run_batch.py");
    let mut stdin = child.stdin.take().expect("stdin");
    let input: Vec<Vec<u8>> = streams.iter().map(|s| s.to_vec()).collect();
    let writer = std::thread::spawn(move || {
        let mut w = std::io::BufWriter::new(&mut stdin);
        for s in &input {
            let len = u32::try_from(s.len()).expect("stream under 4 GiB");
            w.write_all(&len.to_le_bytes())?;
            w.write_all(s)?;
        }
        w.flush()
    });
    let out = child.wait_with_output().expect("run_batch.py output");
    writer
        .join()
        .expect("writer thread")
        .unwrap_or_else(|e| panic!("feeding run_batch.py: {e}\n{}", show(&out)));
    assert!(out.status.success(), "run_batch.py failed: {}", show(&out));
    let text = String::from_utf8(out.stdout).expect("utf-8 verdicts");
    let mut verdicts = Vec::with_capacity(streams.len());
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.splitn(8, '\t').collect();
        assert_eq!(f.len(), 8, "bad verdict line {line:?}");
        assert_eq!(f[0], i.to_string(), "verdicts out of order");
        let rejected = f[1] == "REJECT";
        verdicts.push(Verdict {
            kind: rejected.then(|| f[3].to_string()),
            offset: if rejected { f[4].parse().ok() } else { None },
            class: rejected.then(|| f[2].to_string()),
            detail: f[6].to_string(),
            warnings: f[5].parse().expect("warning count"),
            message: f[7].to_string(),
        });
    }
    assert_eq!(
        verdicts.len(),
        streams.len(),
        "run_batch.py gave {} verdicts for {} streams",
        verdicts.len(),
        streams.len()
    );
    verdicts
}

/// Compares the two verdicts on one stream; returns a description of the
/// first difference (accept/reject, KIND, offset, blob rule, Python class, and for
/// accepted streams the number of warnings).
pub fn compare(rust: &Verdict, python: &Verdict) -> Result<(), String> {
    if rust.kind != python.kind || rust.offset != python.offset {
        return Err(format!(
            "Rust {} ({}) vs Python {} ({})",
            rust.short(),
            rust.message,
            python.short(),
            python.message
        ));
    }
    if rust.detail != python.detail {
        return Err(format!(
            "{}: Rust names blob rule {:?} ({}), Python {:?} ({})",
            rust.short(),
            rust.detail,
            rust.message,
            python.detail,
            python.message
        ));
    }
    if rust.accepted() && rust.warnings != python.warnings {
        return Err(format!(
            "both accept, but Rust gives {} warnings and Python {}",
            rust.warnings, python.warnings
        ));
    }
    if rust.class != python.class {
        return Err(format!(
            "{}: Rust says Python should raise {:?}, Python raised {:?}",
            rust.short(),
            rust.class,
            python.class
        ));
    }
    Ok(())
}
