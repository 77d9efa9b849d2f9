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

use format_spec::layout::{field_of, FieldLayout, SpecEnum, Wire};
use format_spec::libxl::{
    is_xenstore_key_char, CheckpointStateId, EmulatorHeader, EmulatorId, LibxlHeader, LibxlRecord,
    HDR_OPT_BIG_ENDIAN, HDR_OPT_LEGACY, LIBXL_CONSTANTS, LIBXL_STRUCTS, LIBXL_TEXT_CONSTANTS,
    REC_ALIGN, REC_LENGTH_MAX, REC_TYPE_OPTIONAL,
};

use format_spec::outer;

use super::banner;
use super::emit::*;
use super::records::*;
use crate::template::fill;
use crate::writer::Writer;

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

/// `self._unexpected(why)` on a line of `w`: an UnexpectedRecord error
/// with the Rust reader's reason (`format_spec::outer`).
fn unexpected(w: &Writer, why: &str) -> String {
    py_call("self._unexpected", why, w.column())
}

/// The slots of the messages the template shares with the Rust reader
/// (`format_spec::outer`), each at the column of its slot.
fn message_slots() -> Vec<(&'static str, String)> {
    let (what, crash) = outer::EMPTY_STATE;
    let raise = "raise RecordError(self._where() + ";
    let empty_state = written(12, |w| {
        let text = format!("{what}{}{crash}", format_spec::stream::XEN_RESTORE_WOULD);
        let cont = "raise RecordError(".len();
        w.line(format!(
            "{raise}{},\n{}\"{}\", self.record_offset)",
            py_text(&text, w.column(), raise.len(), cont, 1),
            " ".repeat(cont),
            outer::OuterErrorKind::CrashesXenRestore.as_str()
        ));
    });
    vec![
        ("empty_state", empty_state),
        (
            "not_in_checkpoint",
            written(12, |w| {
                w.line(unexpected(w, outer::NOT_IN_CHECKPOINT));
            }),
        ),
        (
            "state_outside_colo",
            written(12, |w| {
                w.line(unexpected(w, outer::STATE_OUTSIDE_COLO));
            }),
        ),
    ]
}

/// The extra checks and effects of one libxl record after its generic
/// body checks: the structure rules, the xenstore data and the handover
/// to the libxc verifier.
pub(super) fn record_extra(w: &mut Writer, code: u32) {
    let emu = EmulatorHeader::LAYOUT.size;
    match code {
        LibxlRecord::END => {
            w.block("if self.in_checkpoint:", |w| {
                w.line(unexpected(w, outer::END_IN_CHECKPOINT));
            });
            w.block("if self.libxc is None:", |w| {
                w.line(unexpected(w, outer::END_WITHOUT_LIBXC));
            });
        }
        LibxlRecord::LIBXC_CONTEXT => {
            w.block("if self.libxc is not None:", |w| {
                w.line(unexpected(w, outer::LIBXC_READ));
            });
            w.line("# The libxc stream follows inline; verify it in place.")
                .line("self.libxc = VerifyLibxc(self.info, self.read)")
                .line("self.libxc.offset = self.offset")
                .line("self.libxc.verify_ihdr()")
                .line("self.libxc.verify_dhdr()")
                .line("self._libxc_started()")
                .line("self._resume_libxc()");
        }
        LibxlRecord::EMULATOR_XENSTORE_DATA => {
            w.line(format!("self.verify_xenstore_data(content[{emu}:], {emu})"))
                .line("self._guest_takes_emulators()");
        }
        LibxlRecord::EMULATOR_CONTEXT => {
            w.line("self._guest_takes_emulators()");
        }
        LibxlRecord::CHECKPOINT_END => {
            w.line("self._checkpoint_end()");
        }
        LibxlRecord::CHECKPOINT_STATE => {
            w.line("self.info(\"  %s\" % (checkpoint_state_to_str[id_], ))")
                .line("self._checkpoint_state(id_)");
        }
        _ => panic!("libxl record 0x{code:x} has no verifier tail"),
    }
}

/// The generated `libxl.py`: template `python/libxl.py`.
pub(super) fn libxl_py() -> String {
    let mut values = table_slots();
    values.extend(record_table_slots(&LibxlRecord::LAYOUT, false));
    values.extend(class_slots());
    values.extend(message_slots());
    banner() + &fill(crate::template!("python/libxl.py"), &values)
}

/// The slots of the constants, formats, emulators and checkpoint states.
fn table_slots() -> Vec<(&'static str, String)> {
    let keychars: Vec<u8> = (0..=255u8).filter(|c| is_xenstore_key_char(*c)).collect();
    vec![
        ("revision", format_spec::libxl::HDR_VERSION.to_string()),
        ("constants", written(0, |w| emit_consts(w, LIBXL_CONSTANTS))),
        ("rec_length_max", int_lit(u64::from(REC_LENGTH_MAX))),
        (
            "text_constants",
            written(0, |w| emit_text_consts(w, LIBXL_TEXT_CONSTANTS)),
        ),
        ("formats", written(0, |w| emit_formats(w, LIBXL_STRUCTS))),
        (
            "emulators",
            written(0, |w| emit_enum(w, &EmulatorId::LAYOUT, 8)),
        ),
        (
            "checkpoint_states",
            written(0, |w| emit_enum(w, &CheckpointStateId::LAYOUT, 0)),
        ),
        (
            "checkpoint_state_to_str",
            CheckpointStateId::LAYOUT
                .variants
                .iter()
                .map(|v| format!("    {}: \"{}\",\n", v.py_name.expect("py name"), v.human))
                .collect(),
        ),
        ("xenstore_key_chars", bytes_lit(&keychars)),
    ]
}

/// The slots of `VerifyLibxl`.
fn class_slots() -> Vec<(&'static str, String)> {
    const OPTIONS: &FieldLayout = field_of(&LibxlHeader::LAYOUT, "options");
    let opt = items(&LibxlHeader::LAYOUT)
        .into_iter()
        .find(|i| i.field == OPTIONS.name)
        .expect("options")
        .var;
    let methods: Vec<String> = groups(&LIBXL)
        .iter()
        .map(|g| {
            written(4, |w| {
                record_method(w, g, &LIBXL);
                w.indented(|w| record_extra(w, g.members[0].0.code));
            })
        })
        .collect();
    vec![
        (
            "rh_size",
            format_spec::libxl::LibxlRecordHeader::LAYOUT
                .size
                .to_string(),
        ),
        (
            "hdr_body",
            written(8, |w| {
                header_body(w, &LibxlHeader::LAYOUT, "libxl header", LIBXL_CONSTANTS)
            }),
        ),
        ("opt", opt),
        (
            "be",
            py_const!(LIBXL_CONSTANTS, HDR_OPT_BIG_ENDIAN).to_string(),
        ),
        (
            "legacy",
            py_const!(LIBXL_CONSTANTS, HDR_OPT_LEGACY).to_string(),
        ),
        (
            "optional",
            py_const!(LIBXL_CONSTANTS, REC_TYPE_OPTIONAL).to_string(),
        ),
        ("align", py_const!(LIBXL_CONSTANTS, REC_ALIGN).to_string()),
        (
            "checkpoint_new",
            (CheckpointStateId::New as u32).to_string(),
        ),
        (
            "checkpoint_state",
            LibxlRecord::LAYOUT
                .by_code(LibxlRecord::CHECKPOINT_STATE)
                .expect("the record table holds its own code")
                .py_name
                .to_string(),
        ),
        ("record_methods", methods.join("\n\n")),
        ("record_verifiers", record_verifiers(&LIBXL)),
    ]
}
