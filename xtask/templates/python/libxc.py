
"""
Libxc migration streams (the domain image format, revisions SLOT_revisions).

Names, values, struct formats and record tables of
docs/specs/libxc-migration-stream.pandoc, and VerifyLibxc, a strict
verifier of either byte order.
"""

from struct import calcsize, unpack

from xen.migration.verify import StreamError, RecordError, VerifyBase, \
    iter_unpack
from xen.migration.domain_context import DomainContextError, verify_blob, \
    describe_entry, after_end
from xen.migration.hvm_context import HvmContextError, \
    verify_blob as verify_hvm_blob, describe_entry as describe_hvm_entry

#
# Constants
#

SLOT_constants
# Image versions this module reads.
IHDR_SUPPORTED_VERSIONS = (SLOT_versions)

# Page size of every guest, as a power of two.
PAGE_SHIFT = SLOT_page_shift

#
# Struct formats (without byte-order prefix unless fixed)
#

SLOT_formats
#
# Domain types
#

SLOT_domain_types
#
# Page types of PAGE_DATA pfn entries (already shifted into place)
#

SLOT_page_types
# Every valid page type.
PAGE_DATA_VALID_TYPES = frozenset([
    SLOT_valid_page_types
])

# Page types whose pfn entries have no page contents in the record.
PAGE_DATA_TYPES_WITHOUT_DATA = frozenset([
    SLOT_page_types_without_data
])

# What the most significant octet of a PAGE_DATA pfn entry (the one holding
# its type) says, for checking a whole pfn array at once with
# bytes.translate: PAGE_DATA_WITH_DATA (a valid type with page contents),
# PAGE_DATA_INVALID (not a valid type) or a zero octet (a valid type
# without contents).
PAGE_DATA_WITH_DATA = b"\x01"
PAGE_DATA_INVALID = b"\x02"
PAGE_DATA_KIND_OF_TOP = bytes(bytearray(
    (0 if t in PAGE_DATA_TYPES_WITHOUT_DATA else 1)
    if t in PAGE_DATA_VALID_TYPES else 2
    for t in ((top << (PAGE_DATA_TYPE_SHIFT & ~7)) & PAGE_DATA_TYPE_LTAB_MASK
              for top in range(256))))

# The octets of a pfn entry that hold reserved bits: (octet, counted from
# the least significant, and the values of that octet whose reserved bits
# are clear, for bytes.translate to delete).
PAGE_DATA_RESZ_CLEAR = tuple(
    (octet, bytes(bytearray(
        v for v in range(256)
        if not v & (PAGE_DATA_PFN_RESZ_MASK >> (8 * octet)))))
    for octet in range(8) if (PAGE_DATA_PFN_RESZ_MASK >> (8 * octet)) & 0xff)

#
# Record types
#

SLOT_record_types

rec_type_to_str = {
    SLOT_rec_type_to_str
}

# The image version that introduced each record type.
REC_TYPE_SINCE = {
    SLOT_rec_type_since
}

# Deprecated record types: the image version from which each is
# deprecated (0: never valid in a stream).
REC_TYPE_DEPRECATED = {
    SLOT_rec_type_deprecated
}

# Dynamic state: a vSLOT_sde_since+ stream must carry STATIC_DATA_END before these.
RECORDS_AFTER_STATIC_DATA_END = frozenset([
    SLOT_records_dynamic
])

# Records only an x86 PV stream may carry.
RECORDS_PV_ONLY = frozenset([
    SLOT_records_pv_only
])

# Records only an x86 HVM stream may carry.
RECORDS_HVM_ONLY = frozenset([
    SLOT_records_hvm_only
])

# Records only the COLO back channel (secondary to primary) carries.
RECORDS_BACK_CHANNEL = frozenset([
    SLOT_records_back_channel
])

# Static data: sent before STATIC_DATA_END.
RECORDS_STATIC = frozenset([
    SLOT_records_static
])

# Records Xen's restore refuses before STATIC_DATA_END (in any version).
RECORDS_SDE_CHECKED = frozenset([
    SLOT_records_sde_checked
])

# The records a PV stream must hold, in the order they are named when missing.
RECORDS_PV_REQUIRED = (
    SLOT_records_pv_required
)

# The rules on the presence and order of records (format_spec::libxc's
# ORDER_RULES), in the order VerifyLibxc checks them: "kind" is the KIND a
# broken rule raises; "check" one of guest_only (the records belong to
# streams of guest type "of_guest"), at_most_once ("record"), after (no
# record of "records" before the first "record"), not_after (none after a
# "record" in the "scope"), required (all of "records" there when the
# "scope" ends), checkpointed_only ("record"), back_channel_only; the
# rule applies to streams of guest type "guest" (None: all) from version
# "since" on, and before it only warns if "warns" is set.
ORDER_RULES = (
    SLOT_order_rules
)

# The rules on the values of records (format_spec::libxc's VALUE_RULES),
# in the order VerifyLibxc checks them at a record: "kind" is the KIND a
# broken rule raises; the rule applies to the "records" of streams of
# guest type "guest" (None: all), whose body has a "fixed" part and
# trailing entries of "element" octets; "fields" are the (offset, struct
# format) of the fields it reads; "check" is one of width_levels (the
# first record sets the guest width from the first field; the second must
# be the value "values" gives it), range (the second field at least the
# first), frames (one trailing entry for each P2M frame of the range of
# the two fields), p2m_end (the P2M extends to the field; the first one
# above 0), context_sizes (a non-empty context after the fixed part has
# the size "values" says for the record: by_guest_width, at_most,
# at_least, entries of), not_empty, after_p2m (after the P2M made by the
# record "values"), pfns_in_p2m, ptes_in_p2m (present entries of
# page-table pages: "values" is the present bit and the frame mask),
# vcpu0_at_completion (a non-empty record with the field 0 before the
# stream completes), p2m_at_completion (then, a P2M from the record
# "values").
VALUE_RULES = (
    SLOT_value_rules
)

# The guest width Xen's restore assumes before X86_PV_INFO.
PV_DEFAULT_GUEST_WIDTH = SLOT_pv_default_guest_width

# Page types (shifted into place) of page-table pages.
PAGE_DATA_TABLE_TYPES = frozenset([
    SLOT_page_table_types
])

# Version SLOT_sde_prev has no STATIC_DATA_END: a receiver infers it at the first
# record of this type, by guest type.
V2_STATIC_DATA_END_AT = {
    SLOT_v2_static_data_end_at
}

# The records at which a stream older than STATIC_DATA_END infers it, by
# guest type (the first of V2_STATIC_DATA_END_AT and, for PV, the records
# Xen's restore refuses before STATIC_DATA_END).
STATIC_DATA_END_STAND_INS = {
    SLOT_static_data_end_stand_ins
}

# The exception class of each error KIND raised about a record (the error
# catalogue of format-spec).
ERROR_CLASS = {
    SLOT_error_class
}



class VerifyLibxc(VerifyBase):
    """
    Verify one libxc stream (image versions SLOT_revisions, either byte order) in
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
        # The length of the record body being checked, when the verifier
        # holds only a part of it (a PAGE_DATA record without its pages).
        self.body_length = None
        self.record_index = -1
        self.record_offset = 0
        self.record_type = None
        self.squashed_pagedata_records = 0

        # Order state: the offset of the first record of each type, in the
        # whole stream and in the current segment (up to a CHECKPOINT or
        # the END); the rules of ORDER_RULES for this stream, by record.
        self.seen = {}
        self.segment_seen = {}
        self.order_at = None
        self.order_required = None
        # The rules of VALUE_RULES for this stream: by record, at
        # completion, on page contents.
        self.values_at = None
        self.values_at_completion = None
        self.values_of_pages = None
        self.guest_width = None
        self.p2m_max_pfn = None
        self.vcpu0_basic = False
        self.checkpoints = 0
        self.after_checkpoint = False
        # An unknown record in a segment after a CHECKPOINT: Xen's restore
        # fails on it when it replays the segment at the next CHECKPOINT.
        self.segment_unknown = None


    def verify(self):
        """Verify a whole libxc stream, up to and including its END record."""

        self.verify_ihdr()
        self.verify_dhdr()

        while True:
            rtype = self.verify_record()
            if rtype is None or rtype == SLOT_end:
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
                          self.record_offset + SLOT_rh_size + body_offset)


    def _warn(self, msg):
        """Pass a warning to info."""
        self.info("Warning: " + self._where() + msg)


    def _flush_squashed(self):
        """Report a run of PAGE_DATA records as one message."""
        if self.squashed_pagedata_records > 0:
            self.info("Squashed %d Page Data records together"
                      % (self.squashed_pagedata_records, ))
            self.squashed_pagedata_records = 0


    def verify_ihdr(self):
        SLOT_ihdr_body

        self.version = SLOT_version_var
        if SLOT_options_var & SLOT_opt_be:
            self.endian, self.byteorder = ">", "big"
        else:
            self.endian, self.byteorder = "<", "little"
        self.info("Libxc Image Header: Version %d, %s endian"
                  % (self.version, self.byteorder))


    def verify_dhdr(self):
        SLOT_dhdr_body

        self.guest_type = SLOT_type_var
        if SLOT_major_var == 0:
            self.info("Domain Header: legacy converted %s"
                      % (dhdr_type_to_str[SLOT_type_var], ))
        else:
            self.info("Domain Header: %s from Xen %d.%d"
                      % (dhdr_type_to_str[SLOT_type_var], SLOT_major_var, SLOT_minor_var))


    def verify_record(self):
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
            self._stream_error(KIND_RecordTooLong,
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
            self._stream_error(KIND_UnknownMandatory,
                               "unknown mandatory record type")

        if REC_TYPE_SINCE[rtype] > self.version:
            self._stream_error(KIND_RecordTooNew,
                               "record type introduced in version %d, "
                               "the stream is version %d"
                               % (REC_TYPE_SINCE[rtype], self.version))

        deprecated = REC_TYPE_DEPRECATED.get(rtype)
        if deprecated == 0:
            self._stream_error(KIND_DeprecatedRecord,
                               "record type is not valid in any stream")

        if rtype in RECORDS_BACK_CHANNEL:
            self._stream_error(KIND_BackChannelRecord,
                               "record type only belongs on the back channel")

        if (rtype == SLOT_page_data and self.guest_type != SLOT_x86_pv
                and length % REC_ALIGN == 0):
            # An HVM guest's page contents are not looked at: only the
            # header and the pfn array are read, the rest is skipped.
            content = self._read_page_data_head(length)
        else:
            content = self._read_content(length)
        self.body_length = length

        if rtype != SLOT_page_data:
            self._flush_squashed()
            self.info("Libxc Record: %s, length %d"
                      % (rec_type_to_str[rtype], length))
        else:
            self.squashed_pagedata_records += 1

        if deprecated is not None and self.version >= deprecated:
            self._warn("deprecated in version %d streams" % (self.version, ))

        record_verifiers[rtype](self, content)
        self.body_length = None
        self.verify_order(rtype, content)
        if rtype == SLOT_page_data:
            self.verify_page_tables(content)
        if rtype == SLOT_checkpoint:
            self.checkpoints += 1
            self.after_checkpoint = True
            if self.segment_unknown is not None:
                at, unknown = self.segment_unknown
                raise StreamError(
                    "record type 0x%08x at offset %d: unknown record in a "
                    "checkpoint segment; Xen's restore fails on it when it "
                    "replays the segment at the CHECKPOINT at offset %d"
                    % (unknown, at, self.record_offset),
                    KIND_UnknownInCheckpoint, at)

        if rtype == SLOT_end:
            self._flush_squashed()
        return rtype


    def _read_page_data_head(self, length):
        """
        Read a PAGE_DATA body's fixed part and pfn array (as far as the
        body holds them) and skip the page contents after them.
        """
        fixed = calcsize(PAGE_DATA_FORMAT)
        if length < fixed:
            return self._read_content(length)
        head = self.rdexact(fixed)
        count = unpack(self.endian + PAGE_DATA_FORMAT, head)[0]
        pfns = min(count * SLOT_pfn_size, length - fixed)
        head += self.rdexact(pfns)
        self.skip(length - fixed - pfns)
        return head


    def _read_content(self, length):
        """Read a record body and its padding; check the padding is zero."""

        padded = (length + REC_ALIGN - 1) & ~(REC_ALIGN - 1)
        content = self.rdexact(padded)
        padding = content[length:]
        if padding.strip(b"\x00"):
            first = length + len(padding) - len(padding.lstrip(b"\x00"))
            at = self.record_offset + SLOT_rh_size + first
            raise ERROR_CLASS[KIND_PaddingNonZero](
                self._where() + "non-zero padding octet at offset %d" % (at, ),
                KIND_PaddingNonZero, at)
        return content[:length]


    def verify_order(self, rtype, content):
        """
        Strict order rules (ORDER_RULES) and the rules of Xen's record
        handlers, checked after the record's body
        (format_spec::stream::rules).
        """

        if rtype in STATIC_DATA_END_STAND_INS[self.guest_type]:
            self._infer_static_data_end()
        if self.order_at is None:
            self._index_order_rules()
        for rule in self.order_at.get(rtype, ()):
            self._check_order(rule, rtype)
        first_of_its_type = rtype not in self.seen
        self.seen.setdefault(rtype, self.record_offset)
        self.segment_seen.setdefault(rtype, self.record_offset)

        for rule in self.values_at.get(rtype, ()):
            check = getattr(self, "_value_" + rule["check"])
            check(rule, rtype, content, first_of_its_type)

        # Xen's restore completes at END, a COLO restore at each CHECKPOINT.
        if self.checkpointed == "colo":
            completes = rtype == SLOT_checkpoint
        else:
            completes = rtype == SLOT_end
        if completes:
            self._verify_completion()

        if rtype in (SLOT_checkpoint, SLOT_end):
            for rule in self.order_required:
                scope = rule["scope"]
                if scope == "stream" and rtype != SLOT_end:
                    continue
                seen = self.seen if scope == "stream" else self.segment_seen
                for code, name in zip(rule["records"], rule["names"]):
                    if code not in seen:
                        self._stream_error(rule["kind"], "the %s has no %s"
                                           % (scope, name))
            self.segment_seen = {}
            if rtype == SLOT_end:
                self.segment_unknown = None


    def _index_order_rules(self):
        """The rules of ORDER_RULES for this stream, by the record they
        look at; the required ones apart."""

        self.order_at = {}
        self.order_required = []
        for rule in ORDER_RULES:
            if rule["guest"] not in (None, self.guest_type):
                continue
            if self.version < rule["since"] and not rule["warns"]:
                continue
            if rule["check"] == "required":
                self.order_required.append(rule)
                continue
            codes = list(rule["records"])
            if rule["check"] in ("at_most_once", "checkpointed_only"):
                codes = [rule["record"]]
            for code in codes:
                self.order_at.setdefault(code, []).append(rule)

        self.values_at = {}
        self.values_at_completion = []
        self.values_of_pages = []
        for rule in VALUE_RULES:
            if rule["guest"] not in (None, self.guest_type):
                continue
            check = rule["check"]
            if check in ("vcpu0_at_completion", "p2m_at_completion"):
                self.values_at_completion.append(rule)
            if check == "ptes_in_p2m":
                self.values_of_pages.append(rule)
                continue
            for code in rule["records"]:
                self.values_at.setdefault(code, []).append(rule)


    def _check_order(self, rule, rtype):
        """Rule `rule` of ORDER_RULES at a record of type `rtype`."""

        check, record = rule["check"], rule["record"]
        name = rule["record_name"]
        msg = None
        if check == "guest_only":
            if rule["of_guest"] != self.guest_type:
                msg = ("record does not belong in a %s stream"
                       % (dhdr_type_to_str[self.guest_type], ))
        elif check == "at_most_once":
            if record in self.seen:
                msg = ("second %s; the first was at offset %d"
                       % (name, self.seen[record]))
        elif check == "after":
            if record not in self.seen:
                msg = rule["message"] or "record before %s" % (name, )
        elif check == "not_after":
            if rule["scope"] == "stream":
                seen = self.seen
            else:
                seen = self.segment_seen
            if record in seen:
                this = rule["names"][list(rule["records"]).index(rtype)]
                if self.version < rule["since"]:
                    self._warn("%s after %s" % (this, name))
                    return
                msg = rule["message"] or "%s after %s" % (this, name)
        elif check == "checkpointed_only":
            if self.checkpointed is False:
                msg = "%s in a stream that is not checkpointed" % (name, )
        if msg is not None and self.version >= rule["since"]:
            self._stream_error(rule["kind"], msg)


    def _record_error_at(self, kind, msg, offset):
        """Raise the KIND's record error at an absolute offset."""
        raise ERROR_CLASS[kind](self._where() + msg, kind, offset)


    def _fields(self, rule, content):
        """The values of the fields of value rule `rule` in a record body,
        or None when the body is too short to hold them."""
        values = []
        for offset, fmt in rule["fields"]:
            end = offset + calcsize(fmt)
            if len(content) < end:
                return None
            values.append(unpack(self.endian + fmt, content[offset:end])[0])
        return values


    def _pfn_entries(self, content):
        """The pfn entries of a PAGE_DATA body."""
        fixed = calcsize(PAGE_DATA_FORMAT)
        count = unpack(self.endian + PAGE_DATA_FORMAT, content[:fixed])[0]
        return unpack(self.endian + "%dSLOT_pfn_char" % (count, ),
                      content[fixed:fixed + SLOT_pfn_size * count])


    def _value_width_levels(self, rule, rtype, content, first):
        """The first record sets the guest width; the second field goes
        with it."""
        fields = self._fields(rule, content)
        if not first or fields is None:
            return
        width, levels = fields
        if rule["values"].get(width) != levels:
            self._record_error(rule["kind"],
                               "%d does not go with guest width %d"
                               % (levels, width), rule["fields"][1][0])
        self.guest_width = width


    def _value_range(self, rule, rtype, content, first):
        """The range's end is at least its start."""
        fields = self._fields(rule, content)
        if fields is not None and fields[0] > fields[1]:
            self._record_error(rule["kind"],
                               "range end %d below its start %d"
                               % (fields[1], fields[0]), rule["fields"][1][0])


    def _value_frames(self, rule, rtype, content, first):
        """One trailing entry for each P2M frame of the range."""
        fields = self._fields(rule, content)
        if fields is None:
            return
        start, end = fields
        width = self.guest_width or PV_DEFAULT_GUEST_WIDTH
        fpp = SLOT_page_size // width
        frames = end // fpp + 1 - start // fpp
        if len(content) - rule["fixed"] != frames * rule["element"]:
            self._stream_error(rule["kind"], "pfns %d..%d need %d frames"
                               % (start, end, frames))


    def _value_p2m_end(self, rule, rtype, content, first):
        """The record extends the P2M; the first one beyond pfn 0."""
        fields = self._fields(rule, content)
        if fields is None:
            return
        end = fields[0]
        if self.p2m_max_pfn is None and end == 0:
            self._record_error_at(rule["kind"],
                                  "the first %s ends at pfn 0; Xen's "
                                  "restore would segfault"
                                  % (rec_type_to_str[rtype], ),
                                  self.record_offset)
        if self.p2m_max_pfn is None or end > self.p2m_max_pfn:
            self.p2m_max_pfn = end


    def _value_after_p2m(self, rule, rtype, content, first):
        """The record comes after the P2M exists."""
        if rule["values"] not in self.seen or self.p2m_max_pfn is None:
            self._record_error_at(rule["kind"],
                                  "%s of a PV guest before any %s; Xen's "
                                  "restore would segfault"
                                  % (rec_type_to_str[rtype],
                                     rec_type_to_str[rule["values"]]),
                                  self.record_offset)


    def _value_pfns_in_p2m(self, rule, rtype, content, first):
        """Every pfn within the P2M."""
        for i, entry in enumerate(self._pfn_entries(content)):
            pfn = entry & PAGE_DATA_PFN_MASK
            if pfn > self.p2m_max_pfn:
                self._record_error(rule["kind"],
                                   "pfn 0x%x is beyond the P2M (highest "
                                   "pfn 0x%x)" % (pfn, self.p2m_max_pfn),
                                   rule["fixed"] + rule["element"] * i)


    def _value_context_sizes(self, rule, rtype, content, first):
        """A non-empty context has the size the record's entry says."""
        size = len(content) - rule["fixed"]
        if size <= 0:
            return
        how, value = rule["values"][rtype]
        if how == "by_guest_width":
            width = self.guest_width or PV_DEFAULT_GUEST_WIDTH
            bad = size != value.get(width, 0)
        elif how == "at_most":
            bad = size > value
        elif how == "at_least":
            bad = size < value
        else:
            bad = size % value != 0
        if bad:
            self._stream_error(rule["kind"], "context of %d octets" % (size, ))


    def _value_vcpu0_at_completion(self, rule, rtype, content, first):
        """Note vCPU 0's basic state (checked when the stream completes)."""
        fields = self._fields(rule, content)
        if fields is not None and len(content) > rule["fixed"]:
            if fields[0] == 0:
                self.vcpu0_basic = True


    def _value_not_empty(self, rule, rtype, content, first):
        """The body holds at least one entry."""
        if len(content) == 0:
            self._stream_error(rule["kind"], "the body holds no entry")


    def _verify_completion(self):
        """The rules of VALUE_RULES when the stream completes: vCPU 0's
        basic state, then the P2M."""
        for rule in self.values_at_completion:
            if rule["check"] == "vcpu0_at_completion" and not self.vcpu0_basic:
                self._stream_error(rule["kind"], "the stream has no %s for "
                                   "vCPU 0"
                                   % (rec_type_to_str[rule["records"][0]], ))
            if (rule["check"] == "p2m_at_completion"
                    and self.p2m_max_pfn is None):
                self._record_error_at(rule["kind"],
                                      "the stream completes without any %s; "
                                      "Xen's restore would segfault"
                                      % (rec_type_to_str[rule["values"]], ),
                                      self.record_offset)


    def verify_page_tables(self, content):
        """
        A PV guest's page-table pages: every present entry names a pfn
        within the P2M, or Xen's restore crashes (an assert in pfn_to_mfn).
        """
        if self.p2m_max_pfn is None:
            return
        for rule in self.values_of_pages:
            if self.record_type in rule["records"]:
                self._value_ptes_in_p2m(rule, content)


    def _value_ptes_in_p2m(self, rule, content):
        """Present entries of page-table pages within the P2M."""
        present, frame_mask = rule["values"]
        pfns = self._pfn_entries(content)
        at = rule["fixed"] + rule["element"] * len(pfns)
        per_page = SLOT_page_size // 8
        for entry in pfns:
            ptype = entry & PAGE_DATA_TYPE_LTAB_MASK
            if ptype in PAGE_DATA_TYPES_WITHOUT_DATA:
                continue
            if ptype in PAGE_DATA_TABLE_TYPES:
                # Guest memory: little-endian whatever the stream's order.
                ptes = unpack("<%dQ" % (per_page, ),
                              content[at:at + SLOT_page_size])
                for i, pte in enumerate(ptes):
                    if not pte & present:
                        continue
                    pfn = (pte & frame_mask) >> SLOT_page_shift
                    if pfn > self.p2m_max_pfn:
                        self._record_error(
                            rule["kind"],
                            "page-table entry 0x%016x names pfn 0x%x, beyond "
                            "the P2M (highest pfn 0x%x); Xen's restore would "
                            "abort on an assert"
                            % (pte, pfn, self.p2m_max_pfn),
                            at + 8 * i)
            at += SLOT_page_size


    def _infer_static_data_end(self):
        """Version SLOT_sde_prev streams imply STATIC_DATA_END at their first memory."""
        if (self.version < SLOT_sde_since
                and SLOT_sde_name not in self.seen):
            self.seen[SLOT_sde_name] = self.record_offset
            self.segment_seen[SLOT_sde_name] = self.record_offset
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
            if rtype is None or rtype in (SLOT_checkpoint, SLOT_end):
                return rtype


    def verify_domain_context_blob(self, content):
        """
        Check a DOMAIN_CONTEXT record's blob against every rule of its
        format (xen.migration.domain_context.verify_blob). A broken rule is
        a RecordError of kind KIND_DomainContext whose ``detail`` names the
        blob rule and whose offset is the offending octets'.
        """
        try:
            entries = verify_blob(content, self.endian)
        except DomainContextError as e:
            err = RecordError(self._where() + "DOMAIN_CONTEXT blob: %s"
                              % (e, ), KIND_DomainContext,
                              self.record_offset + SLOT_rh_size + e.offset)
            err.detail = e.kind
            raise err
        for entry in entries:
            self.info("  %s" % (describe_entry(entry), ))
        extra = after_end(content, entries)
        if extra is not None:
            self._warn("%d octets after the blob's END entry (from blob "
                       "offset %d), which a loader never reads"
                       % (extra[1], extra[0]))


    def verify_hvm_context_blob(self, content):
        """
        Check an HVM_CONTEXT record's blob against every rule of its format
        (xen.migration.hvm_context.verify_blob). A broken rule is a
        RecordError of kind KIND_HvmContext whose ``detail`` names the blob
        rule and whose offset is the offending octets'.
        """
        try:
            entries = verify_hvm_blob(content, self.endian)
        except HvmContextError as e:
            err = RecordError(self._where() + "HVM_CONTEXT blob: %s"
                              % (e, ), KIND_HvmContext,
                              self.record_offset + SLOT_rh_size + e.offset)
            err.detail = e.kind
            raise err
        for entry in entries:
            self.info("  %s" % (describe_hvm_entry(entry), ))


    SLOT_record_methods


record_verifiers = {
    SLOT_record_verifiers
}
