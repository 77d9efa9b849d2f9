//! `libxl.py`: the libxl stream around the libxc one, a drop-in for Xen's
//! module of the same name.
//!
//! Names, values, formats and record tables come from `format_spec::libxl`
//! and `format_spec::xl`; the header and record body checks are emitted
//! from the field constraints and length rules by the same code as the
//! libxc verifier's. The structure rules (LIBXC_CONTEXT once, CHECKPOINT_END
//! only inside a checkpoint, ...) and the xenstore and configuration rules
//! follow the reader in `format_spec::outer`, whose rule table (module docs)
//! and `OuterError::kind()` names they share, so that the two verifiers
//! reach the same verdicts.

use std::fmt::Write as _;

use format_spec::layout::{RecordSetLayout, SpecEnum, Wire};
use format_spec::libxl::{
    is_xenstore_key_char, CheckpointStateId, EmulatorHeader, EmulatorId, LibxlHeader, LibxlRecord,
    LIBXL_CONSTANTS, LIBXL_STRUCTS, LIBXL_TEXT_CONSTANTS, REC_LENGTH_MAX,
};

use super::banner;
use super::emit::*;
use super::records::*;

/// The libxl layer.
pub(super) const LIBXL: Layer = Layer {
    class: "VerifyLibxl",
    set: &LibxlRecord::LAYOUT,
    consts: LIBXL_CONSTANTS,
    group: false,
    warn_empty: false,
    // Like the Rust verifier and the libxc layer: a length error is about
    // the record as a whole, whose length is in its header.
    length_error_at_header: true,
};

/// Record type constants, the name table and nothing else.
pub(super) fn emit_record_types(s: &mut String, set: &RecordSetLayout) {
    let width = set
        .records
        .iter()
        .map(|r| r.py_name.len())
        .max()
        .unwrap_or(0);
    for r in set.records {
        writeln!(s, "{:<width$} = 0x{:08x}", r.py_name, r.code).unwrap();
    }
    s.push_str("\nrec_type_to_str = {\n");
    for r in set.records {
        writeln!(s, "    {:<width$} : \"{}\",", r.py_name, r.human).unwrap();
    }
    s.push_str("}\n\n");
}

/// The extra checks and effects of one libxl record after its generic
/// body checks: the structure rules, the xenstore data and the handover
/// to the libxc verifier.
pub(super) fn record_extra(code: u32) -> String {
    let i8 = "        ";
    let emu = EmulatorHeader::LAYOUT.size;
    match code {
        LibxlRecord::END => format!(
            "{i8}if self.in_checkpoint:\n\
             {i8}    self._unexpected(\"a checkpoint is open (CHECKPOINT_END missing)\")\n\
             {i8}if self.libxc is None:\n\
             {i8}    self._unexpected(\"no LIBXC_CONTEXT came before it: the stream \"\n\
             {i8}                     \"holds no guest to restore\")\n"
        ),
        LibxlRecord::LIBXC_CONTEXT => format!(
            "{i8}if self.libxc is not None:\n\
             {i8}    self._unexpected(\"the libxc stream was already read\")\n\
             {i8}# The libxc stream follows inline; verify it in place.\n\
             {i8}self.libxc = VerifyLibxc(self.info, self.read)\n\
             {i8}self.libxc.offset = self.offset\n\
             {i8}self.libxc.verify_ihdr()\n\
             {i8}self.libxc.verify_dhdr()\n\
             {i8}self._resume_libxc()\n"
        ),
        LibxlRecord::EMULATOR_XENSTORE_DATA => {
            format!("{i8}self.verify_xenstore_data(content[{emu}:], {emu})\n")
        }
        LibxlRecord::EMULATOR_CONTEXT => String::new(),
        LibxlRecord::CHECKPOINT_END => format!(
            "{i8}if not self.in_checkpoint:\n\
             {i8}    self._unexpected(\"not inside a checkpoint\")\n\
             {i8}self.libxc.offset = self.offset\n\
             {i8}self._resume_libxc()\n"
        ),
        LibxlRecord::CHECKPOINT_STATE => {
            format!("{i8}self.info(\"  %s\" % (checkpoint_state_to_str[id_], ))\n")
        }
        _ => panic!("libxl record 0x{code:x} has no verifier tail"),
    }
}

/// The generated `libxl.py`.
pub(super) fn libxl_py() -> String {
    let mut s = banner();
    s.push_str(
        "\n\"\"\"\nLibxl migration streams (revision 2): names, values, struct formats and\n\
         record tables of docs/specs/libxl-migration-stream.pandoc, and\n\
         VerifyLibxl, a strict verifier of either byte order that verifies the\n\
         libxc stream nested in it in place (checkpointed streams included).\n\"\"\"\n\n",
    );
    s.push_str("from struct import unpack\n\n");
    s.push_str("from xen.migration.verify import StreamError, RecordError, VerifyBase\n");
    s.push_str("from xen.migration.libxc import VerifyLibxc, REC_TYPE_end as LIBXC_END\n\n");
    s.push_str("#\n# Constants\n#\n\n");
    emit_consts(&mut s, LIBXL_CONSTANTS);
    s.push_str(
        "# The largest record body the verifier accepts (the libxl spec sets no\n\
         # limit; the libxc layer's keeps memory bounded by one record).\n",
    );
    writeln!(
        s,
        "REC_LENGTH_MAX = {}\n",
        int_lit(u64::from(REC_LENGTH_MAX))
    )
    .unwrap();
    emit_text_consts(&mut s, LIBXL_TEXT_CONSTANTS);
    s.push_str("#\n# Struct formats (without byte-order prefix unless fixed)\n#\n\n");
    emit_formats(&mut s, LIBXL_STRUCTS);
    s.push_str("#\n# Record types\n#\n\n");
    emit_record_types(&mut s, &LibxlRecord::LAYOUT);
    s.push_str("#\n# Emulators (emulator_id of the emulator sub-header)\n#\n\n");
    emit_enum(&mut s, &EmulatorId::LAYOUT, 8);
    s.push_str("#\n# COLO checkpoint states (CHECKPOINT_STATE control_id)\n#\n\n");
    emit_enum(&mut s, &CheckpointStateId::LAYOUT, 0);
    s.push_str("checkpoint_state_to_str = {\n");
    for v in CheckpointStateId::LAYOUT.variants {
        writeln!(s, "    {}: \"{}\",", v.py_name.expect("py name"), v.human).unwrap();
    }
    s.push_str("}\n\n");
    let keychars: Vec<u8> = (0..=255u8).filter(|c| is_xenstore_key_char(*c)).collect();
    s.push_str("# The octets a xenstore key may hold (checked in strict mode).\n");
    writeln!(
        s,
        "XENSTORE_KEY_CHARS = frozenset(\n    {})\n",
        bytes_lit(&keychars)
    )
    .unwrap();

    s.push_str(&verifier_class());
    for g in groups(&LIBXL) {
        s.push_str(record_method(&g, &LIBXL).trim_end_matches('\n'));
        s.push('\n');
        s.push_str(&record_extra(g.members[0].0.code));
        s.push_str("\n\n");
    }
    s.push_str(&record_verifiers(&LIBXL));
    s
}

pub(super) fn verifier_class() -> String {
    let mut s = String::new();
    let rh = format_spec::libxl::LibxlRecordHeader::LAYOUT.size;
    s.push_str(
        r#"

class VerifyLibxl(VerifyBase):
    """
    Verify one libxl stream (either byte order) in strict mode: header,
    record framing and padding, body lengths and values, emulator ids,
    xenstore data, the record structure, and the nested libxc stream with
    VerifyLibxc. Unknown optional records are skipped with a message.
    Stops after the END record. Errors carry ``kind`` and ``offset``.
    """

    def __init__(self, info, read):
        VerifyBase.__init__(self, info, read)

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
        self._stream_error("UnexpectedRecord", "unexpected here: " + why)


    def _record_error(self, kind, msg, body_offset=0):
        """Raise a RecordError about the current record's body."""
        raise RecordError(self._where() + msg, kind,
                          self.record_offset + RH_SIZE + body_offset)


    def _warn(self, msg):
        """Pass a warning to info."""
        self.info("Warning: " + self._where() + msg)


"#,
    );
    s = s.replace("RH_SIZE", &rh.to_string());

    let mut hm = String::new();
    header_method(
        &mut hm,
        "verify_hdr",
        &LibxlHeader::LAYOUT,
        "libxl header",
        LIBXL_CONSTANTS,
    );
    s.push_str(&hm);
    let opt = items(&LibxlHeader::LAYOUT)
        .into_iter()
        .find(|i| i.field == "options")
        .expect("options")
        .var;
    write!(
        s,
        r#"
        if {opt} & {be}:
            self.endian, self.byteorder = ">", "big"
        else:
            self.endian, self.byteorder = "<", "little"
        self.legacy = bool({opt} & {legacy})
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
        if not known and not rtype & {optional}:
            self._stream_error("UnknownMandatory",
                               "unknown mandatory record type")

        if length > REC_LENGTH_MAX:
            self._stream_error("RecordTooLong",
                               "length %d is over the %d-octet limit"
                               % (length, REC_LENGTH_MAX))

        if rtype == {checkpoint_state} and length == 0:
            raise RecordError(self._where() + "CHECKPOINT_STATE with an empty "
                              "body; Xen's restore would crash: libxl reads "
                              "its id through a null body pointer",
                              "CrashesXenRestore", self.record_offset)

        content = self._read_content(length)

        if not known:
            self._warn("unknown optional record of length %d skipped"
                       % (length, ))
            return rtype

        self.info("Libxl Record: %s, length %d"
                  % (rec_type_to_str[rtype], length))
        record_verifiers[rtype](self, content)
        return rtype


    def _read_content(self, length):
        """Read a record body and its padding; check the padding is zero."""

        padded = (length + {align} - 1) & ~({align} - 1)
        content = self.rdexact(padded)
        padding = content[length:]
        if padding.strip(b"\x00"):
            first = length + len(padding) - len(padding.lstrip(b"\x00"))
            at = self.record_offset + {rh} + first
            raise StreamError(self._where() + "non-zero padding octet at "
                              "offset %d" % (at, ), "PaddingNonZero", at)
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


    def verify_xenstore_data(self, data, base):
        """
        Check the key/value strings of EMULATOR_XENSTORE_DATA (``data``,
        starting ``base`` octets into the body): every string NUL-terminated,
        keys and values paired, keys non-empty, relative and made of
        XENSTORE_KEY_CHARS. Errors are RecordErrors of kind "Xenstore" whose
        ``detail`` names the broken rule.
        """

        def bad(detail, at, index, msg):
            err = RecordError(self._where() + "xenstore data: %s at data "
                              "offset %d (string %d)" % (msg, at, index),
                              "Xenstore",
                              self.record_offset + {rh} + base + at)
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
                bad("NotNulTerminated", pos, index,
                    "string not NUL-terminated")
            text = data[pos:nul]
            if key is None:
                if not text:
                    bad("EmptyKey", pos, index, "empty key")
                if text[:1] == b"/":
                    bad("AbsoluteKey", pos, index, "key is an absolute path")
                key = text
                keys.append((pos, index, text))
            else:
                pairs.append((key, text))
                key = None
            pos = nul + 1
            index += 1
        if key is not None:
            at, index, _ = keys[-1]
            bad("OddStringCount", at, index,
                "key without a value (odd number of strings)")
        for at, index, text in keys:
            for i, c in enumerate(bytearray(text)):
                if c not in XENSTORE_KEY_CHARS:
                    bad("KeyCharacter", at + i, index,
                        "key holds the character 0x%02x" % (c, ))
        for key, val in pairs:
            self.info("  '%s' = '%s'"
                      % (key.decode("utf-8", "replace"),
                         val.decode("utf-8", "replace")))


"#,
        be = const_of(LIBXL_CONSTANTS, "HDR_OPT_BIG_ENDIAN"),
        legacy = const_of(LIBXL_CONSTANTS, "HDR_OPT_LEGACY"),
        optional = const_of(LIBXL_CONSTANTS, "REC_TYPE_OPTIONAL"),
        align = const_of(LIBXL_CONSTANTS, "REC_ALIGN"),
        checkpoint_state = LibxlRecord::LAYOUT
            .by_code(LibxlRecord::CHECKPOINT_STATE)
            .expect("CHECKPOINT_STATE")
            .py_name,
    )
    .unwrap();
    s
}
