//! `xl.py`: the xl save file header in front of the libxl stream, a
//! drop-in for Xen's module of the same name.

use format_spec::layout::{field_of, ByteOrder, FieldKind, FieldLayout, StructLayout, Wire};
use format_spec::libxc::ImageHeader;
use format_spec::xl::{
    ConfigRequirement, XlGuestType, XlHeader, XL_CONFIG_FRAMING, XL_CONSTANTS, XL_FLAG_RULES,
    XL_JSON_TERMINATOR, XL_MAGIC, XL_MANDATORY_FLAG_JSON, XL_MANDATORY_FLAG_STREAMV2, XL_STRUCTS,
    XL_TEXT_CONSTANTS,
};

use super::banner;
use super::emit::*;
use crate::template::fill;
use crate::writer::Writer;

/// The checks of the rules the set mandatory flags make on the
/// configuration (`XL_FLAG_RULES`), in the table's order. The verifier is
/// strict: every rule is checked.
fn flag_rules(w: &mut Writer, flags_var: &str, flags_off: &str) {
    for rule in XL_FLAG_RULES {
        let flag = named_value(XL_CONSTANTS, u64::from(rule.flag))
            .unwrap_or_else(|| panic!("no Python name for the flag of {}", rule.kind));
        let set = format!("{flags_var} & {flag}");
        let kind = rule.kind.as_str();
        let class = py_class(kind, false);
        match rule.requires {
            ConfigRequirement::Present => {
                w.block(format!("if {set} and self.config is None:"), |w| {
                    w.line(format!("raise {class}("));
                    w.line(format!("    \"xl header: mandatory_flags has {flag} \""));
                    w.line("    \"set, but the file holds no configuration\",");
                    w.line(format!("    \"{kind}\", base + {flags_off})"));
                });
            }
            ConfigRequirement::EndsWith(b) => {
                // The configuration's first octet, after the framing's
                // fixed part.
                let at = format!("data_at + {}", XL_CONFIG_FRAMING.fixed());
                w.block(
                    format!(
                        "if ({set} and self.config is not None\n        and self.config[-1:] != b\"\\x{b:02x}\"):"
                    ),
                    |w| {
                        w.line(format!("raise {class}("));
                        w.line(format!(
                            "    \"xl configuration at offset %d does not end in 0x{b:02x} \""
                        ));
                        w.line(format!("    \"({flag} is set)\" % ({at}, ),"));
                        w.line(format!("    \"{kind}\", {at})"));
                    },
                );
            }
        }
    }
}

/// The size and the Python `struct` format of the libxc image header's
/// marker, which a stream after an xl header without the stream-v2 flag
/// must start with.
fn ihdr_marker_slots() -> [(&'static str, String); 2] {
    const MARKER: &FieldLayout = field_of(&ImageHeader::LAYOUT, "marker");
    [
        ("ihdr_marker_size", MARKER.size().to_string()),
        (
            "ihdr_marker_fmt",
            big_endian_format(&ImageHeader::LAYOUT, MARKER),
        ),
    ]
}

/// The Python `struct` format of the integer field `f` of `st`, a
/// big-endian struct (a header's identifying field).
pub(crate) fn big_endian_format(st: &StructLayout, f: &FieldLayout) -> String {
    let FieldKind::Prim(prim) = f.kind else {
        panic!("{}.{} is an integer", st.rust_name, f.name);
    };
    assert!(
        st.byte_order == ByteOrder::Big,
        "{} is big-endian",
        st.rust_name
    );
    format!("{}{}", st.byte_order.py_prefix(), prim.py_char())
}

/// The Python slice of the `size` octets at `offset` of `var`.
fn py_slice(var: &str, offset: usize, size: usize) -> String {
    match offset {
        0 => format!("{var}[:{size}]"),
        _ => format!("{var}[{offset}:{}]", offset + size),
    }
}

/// The slots of `_config`, the framing of the optional data
/// (`XL_CONFIG_FRAMING`): the fixed part unpacked as its layout says, the
/// count field's name and variable, the counted octets and the KIND.
fn config_slots() -> Vec<(&'static str, String)> {
    let framing = &XL_CONFIG_FRAMING;
    let its = items(framing.layout);
    let count = framing.count_field();
    let count_var = its
        .iter()
        .find(|i| i.field == count.name)
        .map(|i| i.var.clone())
        .unwrap_or_else(|| panic!("{}.{} is unpacked", framing.layout.rust_name, count.name));
    let vars: Vec<&str> = its.iter().map(|i| i.var.as_str()).collect();
    // One variable unpacks as `name, = ...`.
    let vars = match vars.as_slice() {
        [one] => format!("{one},"),
        more => more.join(", "),
    };
    let octets = match framing.element() {
        1 => count_var.clone(),
        n => format!("{count_var} * {n}"),
    };
    vec![
        ("cfg_fixed", framing.fixed().to_string()),
        ("cfg_vars", vars),
        ("cfg_fmt", its.iter().map(|i| i.prim.py_char()).collect()),
        ("cfg_count_name", count.name.to_string()),
        ("cfg_count", count_var),
        ("cfg_octets", octets),
        ("cfg_kind", format!("\"{}\"", framing.kind.as_str())),
    ]
}

/// The entries of `MIGRATION_MESSAGES`, one per line, indented as the
/// template's slot.
fn migration_messages() -> String {
    let bool_lit = |b: bool| if b { "True" } else { "False" };
    format_spec::xl::MIGRATION_MESSAGES
        .iter()
        .map(|m| {
            format!(
                "    (\"{}\",\n     {},\n     {}, {}),",
                m.name,
                bytes_lit(m.text),
                bool_lit(m.nul),
                bool_lit(m.status_octet)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The generated `xl.py`: template `python/xl.py`.
pub(super) fn xl_py() -> String {
    let st = &XlHeader::LAYOUT;
    let its = items(st);
    // The fields named here, checked when xtask compiles.
    const BYTEORDER: &FieldLayout = field_of(&XlHeader::LAYOUT, "byteorder");
    const FLAGS: &FieldLayout = field_of(&XlHeader::LAYOUT, "mandatory_flags");
    const DATA_LEN: &FieldLayout = field_of(&XlHeader::LAYOUT, "optional_data_len");
    let item = |f: &FieldLayout| {
        its.iter()
            .find(|i| i.field == f.name)
            .unwrap_or_else(|| panic!("XlHeader.{} is unpacked", f.name))
    };
    let var = |f: &FieldLayout| item(f).var.clone();
    let marker_item = item(BYTEORDER);
    let marker = match marker_item.constraint {
        format_spec::layout::Constraint::Equals(v) => v,
        _ => panic!("XlHeader.byteorder has no Equals rule"),
    };
    let marker_kind = marker_item.error.expect("XlHeader.byteorder's KIND");
    let marker_name = XL_CONSTANTS
        .iter()
        .find(|c| c.value == marker)
        .and_then(|c| c.py_name)
        .expect("the byte-order marker has a Python name");
    let body_fmt: String = st.py_items().iter().map(|(_, _, p)| p.py_char()).collect();
    let magic = XL_TEXT_CONSTANTS
        .iter()
        .find(|c| c.value == XL_MAGIC.as_slice())
        .and_then(|c| c.py_name)
        .expect("XL_MAGIC has a Python name");

    let rest: Vec<_> = its
        .iter()
        .filter(|i| i.field != BYTEORDER.name)
        .cloned()
        .collect();
    // The header checks count offsets from `base`, after the magic.
    let raise = Raise::Header {
        what: "xl header",
        base: "base",
    };
    // Field by field, as the Rust reader checks them (`outer::header_rules`):
    // the first broken rule is the one reported.
    let checks = written(8, |w| emit_field_checks(w, &rest, raise, XL_CONSTANTS));

    let vars: Vec<&str> = its.iter().map(|i| i.var.as_str()).collect();
    let values = [
        (
            "text_constants",
            written(0, |w| emit_text_consts(w, XL_TEXT_CONSTANTS)),
        ),
        ("constants", written(0, |w| emit_consts(w, XL_CONSTANTS))),
        ("formats", written(0, |w| emit_formats(w, XL_STRUCTS))),
        ("magic", magic.to_string()),
        ("size", st.size.to_string()),
        (
            "v2",
            py_const!(XL_CONSTANTS, XL_MANDATORY_FLAG_STREAMV2).to_string(),
        ),
        (
            "hdr_doc",
            written(8, |w| {
                w.docstring(&py_doc(st.doc));
            }),
        ),
        ("marker_name", marker_name.to_string()),
        ("marker_off", marker_item.offset.to_string()),
        ("marker_fmt", marker_item.prim.py_char().to_string()),
        (
            "marker_raw",
            py_slice("raw", marker_item.offset, marker_item.prim.size()),
        ),
        ("json_end", bytes_lit(&[XL_JSON_TERMINATOR])),
        ("marker_kind", marker_kind.to_string()),
        ("vars", vars.join(", ")),
        ("body_fmt", body_fmt),
        ("header_checks", checks),
        ("len_var", var(DATA_LEN)),
        ("flags_var", var(FLAGS)),
        (
            "flag_rules",
            written(8, |w| {
                flag_rules(w, &var(FLAGS), &item(FLAGS).offset.to_string())
            }),
        ),
        (
            "json",
            py_const!(XL_CONSTANTS, XL_MANDATORY_FLAG_JSON).to_string(),
        ),
        (
            "guest_types",
            XlGuestType::ALL
                .iter()
                .map(|t| format!("{:?}, ", t.json_name()))
                .collect::<String>()
                .trim_end()
                .to_string(),
        ),
        (
            "emulator_guest_type",
            XlGuestType::ALL
                .into_iter()
                .filter(|t| t.takes_emulator_records())
                .map(|t| format!("{:?}", t.json_name()))
                .collect::<String>(),
        ),
        ("migration_messages", migration_messages()),
        (
            "migration_trailer_max",
            format_spec::xl::MIGRATION_TRAILER_MAX.to_string(),
        ),
    ];
    let values: Vec<(&'static str, String)> = values
        .into_iter()
        .chain(config_slots())
        .chain(ihdr_marker_slots())
        .collect();
    banner() + &fill(crate::template!("python/xl.py"), &values)
}
