//! `libxc.py`: the names, values, formats and record tables of the libxc
//! stream, and `VerifyLibxc`.

use std::fmt::Write as _;

use format_spec::layout::Wire;
use format_spec::layout::{ConstLayout, Constraint, RecordLayout, SpecEnum};
use format_spec::libxc::{
    v2_static_data_end_at, BACK_CHANNEL_RECORDS, DYNAMIC_RECORDS, HVM_ONLY_RECORDS,
    PAGE_DATA_TYPE_SHIFT, PAGE_SIZE, PV_DEFAULT_GUEST_WIDTH, PV_ONLY_RECORDS, PV_PTE_FRAME_MASK,
    PV_PTE_PRESENT, PV_REQUIRED_RECORDS, PV_VCPU_BASIC_SIZE, PV_VCPU_EXTENDED_MAX,
    PV_VCPU_MSR_ENTRY, PV_VCPU_RECORDS, PV_VCPU_XSAVE_MIN, PV_WIDTH_LEVELS, SDE_CHECKED_RECORDS,
    STATIC_RECORDS,
};
use format_spec::libxc::{
    DomainHeader, DomainType, ImageHeader, LibxcRecord, PageType, RecordHeader, LIBXC_CONSTANTS,
    LIBXC_STRUCTS, PAGE_SHIFT, PAGE_TYPES_WITHOUT_DATA, SUPPORTED_VERSIONS,
};

use format_spec::stream::{ErrorKind, PythonClass};

use super::banner;
use super::emit::*;
use super::records::*;

pub(super) fn record(code: u32) -> &'static RecordLayout {
    LibxcRecord::LAYOUT
        .by_code(code)
        .unwrap_or_else(|| panic!("record type 0x{code:x} is not in the table"))
}

/// The Python name of a record type (`REC_TYPE_page_data`).
pub(super) fn rec(code: u32) -> &'static str {
    record(code).py_name
}

/// The Python name of a constant, looked up by its Rust name.
pub(super) fn const_py(rust_name: &str) -> &'static str {
    let c: &ConstLayout = LIBXC_CONSTANTS
        .iter()
        .find(|c| c.rust_name == rust_name)
        .unwrap_or_else(|| panic!("no constant {rust_name}"));
    c.py_name.or(c.c_name).expect("constant has a name")
}

pub(super) fn py_set(codes: &[u32]) -> String {
    let mut codes = codes.to_vec();
    codes.sort_unstable();
    let names: Vec<&str> = codes.iter().map(|&c| rec(c)).collect();
    let mut s = String::from("frozenset([\n");
    for n in names {
        writeln!(s, "    {n},").unwrap();
    }
    s.push_str("])");
    s
}

/// The libxc layer.
pub(super) const LIBXC: Layer = Layer {
    class: "VerifyLibxc",
    set: &LibxcRecord::LAYOUT,
    consts: LIBXC_CONSTANTS,
    group: true,
    warn_empty: true,
    length_error_at_header: true,
};

pub(super) fn libxc_py() -> String {
    // Facts the description states twice must agree.
    let version_rule = ImageHeader::LAYOUT.field("version").expect("version field");
    match version_rule.constraint {
        Constraint::OneOf(v) => assert_eq!(
            v,
            SUPPORTED_VERSIONS.map(u64::from).as_slice(),
            "ImageHeader.version and SUPPORTED_VERSIONS disagree"
        ),
        _ => panic!("ImageHeader.version has no allowed-values rule"),
    }
    match DomainHeader::LAYOUT
        .field("page_shift")
        .expect("page_shift")
        .constraint
    {
        Constraint::OneOf(v) => assert_eq!(v, &[u64::from(PAGE_SHIFT)]),
        _ => panic!("DomainHeader.page_shift has no allowed-values rule"),
    }

    let mut s = banner();
    s.push_str(
        "\n\"\"\"\nLibxc migration streams (the domain image format, revisions 2 to 4).\n\n\
         Names, values, struct formats and record tables of\n\
         docs/specs/libxc-migration-stream.pandoc, and VerifyLibxc, a strict\n\
         verifier of either byte order.\n\"\"\"\n\n",
    );
    s.push_str("from struct import unpack\n\n");
    s.push_str(
        "from xen.migration.verify import StreamError, RecordError, VerifyBase, \\\n    iter_unpack\n",
    );
    s.push_str(
        "from xen.migration.domain_context import DomainContextError, verify_blob, \\\n    describe_entry\n",
    );
    s.push_str(
        "from xen.migration.hvm_context import HvmContextError, \\\n    verify_blob as verify_hvm_blob, describe_entry as describe_hvm_entry\n\n",
    );

    // Constants.
    s.push_str("#\n# Constants\n#\n\n");
    emit_consts(&mut s, LIBXC_CONSTANTS);
    s.push_str("# Image versions this module reads.\n");
    let versions: Vec<String> = SUPPORTED_VERSIONS.iter().map(|v| v.to_string()).collect();
    writeln!(s, "IHDR_SUPPORTED_VERSIONS = ({})\n", versions.join(", ")).unwrap();
    s.push_str("# Page size of every guest, as a power of two.\n");
    writeln!(s, "PAGE_SHIFT = {PAGE_SHIFT}\n").unwrap();

    // Struct formats.
    s.push_str("#\n# Struct formats (without byte-order prefix unless fixed)\n#\n\n");
    emit_formats(&mut s, LIBXC_STRUCTS);

    // Domain types.
    s.push_str("#\n# Domain types\n#\n\n");
    emit_enum(&mut s, &DomainType::LAYOUT, 8);

    // Page types.
    s.push_str("#\n# Page types of PAGE_DATA pfn entries (already shifted into place)\n#\n\n");
    emit_enum(&mut s, &PageType::LAYOUT, 0);
    let type_name = |v: u64| {
        PageType::LAYOUT
            .variant(v)
            .and_then(|x| x.py_name)
            .expect("page type has a Python name")
    };
    s.push_str("# Every valid page type.\n");
    writeln!(s, "PAGE_DATA_VALID_TYPES = frozenset([").unwrap();
    for v in PageType::LAYOUT.variants {
        writeln!(s, "    {},", type_name(v.value)).unwrap();
    }
    s.push_str("])\n\n");
    s.push_str("# Page types whose pfn entries have no page contents in the record.\n");
    writeln!(s, "PAGE_DATA_TYPES_WITHOUT_DATA = frozenset([").unwrap();
    for t in PAGE_TYPES_WITHOUT_DATA {
        writeln!(s, "    {},", type_name(t.value())).unwrap();
    }
    s.push_str("])\n\n");

    // Record types.
    s.push_str("#\n# Record types\n#\n\n");
    let width = LibxcRecord::LAYOUT
        .records
        .iter()
        .map(|r| r.py_name.len())
        .max()
        .unwrap_or(0);
    for r in LibxcRecord::LAYOUT.records {
        writeln!(s, "{:<width$} = 0x{:08x}", r.py_name, r.code).unwrap();
    }
    s.push_str("\nrec_type_to_str = {\n");
    for r in LibxcRecord::LAYOUT.records {
        writeln!(s, "    {:<width$} : \"{}\",", r.py_name, r.human).unwrap();
    }
    s.push_str("}\n\n");
    s.push_str("# The image version that introduced each record type.\n");
    s.push_str("REC_TYPE_SINCE = {\n");
    for r in LibxcRecord::LAYOUT.records {
        writeln!(s, "    {:<width$} : {},", r.py_name, r.since).unwrap();
    }
    s.push_str("}\n\n");
    s.push_str(
        "# Deprecated record types: the image version from which each is\n\
         # deprecated (0: never valid in a stream).\n",
    );
    s.push_str("REC_TYPE_DEPRECATED = {\n");
    for r in LibxcRecord::LAYOUT.records {
        if let Some(d) = r.deprecated {
            writeln!(s, "    {:<width$} : {},", r.py_name, d).unwrap();
        }
    }
    s.push_str("}\n\n");

    // Order-rule sets.
    s.push_str("# Dynamic state: a v3+ stream must carry STATIC_DATA_END before these.\n");
    writeln!(
        s,
        "RECORDS_AFTER_STATIC_DATA_END = {}\n",
        py_set(DYNAMIC_RECORDS)
    )
    .unwrap();
    s.push_str("# Records only an x86 PV stream may carry.\n");
    writeln!(s, "RECORDS_PV_ONLY = {}\n", py_set(PV_ONLY_RECORDS)).unwrap();
    s.push_str("# Records only an x86 HVM stream may carry.\n");
    writeln!(s, "RECORDS_HVM_ONLY = {}\n", py_set(HVM_ONLY_RECORDS)).unwrap();
    s.push_str("# The X86_PV_VCPU_* records.\n");
    writeln!(s, "RECORDS_PV_VCPU = {}\n", py_set(PV_VCPU_RECORDS)).unwrap();
    s.push_str("# Records only the COLO back channel (secondary to primary) carries.\n");
    writeln!(
        s,
        "RECORDS_BACK_CHANNEL = {}\n",
        py_set(BACK_CHANNEL_RECORDS)
    )
    .unwrap();
    s.push_str("# Static data: sent before STATIC_DATA_END.\n");
    writeln!(s, "RECORDS_STATIC = {}\n", py_set(STATIC_RECORDS)).unwrap();
    s.push_str("# Records Xen's restore refuses before STATIC_DATA_END (in any version).\n");
    writeln!(s, "RECORDS_SDE_CHECKED = {}\n", py_set(SDE_CHECKED_RECORDS)).unwrap();
    s.push_str("# The records a PV stream must hold, in the order they are named when missing.\n");
    s.push_str("RECORDS_PV_REQUIRED = (\n");
    for &c in PV_REQUIRED_RECORDS {
        writeln!(s, "    {},", rec(c)).unwrap();
    }
    s.push_str(")\n\n");
    s.push_str(
        "# Xen's restore rules for PV records (format_spec::libxc): pt_levels by\n\
         # guest_width, vCPU basic context size by guest_width, the width before\n\
         # X86_PV_INFO, the extended/xsave/MSR context limits.\n",
    );
    let pairs = |v: &[(u8, String)]| {
        v.iter()
            .map(|(k, x)| format!("{k}: {x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let levels: Vec<(u8, String)> = PV_WIDTH_LEVELS
        .iter()
        .map(|(w, l)| (*w, l.to_string()))
        .collect();
    writeln!(s, "PV_WIDTH_LEVELS = {{{}}}", pairs(&levels)).unwrap();
    let sizes: Vec<(u8, String)> = PV_VCPU_BASIC_SIZE
        .iter()
        .map(|(w, z)| (*w, z.to_string()))
        .collect();
    writeln!(s, "PV_VCPU_BASIC_SIZE = {{{}}}", pairs(&sizes)).unwrap();
    writeln!(s, "PV_DEFAULT_GUEST_WIDTH = {PV_DEFAULT_GUEST_WIDTH}").unwrap();
    writeln!(s, "PV_VCPU_EXTENDED_MAX = {PV_VCPU_EXTENDED_MAX}").unwrap();
    writeln!(s, "PV_VCPU_XSAVE_MIN = {PV_VCPU_XSAVE_MIN}").unwrap();
    writeln!(s, "PV_VCPU_MSR_ENTRY = {PV_VCPU_MSR_ENTRY}\n").unwrap();
    s.push_str("# PV page-table entries: the present bit and the frame bits.\n");
    writeln!(s, "PV_PTE_PRESENT = 0x{PV_PTE_PRESENT:x}").unwrap();
    writeln!(s, "PV_PTE_FRAME_MASK = 0x{PV_PTE_FRAME_MASK:x}\n").unwrap();
    s.push_str("# Page types (shifted into place) of page-table pages.\n");
    let tables: Vec<String> = PageType::LAYOUT
        .variants
        .iter()
        .filter(|v| PageType::from_value(v.value).is_some_and(|t| t.is_page_table()))
        .map(|v| format!("0x{:x}", v.value << PAGE_DATA_TYPE_SHIFT))
        .collect();
    s.push_str("PAGE_DATA_TABLE_TYPES = frozenset([\n");
    for t in &tables {
        writeln!(s, "    {t},").unwrap();
    }
    s.push_str("])\n\n");
    s.push_str(
        "# Version 2 has no STATIC_DATA_END: a receiver infers it at the first\n\
         # record of this type, by guest type.\n",
    );
    s.push_str("V2_STATIC_DATA_END_AT = {\n");
    for d in DomainType::LAYOUT.variants {
        let ty = DomainType::from_value(d.value).expect("variant of the enum");
        writeln!(
            s,
            "    {}: {},",
            d.py_name.expect("domain types have Python names"),
            rec(v2_static_data_end_at(ty))
        )
        .unwrap();
    }
    s.push_str("}\n\n");
    s.push_str(
        "# The exception class of each error KIND raised about a record (the error\n\
         # catalogue of format-spec).\n",
    );
    s.push_str("ERROR_CLASS = {\n");
    for k in ErrorKind::ALL {
        match k.python_class(true) {
            Some(c) if c != PythonClass::TruncatedError => {
                writeln!(s, "    \"{}\": {},", k.as_str(), c.as_str()).unwrap()
            }
            _ => {}
        }
    }
    s.push_str("}\n\n");

    s.push_str(&verifier_class());
    s.push_str(&record_verifiers(&LIBXC));
    s
}

pub(super) fn verifier_class() -> String {
    let mut s = String::new();
    let pv = DomainType::X86Pv.value();
    let opt_be = const_py("IHDR_OPT_BIG_ENDIAN");
    let ihdr_items = items(&ImageHeader::LAYOUT);
    let version_var = &ihdr_items
        .iter()
        .find(|i| i.label == "version")
        .expect("version")
        .var;
    let options_var = &ihdr_items
        .iter()
        .find(|i| i.label == "options")
        .expect("options")
        .var;
    let dhdr_items = items(&DomainHeader::LAYOUT);
    let dvar = |n: &str| {
        dhdr_items
            .iter()
            .find(|i| i.label == n)
            .unwrap_or_else(|| panic!("DomainHeader.{n}"))
            .var
            .clone()
    };
    let rh_size = RecordHeader::LAYOUT.size;

    write!(
        s,
        r#"

class VerifyLibxc(VerifyBase):
    """
    Verify one libxc stream (image versions 2 to 4, either byte order) in
    strict mode: header fields, record framing and padding, body lengths,
    reserved fields, allowed values and the order rules. Stops after the
    END record. Errors carry ``kind`` and ``offset`` (see
    xen.migration.verify).
    """

    def __init__(self, info, read, checkpointed=None):
        VerifyBase.__init__(self, info, read)

        # None: not known (a CHECKPOINT makes the stream checkpointed);
        # False: a plain stream; "remus" or "colo".
        self.checkpointed = checkpointed
        self.version = None
        self.endian = "<"
        self.byteorder = "little"
        self.guest_type = None
        self.record_index = -1
        self.record_offset = 0
        self.record_type = None
        self.squashed_pagedata_records = 0

        # Order state, for the whole stream...
        self.seen_static_data_end = False
        self.seen_pv_info = False
        self.seen_p2m_frames = False
        self.seen_page_data = False
        self.pv_info_offset = None
        self.guest_width = None
        self.p2m_max_pfn = None
        self.seen_vcpu_basic = False
        self.vcpu0_basic = False
        self.checkpoints = 0
        self.after_checkpoint = False
        # ... and for the current segment (up to a CHECKPOINT or the END).
        self.segment_domain_context = False
        self.segment_hvm_context = False
        # An unknown record in a segment after a CHECKPOINT: Xen's restore
        # fails on it when it replays the segment at the next CHECKPOINT.
        self.segment_unknown = None


    def verify(self):
        """Verify a whole libxc stream, up to and including its END record."""

        self.verify_ihdr()
        self.verify_dhdr()

        while True:
            rtype = self.verify_record()
            if rtype is None or rtype == {end}:
                break


    def _where(self):
        """Context of the current record, for messages."""
        if self.record_type is None:
            return ""
        return ("record %d (%s, type 0x%08x) at offset %d: "
                % (self.record_index,
                   rec_type_to_str.get(self.record_type, "unknown"),
                   self.record_type, self.record_offset))


    def _stream_error(self, kind, msg):
        """Raise the KIND's error about the current record, at its header."""
        raise ERROR_CLASS[kind](self._where() + msg, kind, self.record_offset)


    def _record_error(self, kind, msg, body_offset=0):
        """Raise the KIND's error about the current record's body."""
        raise ERROR_CLASS[kind](self._where() + msg, kind,
                          self.record_offset + {rh_size} + body_offset)


    def _warn(self, msg):
        """Pass a warning to info."""
        self.info("Warning: " + self._where() + msg)


    def _flush_squashed(self):
        """Report a run of PAGE_DATA records as one message."""
        if self.squashed_pagedata_records > 0:
            self.info("Squashed %d Page Data records together"
                      % (self.squashed_pagedata_records, ))
            self.squashed_pagedata_records = 0


"#,
        end = rec(LibxcRecord::END),
    )
    .unwrap();

    // Image header.
    let mut ih = String::new();
    header_method(
        &mut ih,
        "verify_ihdr",
        &ImageHeader::LAYOUT,
        "image header",
        LIBXC_CONSTANTS,
    );
    s.push_str(&ih);
    write!(
        s,
        r#"
        self.version = {version_var}
        if {options_var} & {opt_be}:
            self.endian, self.byteorder = ">", "big"
        else:
            self.endian, self.byteorder = "<", "little"
        self.info("Libxc Image Header: Version %d, %s endian"
                  % (self.version, self.byteorder))


"#
    )
    .unwrap();

    // Domain header.
    let mut dh = String::new();
    header_method(
        &mut dh,
        "verify_dhdr",
        &DomainHeader::LAYOUT,
        "domain header",
        LIBXC_CONSTANTS,
    );
    s.push_str(&dh);
    write!(
        s,
        r#"
        self.guest_type = {ty}
        if {major} == 0:
            self.info("Domain Header: legacy converted %s"
                      % (dhdr_type_to_str[{ty}], ))
        else:
            self.info("Domain Header: %s from Xen %d.%d"
                      % (dhdr_type_to_str[{ty}], {major}, {minor}))


"#,
        ty = dvar("type"),
        major = dvar("xen_major"),
        minor = dvar("xen_minor"),
    )
    .unwrap();

    // Framing.
    let sde = record(LibxcRecord::STATIC_DATA_END);
    let dc = record(LibxcRecord::DOMAIN_CONTEXT);
    write!(
        s,
        r#"    def verify_record(self):
        """
        Verify one record: framing (length, type, padding), then its body,
        then the order rules. Returns the record type.
        """

        self.record_index += 1
        self.record_offset = self.offset
        self.record_type = None
        try:
            rtype, length = self.unpack_exact(self.endian + RH_FORMAT)
        except IOError as e:
            # A checkpointed stream may end right after a CHECKPOINT: the
            # checkpoint boundary at which Xen's restore completes.
            at = getattr(e, "offset", None)
            if self.after_checkpoint and at == self.record_offset:
                self.info("Stream ends at a checkpoint boundary after %d "
                          "checkpoints" % (self.checkpoints, ))
                return None
            raise
        self.after_checkpoint = False
        self.record_type = rtype

        if length > REC_LENGTH_MAX:
            self._stream_error("RecordTooLong",
                               "length %d is over the %d-octet limit"
                               % (length, REC_LENGTH_MAX))

        if rtype not in rec_type_to_str:
            if rtype & REC_TYPE_OPTIONAL:
                self._read_content(length)
                self._flush_squashed()
                self._warn("unknown optional record of length %d skipped"
                           % (length, ))
                if self.checkpoints and self.segment_unknown is None:
                    self.segment_unknown = (self.record_offset, rtype)
                return rtype
            self._stream_error("UnknownMandatory",
                               "unknown mandatory record type")

        if REC_TYPE_SINCE[rtype] > self.version:
            self._stream_error("RecordTooNew",
                               "record type introduced in version %d, "
                               "the stream is version %d"
                               % (REC_TYPE_SINCE[rtype], self.version))

        deprecated = REC_TYPE_DEPRECATED.get(rtype)
        if deprecated == 0:
            self._stream_error("DeprecatedRecord",
                               "record type is not valid in any stream")

        if rtype in RECORDS_BACK_CHANNEL:
            self._stream_error("BackChannelRecord",
                               "record type only belongs on the back channel")

        content = self._read_content(length)

        if rtype != {page_data}:
            self._flush_squashed()
            self.info("Libxc Record: %s, length %d"
                      % (rec_type_to_str[rtype], length))
        else:
            self.squashed_pagedata_records += 1

        if deprecated is not None and self.version >= deprecated:
            self._warn("deprecated in version %d streams" % (self.version, ))

        record_verifiers[rtype](self, content)
        self.verify_order(rtype, content)
        if rtype == {page_data}:
            self.verify_page_tables(content)
        if rtype == {checkpoint}:
            self.checkpoints += 1
            self.after_checkpoint = True
            if self.segment_unknown is not None:
                at, unknown = self.segment_unknown
                raise StreamError(
                    "record type 0x%08x at offset %d: unknown record in a "
                    "checkpoint segment; Xen's restore fails on it when it "
                    "replays the segment at the CHECKPOINT at offset %d"
                    % (unknown, at, self.record_offset),
                    "UnknownInCheckpoint", at)

        if rtype == {end}:
            self._flush_squashed()
        return rtype


    def _read_content(self, length):
        """Read a record body and its padding; check the padding is zero."""

        padded = (length + REC_ALIGN - 1) & ~(REC_ALIGN - 1)
        content = self.rdexact(padded)
        padding = content[length:]
        if padding.strip(b"\x00"):
            first = length + len(padding) - len(padding.lstrip(b"\x00"))
            at = self.record_offset + {rh_size} + first
            raise ERROR_CLASS["PaddingNonZero"](
                self._where() + "non-zero padding octet at offset %d" % (at, ),
                "PaddingNonZero", at)
        return content[:length]


    def verify_order(self, rtype, content):
        """
        Strict order rules and the rules of Xen's record handlers, checked
        after the record's body (format_spec::stream::rules).
        """

        version = self.version
        pv = self.guest_type == {pv}
        foreign = RECORDS_HVM_ONLY if pv else RECORDS_PV_ONLY

        if rtype in foreign:
            self._stream_error("WrongGuestType",
                               "record does not belong in a %s stream"
                               % (dhdr_type_to_str[self.guest_type], ))

        if rtype == {sde_name}:
            if self.seen_static_data_end:
                self._stream_error("DuplicateStaticDataEnd",
                                   "second STATIC_DATA_END")
            self.seen_static_data_end = True
        else:
            if (rtype == V2_STATIC_DATA_END_AT[self.guest_type]
                    or (pv and rtype in RECORDS_SDE_CHECKED)):
                self._infer_static_data_end()
            if (not self.seen_static_data_end
                    and rtype in RECORDS_AFTER_STATIC_DATA_END
                    and (rtype in RECORDS_SDE_CHECKED or version >= {sde_since})):
                self._stream_error("MissingStaticDataEnd",
                                   "dynamic state before STATIC_DATA_END")
            if (self.seen_static_data_end and rtype in RECORDS_STATIC
                    and rtype not in foreign):
                self._stream_error("OutOfOrder",
                                   "static data after STATIC_DATA_END")

        if pv:
            self._verify_pv(rtype, content)
        elif rtype == {hvm_params}:
            if self.segment_hvm_context:
                # Required from version {dc_since}; Xen's own v3 saver
                # writes this order, so older streams only warn.
                if version >= {dc_since}:
                    self._stream_error("OutOfOrder",
                                       "HVM_PARAMS after HVM_CONTEXT")
                self._warn("HVM_PARAMS after HVM_CONTEXT")

        if len(content) == 0 and rtype in ({cpuid},
                                           {msr}):
            self._stream_error("BadLength",
                               "a CPU policy holds at least one entry")

        if rtype == {page_data}:
            self.seen_page_data = True
        elif rtype == {hvm_context}:
            self.segment_hvm_context = True
        elif rtype == {dc_name}:
            self.segment_domain_context = True

        if rtype == {checkpoint} and self.checkpointed is False:
            self._stream_error("UnexpectedCheckpoint",
                               "CHECKPOINT in a stream that is not "
                               "checkpointed")
        # Xen's restore completes at END, a COLO restore at each CHECKPOINT.
        if self.checkpointed == "colo":
            completes = rtype == {checkpoint}
        else:
            completes = rtype == {end}
        if completes and pv:
            if not self.vcpu0_basic:
                self._stream_error("MissingRecord",
                                   "the stream has no X86_PV_VCPU_BASIC "
                                   "for vCPU 0")
            if self.p2m_max_pfn is None:
                self._record_error_at("CrashesXenRestore",
                                      "the stream completes without any "
                                      "X86_PV_P2M_FRAMES; Xen's restore would "
                                      "segfault", self.record_offset)
        if rtype == {end} and pv:
            seen = (self.pv_info_offset is not None, self.seen_p2m_frames,
                    self.seen_page_data, self.seen_vcpu_basic)
            for required, present in zip(RECORDS_PV_REQUIRED, seen):
                if not present:
                    self._stream_error("MissingRecord", "the stream has no %s"
                                       % (rec_type_to_str[required], ))

        if rtype in ({checkpoint}, {end}):
            if (rtype == {end} and version >= {sde_since}
                    and not self.seen_static_data_end):
                self._stream_error("MissingStaticDataEnd",
                                   "stream ends without STATIC_DATA_END")
            if version >= {dc_since} and not self.segment_domain_context:
                self._stream_error("MissingDomainContext",
                                   "segment without DOMAIN_CONTEXT")
            self.segment_domain_context = False
            self.segment_hvm_context = False
            if rtype == {end}:
                self.segment_unknown = None


    def _record_error_at(self, kind, msg, offset):
        """Raise the KIND's record error at an absolute offset."""
        raise ERROR_CLASS[kind](self._where() + msg, kind, offset)


    def _verify_pv(self, rtype, content):
        """The rules of Xen's PV record handlers (xg_sr_restore_x86_pv.c)."""

        if rtype == {pv_info}:
            if self.pv_info_offset is not None:
                self._stream_error("DuplicateRecord",
                                   "second X86_PV_INFO; the first was at "
                                   "offset %d" % (self.pv_info_offset, ))
            self.pv_info_offset = self.record_offset
            if len(content) >= 2:
                width, levels = unpack("BB", content[:2])
                if PV_WIDTH_LEVELS.get(width) != levels:
                    self._record_error("BadValue",
                                       "pt_levels %d does not go with "
                                       "guest_width %d" % (levels, width), 1)
                self.guest_width = width
        elif (self.pv_info_offset is None
              and rtype in ({p2m}, {shared_info})):
            self._stream_error("OutOfOrder",
                               "X86_PV_P2M_FRAMES and SHARED_INFO must come "
                               "after X86_PV_INFO")

        if rtype == {p2m}:
            self.seen_p2m_frames = True
            if len(content) >= 8:
                start, end = unpack(self.endian + "II", content[:8])
                width = self.guest_width or PV_DEFAULT_GUEST_WIDTH
                fpp = {page_size} // width
                if start > end:
                    self._record_error("BadValue",
                                       "end_pfn %d below start_pfn %d"
                                       % (end, start), 4)
                frames = end // fpp + 1 - start // fpp
                if len(content) - 8 != frames * 8:
                    self._stream_error("BadLength",
                                       "pfns %d..%d need %d frames"
                                       % (start, end, frames))
                if self.p2m_max_pfn is None and end == 0:
                    self._record_error_at("CrashesXenRestore",
                                          "the first X86_PV_P2M_FRAMES has "
                                          "end_pfn 0; Xen's restore would "
                                          "segfault", self.record_offset)
                if self.p2m_max_pfn is None or end > self.p2m_max_pfn:
                    self.p2m_max_pfn = end

        if rtype == {page_data}:
            if not self.seen_p2m_frames or self.p2m_max_pfn is None:
                self._record_error_at("CrashesXenRestore",
                                      "PAGE_DATA of a PV guest before any "
                                      "X86_PV_P2M_FRAMES; Xen's restore would "
                                      "segfault", self.record_offset)
            count = unpack(self.endian + "I", content[:4])[0]
            pfns = unpack(self.endian + "%dQ" % (count, ),
                          content[8:8 + 8 * count])
            for i, entry in enumerate(pfns):
                pfn = entry & PAGE_DATA_PFN_MASK
                if pfn > self.p2m_max_pfn:
                    self._record_error("PfnBeyondP2m",
                                       "pfn 0x%x is beyond the P2M (highest "
                                       "pfn 0x%x)" % (pfn, self.p2m_max_pfn),
                                       8 + 8 * i)

        if rtype == {vcpu_basic}:
            self.seen_vcpu_basic = True
        if rtype in RECORDS_PV_VCPU:
            if not self.seen_page_data:
                self._stream_error("OutOfOrder",
                                   "vCPU state before the first PAGE_DATA")
            if len(content) >= 8:
                size = len(content) - 8
                width = self.guest_width or PV_DEFAULT_GUEST_WIDTH
                basic = PV_VCPU_BASIC_SIZE.get(width, 0)
                bad = size != 0 and (
                    (rtype == {vcpu_basic} and size != basic)
                    or (rtype == {vcpu_extended}
                        and size > PV_VCPU_EXTENDED_MAX)
                    or (rtype == {vcpu_xsave}
                        and size < PV_VCPU_XSAVE_MIN)
                    or (rtype == {vcpu_msrs}
                        and size % PV_VCPU_MSR_ENTRY))
                if bad:
                    self._stream_error("BadLength",
                                       "vCPU context of %d octets" % (size, ))
                vcpu_id = unpack(self.endian + "I", content[:4])[0]
                basic_state = rtype == {vcpu_basic}
                if size and vcpu_id == 0 and basic_state:
                    self.vcpu0_basic = True


    def verify_page_tables(self, content):
        """
        A PV guest's page-table pages: every present entry names a pfn
        within the P2M, or Xen's restore crashes (an assert in pfn_to_mfn).
        """
        if self.guest_type != {pv} or self.p2m_max_pfn is None:
            return
        count = unpack(self.endian + "I", content[:4])[0]
        pfns = unpack(self.endian + "%dQ" % (count, ),
                      content[8:8 + 8 * count])
        at = 8 + 8 * count
        per_page = {page_size} // 8
        for entry in pfns:
            ptype = entry & PAGE_DATA_TYPE_LTAB_MASK
            if ptype in PAGE_DATA_TYPES_WITHOUT_DATA:
                continue
            if ptype in PAGE_DATA_TABLE_TYPES:
                # Guest memory: little-endian whatever the stream's order.
                ptes = unpack("<%dQ" % (per_page, ),
                              content[at:at + {page_size}])
                for i, pte in enumerate(ptes):
                    if not pte & PV_PTE_PRESENT:
                        continue
                    pfn = (pte & PV_PTE_FRAME_MASK) >> {page_shift}
                    if pfn > self.p2m_max_pfn:
                        self._record_error(
                            "CrashesXenRestore",
                            "page-table entry 0x%016x names pfn 0x%x, beyond "
                            "the P2M (highest pfn 0x%x); Xen's restore would "
                            "abort on an assert"
                            % (pte, pfn, self.p2m_max_pfn),
                            at + 8 * i)
            at += {page_size}


    def _infer_static_data_end(self):
        """Version {sde_prev} streams imply STATIC_DATA_END at their first memory."""
        if self.version < {sde_since} and not self.seen_static_data_end:
            self.seen_static_data_end = True
            self.info("  STATIC_DATA_END inferred")


    def verify_segment(self):
        """
        Verify records up to and including the next CHECKPOINT or END and
        return that record's type. A libxl stream verifies the libxc stream
        nested in it this way: up to END, or segment by segment in a
        checkpointed stream.
        """
        while True:
            rtype = self.verify_record()
            # None: the input ended at a checkpoint boundary.
            if rtype is None or rtype in ({checkpoint}, {end}):
                return rtype


    def verify_domain_context_blob(self, content):
        """
        Check a DOMAIN_CONTEXT record's blob against every rule of its
        format (xen.migration.domain_context.verify_blob). A broken rule is
        a RecordError of kind "DomainContext" whose ``detail`` names the
        blob rule and whose offset is the offending octets'.
        """
        try:
            entries = verify_blob(content, self.endian)
        except DomainContextError as e:
            err = RecordError(self._where() + "DOMAIN_CONTEXT blob: %s"
                              % (e, ), "DomainContext",
                              self.record_offset + {rh_size} + e.offset)
            err.detail = e.kind
            raise err
        for entry in entries:
            self.info("  %s" % (describe_entry(entry), ))


    def verify_hvm_context_blob(self, content):
        """
        Check an HVM_CONTEXT record's blob against every rule of its format
        (xen.migration.hvm_context.verify_blob). A broken rule is a
        RecordError of kind "HvmContext" whose ``detail`` names the blob
        rule and whose offset is the offending octets'.
        """
        try:
            entries = verify_hvm_blob(content, self.endian)
        except HvmContextError as e:
            err = RecordError(self._where() + "HVM_CONTEXT blob: %s"
                              % (e, ), "HvmContext",
                              self.record_offset + {rh_size} + e.offset)
            err.detail = e.kind
            raise err
        for entry in entries:
            self.info("  %s" % (describe_hvm_entry(entry), ))


"#,
        page_data = rec(LibxcRecord::PAGE_DATA),
        end = rec(LibxcRecord::END),
        checkpoint = rec(LibxcRecord::CHECKPOINT),
        pv_info = rec(LibxcRecord::X86_PV_INFO),
        p2m = rec(LibxcRecord::X86_PV_P2M_FRAMES),
        hvm_params = rec(LibxcRecord::HVM_PARAMS),
        hvm_context = rec(LibxcRecord::HVM_CONTEXT),
        sde_name = sde.py_name,
        sde_since = sde.since,
        cpuid = rec(LibxcRecord::X86_CPUID_POLICY),
        msr = rec(LibxcRecord::X86_MSR_POLICY),
        shared_info = rec(LibxcRecord::SHARED_INFO),
        vcpu_basic = rec(LibxcRecord::X86_PV_VCPU_BASIC),
        vcpu_extended = rec(LibxcRecord::X86_PV_VCPU_EXTENDED),
        vcpu_xsave = rec(LibxcRecord::X86_PV_VCPU_XSAVE),
        vcpu_msrs = rec(LibxcRecord::X86_PV_VCPU_MSRS),
        page_size = PAGE_SIZE,
        page_shift = PAGE_SHIFT,
        sde_prev = sde.since - 1,
        dc_name = dc.py_name,
        dc_since = dc.since,
    )
    .unwrap();

    for g in groups(&LIBXC) {
        s.push_str(record_method(&g, &LIBXC).trim_end_matches('\n'));
        s.push('\n');
        if g.members[0].0.code == LibxcRecord::DOMAIN_CONTEXT {
            s.push_str("        self.verify_domain_context_blob(content)\n");
        }
        if g.members[0].0.code == LibxcRecord::HVM_CONTEXT {
            s.push_str("        self.verify_hvm_context_blob(content)\n");
        }
        s.push_str("\n\n");
    }
    s
}
