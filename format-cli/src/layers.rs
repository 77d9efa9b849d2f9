//! Walking the layers of an input: the xl header and libxl stream (read by
//! [`format_spec::outer::OuterReader`]) around the libxc stream (read by
//! [`format_spec::stream::StreamReader`]).
//!
//! Each subcommand is a [`Visitor`]: [`walk`] calls it for the outer
//! headers and records, and hands it a [`StreamReader`] positioned after
//! the libxc headers, reading the same input in place (page contents are
//! skipped with seeks when the input is a regular file).
//!
//! A checkpointed (Remus/COLO) stream inside libxl is read segment by
//! segment: the visitor reads up to a CHECKPOINT, the reader is suspended
//! ([`StreamReader::suspend`]) while the libxl layer reads the
//! checkpoint's records (emulator records, CHECKPOINT_STATE,
//! CHECKPOINT_END), and the visitor is called again with the reader
//! resumed on the next segment ([`StreamReader::resume`]), record indices
//! and offsets going on.

use std::io::{Read, Seek};

use format_spec::layout::Wire;
use format_spec::libxc::LibxcRecord;
use format_spec::libxl::LibxlHeader;
use format_spec::outer::{self, FormatChoice, LibxcStop, OuterEvent, OuterReader};
use format_spec::stream::{Mode, ReaderOptions, RecordInfo, StreamError, StreamReader, Suspended};
use format_spec::xl::XlPreamble;

use crate::input::Input;
use crate::Failure;

/// Where the visitor stopped reading the libxc stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After its END record.
    End,
    /// After a CHECKPOINT record, in a stream nested in libxl (a bare
    /// libxc stream goes on after its checkpoints without leaving the
    /// libxc layer).
    Checkpoint,
}

/// How the libxc stream is nested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nesting {
    /// The stream is the whole input (no xl or libxl layer around it).
    pub bare: bool,
    /// Absolute offset of its image header.
    pub base_offset: u64,
    /// `Some(offset)` when the visitor is called again for a later
    /// segment of a checkpointed stream: the reader resumed at `offset`
    /// (no headers there), after the libxl records of a checkpoint.
    pub resumed_at: Option<u64>,
}

impl Nesting {
    /// Whether a record just read ends the visitor's part of the stream:
    /// END, or a CHECKPOINT of a nested stream (the libxl layer has the
    /// input after it).
    pub fn stop_after(&self, info: &RecordInfo) -> Option<Stop> {
        match info.rtype {
            LibxcRecord::END => Some(Stop::End),
            LibxcRecord::CHECKPOINT if !self.bare => Some(Stop::Checkpoint),
            _ => None,
        }
    }
}

/// Why a visitor stopped reading the libxc stream early.
#[derive(Debug)]
pub enum VisitError {
    /// The stream broke a rule or could not be read.
    Stream(StreamError),
    /// Something else (writing the output).
    Other(Failure),
}

impl From<StreamError> for VisitError {
    fn from(e: StreamError) -> Self {
        VisitError::Stream(e)
    }
}

impl From<Failure> for VisitError {
    fn from(f: Failure) -> Self {
        VisitError::Other(f)
    }
}

/// What a subcommand does with each layer.
pub trait Visitor {
    /// The xl header and its optional data (at offset 0).
    fn xl(&mut self, _pre: &XlPreamble) -> Result<(), Failure> {
        Ok(())
    }

    /// The libxl stream header, at `offset`.
    fn libxl_header(&mut self, _offset: u64, _h: &LibxlHeader) -> Result<(), Failure> {
        Ok(())
    }

    /// A libxl record or event (the LIBXC_CONTEXT handover is passed here
    /// too, before [`Visitor::libxc`]).
    fn libxl_event(&mut self, _ev: &OuterEvent) -> Result<(), Failure> {
        Ok(())
    }

    /// xl's migration messages after the end of the stream (strict mode).
    fn migration_trailer(&mut self, _t: &outer::MigrationTrailer) -> Result<(), Failure> {
        Ok(())
    }

    /// Reads the libxc stream from `reader` (its headers already read) up
    /// to END, or up to a CHECKPOINT for a nested stream (see
    /// [`Nesting::stop_after`]).
    fn libxc<R: Read>(
        &mut self,
        reader: &mut StreamReader<R>,
        nesting: Nesting,
    ) -> Result<Stop, VisitError>;
}

fn stream_mode(mode: Mode) -> outer::Mode {
    match mode {
        Mode::Strict => outer::Mode::Strict,
        Mode::Lenient => outer::Mode::Lenient,
    }
}

/// Opens the libxc stream at the start of `src`, or resumes the `paused`
/// one at `nesting.resumed_at` (seeking over skipped octets when
/// `seekable`), and runs the visitor on it. Returns where the visitor
/// stopped and, after a CHECKPOINT, the paused stream.
fn libxc_layer<R: Read + Seek, V: Visitor>(
    src: R,
    seekable: bool,
    mode: Mode,
    nesting: Nesting,
    paused: Option<Suspended>,
    v: &mut V,
) -> Result<(Stop, Option<Suspended>), VisitError> {
    let opts = ReaderOptions {
        mode,
        base_offset: nesting.base_offset,
    };
    let mut reader = match (paused, nesting.resumed_at) {
        (Some(state), Some(at)) if seekable => StreamReader::resume_seekable(src, state, at)?,
        (Some(state), Some(at)) => StreamReader::resume(src, state, at)?,
        _ if seekable => StreamReader::seekable(src, opts)?,
        _ => StreamReader::with_options(src, opts)?,
    };
    let stop = v.libxc(&mut reader, nesting)?;
    let paused = match stop {
        Stop::Checkpoint => Some(reader.suspend()?.1),
        Stop::End => None,
    };
    Ok((stop, paused))
}

/// Reads every layer of `inp` in `mode`, calling `v`.
pub fn walk<V: Visitor>(inp: Input, mode: Mode, v: &mut V) -> Result<(), Failure> {
    let name = inp.name;
    let vfail = |e| match e {
        VisitError::Stream(e) => Failure::stream(&name, e),
        VisitError::Other(f) => f,
    };
    if inp.format == outer::Format::Libxc {
        let nesting = Nesting {
            bare: true,
            base_offset: 0,
            resumed_at: None,
        };
        libxc_layer(inp.reader, inp.seekable, mode, nesting, None, v).map_err(vfail)?;
        return Ok(());
    }
    let ofail = |e| Failure::outer(&name, e);
    let mut r = OuterReader::open(
        inp.reader,
        FormatChoice::Exactly(inp.format),
        stream_mode(mode),
    )
    .map_err(ofail)?;
    if let Some(pre) = r.xl_preamble() {
        v.xl(pre)?;
    }
    if let Some(h) = r.libxl_header().copied() {
        v.libxl_header(r.offset() - LibxlHeader::LAYOUT.size as u64, &h)?;
    }
    // The libxc stream between segments: its image header's offset and
    // the reader's state.
    let mut paused: Option<(u64, Suspended)> = None;
    while let Some(ev) = r.next().map_err(ofail)? {
        v.libxl_event(&ev)?;
        let OuterEvent::Libxc(h) = ev else {
            continue;
        };
        let (base_offset, state, resumed_at) = match (h.resume, paused.take()) {
            (false, _) => (h.offset, None, None),
            (true, Some((base, state))) => (base, Some(state), Some(h.offset)),
            (true, None) => {
                // The outer reader only resumes after a checkpoint this
                // walk paused at.
                return Err(Failure::Usage(format!(
                    "{name}: offset {}: the libxc stream resumes, but no checkpoint paused it",
                    h.offset
                )));
            }
        };
        let nesting = Nesting {
            bare: r.libxl_header().is_none(),
            base_offset,
            resumed_at,
        };
        let (stop, state) =
            libxc_layer(r.inner(), inp.seekable, mode, nesting, state, v).map_err(vfail)?;
        let stop = match stop {
            Stop::End => LibxcStop::End,
            Stop::Checkpoint => LibxcStop::Checkpoint,
        };
        paused = state.map(|s| (base_offset, s));
        r.libxc_finished(stop).map_err(ofail)?;
    }
    if let Some(t) = r.migration_trailer() {
        v.migration_trailer(t)?;
    }
    Ok(())
}
