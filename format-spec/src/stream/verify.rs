//! The verifier: every rule of the shared verifier rule list, in strict or
//! lenient mode, with warnings and a summary.

use std::collections::BTreeMap;
use std::io::{Read, Seek};

use binrw::Endian;

use crate::bytes::u64_at;
use crate::layout::{FieldLayout, SpecEnum, Wire};

use super::check;
use super::error::ErrorKind;
use super::error::{Location, RecordInfo, StreamError, Warning};
use super::reader::{Core, ReaderOptions, StreamReader};
use super::rules::{self, ContextSize, OrderCheck, OrderRule, Rule, Scope, ValueCheck, ValueRule};
use super::Mode;
use crate::drive::{now, Input};
use crate::libxc::{
    infers_static_data_end, stands_in_for_static_data_end, DomainHeader, DomainType, ImageHeader,
    LibxcRecord, PageType, RecordHeader, ORDER_RULES, PAGE_DATA_PFN_MASK, PAGE_SHIFT, PAGE_SIZE,
    PAGE_TYPE_CODES, PV_DEFAULT_GUEST_WIDTH, VALUE_RULES,
};

/// How to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Strict (a verifier) or lenient (what a restore accepts).
    pub mode: Mode,
    /// The input is a bare libxc stream: in strict mode, any octet after END
    /// is an error (`TrailingData`). Clear it for a stream embedded in a
    /// libxl stream, whose records follow END.
    pub bare: bool,
    /// Absolute offset of the stream in the input (see
    /// [`ReaderOptions::base_offset`]).
    pub base_offset: u64,
    /// How many warnings the report keeps; further ones are only counted,
    /// so that memory does not grow with the stream.
    pub max_warnings: usize,
    /// Whether the stream is checkpointed (Remus or COLO), as the
    /// toolstack set the restore up; [`Checkpointed::Auto`] when not known.
    pub checkpointed: Checkpointed,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            mode: Mode::Strict,
            bare: true,
            base_offset: 0,
            max_warnings: 1000,
            checkpointed: Checkpointed::Auto,
        }
    }
}

impl VerifyOptions {
    /// Strict verification of a bare stream.
    pub fn strict() -> Self {
        VerifyOptions::default()
    }

    /// Lenient verification (what a restore accepts) of a bare stream.
    pub fn lenient() -> Self {
        VerifyOptions {
            mode: Mode::Lenient,
            ..VerifyOptions::default()
        }
    }

    /// The same options for a stream checkpointed (or not) as `c` says.
    pub fn checkpointed(self, c: Checkpointed) -> Self {
        VerifyOptions {
            checkpointed: c,
            ..self
        }
    }

    /// The reader options these imply.
    pub fn reader_options(&self) -> ReaderOptions {
        ReaderOptions {
            mode: self.mode,
            base_offset: self.base_offset,
        }
    }
}

/// Why the last segment of a checkpointed stream was not restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailoverReason {
    /// The input ended right after a CHECKPOINT: nothing of a further
    /// segment was sent (valid in both modes).
    Boundary,
    /// The input ended (or a record's header or body was cut, or
    /// announced an impossible length) inside the segment: Xen's
    /// `read_record` fails and its restore fails over to the last
    /// checkpoint (lenient mode only).
    CutShort(Noted),
    /// A record of the segment breaks a rule; Xen's restore buffers the
    /// segment and would only see the error when replaying it at the next
    /// CHECKPOINT, which never came (lenient mode only).
    Buffered(Noted),
    /// The segment ended with END: Xen's restore completes with the state
    /// of the last CHECKPOINT and never replays the buffered segment.
    EndedWithEnd,
}

/// An error noted in a report (its kind, offset and message), not raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted {
    /// The KIND.
    pub kind: ErrorKind,
    /// Its absolute offset.
    pub offset: u64,
    /// The error's message.
    pub message: String,
}

impl Noted {
    fn of(e: &StreamError) -> Noted {
        Noted {
            kind: e.kind(),
            offset: e.offset(),
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for Noted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// How a checkpointed stream ended: the checkpoints restored and the
/// segment dropped. `Display` gives the sentence a tool prints: "N
/// checkpoints, ending at a checkpoint boundary" or "N checkpoints;
/// segment S (from offset 0x..) dropped on failover: ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// The number of CHECKPOINT records (segments restored).
    pub checkpoints: u64,
    /// The index (0 is the first) of the segment not restored.
    pub dropped_segment: u64,
    /// Absolute offset where that segment starts: its first record (at a
    /// boundary, where the input ended).
    pub dropped_at: u64,
    /// Records of that segment read (0 at a boundary).
    pub dropped_records: u64,
    /// Why.
    pub reason: FailoverReason,
}

impl Failover {
    /// Whether the stream ended exactly at a checkpoint boundary.
    pub fn at_boundary(&self) -> bool {
        self.reason == FailoverReason::Boundary
    }
}

impl std::fmt::Display for Failover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.checkpoints;
        let s = if n == 1 { "" } else { "s" };
        match &self.reason {
            FailoverReason::Boundary => {
                write!(f, "{n} checkpoint{s}, ending at a checkpoint boundary")
            }
            other => {
                write!(
                    f,
                    "{n} checkpoint{s}; segment {} (from offset 0x{:x}, {} records) dropped on failover: ",
                    self.dropped_segment, self.dropped_at, self.dropped_records
                )?;
                match other {
                    FailoverReason::CutShort(e) => write!(
                        f,
                        "the segment breaks off ({e}), so Xen's restore fails over to the last checkpoint"
                    ),
                    FailoverReason::Buffered(e) => write!(
                        f,
                        "Xen's restore buffers it and never replays it ({e})"
                    ),
                    _ => write!(
                        f,
                        "it ends with END, and Xen's restore completes with the last checkpoint's state"
                    ),
                }
            }
        }
    }
}

/// What a verified (or partly verified) stream holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The image header.
    pub image_header: ImageHeader,
    /// The domain header.
    pub domain_header: DomainHeader,
    /// Absolute offset of the image header.
    pub start_offset: u64,
    /// Absolute offset just after the last octet verified (after END once
    /// the stream is complete).
    pub end_offset: u64,
    /// Number of records, END included.
    pub records: u64,
    /// Records by type code, for the types of the table.
    pub records_by_type: BTreeMap<u32, u64>,
    /// Unknown optional records skipped.
    pub unknown_optional: u64,
    /// Unknown optional records skipped, by type code (all of them, also
    /// those beyond the warnings kept).
    pub skipped_by_type: BTreeMap<u32, u64>,
    /// Body octets by record type code (padding excluded), for the types
    /// of the table.
    pub bytes_by_type: BTreeMap<u32, u64>,
    /// PAGE_DATA pfn entries by page type (the type nibble is the index).
    pub pages_by_type: [u64; PAGE_TYPE_CODES],
    /// Number of PAGE_DATA pfn entries.
    pub pfn_entries: u64,
    /// Number of pages whose contents the stream holds.
    pub data_pages: u64,
    /// Number of segments: CHECKPOINT records plus one.
    pub segments: u64,
    /// Octets of another layer between segments (the libxl records of the
    /// checkpoints of a stream read with [`StreamReader::suspend`] and
    /// [`StreamReader::resume`]): inside `start_offset..end_offset` but not
    /// part of the stream.
    pub interleaved: u64,
    /// True once END has been verified, or once a checkpointed stream
    /// ended the way Xen's restore takes as a failover ([`Self::failover`]).
    pub complete: bool,
    /// How a checkpointed stream ended without END: at a checkpoint
    /// boundary (valid in both modes) or, in lenient mode, inside a
    /// segment that Xen's restore drops on failover. `None` when the
    /// stream ended with END (or is not complete).
    pub failover: Option<Failover>,
    /// The first [`VerifyOptions::max_warnings`] warnings.
    pub warnings: Vec<Warning>,
    /// Warnings beyond those kept.
    pub warnings_dropped: u64,
    /// Lenient mode: what Xen itself does against the spec and its restore
    /// accepts, once per kind instead of a warning each time (strict mode
    /// keeps them as warnings). Today one kind: HVM_PARAMS after
    /// HVM_CONTEXT before version 4, which Xen 4.17's saver writes in
    /// every HVM and PVH stream.
    pub notes: Vec<Note>,
}

/// A known Xen behaviour the report notes once (see [`Report::notes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The first occurrence.
    pub first: Warning,
    /// How many times it happened.
    pub count: u64,
}

impl Note {
    /// Whether lenient mode notes `w` instead of warning about it.
    pub fn applies_to(w: &Warning) -> bool {
        matches!(w, Warning::HvmParamsAfterContext { .. })
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.first {
            Warning::HvmParamsAfterContext { record, .. } => {
                let name = |code| crate::libxc::LibxcRecord::LAYOUT.name_of(code);
                let context = name(crate::libxc::LibxcRecord::HVM_CONTEXT);
                let params = name(crate::libxc::LibxcRecord::HVM_PARAMS);
                write!(f, "{params} after {context} ")?;
                match self.count {
                    1 => write!(f, "({record})")?,
                    n => write!(f, "({n} times, the first: {record})")?,
                }
                write!(
                    f,
                    ", the order Xen 4.17's saver writes; its restore accepts it before \
                     version {}, the spec wants {params} first (--strict warns)",
                    crate::libxc::order_since(&super::rules::HVM_PARAMS_FIRST),
                )
            }
            w => write!(f, "{w} ({} times)", self.count),
        }
    }
}

impl Report {
    /// Total octets of the stream verified so far, headers included
    /// ([`interleaved`](Self::interleaved) octets excluded).
    pub fn bytes(&self) -> u64 {
        self.end_offset - self.start_offset - self.interleaved
    }

    /// The guest type.
    pub fn domain_type(&self) -> Option<DomainType> {
        self.domain_header.domain_type()
    }
}

/// What the verifier knows of a record beyond its header, for the rules
/// that look at values.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Facts<'a> {
    /// Nothing (the writer's order checks).
    None,
    /// The whole body (any record but PAGE_DATA), in the stream's byte order.
    Body(&'a [u8], Endian),
    /// A PAGE_DATA record's pfn entries.
    Pfns(&'a [u64]),
}

/// Whether a stream is checkpointed, as the toolstack set the restore up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checkpointed {
    /// Not known: a CHECKPOINT record makes the stream a Remus stream.
    #[default]
    Auto,
    /// A plain stream: a CHECKPOINT is an error (Xen's `handle_checkpoint`).
    No,
    /// A Remus stream.
    Remus,
    /// A COLO stream: each CHECKPOINT completes the restore of the state so
    /// far (Xen calls `stream_complete` there).
    Colo,
}

/// Record codes the order state tracks: every code of the libxc record
/// table is below it (checked at compile time).
const TRACKED: usize = 32;

const _: () = {
    let records = LibxcRecord::LAYOUT.records;
    let mut i = 0;
    while i < records.len() {
        assert!((records[i].code as usize) < TRACKED, "raise TRACKED");
        i += 1;
    }
};

/// Where the records of the table were first seen: in the stream, or in
/// the current segment.
type Seen = [Option<u64>; TRACKED];

/// The order rules ([`ORDER_RULES`], interpreted here) and the rules of
/// Xen's record handlers: state carried from record to record. Each check
/// names its rule in [`super::rules`].
#[derive(Debug, Clone)]
pub(crate) struct Order {
    version: u32,
    domain: DomainType,
    checkpointed: Checkpointed,
    /// Record bodies are passed in ([`Facts::Body`], [`Facts::Pfns`]): the
    /// rules on values apply. The writer passes none.
    with_facts: bool,
    /// The rules of [`ORDER_RULES`] that apply to this stream's version
    /// and guest type.
    rules: Vec<&'static OrderRule>,
    /// Offset of the first record of each type in the stream (for
    /// STATIC_DATA_END, the record it was inferred at in a version 2
    /// stream).
    seen: Seen,
    /// The same, in the current segment.
    seg_seen: Seen,
    guest_width: Option<u8>,
    /// Highest pfn of the P2M (Xen's `max_pfn`), once its table exists.
    p2m_max_pfn: Option<u64>,
    vcpu0_basic: bool,
}

/// What an order rule found broken: the record it names and, for a
/// record seen before, where that one was.
#[derive(Debug, Clone, Copy)]
struct Broken {
    record: u32,
    earlier: Option<u64>,
}

/// The guest type's name in Xen's tables ("x86 PV").
fn human(d: DomainType) -> &'static str {
    DomainType::LAYOUT
        .variant(d.value())
        .map_or("?", |v| v.human)
}

impl Order {
    pub(crate) fn new(version: u32, domain: DomainType) -> Self {
        Order {
            version,
            domain,
            checkpointed: Checkpointed::Auto,
            with_facts: false,
            rules: ORDER_RULES
                .iter()
                .filter(|r| r.applies_to(version, domain))
                .collect(),
            seen: [None; TRACKED],
            seg_seen: [None; TRACKED],
            guest_width: None,
            p2m_max_pfn: None,
            vcpu0_basic: false,
        }
    }

    /// Where the first record `code` of the stream was.
    fn seen(&self, code: u32) -> Option<u64> {
        self.seen.get(code as usize).copied().flatten()
    }

    /// Where the first record `code` of `scope` was.
    fn seen_in(&self, scope: Scope, code: u32) -> Option<u64> {
        match scope {
            Scope::Stream => self.seen(code),
            Scope::Segment => self.seg_seen.get(code as usize).copied().flatten(),
        }
    }

    /// Notes that record `code` is at `offset`.
    fn mark(&mut self, code: u32, offset: u64) {
        if let Some(slot) = self.seen.get_mut(code as usize) {
            slot.get_or_insert(offset);
        }
        if let Some(slot) = self.seg_seen.get_mut(code as usize) {
            slot.get_or_insert(offset);
        }
    }

    /// The error rule `r` reports, by its KIND.
    fn order_error(&self, r: &OrderRule, at: Location, b: Broken) -> StreamError {
        let name = LibxcRecord::LAYOUT
            .by_code(b.record)
            .map_or("?", |l| l.spec_name);
        let first = b.earlier.unwrap_or(0);
        match (r.rule.kind, r.check) {
            (ErrorKind::WrongGuestType, OrderCheck::GuestOnly { guest, .. }) => {
                StreamError::WrongGuestType {
                    at,
                    wants: human(guest),
                    guest: human(self.domain),
                }
            }
            (ErrorKind::DuplicateStaticDataEnd, _) => {
                StreamError::DuplicateStaticDataEnd { at, first }
            }
            (ErrorKind::DuplicateRecord, _) => StreamError::DuplicateRecord {
                at,
                record: name,
                first,
            },
            (ErrorKind::MissingStaticDataEnd, _) => StreamError::MissingStaticDataEnd { at },
            (ErrorKind::MissingDomainContext, _) => StreamError::MissingDomainContext { at },
            (ErrorKind::MissingRecord, _) => StreamError::MissingRecord { at, what: name },
            (ErrorKind::UnexpectedCheckpoint, _) => StreamError::UnexpectedCheckpoint { at },
            (ErrorKind::BackChannelRecord, _) => StreamError::BackChannelRecord { at },
            _ => StreamError::OutOfOrder {
                at,
                reason: r.message,
            },
        }
    }

    /// What rule `r` finds broken at record `code`, if anything (the
    /// [`OrderCheck::Required`] rules are checked where their scope ends).
    fn broken_at(&self, r: &OrderRule, code: u32) -> Option<Broken> {
        let none = |record| Broken {
            record,
            earlier: None,
        };
        match r.check {
            OrderCheck::GuestOnly { guest, records } => {
                (guest != self.domain && records.contains(&code)).then(|| none(code))
            }
            OrderCheck::AtMostOnce { record } if code == record => {
                self.seen(record).map(|first| Broken {
                    record,
                    earlier: Some(first),
                })
            }
            OrderCheck::After { first, records } => {
                (records.contains(&code) && self.seen(first).is_none()).then(|| none(code))
            }
            OrderCheck::NotAfter {
                last,
                records,
                scope,
            } if records.contains(&code) => self.seen_in(scope, last).map(|at| Broken {
                record: code,
                earlier: Some(at),
            }),
            OrderCheck::CheckpointedOnly { record } => {
                (code == record && self.checkpointed == Checkpointed::No).then(|| none(code))
            }
            _ => None,
        }
    }

    /// The first record of `r` missing when its scope ends at record
    /// `code` (END; a CHECKPOINT ends a segment).
    fn missing_at(&self, r: &OrderRule, code: u32) -> Option<Broken> {
        let OrderCheck::Required { records, scope } = r.check else {
            return None;
        };
        let ends = code == LibxcRecord::END
            || (code == LibxcRecord::CHECKPOINT && scope == Scope::Segment);
        let missing = records.iter().find(|&&c| self.seen_in(scope, c).is_none());
        missing.filter(|_| ends).map(|&record| Broken {
            record,
            earlier: None,
        })
    }

    pub(crate) fn checkpointed(mut self, c: Checkpointed) -> Self {
        self.checkpointed = c;
        self
    }

    /// The rules on record values apply (the verifier passes bodies).
    pub(crate) fn with_facts(mut self) -> Self {
        self.with_facts = true;
        self
    }

    /// The checks Xen's restore makes when it completes (`stream_complete`):
    /// the `*AtCompletion` rules of [`VALUE_RULES`] (a PV guest's vCPU 0
    /// has its basic state, and then a P2M).
    pub(crate) fn complete(&self, at: Location, strict: bool) -> Result<(), StreamError> {
        if !self.with_facts {
            return Ok(());
        }
        for r in VALUE_RULES.iter().filter(|r| r.applies_to(self.domain)) {
            match r.check {
                ValueCheck::Vcpu0AtCompletion { missing, .. } if !self.vcpu0_basic => {
                    // Without vCPU 0's state the later rules do not apply.
                    return match r.rule.applies(strict) {
                        true => Err(StreamError::MissingRecord { at, what: missing }),
                        false => Ok(()),
                    };
                }
                ValueCheck::P2mAtCompletion { p2m } if self.p2m_max_pfn.is_none() => {
                    return Err(StreamError::CrashesXenRestore {
                        at,
                        what: format!("the stream completes without any {}", spec_name(p2m)),
                        crash: "segfault: it looks the start-info pfn of vCPU 0 up in page-type and P2M tables it never allocated",
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The P2M's highest pfn, once its table exists (PV).
    pub(crate) fn p2m_max_pfn(&self) -> Option<u64> {
        self.p2m_max_pfn
    }

    /// Applies the rules to the next record of the table; returns the first
    /// rule it breaks (the state is updated either way) and passes order
    /// warnings to `warn`. `strict` selects the rules ([`Rule::applies`]).
    pub(crate) fn record(
        &mut self,
        info: RecordInfo,
        facts: Facts<'_>,
        strict: bool,
        warn: &mut dyn FnMut(Warning),
    ) -> Result<(), StreamError> {
        let code = info.rtype;
        let at = || Location::record(info);
        let mut first: Option<StreamError> = None;
        let mut fail = |rule: Rule, e: StreamError| {
            if first.is_none() && rule.applies(strict) {
                first = Some(e);
            }
        };

        // A stream older than STATIC_DATA_END infers it.
        if infers_static_data_end(self.version)
            && self.seen(LibxcRecord::STATIC_DATA_END).is_none()
            && stands_in_for_static_data_end(self.domain, code)
        {
            self.mark(LibxcRecord::STATIC_DATA_END, info.offset);
        }
        // The order table's rules at this record.
        for r in &self.rules {
            let Some(b) = self.broken_at(r, code) else {
                continue;
            };
            match (r.only_warns(self.version), b.earlier) {
                // Only NotAfter rules warn: the record after `last`.
                (true, Some(context_offset)) => warn(Warning::HvmParamsAfterContext {
                    record: info,
                    context_offset,
                }),
                (true, None) => {}
                (false, _) => fail(r.rule, self.order_error(r, at(), b)),
            }
        }
        let first_of_its_type = self.seen(code).is_none();
        self.mark(code, info.offset);

        self.value_rules(info, facts, first_of_its_type, strict, &mut fail);

        // Xen's restore completes (`stream_complete`) at END, except a COLO
        // restore, which completes at each CHECKPOINT instead and takes END
        // as a failover.
        let colo = self.checkpointed == Checkpointed::Colo;
        let completes = if colo {
            code == LibxcRecord::CHECKPOINT
        } else {
            code == LibxcRecord::END
        };
        if completes {
            if let Err(e) = self.complete(at(), strict) {
                let rule = if e.kind() == ErrorKind::MissingRecord {
                    rules::PV_VCPU0_BASIC
                } else {
                    rules::CRASH_NO_P2M
                };
                fail(rule, e);
            }
        }
        // The end of a scope: the records it requires.
        for r in &self.rules {
            if let Some(b) = self.missing_at(r, code) {
                fail(r.rule, self.order_error(r, at(), b));
            }
        }
        if code == LibxcRecord::CHECKPOINT || code == LibxcRecord::END {
            self.seg_seen = [None; TRACKED];
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The rules of [`VALUE_RULES`] at a record (Xen's record handlers,
    /// `xg_sr_restore_x86_pv.c` for most): the first one it breaks ends
    /// its checks.
    fn value_rules(
        &mut self,
        info: RecordInfo,
        facts: Facts<'_>,
        first_of_its_type: bool,
        strict: bool,
        fail: &mut dyn FnMut(Rule, StreamError),
    ) {
        for r in VALUE_RULES {
            if !r.applies_to(self.domain) || !r.records.contains(&info.rtype) {
                continue;
            }
            if let Some(e) = self.value_check(r, info, facts, first_of_its_type) {
                let applies = r.rule.applies(strict);
                fail(r.rule, e);
                if applies {
                    return;
                }
            }
        }
    }

    /// What value rule `r` finds broken at a record, if anything (the
    /// rules that keep state update it).
    fn value_check(
        &mut self,
        r: &ValueRule,
        info: RecordInfo,
        facts: Facts<'_>,
        first_of_its_type: bool,
    ) -> Option<StreamError> {
        let code = info.rtype;
        let at = Location::record(info);
        let body = LibxcRecord::LAYOUT.by_code(code).and_then(|l| l.body);
        let (fixed, element) = body.map_or((0, 0), |b| {
            let element = b.trailing().and_then(|t| t.kind.element_size());
            (b.size, element.unwrap_or(0))
        });
        let in_body = |off: usize| Location::in_record(info, info.body_offset() + off as u64);
        let width = self.guest_width.unwrap_or(PV_DEFAULT_GUEST_WIDTH);
        let (b, e) = match facts {
            Facts::Body(b, e) => (b, e),
            Facts::Pfns(pfns) => return self.pfn_check(r, info, pfns, fixed, element),
            Facts::None => return self.pfn_check(r, info, &[], fixed, element),
        };
        let uint = |f: &FieldLayout| f.read_uint(b, e);
        match r.check {
            ValueCheck::WidthLevels {
                width,
                levels,
                pairs,
            } if first_of_its_type => {
                let (w, l) = (u8::try_from(uint(width)?).ok()?, uint(levels)?);
                self.guest_width = Some(w);
                let pair = rules::by_width(pairs, w);
                (pair.map(u64::from) != Some(l)).then(|| StreamError::BadValue {
                    at: in_body(levels.offset),
                    value: l,
                    allowed: format!(
                        "the {} of {} {w} ({})",
                        levels.name,
                        width.name,
                        pair.map_or("none".to_string(), |l| l.to_string())
                    ),
                })
            }
            ValueCheck::Range { start, end } => {
                let (s, x) = (uint(start)?, uint(end)?);
                (s > x).then(|| StreamError::BadValue {
                    at: in_body(end.offset),
                    value: x,
                    allowed: format!("at least {} ({s})", start.name),
                })
            }
            ValueCheck::Frames { start, end } => {
                let (s, x) = (uint(start)?, uint(end)?);
                let fpp = (PAGE_SIZE / usize::from(width.max(1))) as u64;
                let frames = (x / fpp + 1).checked_sub(s / fpp)?;
                let octets = frames * element as u64;
                (b.len().saturating_sub(fixed) as u64 != octets).then(|| StreamError::BadLength {
                    at,
                    length: info.length,
                    reason: format!(
                        "pfns {s}..={x} need {frames} frames of {fpp} entries, {fixed} + {octets} octets"
                    ),
                })
            }
            ValueCheck::P2mEnd { end } => {
                let x = uint(end)?;
                if self.p2m_max_pfn.is_none() && x == 0 {
                    return Some(StreamError::CrashesXenRestore {
                        at,
                        what: format!(
                            "the first {} covers pfn 0 only ({} 0)",
                            spec_name(code),
                            end.name
                        ),
                        crash: "segfault: it never allocates its P2M frame list, then writes to it",
                    });
                }
                if self.p2m_max_pfn.is_none_or(|m| x > m) {
                    self.p2m_max_pfn = Some(x);
                }
                None
            }
            ValueCheck::ContextSizes { sizes } => {
                let ctx = b.len().checked_sub(fixed).filter(|&c| c > 0)?;
                let size = sizes.iter().find(|(c, _)| *c == code).map(|(_, s)| *s)?;
                (!size.allows(ctx, width)).then(|| StreamError::BadLength {
                    at,
                    length: info.length,
                    reason: context_size_reason(size, spec_name(code), width),
                })
            }
            ValueCheck::Vcpu0AtCompletion { vcpu, .. } => {
                if b.len() > fixed && uint(vcpu)? == 0 {
                    self.vcpu0_basic = true;
                }
                None
            }
            ValueCheck::NotEmpty => b.is_empty().then(|| StreamError::BadLength {
                at,
                length: 0,
                reason: format!("{} must hold at least one entry", spec_name(code)),
            }),
            _ => None,
        }
    }

    /// The value rules on PAGE_DATA records: memory after the P2M, pfns
    /// within it.
    fn pfn_check(
        &self,
        r: &ValueRule,
        info: RecordInfo,
        pfns: &[u64],
        fixed: usize,
        element: usize,
    ) -> Option<StreamError> {
        match r.check {
            ValueCheck::AfterP2m { p2m } => {
                let made =
                    self.seen(p2m).is_some() && !(self.with_facts && self.p2m_max_pfn.is_none());
                (!made).then(|| StreamError::CrashesXenRestore {
                    at: Location::record(info),
                    what: format!(
                        "{} of a PV guest before any {}",
                        spec_name(info.rtype),
                        spec_name(p2m)
                    ),
                    crash: "refuse any pfn above 0 and segfault on pfn 0: it has no P2M table yet",
                })
            }
            ValueCheck::PfnsInP2m => {
                let max = self.p2m_max_pfn?;
                let (i, pfn) = pfns
                    .iter()
                    .map(|e| e & PAGE_DATA_PFN_MASK)
                    .enumerate()
                    .find(|(_, p)| *p > max)?;
                Some(StreamError::PfnBeyondP2m {
                    at: Location::in_record(
                        info,
                        info.body_offset() + (fixed + element * i) as u64,
                    ),
                    pfn,
                    max_pfn: max,
                })
            }
            _ => None,
        }
    }
}

/// The spec name of record `code` ("?" for a code the table lacks).
fn spec_name(code: u32) -> &'static str {
    LibxcRecord::LAYOUT
        .by_code(code)
        .map_or("?", |l| l.spec_name)
}

/// Why a context breaks size rule `size` ([`ValueCheck::ContextSizes`]).
fn context_size_reason(size: ContextSize, record: &str, width: u8) -> String {
    match size {
        ContextSize::ByGuestWidth(sizes) => format!(
            "a guest_width {width} {record} context is {} octets",
            rules::by_width(sizes, width).unwrap_or(0)
        ),
        ContextSize::AtMost(n) => format!("the {record} context is at most {n} octets"),
        ContextSize::AtLeast(n) => format!("the {record} context is at least {n} octets"),
        ContextSize::Entries(n) => format!("the {record} context is whole {n}-octet entries"),
    }
}

/// Checks the page-table pages of a PV PAGE_DATA record (types L1TAB to
/// L4TAB): every present entry must name a pfn within the P2M, or Xen's
/// restore crashes (the [`ValueCheck::PtesInP2m`] rule of [`VALUE_RULES`],
/// [`rules::CRASH_PTE_BEYOND_P2M`]). `page` is one page's contents (x86
/// guest memory: little-endian whatever the stream's byte order),
/// `offset` its absolute offset.
pub(crate) fn check_page_table(
    info: RecordInfo,
    page: &[u8],
    offset: u64,
    max_pfn: u64,
) -> Result<(), StreamError> {
    for r in VALUE_RULES {
        let ValueCheck::PtesInP2m {
            present,
            frame_mask,
        } = r.check
        else {
            continue;
        };
        let size = std::mem::size_of::<u64>();
        for (i, e) in page.chunks_exact(size).enumerate() {
            let pte = u64_at(e, 0, Endian::Little).unwrap_or(0);
            if pte & present == 0 {
                continue;
            }
            let pfn = (pte & frame_mask) >> PAGE_SHIFT;
            if pfn > max_pfn {
                return Err(StreamError::CrashesXenRestore {
                    at: Location::in_record(info, offset + (size * i) as u64),
                    what: format!(
                        "page-table entry 0x{pte:016x} names pfn 0x{pfn:x}, beyond the P2M (highest pfn 0x{max_pfn:x})"
                    ),
                    crash: "abort on the assert in pfn_to_mfn (without asserts, read past the end of its P2M table)",
                });
            }
        }
    }
    Ok(())
}

/// Verifies a libxc stream record by record.
///
/// [`verify`] and [`verify_seekable`] cover the common cases; use a
/// `Verifier` directly to keep the reader (for what follows the stream) or
/// to act on each record as it is verified ([`Verifier::step`]).
///
/// ```
/// use format_spec::libxc::{DomainType, LibxcRecord};
/// use format_spec::stream::{verify, ErrorKind, StreamWriter, VerifyOptions, WriterOptions};
///
/// let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3))?;
/// w.write(&LibxcRecord::StaticDataEnd)?;
/// w.write_page_data(&[0, 1], &[0u8; 2 * 4096])?;
/// let mut bytes = w.finish()?;
///
/// let report = verify(&bytes[..], VerifyOptions::strict())?;
/// assert_eq!(report.data_pages, 2);
/// assert_eq!(report.records_by_type[&LibxcRecord::PAGE_DATA], 1);
///
/// // One octet after END: strict mode refuses it, lenient mode does not look.
/// bytes.push(0);
/// let err = verify(&bytes[..], VerifyOptions::strict()).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::TrailingData);
/// assert_eq!(err.offset(), bytes.len() as u64 - 1);
/// assert!(verify(&bytes[..], VerifyOptions::lenient()).is_ok());
/// # Ok::<(), format_spec::stream::StreamError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    opts: VerifyOptions,
    order: Order,
    endian: Endian,
    report: Report,
    /// A checkpointed stream after its first CHECKPOINT: Xen's restore
    /// buffers each segment and replays it at the next CHECKPOINT.
    segment: Option<Segment>,
    /// One page, for the page-table checks.
    page: Vec<u8>,
    /// The header of the record being verified.
    last: Option<RecordInfo>,
}

/// The segment after the last CHECKPOINT of a checkpointed stream.
#[derive(Debug, Clone)]
struct Segment {
    /// The rule state at the last CHECKPOINT (what Xen has processed).
    saved: Order,
    /// Where the segment starts.
    start: u64,
    /// Records read in it.
    records: u64,
    /// Lenient mode: the first error of the segment, which Xen's restore
    /// only meets when it replays the segment.
    deferred: Option<std::sync::Arc<StreamError>>,
}

impl Verifier {
    /// A verifier for the stream `reader` has opened (its headers are
    /// already checked).
    pub fn new<R: Read>(reader: &StreamReader<R>, opts: VerifyOptions) -> Self {
        Self::for_core(&reader.core, opts)
    }

    /// A verifier for the stream `reader` has opened, whatever drives it.
    pub(crate) fn for_core<I>(reader: &Core<I>, opts: VerifyOptions) -> Self {
        let start = opts.base_offset;
        Verifier {
            opts,
            order: Order::new(reader.image_header().version, reader.domain_type())
                .checkpointed(opts.checkpointed)
                .with_facts(),
            endian: reader.endian(),
            report: Report {
                image_header: *reader.image_header(),
                domain_header: *reader.domain_header(),
                start_offset: start,
                end_offset: reader.position(),
                records: 0,
                records_by_type: BTreeMap::new(),
                unknown_optional: 0,
                skipped_by_type: BTreeMap::new(),
                bytes_by_type: BTreeMap::new(),
                pages_by_type: [0; PAGE_TYPE_CODES],
                pfn_entries: 0,
                data_pages: 0,
                segments: 1,
                interleaved: 0,
                complete: false,
                failover: None,
                warnings: Vec::new(),
                warnings_dropped: 0,
                notes: Vec::new(),
            },
            segment: None,
            page: Vec::new(),
            last: None,
        }
    }

    /// The report so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The report, giving up the verifier.
    pub fn into_report(self) -> Report {
        self.report
    }

    fn note(report: &mut Report, w: Warning) {
        let same = |n: &&mut Note| std::mem::discriminant(&n.first) == std::mem::discriminant(&w);
        match report.notes.iter_mut().find(same) {
            Some(n) => n.count += 1,
            None => report.notes.push(Note { first: w, count: 1 }),
        }
    }

    /// A warning, or in lenient mode a note for a known Xen behaviour.
    fn warn_or_note(report: &mut Report, max: usize, strict: bool, w: Warning) {
        if !strict && Note::applies_to(&w) {
            Self::note(report, w)
        } else {
            Self::warn(report, max, w)
        }
    }

    fn warn(report: &mut Report, max: usize, w: Warning) {
        if report.warnings.len() < max {
            report.warnings.push(w);
        } else {
            report.warnings_dropped += 1;
        }
    }

    /// Verifies the next record; returns it, or `None` once END has been
    /// verified (and, for a bare stream in strict mode, the end of the
    /// input checked), or once a checkpointed stream ended at a checkpoint
    /// boundary or (lenient mode) failed over ([`Report::failover`]).
    ///
    /// The verifier keeps its state (order rules, segment rules, report)
    /// between calls, not the reader: after a CHECKPOINT, the reader may be
    /// suspended and a resumed one passed in for the next segment (see
    /// [`StreamReader::suspend`]).
    pub fn step<R: Read>(
        &mut self,
        reader: &mut StreamReader<R>,
    ) -> Result<Option<RecordInfo>, StreamError> {
        now(self.step_core(&mut reader.core))
    }

    /// [`step`](Self::step), whatever drives the reader.
    pub(crate) async fn step_core<I: Input>(
        &mut self,
        reader: &mut Core<I>,
    ) -> Result<Option<RecordInfo>, StreamError> {
        self.step_given(reader, None).await
    }

    /// [`step_core`](Self::step_core), with the body of the next record
    /// (not PAGE_DATA, not an unknown optional record) given by the caller
    /// instead of read: the reader reads the record's header and padding
    /// and skips the body octets. Used by the conversion's shadow
    /// verifier, which holds the body already, so that a large record is
    /// in memory once.
    pub(crate) async fn step_given<I: Input>(
        &mut self,
        reader: &mut Core<I>,
        given: Option<&[u8]>,
    ) -> Result<Option<RecordInfo>, StreamError> {
        // A resumed reader starts past the octets another layer read.
        self.report.interleaved += reader.position().saturating_sub(self.report.end_offset);
        let res = self.step_segment(reader, given).await;
        self.report.end_offset = reader.position();
        res
    }

    /// Tells the verifier that the input ended where the next record
    /// header of the libxc stream would start (another layer found the end
    /// of its input between records, after a CHECKPOINT). Right after a
    /// CHECKPOINT of a checkpointed stream this is the checkpoint boundary
    /// at which Xen's restore completes (valid in both modes); inside a
    /// segment lenient mode fails over as Xen does; otherwise it is
    /// `Truncated` at `offset`.
    pub fn end_of_input(&mut self, offset: u64) -> Result<(), StreamError> {
        let e = StreamError::Truncated {
            at: Location::at(offset),
            missing: RecordHeader::LAYOUT.size as u64,
            what: "record header (no END record yet)",
        };
        self.input_failed(e, true).map(|_| ())
    }

    /// The input failed (`clean`: exactly where a record header would
    /// start): a checkpoint boundary, a failover or an error.
    fn input_failed(
        &mut self,
        e: StreamError,
        clean: bool,
    ) -> Result<Option<RecordInfo>, StreamError> {
        if self.report.complete {
            return Ok(None);
        }
        let strict = self.opts.mode == Mode::Strict;
        let framing = matches!(e.kind(), ErrorKind::Truncated | ErrorKind::RecordTooLong);
        let Some(seg) = self.segment.take() else {
            return Err(e);
        };
        let boundary = clean && seg.records == 0 && e.kind() == ErrorKind::Truncated;
        if !boundary && (strict || !framing) {
            self.segment = Some(seg);
            return Err(e);
        }
        // Xen's restore fails over to the last CHECKPOINT: a Remus
        // restore completes the state it has (a COLO one already did).
        self.order = seg.saved;
        if self.order.checkpointed != Checkpointed::Colo {
            self.order.complete(Location::at(e.offset()), strict)?;
        }
        self.report.failover = Some(Failover {
            checkpoints: self.report.segments - 1,
            dropped_segment: self.report.segments - 1,
            dropped_at: if boundary { e.offset() } else { seg.start },
            dropped_records: seg.records,
            reason: if boundary {
                FailoverReason::Boundary
            } else if let Some(d) = seg.deferred {
                FailoverReason::Buffered(Noted::of(&d))
            } else {
                FailoverReason::CutShort(Noted::of(&e))
            },
        });
        self.report.complete = true;
        Ok(None)
    }

    async fn step_segment<I: Input>(
        &mut self,
        reader: &mut Core<I>,
        given: Option<&[u8]>,
    ) -> Result<Option<RecordInfo>, StreamError> {
        if self.report.complete {
            return Ok(None);
        }
        let strict = self.opts.mode == Mode::Strict;
        let before = reader.position();
        self.last = None;
        match self.step_inner(reader, given).await {
            Ok(r) => Ok(r),
            Err(e) => {
                let framing = matches!(
                    e.kind(),
                    ErrorKind::Truncated | ErrorKind::RecordTooLong | ErrorKind::Io
                );
                if framing {
                    let clean = e.offset() == before && e.record().is_none();
                    return self.input_failed(e, clean);
                }
                match self.segment.as_mut() {
                    // Xen's restore meets the error only when it replays
                    // the segment at the next CHECKPOINT.
                    Some(seg) if !strict && e.kind() != ErrorKind::Misuse => {
                        seg.records += 1;
                        // The record the error is about (its header was
                        // read: type errors come from the reader after it).
                        let info = self.last.or(reader.current()).or(e.record().copied());
                        seg.deferred.get_or_insert(std::sync::Arc::new(e));
                        match info {
                            Some(info) => Ok(Some(info)),
                            None => Err(StreamError::Misuse {
                                at: Location::at(before),
                                what: "an error without a record in a buffered segment".into(),
                            }),
                        }
                    }
                    _ => Err(e),
                }
            }
        }
    }

    async fn step_inner<I: Input>(
        &mut self,
        reader: &mut Core<I>,
        given: Option<&[u8]>,
    ) -> Result<Option<RecordInfo>, StreamError> {
        let strict = self.opts.mode == Mode::Strict;
        let max = self.opts.max_warnings;
        let Some(info) = reader.next_header().await? else {
            return Ok(None);
        };
        self.last = Some(info);
        self.report.records += 1;
        let Some(layout) = LibxcRecord::LAYOUT.by_code(info.rtype) else {
            reader.finish_current().await?;
            self.report.unknown_optional += 1;
            *self.report.skipped_by_type.entry(info.rtype).or_insert(0) += 1;
            Self::warn(
                &mut self.report,
                max,
                Warning::SkippedOptional { record: info },
            );
            if let Some(seg) = self.segment.as_mut() {
                if seg.records == 0 {
                    seg.start = info.offset;
                }
                seg.records += 1;
                let e = StreamError::UnknownInCheckpoint {
                    at: Location::record(info),
                    rtype: info.rtype,
                    segment: self.report.segments - 1,
                    checkpoint: 0,
                };
                if rules::BUFFERED_UNKNOWN.applies(strict) {
                    seg.deferred.get_or_insert(std::sync::Arc::new(e));
                }
            }
            return Ok(Some(info));
        };
        if let Some(seg) = self.segment.as_mut() {
            if seg.records == 0 {
                seg.start = info.offset;
            }
            seg.records += 1;
        }
        let order_res;
        let mut table_res = Ok(());
        if info.rtype == LibxcRecord::PAGE_DATA {
            let (_, res1, data_pages) = reader.page_batch().await?;
            let pfns = reader.pfns();
            let reserved = if strict {
                check::check_page_reserved(info, res1, pfns).err()
            } else {
                None
            };
            for (n, c) in self
                .report
                .pages_by_type
                .iter_mut()
                .zip(reader.type_counts())
            {
                *n += c;
            }
            self.report.pfn_entries += pfns.len() as u64;
            self.report.data_pages += data_pages as u64;
            {
                let report = &mut self.report;
                order_res = self
                    .order
                    .record(info, Facts::Pfns(pfns), strict, &mut |w| {
                        Self::warn_or_note(report, max, strict, w)
                    });
            }
            if let Some(max_pfn) = self.order.p2m_max_pfn() {
                table_res = self.page_tables(reader, info, max_pfn).await?;
            }
            reader.finish_current().await?;
            if let Some(e) = reserved {
                return Err(e);
            }
        } else {
            let endian = self.endian;
            let body = match given {
                Some(b) if b.len() as u64 == u64::from(info.length) => {
                    reader.finish_current().await?;
                    b
                }
                Some(b) => {
                    return Err(StreamError::Misuse {
                        at: Location::record(info),
                        what: format!("a body of {} octets given for this record", b.len()),
                    })
                }
                None => reader.read_body().await?,
            };
            check::validate(info, body, endian, self.opts.mode)?;
            if strict && info.rtype == LibxcRecord::DOMAIN_CONTEXT {
                // The blob's own rules, as the generated Python checks them.
                let items = crate::domain_context::verify(body, endian).map_err(|source| {
                    StreamError::DomainContext {
                        at: Location::in_record(info, info.body_offset() + source.offset as u64),
                        source,
                    }
                })?;
                if let Some((at, extra)) = crate::domain_context::after_end(&items, body.len()) {
                    Self::warn(
                        &mut self.report,
                        max,
                        Warning::AfterBlobEnd {
                            record: info,
                            offset: info.body_offset() + at as u64,
                            extra: extra as u64,
                        },
                    );
                }
            }
            if strict && info.rtype == LibxcRecord::HVM_CONTEXT {
                crate::hvm_context::verify(body, endian).map_err(|source| {
                    StreamError::HvmContext {
                        at: Location::in_record(info, info.body_offset() + source.offset as u64),
                        source,
                    }
                })?;
            }
            if check::is_empty_content(layout, body.len()) {
                Self::warn(
                    &mut self.report,
                    max,
                    Warning::EmptyContent { record: info },
                );
            }
            let report = &mut self.report;
            order_res = self
                .order
                .record(info, Facts::Body(body, endian), strict, &mut |w| {
                    Self::warn_or_note(report, max, strict, w)
                });
        }
        if let Some(since) = layout.deprecated.filter(|d| *d > 0) {
            if layout.deprecated_in(self.report.image_header.version) {
                Self::warn(
                    &mut self.report,
                    max,
                    Warning::Deprecated {
                        record: info,
                        since,
                    },
                );
            }
        }
        order_res?;
        table_res?;
        *self.report.records_by_type.entry(info.rtype).or_insert(0) += 1;
        *self.report.bytes_by_type.entry(info.rtype).or_insert(0) += u64::from(info.length);
        if info.rtype == LibxcRecord::CHECKPOINT {
            self.checkpoint(info)?;
        }
        if info.rtype == LibxcRecord::END {
            if let Some(seg) = self.segment.take().filter(|_| !strict) {
                if seg.records > 1 {
                    // Xen's restore never replays the buffered segment:
                    // it completes with the last checkpoint's state.
                    let saved = seg.saved;
                    if saved.checkpointed != Checkpointed::Colo {
                        saved.complete(Location::record(info), strict)?;
                    }
                    self.report.failover = Some(Failover {
                        checkpoints: self.report.segments - 1,
                        dropped_segment: self.report.segments - 1,
                        dropped_at: seg.start,
                        dropped_records: seg.records - 1,
                        reason: match seg.deferred {
                            Some(d) => FailoverReason::Buffered(Noted::of(&d)),
                            None => FailoverReason::EndedWithEnd,
                        },
                    });
                }
            }
            if strict && self.opts.bare && reader.probe_trailing().await? {
                return Err(StreamError::TrailingData {
                    at: Location::at(reader.position()),
                });
            }
            self.report.complete = true;
        }
        Ok(Some(info))
    }

    /// A CHECKPOINT: the segment before it is complete (and replayed, in
    /// lenient mode: its first error surfaces now); the next one is
    /// buffered.
    fn checkpoint(&mut self, info: RecordInfo) -> Result<(), StreamError> {
        if let Some(seg) = self.segment.take() {
            if let Some(e) = seg.deferred {
                let mut e = std::sync::Arc::try_unwrap(e).unwrap_or_else(|a| StreamError::Misuse {
                    at: a.location().clone(),
                    what: a.to_string(),
                });
                if let StreamError::UnknownInCheckpoint { checkpoint, .. } = &mut e {
                    *checkpoint = info.offset;
                }
                return Err(e);
            }
        }
        self.report.segments += 1;
        self.segment = Some(Segment {
            saved: self.order.clone(),
            start: info.end_offset(),
            records: 0,
            deferred: None,
        });
        Ok(())
    }

    /// The page-table pages of a PV PAGE_DATA record, read one by one (at
    /// most up to the last of them; the rest is skipped).
    /// The outer error is the input's (the stream is cut short), the
    /// inner one the rule's.
    async fn page_tables<I: Input>(
        &mut self,
        reader: &mut Core<I>,
        info: RecordInfo,
        max_pfn: u64,
    ) -> Result<Result<(), StreamError>, StreamError> {
        let types: Vec<bool> = reader
            .pfns()
            .iter()
            .filter_map(|e| PageType::of_entry(*e))
            .filter(|t| t.has_data())
            .map(|t| t.is_page_table())
            .collect();
        let Some(last) = types.iter().rposition(|t| *t) else {
            return Ok(Ok(()));
        };
        self.page.resize(PAGE_SIZE, 0);
        let mut first = Ok(());
        for &is_table in &types[..=last] {
            let at = reader.position();
            reader.read_pages(info, &mut self.page).await?;
            if is_table && first.is_ok() {
                first = check_page_table(info, &self.page, at, max_pfn);
            }
        }
        Ok(first)
    }

    /// Verifies every remaining record up to and including END.
    pub fn run<R: Read>(&mut self, reader: &mut StreamReader<R>) -> Result<(), StreamError> {
        while self.step(reader)?.is_some() {}
        Ok(())
    }
}

/// Verifies a whole stream from any [`Read`] (a pipe, a socket): page
/// contents are read through. Wrap unbuffered inputs in a
/// [`std::io::BufReader`].
pub fn verify<R: Read>(input: R, opts: VerifyOptions) -> Result<Report, StreamError> {
    let mut reader = StreamReader::with_options(input, opts.reader_options())?;
    let mut v = Verifier::new(&reader, opts);
    v.run(&mut reader)?;
    Ok(v.into_report())
}

/// Verifies a whole stream from an input that can seek: page contents are
/// skipped with seeks (see [`StreamReader::seekable`]), which makes a file
/// on disk much faster to verify.
///
/// ```
/// use std::io::Cursor;
/// use format_spec::libxc::{DomainType, LibxcRecord};
/// use format_spec::stream::{verify_seekable, StreamWriter, VerifyOptions, WriterOptions};
///
/// let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3))?;
/// w.write(&LibxcRecord::StaticDataEnd)?;
/// let pfns: Vec<u64> = (0..100).collect();
/// w.write_page_data(&pfns, &vec![0u8; 100 * 4096])?;
/// let bytes = w.finish()?;
/// let report = verify_seekable(Cursor::new(bytes), VerifyOptions::strict())?;
/// assert_eq!(report.data_pages, 100);
/// # Ok::<(), format_spec::stream::StreamError>(())
/// ```
pub fn verify_seekable<R: Read + Seek>(
    input: R,
    opts: VerifyOptions,
) -> Result<Report, StreamError> {
    let mut reader = StreamReader::seekable(input, opts.reader_options())?;
    let mut v = Verifier::new(&reader, opts);
    v.run(&mut reader)?;
    Ok(v.into_report())
}
