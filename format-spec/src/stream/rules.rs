//! The verifier's rule table: every rule the libxc stream verifier
//! enforces, with the KIND it reports, the modes that enforce it and its
//! source.
//!
//! A rule's source is one of:
//! * [`Source::Spec`]: a section of the libxc stream specification
//!   (`docs/specs/libxc-migration-stream.pandoc`) and the statement in it;
//! * [`Source::Xen`]: a check of Xen's own restore code, by file and
//!   function in the kit (`../shared/xen-kit/tree/tools/libs/guest`);
//! * [`Source::Definition`]: the definition of a blob format carried in
//!   a record (DOMAIN_CONTEXT's patch series, Xen's `save.h` for
//!   HVM_CONTEXT);
//! * [`Source::Project`]: a rule of this project, with the reason.
//!
//! Lenient mode is what Xen's restore does: a rule enforced leniently has a
//! Xen source or is one a restore cannot avoid (framing). Strict mode is
//! the spec plus the named project rules. Rules Xen leaves to the
//! hypervisor ([`HYPERVISOR_CHECKS`]) are not enforced by either mode; the
//! differential test against Xen's restore lists them as its only
//! exceptions.
//!
//! The rules are referred to by the constants below from the code that
//! checks them ([`super::verify`]), so each rule's statement, modes and
//! source live here once; the error catalogue
//! (`generated/docs/verifier-errors.md`) lists, for each KIND, its rules
//! and their sources.

use super::catalogue::Modes;
use super::error::ErrorKind;
use crate::layout::{FieldLayout, Wire};
use crate::libxc::DomainType;

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The libxc stream specification.
    Spec {
        /// The section (its heading).
        section: &'static str,
        /// The statement of the section the rule implements.
        statement: &'static str,
    },
    /// A check of Xen's restore code.
    Xen {
        /// The file, under `tools/libs/guest/` (or `tools/libs/light/`).
        file: &'static str,
        /// The function holding the check.
        function: &'static str,
    },
    /// Both: the spec states it and Xen's restore checks it.
    SpecAndXen {
        /// The section (its heading).
        section: &'static str,
        /// The statement.
        statement: &'static str,
        /// Xen's file.
        file: &'static str,
        /// Xen's function.
        function: &'static str,
    },
    /// The definition of a record's payload format (a blob carried
    /// whole in one record): the Xen header or patch series that defines
    /// it, not the stream specification.
    Definition {
        /// The document and the part of it.
        document: &'static str,
        /// What it defines that the rule implements.
        statement: &'static str,
    },
    /// A rule of this project.
    Project {
        /// Why the project keeps it.
        reason: &'static str,
    },
}

impl Source {
    /// The source in one line, as the catalogue prints it.
    pub fn describe(&self) -> String {
        match self {
            Source::Spec { section, statement } => format!("spec, {section}: \"{statement}\""),
            Source::Xen { file, function } => format!("Xen's restore, {file} `{function}()`"),
            Source::SpecAndXen {
                section,
                statement,
                file,
                function,
            } => format!("spec, {section}: \"{statement}\"; Xen's restore, {file} `{function}()`"),
            Source::Definition {
                document,
                statement,
            } => format!("definition, {document}: \"{statement}\""),
            Source::Project { reason } => format!("project: {reason}"),
        }
    }
}

/// One rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable name (`pv-info-once`).
    pub name: &'static str,
    /// The KIND a broken rule reports.
    pub kind: ErrorKind,
    /// Which modes enforce it ([`Modes::Both`] or [`Modes::StrictOnly`]).
    pub modes: Modes,
    /// What the rule says.
    pub statement: &'static str,
    /// Where it comes from.
    pub source: Source,
}

impl Rule {
    /// Whether `strict` (strict mode) or lenient mode enforces the rule.
    pub fn applies(&self, strict: bool) -> bool {
        strict || self.modes == Modes::Both
    }
}

const RESTORE: &str = "xg_sr_restore.c";
const PV: &str = "xg_sr_restore_x86_pv.c";
const X86: &str = "xg_sr_common_x86.c";
const HVM: &str = "xg_sr_restore_x86_hvm.c";
/// The spec's section on the records of an x86 PV guest's stream.
pub(crate) const LAYOUT_PV: &str = "Layout: x86 PV Guest";
/// The spec's section on the records of an x86 HVM guest's stream.
pub(crate) const LAYOUT_HVM: &str = "Layout: x86 HVM Guest";

macro_rules! rules {
    ($($(#[doc = $doc:literal])* $id:ident = $name:literal, $kind:ident, $modes:ident, $statement:literal, $source:expr;)*) => {
        $(
            $(#[doc = $doc])*
            pub const $id: Rule = Rule {
                name: $name,
                kind: ErrorKind::$kind,
                modes: Modes::$modes,
                statement: $statement,
                source: $source,
            };
        )*
        /// Every rule of the table, in the order the catalogue lists them.
        pub const RULES: &[Rule] = &[$($id,)*];
    };
}

rules! {
    /// Records of a later version.
    RECORD_VERSION = "record-version", RecordTooNew, ByRule,
        "a record type is not used in a stream older than the version that introduced it; Xen's restore takes STATIC_DATA_END and the CPU policies in any version (lenient mode accepts them), and does not handle DOMAIN_CONTEXT at all",
        Source::Spec { section: "Compatibility with older versions", statement: "v3 compat with v2, v4 compat with v3" };
    /// Empty bodies.
    EMPTY_BODY = "empty-body", BadLength, StrictOnly,
        "END, STATIC_DATA_END, CHECKPOINT and VERIFY have empty bodies; Xen's restore never reads them",
        Source::Spec { section: "END / STATIC_DATA_END / CHECKPOINT / VERIFY", statement: "the record has no body" };
    /// Reserved fields zero.
    RESERVED_ZERO = "reserved-zero", ReservedNonZero, StrictOnly,
        "the fields and bits the layouts mark reserved (the catalogue's summary of the kind lists them) are zero; Xen's restore does not look",
        Source::Spec { section: "Fields", statement: "reserved fields must be zero" };
    /// MSR policy entries' flags zero.
    MSR_FLAGS_ZERO = "msr-policy-flags-zero", ReservedNonZero, StrictOnly,
        "every X86_MSR_POLICY entry has flags 0; the spec only names the entry type, xen_msr_entry_t",
        Source::Project { reason: "Xen's public header declares xen_msr_entry_t.flags \"Reserved MBZ\" (public/arch-x86/xen.h), and the hypervisor refuses a non-zero one when the restore loads the policy (x86_msr_copy_from_buffer, xen/lib/x86/cpu-policy.h), so XEN_DOMCTL_set_cpu_policy fails; Xen's restore itself copies the entries unchecked (lenient mode does not look, a check left to the hypervisor)" };
    /// TOOLSTACK refused.
    TOOLSTACK_REFUSED = "no-toolstack", DeprecatedRecord, Both,
        "no TOOLSTACK record: the spec says it was only for the format's development and should not be used, and Xen's restore has no handler for it (a mandatory record not handled fails the restore)",
        Source::SpecAndXen { section: "TOOLSTACK (deprecated)", statement: "It is should not be used", file: RESTORE, function: "restore" };
    /// HVM_CONTEXT not empty.
    HVM_CONTEXT_NOT_EMPTY = "hvm-context-not-empty", BadLength, Both,
        "HVM_CONTEXT is not empty; the errata ask receivers to tolerate variable-sized records with no content, but Xen's restore refuses this one",
        Source::Xen { file: HVM, function: "handle_hvm_context / update_blob" };
    /// DOMAIN_CONTEXT not empty.
    DOMAIN_CONTEXT_NOT_EMPTY = "domain-context-not-empty", BadLength, Both,
        "DOMAIN_CONTEXT is not empty",
        Source::Project { reason: "a domain context blob holds at least its HEADER and END entries (XEN_DOMCTL_getdomaincontext never returns less), so an empty body carries no domain state; the record replaces SHARED_INFO and X86_TSC_INFO, whose restore refuses bodies of the wrong size, and HVM_CONTEXT, the blob record it follows, is refused empty by Xen's restore (update_blob), so the errata's tolerance of empty variable-sized records is not extended to it" };
    /// A record of the other guest type.
    GUEST_TYPE = "guest-type", WrongGuestType, Both,
        "X86_PV_* records belong to PV streams, HVM_CONTEXT and HVM_PARAMS to HVM streams; Xen's restore handles neither in the other guest's stream (a mandatory record not handled)",
        Source::SpecAndXen { section: "Layout", statement: "x86 PV Guest / x86 HVM Guest", file: RESTORE, function: "restore" };
    /// A second STATIC_DATA_END.
    SDE_ONCE = "static-data-end-once", DuplicateStaticDataEnd, Both,
        "STATIC_DATA_END is sent once (in a version without it, the first PAGE_DATA, or a PV guest's first X86_PV_P2M_FRAMES, stands for it)",
        Source::Xen { file: RESTORE, function: "handle_static_data_end" };
    /// PAGE_DATA and X86_PV_P2M_FRAMES need STATIC_DATA_END first.
    SDE_BEFORE_MEMORY = "static-data-end-before-memory", MissingStaticDataEnd, Both,
        "PAGE_DATA and X86_PV_P2M_FRAMES come after STATIC_DATA_END (in a version without it, after the record that stands in for it)",
        Source::SpecAndXen { section: "STATIC_DATA_END", statement: "the end of the static data", file: RESTORE, function: "handle_page_data" };
    /// The rest of the dynamic state needs STATIC_DATA_END first.
    SDE_BEFORE_STATE = "static-data-end-before-state", MissingStaticDataEnd, StrictOnly,
        "the dynamic records (PAGE_DATA and X86_PV_P2M_FRAMES as above, vCPU state, SHARED_INFO, X86_TSC_INFO, HVM_CONTEXT, HVM_PARAMS, DOMAIN_CONTEXT) come after STATIC_DATA_END, and a stream of a version that has STATIC_DATA_END holds one",
        Source::Spec { section: "Layout", statement: "static data first, then STATIC_DATA_END, then the dynamic state" };
    /// Static records after STATIC_DATA_END.
    STATIC_AFTER_SDE = "static-after-static-data-end", OutOfOrder, StrictOnly,
        "X86_PV_INFO, X86_CPUID_POLICY and X86_MSR_POLICY (static data) come before STATIC_DATA_END",
        Source::Spec { section: "STATIC_DATA_END", statement: "a record of static data is sent before STATIC_DATA_END" };
    /// X86_PV_INFO at most once.
    PV_INFO_ONCE = "pv-info-once", DuplicateRecord, Both,
        "X86_PV_INFO is sent once",
        Source::Xen { file: PV, function: "handle_x86_pv_info" };
    /// X86_PV_P2M_FRAMES and SHARED_INFO need X86_PV_INFO first.
    PV_INFO_FIRST = "pv-info-first", OutOfOrder, Both,
        "X86_PV_P2M_FRAMES and SHARED_INFO come after X86_PV_INFO",
        Source::SpecAndXen { section: LAYOUT_PV, statement: "X86_PV_INFO, X86_PV_P2M_FRAMES, ..., in that order", file: PV, function: "handle_x86_pv_p2m_frames / handle_shared_info" };
    /// vCPU state after the memory.
    PV_VCPU_AFTER_MEMORY = "pv-vcpu-after-memory", OutOfOrder, StrictOnly,
        "a PV guest's vCPU records come after its first PAGE_DATA",
        Source::Spec { section: LAYOUT_PV, statement: "PAGE_DATA, then the vCPU records" };
    /// HVM_PARAMS before HVM_CONTEXT.
    HVM_PARAMS_FIRST = "hvm-params-before-context", OutOfOrder, StrictOnly,
        "in a segment, HVM_PARAMS come before HVM_CONTEXT (in the versions before the rule's, a warning: Xen 4.17 writes those with HVM_PARAMS after)",
        Source::Spec { section: LAYOUT_HVM, statement: "HVM_PARAMS, then HVM_CONTEXT" };
    /// The guest_width/pt_levels pair.
    PV_INFO_PAIR = "pv-info-width-levels", BadValue, Both,
        "X86_PV_INFO pairs guest_width and pt_levels as Xen's restore takes them",
        Source::Xen { file: PV, function: "valid_x86_pv_info_combination" };
    /// X86_PV_P2M_FRAMES range.
    P2M_RANGE = "p2m-frames-range", BadValue, Both,
        "X86_PV_P2M_FRAMES end_pfn is at least start_pfn",
        Source::SpecAndXen { section: "X86_PV_P2M_FRAMES", statement: "start_pfn .. end_pfn (inclusive)", file: PV, function: "handle_x86_pv_p2m_frames" };
    /// X86_PV_P2M_FRAMES frame count.
    P2M_COUNT = "p2m-frames-count", BadLength, Both,
        "X86_PV_P2M_FRAMES holds one frame for each P2M page of start_pfn..end_pfn (a page holds PAGE_SIZE / guest_width entries)",
        Source::SpecAndXen { section: "X86_PV_P2M_FRAMES", statement: "p2m_pfns: the frames of the range", file: PV, function: "handle_x86_pv_p2m_frames" };
    /// A DOMAIN_CONTEXT in each segment.
    DC_PER_SEGMENT = "domain-context-per-segment", MissingDomainContext, StrictOnly,
        "every segment (up to a CHECKPOINT or END) holds a DOMAIN_CONTEXT",
        Source::Project { reason: "DOMAIN_CONTEXT replaces SHARED_INFO and X86_TSC_INFO, which Xen's writer sends in every checkpoint (x86_pv_end_of_checkpoint in xg_sr_save_x86_pv.c); a segment without it leaves the secondary with stale domain state" };
    /// PV pfns within the P2M.
    PV_PFN_IN_P2M = "pv-pfn-in-p2m", PfnBeyondP2m, Both,
        "a PV guest's PAGE_DATA pfns are at most the highest end_pfn of the X86_PV_P2M_FRAMES records so far",
        Source::Xen { file: RESTORE, function: "handle_page_data (pfn_is_valid)" };
    /// vCPU blob sizes.
    PV_VCPU_SIZE = "pv-vcpu-size", BadLength, Both,
        "a non-empty vCPU context has the size Xen's restore takes (X86_PV_VCPU_BASIC: the guest's vcpu_guest_context)",
        Source::Xen { file: PV, function: "handle_x86_pv_vcpu_blob" };
    /// CPU policies not empty.
    POLICY_NOT_EMPTY = "cpu-policy-not-empty", BadLength, Both,
        "X86_CPUID_POLICY and X86_MSR_POLICY hold at least one entry",
        Source::Xen { file: X86, function: "handle_x86_cpuid_policy / handle_x86_msr_policy" };
    /// vCPU0's basic state.
    PV_VCPU0_BASIC = "pv-vcpu0-basic", MissingRecord, Both,
        "a PV stream sends vCPU 0's X86_PV_VCPU_BASIC (non-empty) before it completes",
        Source::Xen { file: PV, function: "update_vcpu_context" };
    /// The PV records the layout requires.
    PV_REQUIRED = "pv-required-records", MissingRecord, StrictOnly,
        "a PV stream holds X86_PV_INFO, X86_PV_P2M_FRAMES, PAGE_DATA and the vCPU records",
        Source::Spec { section: LAYOUT_PV, statement: "the following records must be present" };
    /// CHECKPOINT only in a checkpointed stream.
    CHECKPOINT_STREAM = "checkpoint-in-checkpointed-stream", UnexpectedCheckpoint, Both,
        "CHECKPOINT only appears in a checkpointed (Remus or COLO) stream",
        Source::Xen { file: RESTORE, function: "handle_checkpoint" };
    /// Unknown optional records in a buffered segment.
    BUFFERED_UNKNOWN = "no-unknown-in-buffered-segment", UnknownInCheckpoint, Both,
        "a checkpoint segment after the first holds no record Xen cannot process: Xen buffers the segment and replays it at the next CHECKPOINT, where an unknown record (even an optional one) fails the restore",
        Source::Xen { file: RESTORE, function: "handle_checkpoint" };
    /// The COLO back channel.
    BACK_CHANNEL = "back-channel-only", BackChannelRecord, Both,
        "CHECKPOINT_DIRTY_PFN_LIST travels on the COLO back channel only; Xen's restore does not handle it in the forward stream",
        Source::SpecAndXen { section: "CHECKPOINT_DIRTY_PFN_LIST", statement: "sent from the secondary to the primary", file: RESTORE, function: "restore" };
    /// Memory before X86_PV_P2M_FRAMES.
    CRASH_MEMORY_BEFORE_P2M = "pv-memory-after-p2m", CrashesXenRestore, Both,
        "a PV guest's PAGE_DATA comes after an X86_PV_P2M_FRAMES with end_pfn above 0: before it Xen's restore has no P2M table and writes through a null pointer (segfault)",
        Source::SpecAndXen { section: LAYOUT_PV, statement: "X86_PV_P2M_FRAMES, then PAGE_DATA", file: PV, function: "x86_pv_set_gfn / pfn_to_mfn" };
    /// The first X86_PV_P2M_FRAMES covering pfn 0 only.
    CRASH_EMPTY_P2M = "pv-p2m-not-empty", CrashesXenRestore, Both,
        "the first X86_PV_P2M_FRAMES has end_pfn above 0: with end_pfn 0 Xen's restore never allocates its P2M frame list and writes through a null pointer (segfault)",
        Source::Xen { file: PV, function: "handle_x86_pv_p2m_frames" };
    /// A P2M before the restore completes.
    CRASH_NO_P2M = "pv-p2m-before-completion", CrashesXenRestore, Both,
        "a PV stream that completes (END; each CHECKPOINT of a COLO stream) with vCPU 0's basic state has had an X86_PV_P2M_FRAMES: without one Xen's restore reads page types from a table it never allocated (segfault)",
        Source::SpecAndXen { section: LAYOUT_PV, statement: "the following records must be present", file: PV, function: "process_start_info" };
    /// Page-table entries within the P2M.
    CRASH_PTE_BEYOND_P2M = "pv-pte-in-p2m", CrashesXenRestore, Both,
        "a present entry of a PV page-table page (types L1TAB to L4TAB, pinned or not) names a pfn at most the P2M's end_pfn: Xen's restore looks every such pfn up in its P2M table, an assert in pfn_to_mfn (and, built with NDEBUG, a read past the table's end)",
        Source::Xen { file: PV, function: "x86_pv_localise_page" };
}

/// Checks Xen's restore leaves to the hypervisor (or to the toolstack's
/// domain configuration, or that depend on the restoring host's memory),
/// which neither verifier mode makes: the only
/// differences the differential test against Xen's restore harness
/// accepts. Each is (Xen's message, reason).
pub const HYPERVISOR_CHECKS: &[(&str, &str)] = &[
    (
        "Populate physmap failed",
        "memory above the harness's 4 GiB guest store: whether a pfn can be populated is the hypervisor's decision (XENMEM_populate_physmap)",
    ),
    (
        "Failed to realloc populated bitmap",
        "a pfn so high that the bitmap of populated pfns does not fit in the restoring process's memory: a limit of the host, not of the stream",
    ),
    (
        "exceeds domain max",
        "a vCPU id at or above the domain's vCPU count: the count is the toolstack's domain configuration, not part of the stream",
    ),
    (
        "out of range",
        "pfns inside the vCPU state and start-info page (start info, xenstore, console, CR3, CR1, GDT frames): the contents of the guest's registers, checked against the P2M when the domain is built",
    ),
    (
        "has bad type",
        "the page type of a pfn named by the vCPU state or the P2M frame list: checking it needs the type of every pfn of the guest, memory proportional to the guest, which the verifier's bounded memory excludes; the hypervisor validates page types when it pins and loads them",
    ),
    (
        "has bad mfn",
        "the machine frame behind a pfn: the hypervisor's physmap",
    ),
];

/// The rule a record type's non-empty length rule comes from
/// ([`crate::layout::LengthRule::NonEmpty`]).
pub fn non_empty_rule(code: u32) -> Option<&'static Rule> {
    use crate::libxc::LibxcRecord;
    match code {
        LibxcRecord::HVM_CONTEXT => Some(&HVM_CONTEXT_NOT_EMPTY),
        LibxcRecord::DOMAIN_CONTEXT => Some(&DOMAIN_CONTEXT_NOT_EMPTY),
        LibxcRecord::TOOLSTACK => Some(&TOOLSTACK_REFUSED),
        _ => None,
    }
}

/// The rule a reserved field of a record body comes from: the MSR policy
/// entries' flags ([`MSR_FLAGS_ZERO`]), or [`RESERVED_ZERO`].
pub fn reserved_rule(structure: &str, field: &str) -> &'static Rule {
    if structure == crate::libxc::XenMsrEntry::LAYOUT.rust_name && field == "flags" {
        &MSR_FLAGS_ZERO
    } else {
        &RESERVED_ZERO
    }
}

/// The rules reporting `kind`.
pub fn rules_of(kind: ErrorKind) -> impl Iterator<Item = &'static Rule> {
    RULES.iter().filter(move |r| r.kind == kind)
}

/// The part of a stream a rule on the presence or order of records looks
/// at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole stream, to END.
    Stream,
    /// One segment: up to the next CHECKPOINT or END.
    Segment,
}

/// What a rule on the presence or order of records says. The records are
/// type codes of the libxc record table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderCheck {
    /// The records belong to the streams of one guest type.
    GuestOnly {
        /// That guest type.
        guest: DomainType,
        /// The records.
        records: &'static [u32],
    },
    /// `record` appears at most once in the stream.
    AtMostOnce {
        /// The record.
        record: u32,
    },
    /// No record of `records` comes before the first `first` (in the
    /// stream).
    After {
        /// The record that comes first.
        first: u32,
        /// The records that follow it.
        records: &'static [u32],
    },
    /// No record of `records` comes after a `last` (in the scope).
    NotAfter {
        /// The record they precede.
        last: u32,
        /// The records.
        records: &'static [u32],
        /// Where: the stream, or the segment of `last`.
        scope: Scope,
    },
    /// Every record of `records` is there when the scope ends (END; for a
    /// segment, CHECKPOINT too). The first one missing is named.
    Required {
        /// The records.
        records: &'static [u32],
        /// The stream, or each segment.
        scope: Scope,
    },
    /// `record` only appears in a checkpointed (Remus or COLO) stream.
    CheckpointedOnly {
        /// The record.
        record: u32,
    },
    /// The records travel on the COLO back channel only, never in a
    /// forward stream.
    BackChannelOnly {
        /// The records.
        records: &'static [u32],
    },
}

/// One rule on the presence or order of records: what it says, which
/// streams it applies to, and the [`Rule`] (KIND, modes, source) it
/// reports. The table of them is
/// [`ORDER_RULES`](crate::libxc::ORDER_RULES), next to the record table;
/// the Rust verifier interprets it and the Python generator emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRule {
    /// The rule: its KIND, modes, statement and source.
    pub rule: Rule,
    /// What it checks.
    pub check: OrderCheck,
    /// Only in the streams of this guest type (`None`: every stream).
    pub guest: Option<DomainType>,
    /// The first stream version it applies to.
    pub since: u32,
    /// In a stream older than `since`, breaking it is a warning (Xen's
    /// own writer of those versions does) instead of nothing.
    pub warns_before: bool,
    /// What an error of KIND `OutOfOrder` says.
    pub message: &'static str,
}

impl OrderRule {
    /// Whether the rule applies to a stream of `version` and guest type
    /// `guest` (below `since`, a rule that warns applies as a warning).
    pub fn applies_to(&self, version: u32, guest: DomainType) -> bool {
        self.guest.is_none_or(|g| g == guest) && (version >= self.since || self.warns_before)
    }

    /// Whether breaking it in a stream of `version` is only a warning.
    pub fn only_warns(&self, version: u32) -> bool {
        version < self.since
    }
}

/// Whether `code` travels on the back channel only (a
/// [`OrderCheck::BackChannelOnly`] rule of `table`).
pub fn back_channel_only(table: &[OrderRule], code: u32) -> bool {
    table.iter().any(|r| match r.check {
        OrderCheck::BackChannelOnly { records } => records.contains(&code),
        _ => false,
    })
}

/// How big the context of a record (the octets after its body's fixed
/// part) is when it is not empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextSize {
    /// Exactly the size paired with the guest's width: (guest_width,
    /// octets).
    ByGuestWidth(&'static [(u8, usize)]),
    /// At most this many octets.
    AtMost(usize),
    /// At least this many octets.
    AtLeast(usize),
    /// Whole entries of this many octets.
    Entries(usize),
}

impl ContextSize {
    /// Whether a non-empty context of `size` octets is right for a guest
    /// of width `width`.
    pub fn allows(&self, size: usize, width: u8) -> bool {
        match *self {
            ContextSize::ByGuestWidth(sizes) => by_width(sizes, width) == Some(size),
            ContextSize::AtMost(n) => size <= n,
            ContextSize::AtLeast(n) => size >= n,
            ContextSize::Entries(n) => size.is_multiple_of(n),
        }
    }
}

/// The value `pairs` gives guest width `width`.
pub fn by_width<T: Copy>(pairs: &[(u8, T)], width: u8) -> Option<T> {
    pairs.iter().find(|(w, _)| *w == width).map(|(_, v)| *v)
}

/// What a rule on the values of records says. Fields are those of the
/// record's body layout (the record table's); the records a check looks
/// at are its [`ValueRule::records`].
#[derive(Debug, Clone, Copy)]
pub enum ValueCheck {
    /// The first record sets the guest's width from field `width`; field
    /// `levels` must hold the value `pairs` gives that width (guest_width,
    /// pt_levels).
    WidthLevels {
        /// The guest width field.
        width: &'static FieldLayout,
        /// The field paired with it.
        levels: &'static FieldLayout,
        /// The allowed pairs.
        pairs: &'static [(u8, u8)],
    },
    /// Field `end` is at least field `start`.
    Range {
        /// The first pfn.
        start: &'static FieldLayout,
        /// The last pfn (inclusive).
        end: &'static FieldLayout,
    },
    /// The trailing array holds one entry for each P2M frame of
    /// `start..=end`, a frame holding [`PAGE_SIZE`](crate::libxc::PAGE_SIZE)
    /// / guest width pfns.
    Frames {
        /// The first pfn.
        start: &'static FieldLayout,
        /// The last pfn (inclusive).
        end: &'static FieldLayout,
    },
    /// The record extends the P2M up to field `end`; the first one has it
    /// above 0.
    P2mEnd {
        /// The last pfn of the P2M (inclusive).
        end: &'static FieldLayout,
    },
    /// A non-empty context has the size its record's entry says.
    ContextSizes {
        /// (record, size rule).
        sizes: &'static [(u32, ContextSize)],
    },
    /// The body is not empty.
    NotEmpty,
    /// The record comes after a record `p2m` has made the P2M.
    AfterP2m {
        /// The record that makes the P2M.
        p2m: u32,
    },
    /// Every pfn entry names a pfn within the P2M.
    PfnsInP2m,
    /// Every present entry of a page-table page (the page types that are
    /// page tables) names a pfn within the P2M.
    PtesInP2m {
        /// The present bit of an entry.
        present: u64,
        /// The frame bits (shifted down by the page shift: the pfn).
        frame_mask: u64,
    },
    /// When the stream completes, a record with a non-empty context and
    /// field `vcpu` 0 (vCPU 0's basic state) has been seen.
    Vcpu0AtCompletion {
        /// The vCPU id field.
        vcpu: &'static FieldLayout,
        /// What the stream lacks without it, as an error names it.
        missing: &'static str,
    },
    /// When the stream completes (with vCPU 0's state), a record `p2m`
    /// has made the P2M.
    P2mAtCompletion {
        /// The record that makes the P2M.
        p2m: u32,
    },
}

/// One rule on the values of records: what it checks, in which streams,
/// and the [`Rule`] (KIND, modes, source) it reports. The table of them is
/// [`VALUE_RULES`](crate::libxc::VALUE_RULES), next to the record table;
/// the Rust verifier interprets it and the Python generator emits it.
#[derive(Debug, Clone, Copy)]
pub struct ValueRule {
    /// The rule: its KIND, modes, statement and source.
    pub rule: Rule,
    /// Only in the streams of this guest type (`None`: every stream).
    pub guest: Option<DomainType>,
    /// The records it looks at.
    pub records: &'static [u32],
    /// What it checks.
    pub check: ValueCheck,
}

impl ValueRule {
    /// Whether it applies to the records of a stream of guest type `guest`.
    pub fn applies_to(&self, guest: DomainType) -> bool {
        self.guest.is_none_or(|g| g == guest)
    }

    /// The values the rule holds, in words, for the catalogue (`None`
    /// for a rule without any).
    pub fn values(&self) -> Option<String> {
        let name = |code: u32| {
            crate::libxc::LibxcRecord::LAYOUT
                .by_code(code)
                .map_or("?", |l| l.spec_name)
        };
        match self.check {
            ValueCheck::WidthLevels {
                width,
                levels,
                pairs,
            } => {
                let mut pairs = pairs.to_vec();
                pairs.sort_unstable();
                let words: Vec<String> = pairs
                    .iter()
                    .map(|(w, l)| format!("{} {w} with {} {l}", width.name, levels.name))
                    .collect();
                Some(words.join(" and "))
            }
            ValueCheck::ContextSizes { sizes } => {
                let words: Vec<String> = sizes
                    .iter()
                    .map(|&(code, size)| format!("{} {}", name(code), size.describe()))
                    .collect();
                Some(words.join("; "))
            }
            _ => None,
        }
    }

    /// The rule's statement, with the values it holds.
    pub fn statement(&self) -> String {
        match self.values() {
            Some(v) => format!("{}: {v}", self.rule.statement),
            None => self.rule.statement.to_string(),
        }
    }
}

impl ContextSize {
    /// The size rule in words (`at most 128 octets`).
    pub fn describe(&self) -> String {
        match *self {
            ContextSize::ByGuestWidth(sizes) => {
                let words: Vec<String> = sizes
                    .iter()
                    .map(|(w, n)| format!("{n} octets for guest_width {w}"))
                    .collect();
                words.join(", ")
            }
            ContextSize::AtMost(n) => format!("at most {n} octets"),
            ContextSize::AtLeast(n) => format!("at least {n} octets"),
            ContextSize::Entries(n) => format!("whole {n}-octet entries"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `statement` names record `code`: by its spec name (a
    /// whole token), or by the word the statements use for a set of
    /// records it belongs to (`X86_PV_*`, `vCPU`).
    fn names(statement: &str, code: u32) -> bool {
        use crate::libxc::{LibxcRecord, PV_ONLY_RECORDS, PV_VCPU_RECORDS};
        let name = LibxcRecord::LAYOUT.name_of(code);
        let token = statement
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|t| t == name);
        let sets: [(&[u32], &str); 2] = [(PV_ONLY_RECORDS, "X86_PV_*"), (PV_VCPU_RECORDS, "vCPU")];
        token
            || sets
                .iter()
                .any(|(set, word)| set.contains(&code) && statement.contains(word))
    }

    #[test]
    fn each_rule_statement_names_the_records_its_table_entry_holds() {
        use crate::layout::LengthRule;
        use crate::libxc::{LibxcRecord, ORDER_RULES};
        // A record added to an order rule's sets, or a record without a
        // body, in the description fails here until the prose names it.
        let (mut checked, mut missing) = (0, Vec::new());
        for o in ORDER_RULES {
            let mut codes: Vec<u32> = Vec::new();
            match o.check {
                OrderCheck::GuestOnly { records, .. }
                | OrderCheck::Required { records, .. }
                | OrderCheck::BackChannelOnly { records } => codes.extend(records),
                OrderCheck::AtMostOnce { record } | OrderCheck::CheckpointedOnly { record } => {
                    codes.push(record)
                }
                OrderCheck::After { first, records } => {
                    codes.push(first);
                    codes.extend(records);
                }
                OrderCheck::NotAfter { last, records, .. } => {
                    codes.push(last);
                    codes.extend(records);
                }
            }
            for c in codes {
                if !names(o.rule.statement, c) {
                    missing.push(format!(
                        "{}: {}",
                        o.rule.name,
                        LibxcRecord::LAYOUT.name_of(c)
                    ));
                }
                checked += 1;
            }
        }
        for r in LibxcRecord::LAYOUT.records {
            if matches!(r.length, LengthRule::Exact(0)) {
                if !names(EMPTY_BODY.statement, r.code) {
                    missing.push(format!("{}: {}", EMPTY_BODY.name, r.spec_name));
                }
                checked += 1;
            }
        }
        assert!(
            missing.is_empty(),
            "statements missing records:\n{}",
            missing.join("\n")
        );
        assert!(checked > 20, "{checked}");
    }

    #[test]
    fn rules_beyond_the_spec_state_their_source() {
        use crate::libxc::LibxcRecord;
        assert_eq!(
            reserved_rule("XenMsrEntry", "flags").name,
            "msr-policy-flags-zero"
        );
        assert_eq!(reserved_rule("X86PvInfo", "_res").name, "reserved-zero");
        for code in [
            LibxcRecord::HVM_CONTEXT,
            LibxcRecord::DOMAIN_CONTEXT,
            LibxcRecord::TOOLSTACK,
        ] {
            let r = non_empty_rule(code).expect("a rule");
            assert_eq!(r.modes, Modes::Both, "{}", r.name);
            assert!(!matches!(r.source, Source::Spec { .. }), "{}", r.name);
        }
        // Every project rule says why.
        for r in RULES {
            if let Source::Project { reason } = r.source {
                assert!(reason.len() > 40, "{}", r.name);
            }
        }
    }

    #[test]
    fn rule_names_are_unique_and_rules_are_format_rules() {
        let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
        for r in RULES {
            assert_ne!(r.modes, Modes::NotARule, "{}", r.name);
            assert!(!r.statement.is_empty());
        }
    }
}
