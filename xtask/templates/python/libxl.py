
"""
Libxl migration streams (revision SLOT_revision): names, values, struct formats and
record tables of docs/specs/libxl-migration-stream.pandoc, and
VerifyLibxl, a strict verifier of either byte order that verifies the
libxc stream nested in it in place (checkpointed streams included).
"""

from struct import unpack

from xen.migration.verify import StreamError, RecordError, VerifyBase, \
    prepend
from xen.migration.libxc import VerifyLibxc, REC_TYPE_end as LIBXC_END, \
    DHDR_TYPE_x86_pv

#
# Constants
#

SLOT_constants
# The largest record body the verifier accepts (the libxl spec sets no
# limit; the libxc layer's keeps memory bounded by one record).
REC_LENGTH_MAX = SLOT_rec_length_max

SLOT_text_constants
#
# Struct formats (without byte-order prefix unless fixed)
#

SLOT_formats
#
# Record types
#

SLOT_record_types

rec_type_to_str = {
    SLOT_rec_type_to_str
}

#
# Emulators (emulator_id of the emulator sub-header)
#

SLOT_emulators
#
# COLO checkpoint states (CHECKPOINT_STATE control_id)
#

SLOT_checkpoint_states
checkpoint_state_to_str = {
    SLOT_checkpoint_state_to_str
}

# The octets a xenstore key may hold (checked in strict mode).
XENSTORE_KEY_CHARS = frozenset(
    SLOT_xenstore_key_chars)



class VerifyLibxl(VerifyBase):
    """
    Verify one libxl stream (either byte order) in strict mode: header,
    record framing and padding, body lengths and values, emulator ids,
    xenstore data, the record structure, and the nested libxc stream with
    VerifyLibxc. Unknown records are refused, the optional ones too, as
    libxl's reader does. Stops after the END record. Errors carry ``kind``
    and ``offset``.
    """

    def __init__(self, info, read):
        VerifyBase.__init__(self, info, read)
        # The input as given (octets looked ahead at are put back in
        # front of it, see _checkpoint_state_follows).
        self.source = read

        self.endian = "<"
        self.byteorder = "little"
        self.legacy = False
        self.record_index = -1
        self.record_offset = 0
        self.record_type = None
        # The nested libxc verifier, once LIBXC_CONTEXT was seen.
        self.libxc = None
        # Between a libxc CHECKPOINT and the libxl CHECKPOINT_END.
        self.in_checkpoint = False
        # The input ended where the libxc stream's next segment would start.
        self.boundary = False
        # A CHECKPOINT_STATE comes next (Xen's COLO layout).
        self.state_next = False
        # The first emulator record before the guest type was known.
        self.early_emulator = None
        # The guest type the xl configuration names (set by VerifyXl), and
        # whether libxl's restore takes emulator records for it.
        self.config_guest = None
        self.config_takes_emulators = None


    def verify(self):
        """Verify a whole libxl stream, up to and including its END record."""

        self.verify_hdr()

        while self.verify_record() != REC_TYPE_end:
            if self.boundary:
                # A checkpointed stream that ends at a checkpoint boundary
                # (how such a stream ends at failover).
                break


    def _where(self):
        """Context of the current record, for messages."""
        if self.record_type is None:
            return ""
        return ("libxl record %d (%s, type 0x%08x) at offset %d: "
                % (self.record_index,
                   rec_type_to_str.get(self.record_type, "unknown"),
                   self.record_type, self.record_offset))


    def _stream_error(self, kind, msg):
        """Raise a StreamError about the current record."""
        raise StreamError(self._where() + msg, kind, self.record_offset)


    def _unexpected(self, why):
        """The record is not allowed where it is."""
        self._stream_error(KIND_UnexpectedRecord, "unexpected here: " + why)


    def _record_error(self, kind, msg, body_offset=0):
        """Raise a RecordError about the current record's body."""
        raise RecordError(self._where() + msg, kind,
                          self.record_offset + SLOT_rh_size + body_offset)


    def _warn(self, msg):
        """Pass a warning to info."""
        self.info("Warning: " + self._where() + msg)


    def verify_hdr(self):
        SLOT_hdr_body

        if SLOT_opt & SLOT_be:
            self.endian, self.byteorder = ">", "big"
        else:
            self.endian, self.byteorder = "<", "little"
        self.legacy = bool(SLOT_opt & SLOT_legacy)
        self.info("Libxl Header: %s endian%s"
                  % (self.byteorder,
                     ", legacy converted" if self.legacy else ""))


    def verify_record(self):
        """
        Verify one record: framing (type, length, padding), then its body,
        then the structure rules. Returns the record type.
        """

        self.record_index += 1
        self.record_offset = self.offset
        self.record_type = None
        rtype, length = self.unpack_exact(self.endian + RH_FORMAT)
        self.record_type = rtype

        known = rtype in rec_type_to_str
        if not known and not rtype & SLOT_optional:
            self._stream_error(KIND_UnknownMandatory,
                               "unknown mandatory record type")
        if not known:
            self._stream_error(KIND_UnknownOptional,
                               "unknown optional record type: libxl's "
                               "reader refuses every record type it does "
                               "not know, the optional ones too")

        if length > REC_LENGTH_MAX:
            self._stream_error(KIND_RecordTooLong,
                               "length %d is over the %d-octet limit"
                               % (length, REC_LENGTH_MAX))

        if rtype == SLOT_checkpoint_state and length == 0:
            SLOT_empty_state

        content = self._read_content(length)

        self.info("Libxl Record: %s, length %d"
                  % (rec_type_to_str[rtype], length))
        record_verifiers[rtype](self, content)
        return rtype


    def _read_content(self, length):
        """Read a record body and its padding; check the padding is zero."""

        padded = (length + SLOT_align - 1) & ~(SLOT_align - 1)
        content = self.rdexact(padded)
        padding = content[length:]
        if padding.strip(b"\x00"):
            first = length + len(padding) - len(padding.lstrip(b"\x00"))
            at = self.record_offset + SLOT_rh_size + first
            raise StreamError(self._where() + "non-zero padding octet at "
                              "offset %d" % (at, ), KIND_PaddingNonZero, at)
        return content[:length]


    def _resume_libxc(self):
        """
        Let the nested libxc verifier (its offset set to this one's) read on
        to its next CHECKPOINT or its END; a CHECKPOINT opens a libxl
        checkpoint.
        """
        rtype = self.libxc.verify_segment()
        self.offset = self.libxc.offset
        self.boundary = rtype is None
        self.in_checkpoint = rtype is not None and rtype != LIBXC_END
        self.record_type = None


    def _guest_takes_emulators(self):
        """
        An emulator record: libxl's restore takes them only for an HVM
        guest. The xl configuration's c_info.type decides where there is one
        (it tells PVH from HVM); else the libxc domain header does, and
        before the libxc stream the guest type is not known yet: the first
        such record is checked once it is.
        """
        if self.config_guest is not None:
            if not self.config_takes_emulators:
                raise StreamError(self._where() + "emulator record in the "
                                  "stream of a %s guest (the xl "
                                  "configuration's c_info.type): libxl's "
                                  "restore takes emulator records only for "
                                  "an HVM guest" % (self.config_guest, ),
                                  KIND_WrongGuestType, self.record_offset)
            return
        err = StreamError(self._where() + "emulator record in the stream of "
                          "an x86 PV guest: libxl's restore takes emulator "
                          "records only for an HVM guest",
                          KIND_WrongGuestType, self.record_offset)
        if self.libxc is None:
            if self.early_emulator is None:
                self.early_emulator = err
        elif self.libxc.guest_type == DHDR_TYPE_x86_pv:
            raise err


    def _libxc_started(self):
        """The libxc headers were read: the guest type is known."""
        if (self.early_emulator is not None
                and self.libxc.guest_type == DHDR_TYPE_x86_pv):
            raise self.early_emulator


    def _checkpoint_state_follows(self):
        """
        After CHECKPOINT_END: whether a CHECKPOINT_STATE comes next (Xen's
        COLO layout), told by its record header: type CHECKPOINT_STATE with
        a body shorter than SLOT_rh_size octets, which no libxc record starting a
        segment has. The octets looked at are put back.
        """
        data = b""
        while len(data) < SLOT_rh_size:
            more = self.read(SLOT_rh_size - len(data))
            if not more:
                break
            data += more
        self.read = prepend(data, self.source)
        self.libxc.read = self.read
        if len(data) < SLOT_rh_size:
            return False
        rtype, length = unpack(self.endian + RH_FORMAT, data)
        return rtype == SLOT_checkpoint_state and length < SLOT_rh_size


    def _checkpoint_end(self):
        """CHECKPOINT_END: the libxc stream resumes, or CHECKPOINT_STATE."""
        if not self.in_checkpoint:
            SLOT_not_in_checkpoint
        self.in_checkpoint = False
        if self._checkpoint_state_follows():
            self.state_next = True
            return
        self.libxc.offset = self.offset
        self._resume_libxc()


    def _checkpoint_state(self, id_):
        """
        CHECKPOINT_STATE: libxl reads it only right after a CHECKPOINT_END
        of a COLO stream, and only CHECKPOINT_NEW travels forward; then the
        libxc stream resumes.
        """
        if not self.state_next:
            SLOT_state_outside_colo
        self.state_next = False
        if id_ != SLOT_checkpoint_new:
            self._record_error(KIND_BadValue,
                               "only CHECKPOINT_NEW (%d) is sent forward, "
                               "not %d" % (SLOT_checkpoint_new, id_))
        self.libxc.offset = self.offset
        self._resume_libxc()


    def verify_end_of_stream(self):
        """
        Nothing may follow the stream but xl's migration messages (a
        capture of `xl migrate`), which are named.
        """
        from xen.migration.xl import verify_migration_trailer
        verify_migration_trailer(self)


    def verify_xenstore_data(self, data, base):
        """
        Check the key/value strings of EMULATOR_XENSTORE_DATA (``data``,
        starting ``base`` octets into the body): every string NUL-terminated,
        keys and values paired, keys non-empty, relative and made of
        XENSTORE_KEY_CHARS. Errors are RecordErrors of kind KIND_Xenstore whose
        ``detail`` names the broken rule.
        """

        def bad(detail, at, index, msg):
            err = RecordError(self._where() + "xenstore data: %s at data "
                              "offset %d (string %d)" % (msg, at, index),
                              KIND_Xenstore,
                              self.record_offset + SLOT_rh_size + base + at)
            err.detail = detail
            raise err

        pos = 0
        index = 0
        keys = []
        pairs = []
        key = None
        while pos < len(data):
            nul = data.find(b"\x00", pos)
            if nul < 0:
                bad(KIND_NotNulTerminated, pos, index,
                    "string not NUL-terminated")
            text = data[pos:nul]
            if key is None:
                if not text:
                    bad(KIND_EmptyKey, pos, index, "empty key")
                if text[:1] == b"/":
                    bad(KIND_AbsoluteKey, pos, index, "key is an absolute path")
                key = text
                keys.append((pos, index, text))
            else:
                pairs.append((key, text))
                key = None
            pos = nul + 1
            index += 1
        if key is not None:
            at, index, _ = keys[-1]
            bad(KIND_OddStringCount, at, index,
                "key without a value (odd number of strings)")
        for at, index, text in keys:
            for i, c in enumerate(bytearray(text)):
                if c not in XENSTORE_KEY_CHARS:
                    bad(KIND_KeyCharacter, at + i, index,
                        "key holds the character 0x%02x" % (c, ))
        for key, val in pairs:
            self.info("  '%s' = '%s'"
                      % (key.decode("utf-8", "replace"),
                         val.decode("utf-8", "replace")))


    SLOT_record_methods


record_verifiers = {
    SLOT_record_verifiers
}
