//! `libxc.py`: the names, values, formats and record tables of the libxc
//! stream, and `VerifyLibxc`.

use format_spec::layout::Wire;
use format_spec::layout::{ConstLayout, Constraint, RecordLayout, SpecEnum};
use format_spec::libxc::{
    stands_in_for_static_data_end, v2_static_data_end_at, DYNAMIC_RECORDS, HVM_ONLY_RECORDS,
    ORDER_RULES, PAGE_DATA_TYPE_SHIFT, PAGE_SIZE, PV_DEFAULT_GUEST_WIDTH, PV_ONLY_RECORDS,
    PV_REQUIRED_RECORDS, SDE_CHECKED_RECORDS, STATIC_RECORDS, VALUE_RULES,
};
use format_spec::libxc::{
    DomainHeader, DomainType, ImageHeader, LibxcRecord, PageType, RecordHeader, LIBXC_CONSTANTS,
    LIBXC_STRUCTS, PAGE_SHIFT, PAGE_TYPES_WITHOUT_DATA, SUPPORTED_VERSIONS,
};

use format_spec::layout::{field_of, FieldKind, FieldLayout};
use format_spec::stream::rules::{
    ContextSize, OrderCheck, OrderRule, Scope, ValueCheck, ValueRule,
};
use format_spec::stream::{ErrorKind, PythonClass};

use super::banner;
use super::emit::*;
use super::records::*;
use crate::template::fill;
use crate::writer::{Writer, PYTHON_WIDTH};

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

/// The Python names of `codes`, sorted by code, one `    NAME,` line
/// each (the members of a `frozenset([...])` in the template).
pub(super) fn name_lines(codes: &[u32]) -> String {
    let mut codes = codes.to_vec();
    codes.sort_unstable();
    codes
        .iter()
        .map(|&c| format!("    {},\n", rec(c)))
        .collect()
}

/// `2 to 4`: the image versions this package reads, for its prose.
pub(crate) fn revisions() -> String {
    let first = SUPPORTED_VERSIONS.first().expect("a supported version");
    let last = SUPPORTED_VERSIONS.last().expect("a supported version");
    format!("{first} to {last}")
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

/// Facts the description states twice must agree.
fn check_agreement() {
    const VERSION: &FieldLayout = field_of(&ImageHeader::LAYOUT, "version");
    const PAGE_SHIFT_FIELD: &FieldLayout = field_of(&DomainHeader::LAYOUT, "page_shift");
    match VERSION.constraint {
        Constraint::OneOf(v) => assert_eq!(
            v,
            SUPPORTED_VERSIONS.map(u64::from).as_slice(),
            "ImageHeader.version and SUPPORTED_VERSIONS disagree"
        ),
        _ => panic!("ImageHeader.version has no allowed-values rule"),
    }
    match PAGE_SHIFT_FIELD.constraint {
        Constraint::OneOf(v) => assert_eq!(v, &[u64::from(PAGE_SHIFT)]),
        _ => panic!("DomainHeader.page_shift has no allowed-values rule"),
    }
}

/// The generated module: template `python/libxc.py`.
pub(super) fn libxc_py() -> String {
    check_agreement();
    let mut values = table_slots();
    values.extend(record_table_slots(&LibxcRecord::LAYOUT, true));
    values.extend(rule_slots());
    values.extend(class_slots());
    banner() + &fill(crate::template!("python/libxc.py"), &values)
}

/// The slots of the constants, formats, domain and page types.
fn table_slots() -> Vec<(&'static str, String)> {
    let type_name = |v: u64| {
        PageType::LAYOUT
            .variant(v)
            .and_then(|x| x.py_name)
            .expect("page type has a Python name")
    };
    let versions: Vec<String> = SUPPORTED_VERSIONS.iter().map(|v| v.to_string()).collect();
    vec![
        ("revisions", revisions()),
        ("constants", written(0, |w| emit_consts(w, LIBXC_CONSTANTS))),
        ("versions", versions.join(", ")),
        ("page_shift", PAGE_SHIFT.to_string()),
        ("formats", written(0, |w| emit_formats(w, LIBXC_STRUCTS))),
        (
            "domain_types",
            written(0, |w| emit_enum(w, &DomainType::LAYOUT, 8)),
        ),
        (
            "page_types",
            written(0, |w| emit_enum(w, &PageType::LAYOUT, 0)),
        ),
        (
            "valid_page_types",
            PageType::LAYOUT
                .variants
                .iter()
                .map(|v| format!("    {},\n", type_name(v.value)))
                .collect(),
        ),
        (
            "page_types_without_data",
            PAGE_TYPES_WITHOUT_DATA
                .iter()
                .map(|t| format!("    {},\n", type_name(t.value())))
                .collect(),
        ),
    ]
}

/// The slots of the order-rule sets, the PV rules and the error classes.
fn rule_slots() -> Vec<(&'static str, String)> {
    let table_types: String = PageType::LAYOUT
        .variants
        .iter()
        .filter(|v| PageType::from_value(v.value).is_some_and(|t| t.is_page_table()))
        .map(|v| format!("    0x{:x},\n", v.value << PAGE_DATA_TYPE_SHIFT))
        .collect();
    let sde_at: String = DomainType::LAYOUT
        .variants
        .iter()
        .map(|d| {
            let ty = DomainType::from_value(d.value).expect("variant of the enum");
            format!(
                "    {}: {},\n",
                d.py_name.expect("domain types have Python names"),
                rec(v2_static_data_end_at(ty))
            )
        })
        .collect();
    let error_class: String = ErrorKind::ALL
        .iter()
        .filter_map(|k| match k.python_class(true) {
            Some(c) if c != PythonClass::TruncatedError => {
                Some(format!("    \"{}\": {},\n", k.as_str(), c.as_str()))
            }
            _ => None,
        })
        .collect();
    vec![
        ("records_dynamic", name_lines(DYNAMIC_RECORDS)),
        ("records_pv_only", name_lines(PV_ONLY_RECORDS)),
        ("records_hvm_only", name_lines(HVM_ONLY_RECORDS)),
        ("records_back_channel", name_lines(&back_channel_records())),
        ("order_rules", order_rules_slot()),
        ("value_rules", value_rules_slot()),
        ("records_static", name_lines(STATIC_RECORDS)),
        ("records_sde_checked", name_lines(SDE_CHECKED_RECORDS)),
        (
            "records_pv_required",
            PV_REQUIRED_RECORDS
                .iter()
                .map(|&c| format!("    {},\n", rec(c)))
                .collect(),
        ),
        ("pv_default_guest_width", PV_DEFAULT_GUEST_WIDTH.to_string()),
        ("page_table_types", table_types),
        ("v2_static_data_end_at", sde_at),
        ("static_data_end_stand_ins", stand_ins()),
        ("error_class", error_class),
    ]
}

/// A Python string literal of `text`, split into adjacent literals of at
/// most `width` characters each, lines after the first indented by
/// `indent`.
fn py_str(text: &str, indent: &str, width: usize) -> String {
    let lines = crate::text::wrap(text, width);
    if lines.len() <= 1 {
        return format!("\"{text}\"");
    }
    let parts: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let sep = if i + 1 < lines.len() { " " } else { "" };
            format!("\"{l}{sep}\"")
        })
        .collect();
    format!("({})", parts.join(&format!("\n{indent} ")))
}

/// A Python tuple of the record names of `codes`, or of their spec names
/// (as strings) when `spec` is set, for a line of a writer at `column`:
/// wrapped at the line width, its lines after the first indented by
/// `indent` (and one more space) from the writer's column.
fn py_records(codes: &[u32], spec: bool, indent: &str, column: usize) -> String {
    let names: Vec<String> = codes
        .iter()
        .map(|&c| {
            if spec {
                format!("\"{}\"", record(c).spec_name)
            } else {
                rec(c).to_string()
            }
        })
        .collect();
    let mut out = String::from("(");
    let start = column + indent.len() + 1;
    let mut line = start;
    for (i, n) in names.iter().enumerate() {
        let item = format!("{n},");
        if i > 0 && line + 1 + item.len() > PYTHON_WIDTH - 1 {
            out.push_str(&format!("\n{indent} "));
            line = start;
        } else if i > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(&item);
        line += item.len();
    }
    out + ")"
}

/// The order table (`format_spec::libxc::ORDER_RULES`) as Python data:
/// one dict a rule, in the table's order.
fn order_rules_slot() -> String {
    written(4, |w| {
        for r in ORDER_RULES {
            order_rule(w, r);
        }
    })
}

/// One rule of the order table: its name as a comment, then its dict.
fn order_rule(w: &mut Writer, r: &OrderRule) {
    let (check, records, record_code, scope) = match r.check {
        OrderCheck::GuestOnly { records, .. } => ("guest_only", records, None, None),
        OrderCheck::AtMostOnce { record } => ("at_most_once", &[][..], Some(record), None),
        OrderCheck::After { first, records } => ("after", records, Some(first), None),
        OrderCheck::NotAfter {
            last,
            records,
            scope,
        } => ("not_after", records, Some(last), Some(scope)),
        OrderCheck::Required { records, scope } => ("required", records, None, Some(scope)),
        OrderCheck::CheckpointedOnly { record } => {
            ("checkpointed_only", &[][..], Some(record), None)
        }
        OrderCheck::BackChannelOnly { records } => ("back_channel_only", records, None, None),
    };
    let of_guest = match r.check {
        OrderCheck::GuestOnly { guest: g, .. } => Some(g),
        _ => None,
    };
    let scope = match scope {
        Some(Scope::Stream) => "\"stream\"",
        Some(Scope::Segment) => "\"segment\"",
        None => "None",
    };
    // The dict's lines after the first are one column in.
    let records_at = "           ";
    let (rc, rn) = match record_code {
        Some(c) => (rec(c).to_string(), format!("\"{}\"", record(c).spec_name)),
        None => ("None".to_string(), "None".to_string()),
    };
    let col = w.column();
    w.line(format!("# {}", r.rule.name))
        .line(format!(
            "{{\"kind\": \"{}\", \"check\": \"{check}\",",
            r.rule.kind.as_str()
        ))
        .line(format!(
            " \"records\": {},",
            py_records(records, false, &format!(" {records_at}"), col)
        ))
        .line(format!(
            " \"names\": {},",
            py_records(records, true, "          ", col)
        ))
        .line(format!(" \"record\": {rc}, \"record_name\": {rn},"))
        .line(format!(
            " \"of_guest\": {}, \"guest\": {}, \"scope\": {scope},",
            guest(of_guest),
            guest(r.guest)
        ))
        .line(format!(
            " \"since\": {}, \"warns\": {},",
            r.since,
            if r.warns_before { "True" } else { "False" }
        ))
        .line(format!(
            " \"message\": {}}},",
            py_str(r.message, &format!(" {records_at}"), 56)
        ));
}

/// The Python name of guest type `g` (`None` for every guest).
fn guest(g: Option<DomainType>) -> String {
    g.map_or("None".to_string(), |g| {
        DomainType::LAYOUT
            .variant(g.value())
            .and_then(|v| v.py_name)
            .expect("domain types have Python names")
            .to_string()
    })
}

/// The value table (`format_spec::libxc::VALUE_RULES`) as Python data:
/// one dict a rule, in the table's order.
fn value_rules_slot() -> String {
    written(4, |w| {
        for r in VALUE_RULES {
            value_rule(w, r);
        }
    })
}

/// The check of a value rule as Python names it, its fields and its
/// parameters (a Python expression).
fn value_check(check: &ValueCheck) -> (&'static str, Vec<&'static FieldLayout>, String) {
    let pairs = |v: &[(u8, String)]| {
        let items: Vec<String> = v.iter().map(|(k, x)| format!("{k}: {x}")).collect();
        format!("{{{}}}", items.join(", "))
    };
    match *check {
        ValueCheck::WidthLevels {
            width,
            levels,
            pairs: p,
        } => {
            let p: Vec<(u8, String)> = p.iter().map(|(w, l)| (*w, l.to_string())).collect();
            ("width_levels", vec![width, levels], pairs(&p))
        }
        ValueCheck::Range { start, end } => ("range", vec![start, end], "None".into()),
        ValueCheck::Frames { start, end } => ("frames", vec![start, end], "None".into()),
        ValueCheck::P2mEnd { end } => ("p2m_end", vec![end], "None".into()),
        ValueCheck::ContextSizes { sizes } => {
            let lines: Vec<String> = sizes
                .iter()
                .map(|(code, size)| {
                    let (how, v) = match *size {
                        ContextSize::ByGuestWidth(s) => {
                            let s: Vec<(u8, String)> =
                                s.iter().map(|(w, n)| (*w, n.to_string())).collect();
                            ("by_guest_width", pairs(&s))
                        }
                        ContextSize::AtMost(n) => ("at_most", n.to_string()),
                        ContextSize::AtLeast(n) => ("at_least", n.to_string()),
                        ContextSize::Entries(n) => ("entries", n.to_string()),
                    };
                    format!("\n     {}: (\"{how}\", {v}),", rec(*code))
                })
                .collect();
            (
                "context_sizes",
                vec![],
                format!("{{{}\n }}", lines.concat()),
            )
        }
        ValueCheck::NotEmpty => ("not_empty", vec![], "None".into()),
        ValueCheck::AfterP2m { p2m } => ("after_p2m", vec![], rec(p2m).to_string()),
        ValueCheck::PfnsInP2m => ("pfns_in_p2m", vec![], "None".into()),
        ValueCheck::PtesInP2m {
            present,
            frame_mask,
        } => (
            "ptes_in_p2m",
            vec![],
            format!("(0x{present:x}, 0x{frame_mask:x})"),
        ),
        ValueCheck::Vcpu0AtCompletion { vcpu, .. } => {
            ("vcpu0_at_completion", vec![vcpu], "None".into())
        }
        ValueCheck::P2mAtCompletion { p2m } => ("p2m_at_completion", vec![], rec(p2m).to_string()),
    }
}

/// One rule of the value table: its name as a comment, then its dict.
fn value_rule(w: &mut Writer, r: &ValueRule) {
    let (check, fields, values) = value_check(&r.check);
    let body = r.records.first().and_then(|&c| record(c).body);
    let fixed = body.map_or(0, |b| b.size);
    let element = body
        .and_then(|b| b.trailing())
        .and_then(|t| t.kind.element_size())
        .unwrap_or(0);
    let fields: Vec<String> = fields
        .iter()
        .map(|f| match f.kind {
            FieldKind::Prim(p) => format!("({}, \"{}\"), ", f.offset, p.py_char()),
            _ => panic!("value rule field {} is not an integer", f.name),
        })
        .collect();
    let col = w.column();
    w.line(format!("# {}", r.rule.name))
        .line(format!(
            "{{\"kind\": \"{}\", \"check\": \"{check}\",",
            r.rule.kind.as_str(),
        ))
        .line(format!(
            " \"guest\": {}, \"fixed\": {fixed}, \"element\": {element},",
            guest(r.guest)
        ))
        .line(format!(" \"fields\": ({}),", fields.concat().trim_end()))
        .line(format!(
            " \"records\": {},",
            py_records(r.records, false, "            ", col)
        ));
    w.line(format!(" \"values\": {values}}},"));
}

/// `STATIC_DATA_END_STAND_INS`: by guest type, the records at which a
/// stream older than STATIC_DATA_END infers it.
fn stand_ins() -> String {
    DomainType::LAYOUT
        .variants
        .iter()
        .map(|d| {
            let ty = DomainType::from_value(d.value).expect("variant of the enum");
            let codes: Vec<u32> = LibxcRecord::LAYOUT
                .records
                .iter()
                .map(|r| r.code)
                .filter(|&c| stands_in_for_static_data_end(ty, c))
                .collect();
            let lead = format!(
                "{}: frozenset(",
                d.py_name.expect("domain types have Python names")
            );
            let indent = " ".repeat(lead.len());
            let set = py_records(&codes, false, &indent, 4);
            written(4, |w| {
                w.line(format!("{lead}{set}),"));
            })
        })
        .collect()
}

/// The records of the table's back-channel rules.
fn back_channel_records() -> Vec<u32> {
    ORDER_RULES
        .iter()
        .filter_map(|r| match r.check {
            OrderCheck::BackChannelOnly { records } => Some(records),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// The slots of `VerifyLibxc`: header methods, record names and rule
/// versions its methods use, and the generated record verifiers.
fn class_slots() -> Vec<(&'static str, String)> {
    let ihdr = items(&ImageHeader::LAYOUT);
    let dhdr = items(&DomainHeader::LAYOUT);
    let var = |its: &[Item], n: &str| {
        its.iter()
            .find(|i| i.label == n)
            .unwrap_or_else(|| panic!("header field {n}"))
            .var
            .clone()
    };
    let sde = record(LibxcRecord::STATIC_DATA_END);
    let mut v = vec![
        ("rh_size", RecordHeader::LAYOUT.size.to_string()),
        (
            "ihdr_body",
            written(8, |w| {
                header_body(w, &ImageHeader::LAYOUT, "image header", LIBXC_CONSTANTS)
            }),
        ),
        ("version_var", var(&ihdr, "version")),
        ("options_var", var(&ihdr, "options")),
        ("opt_be", const_py("IHDR_OPT_BIG_ENDIAN").to_string()),
        (
            "dhdr_body",
            written(8, |w| {
                header_body(w, &DomainHeader::LAYOUT, "domain header", LIBXC_CONSTANTS)
            }),
        ),
        ("type_var", var(&dhdr, "type")),
        ("major_var", var(&dhdr, "xen_major")),
        ("minor_var", var(&dhdr, "xen_minor")),
        ("x86_pv", DomainType::X86Pv.value().to_string()),
        ("sde_name", sde.py_name.to_string()),
        ("sde_since", sde.since.to_string()),
        ("sde_prev", (sde.since - 1).to_string()),
        ("page_size", PAGE_SIZE.to_string()),
        ("pfn_size", pfn_entry_size().to_string()),
        ("pfn_char", pfn_entry_char().to_string()),
        ("record_methods", record_methods()),
        ("record_verifiers", record_verifiers(&LIBXC)),
    ];
    for (slot, code) in [
        ("page_data", LibxcRecord::PAGE_DATA),
        ("end", LibxcRecord::END),
        ("checkpoint", LibxcRecord::CHECKPOINT),
    ] {
        v.push((slot, rec(code).to_string()));
    }
    v
}

/// The Python struct character of one PAGE_DATA pfn entry.
fn pfn_entry_char() -> char {
    let pfn = format_spec::libxc::PageDataHeader::LAYOUT
        .trailing()
        .expect("PAGE_DATA has a pfn array");
    match pfn.kind {
        FieldKind::TrailingPrim(p) => p.py_char(),
        _ => panic!("PAGE_DATA pfn entries are integers"),
    }
}

/// The size of one PAGE_DATA pfn entry.
fn pfn_entry_size() -> usize {
    let pfn = format_spec::libxc::PageDataHeader::LAYOUT
        .trailing()
        .expect("PAGE_DATA has a pfn array");
    match pfn.kind {
        format_spec::layout::FieldKind::TrailingPrim(p) => p.size(),
        _ => panic!("PAGE_DATA pfn entries are integers"),
    }
}

/// The `verify_record_*` methods, each followed by the blob check of the
/// records that carry one, two blank lines apart.
fn record_methods() -> String {
    let methods: Vec<String> = groups(&LIBXC)
        .iter()
        .map(|g| {
            written(4, |w| {
                record_method(w, g, &LIBXC);
                w.indented(|w| match g.members[0].0.code {
                    LibxcRecord::DOMAIN_CONTEXT => {
                        w.line("self.verify_domain_context_blob(content)");
                    }
                    LibxcRecord::HVM_CONTEXT => {
                        w.line("self.verify_hvm_context_blob(content)");
                    }
                    _ => {}
                });
            })
        })
        .collect();
    methods.join("\n\n")
}
