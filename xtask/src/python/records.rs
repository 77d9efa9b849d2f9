//! The verifier methods of the record-based layers (libxc, libxl): the
//! header methods, one `verify_record_*` method per record (or group of
//! records sharing a body layout) and the `record_verifiers` table.

use format_spec::layout::Wire;
use format_spec::layout::{
    ByteOrder, ConstLayout, Constraint, FieldKind, LengthRule, RecordLayout, RecordSetLayout,
    StructLayout,
};
use format_spec::libxc::{LibxcRecord, PageDataHeader, LIBXC_CONSTANTS};
use format_spec::libxl::LibxlRecord;
use format_spec::stream::ErrorKind;

use super::emit::*;
use super::libxc::*;
use crate::template::fill_in;
use crate::writer::Writer;

/// Method name suffix of a record's verifier (`page_data` for PAGE_DATA).
pub(super) fn suffix(r: &RecordLayout) -> &'static str {
    r.py_name
        .strip_prefix("REC_TYPE_")
        .expect("Python record names start with REC_TYPE_")
}

/// Records that share one body layout get one `..._generic` verifier taking
/// the distinguishing part of the name (Xen's X86_PV_VCPU_* records).
pub(super) struct Group {
    /// Method suffix, e.g. `x86_pv_vcpu_generic`.
    pub(super) method: String,
    /// (record, name argument).
    pub(super) members: Vec<(&'static RecordLayout, String)>,
}

/// What differs between the record-based layers a verifier class is
/// generated for (libxc, libxl).
pub(super) struct Layer {
    /// The Python verifier class (`VerifyLibxc`).
    pub(super) class: &'static str,
    /// The record table.
    pub(super) set: &'static RecordSetLayout,
    /// The named constants of the layer's module.
    pub(super) consts: &'static [ConstLayout],
    /// Whether records sharing a body layout share one `*_generic`
    /// verifier (Xen's libxc module does this; its libxl module does not).
    pub(super) group: bool,
    /// Whether a variable-sized record with no content is warned about
    /// (the libxc spec errata).
    pub(super) warn_empty: bool,
    /// Whether a body-length error points at the record header (the libxc
    /// verifier's convention, `format_spec::stream`) or at the body (the
    /// outer layers', `format_spec::outer`).
    pub(super) length_error_at_header: bool,
}

pub(super) fn groups(layer: &Layer) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    let recs = layer.set.records;
    let mut done = vec![false; recs.len()];
    for (i, r) in recs.iter().enumerate() {
        if done[i] {
            continue;
        }
        let same: Vec<usize> = (i..recs.len())
            .filter(|&j| {
                !done[j]
                    && (layer.group || j == i)
                    && match (r.body, recs[j].body) {
                        (Some(a), Some(b)) => a.rust_name == b.rust_name,
                        _ => j == i,
                    }
                    && recs[j].length == r.length
            })
            .collect();
        for &j in &same {
            done[j] = true;
        }
        if same.len() == 1 {
            out.push(Group {
                method: suffix(r).to_string(),
                members: vec![(r, String::new())],
            });
            continue;
        }
        let names: Vec<&str> = same.iter().map(|&j| suffix(&recs[j])).collect();
        let mut prefix = names[0].to_string();
        for n in &names[1..] {
            while !n.starts_with(&prefix) {
                prefix.pop();
            }
        }
        out.push(Group {
            method: format!("{prefix}generic"),
            members: same
                .iter()
                .map(|&j| (&recs[j], suffix(&recs[j])[prefix.len()..].to_string()))
                .collect(),
        });
    }
    out
}

/// Writes the body of a header's verifier method, after its `def` line
/// (which the template holds): the header's docstring, its unpacking and
/// the checks of its fields.
pub(super) fn header_body(w: &mut Writer, st: &StructLayout, what: &str, consts: &[ConstLayout]) {
    let its = items(st);
    let prefix = match st.byte_order {
        ByteOrder::Big => "",
        ByteOrder::Stream => "self.endian + ",
        ByteOrder::Native => panic!("no native-order headers in the libxc stream"),
    };
    let vars: Vec<&str> = its.iter().map(|i| i.var.as_str()).collect();
    w.docstring(&py_doc(st.doc))
        .line("start = self.offset")
        .line(format!(
            "{} = \\\n    self.unpack_exact({prefix}{})",
            vars.join(", "),
            fmt_name(st)
        ));
    let raise = Raise::Header {
        what,
        base: "start",
    };
    emit_field_checks(w, &its, raise, consts);
}

/// Writes a BadLength check: `cond` true when broken, message `fmt` %
/// args. With `at_header` the error points at the record header, else at
/// the body (see [`Layer::length_error_at_header`]).
pub(super) fn bad_len(w: &mut Writer, at_header: bool, cond: &str, fmt: &str, args: &[&str]) {
    let mut all = vec!["what"];
    all.extend_from_slice(args);
    let call = if at_header {
        "_stream_error"
    } else {
        "_record_error"
    };
    w.block(format!("if {cond}:"), |w| {
        w.line(format!("self.{call}("));
        w.indented(|w| {
            w.line(format!("\"{}\",", ErrorKind::BadLength))
                .line(format!("\"%s: {fmt}\""))
                .line(format!("% ({}))", all.join(", ")));
        });
    });
}

/// The facts of a record body that Xen's own `verify-stream-v2 -v` prints,
/// in Xen's words, so that the generated verifiers print them alike:
/// (record table, record type, format, arguments; `{fixed}` is the size
/// of the fixed part). A grouped verifier (the X86_PV_VCPU_* records)
/// takes its first member's.
pub(super) const XEN_WORDING: &[(&RecordSetLayout, u32, &str, &str)] = &[
    (
        &LibxcRecord::LAYOUT,
        LibxcRecord::X86_PV_INFO,
        "  %dbit guest, %d levels of pagetables",
        "guest_width * 8, pt_levels",
    ),
    (
        &LibxcRecord::LAYOUT,
        LibxcRecord::X86_PV_P2M_FRAMES,
        "  Start pfn 0x%x, End 0x%x",
        "start_pfn, end_pfn",
    ),
    (
        &LibxcRecord::LAYOUT,
        LibxcRecord::X86_PV_VCPU_BASIC,
        "  vcpu%d %s context, %d bytes",
        "vcpu_id, name, len(content) - {fixed}",
    ),
    (
        &LibxcRecord::LAYOUT,
        LibxcRecord::X86_TSC_INFO,
        "  Mode %u, %u kHz, %u ns, incarnation %d",
        "mode, khz, nsec, incarnation",
    ),
    (
        &LibxlRecord::LAYOUT,
        LibxlRecord::EMULATOR_XENSTORE_DATA,
        "Emulator Xenstore Data (%s, idx %d)",
        "emulator_id_to_str[id_], index",
    ),
    (
        &LibxlRecord::LAYOUT,
        LibxlRecord::EMULATOR_CONTEXT,
        "  Index %d, type %s",
        "index, emulator_id_to_str[id_]",
    ),
];

/// Xen's wording of what record `r` of table `set` prints
/// ([`XEN_WORDING`]).
fn xen_wording(set: &RecordSetLayout, r: &RecordLayout) -> Option<(&'static str, &'static str)> {
    XEN_WORDING
        .iter()
        .find(|(s, code, _, _)| s.rust_name == set.rust_name && *code == r.code)
        .map(|(_, _, fmt, args)| (*fmt, *args))
}

/// Writes the `verify_record_*` method of one record (or group) at the
/// writer's depth (a class body).
pub(super) fn record_method(w: &mut Writer, g: &Group, layer: &Layer) {
    let (r, _) = g.members[0];
    let head = if g.members.len() > 1 {
        format!("def verify_record_{}(self, content, name):", g.method)
    } else {
        format!("def verify_record_{}(self, content):", g.method)
    };
    w.block(head, |w| {
        method_intro(w, g);
        if r.deprecated == Some(0) {
            w.line(format!(
                "self._stream_error(\"{}\",\n                   \
                 \"%s is not valid in any stream\" % (what, ))",
                ErrorKind::DeprecatedRecord
            ));
        } else if r.length == LengthRule::PageData {
            page_data_body(w, r);
        } else {
            record_body(w, r, layer);
        }
    });
}

/// The docstring of a record method and its `what`, the record's name in
/// messages (a group's with the distinguishing part from `name`).
fn method_intro(w: &mut Writer, g: &Group) {
    let (r, _) = g.members[0];
    if g.members.len() == 1 {
        w.docstring(&py_doc(r.doc))
            .line(format!("what = \"{}\"", r.spec_name));
        return;
    }
    let names: Vec<&str> = g.members.iter().map(|(m, _)| m.spec_name).collect();
    let body_doc = r.body.map_or(r.doc, |b| b.doc);
    w.docstring(&py_doc(&format!(
        "Shared verifier of {}. {body_doc}",
        names.join(", ")
    )));
    // The spec name with the distinguishing part left to `name`.
    let (full, arg) = (g.members[0].0.spec_name, g.members[0].1.to_uppercase());
    w.line(format!(
        "what = \"{}%s\" % (name.upper(), )",
        &full[..full.len() - arg.len()]
    ));
}

/// The body checks of a record with a length rule and maybe a layout:
/// its length, its fields' rules and what it prints.
fn record_body(w: &mut Writer, r: &RecordLayout, layer: &Layer) {
    let body = r.body.filter(|b| b.size > 0 || b.trailing().is_some());
    let fixed_items = body.map(items).unwrap_or_default();
    let fixed = body.map_or(0, |b| b.size);
    length_check(w, r, layer, fixed);
    let Some(st) = body else {
        return;
    };
    if !fixed_items.is_empty() {
        let src = if r.length == LengthRule::Exact(fixed) {
            "content".to_string()
        } else {
            format!("content[:{fixed}]")
        };
        w.line(unpack_line(st, &fixed_items, &src));
    }
    count_checks(w, r, layer, &fixed_items, fixed);
    constraint_checks(w, st, &fixed_items, layer);
    summary(w, r, layer, st, &fixed_items);
}

/// The BadLength check of a record's length rule (before unpacking).
fn length_check(w: &mut Writer, r: &RecordLayout, layer: &Layer, fixed: usize) {
    let at_header = layer.length_error_at_header;
    let agree = |f: usize| {
        assert_eq!(
            f, fixed,
            "{}: length rule and body layout disagree",
            r.spec_name
        )
    };
    let (cond, fmt, args): (String, String, &[&str]) = match r.length {
        LengthRule::Exact(n) => (
            format!("len(content) != {n}"),
            format!("body is %d octets, expected {n}"),
            &["len(content)"],
        ),
        LengthRule::NonEmpty => ("len(content) == 0".into(), "body is empty".into(), &[]),
        LengthRule::Rest { fixed: f, element } => {
            agree(f);
            let (cond, fmt) = match (f, element) {
                (0, e) => (
                    format!("len(content) % {e}"),
                    format!("body is %d octets, not a multiple of {e}"),
                ),
                (f, 1) => (
                    format!("len(content) < {f}"),
                    format!("body is %d octets, shorter than {f}"),
                ),
                (f, e) => (
                    format!("len(content) < {f} or (len(content) - {f}) % {e}"),
                    format!("body is %d octets, not {f} plus a multiple of {e}"),
                ),
            };
            (cond, fmt, &["len(content)"])
        }
        LengthRule::Counted { fixed: f, .. } => {
            agree(f);
            (
                format!("len(content) < {f}"),
                format!("body is %d octets, shorter than {f}"),
                &["len(content)"],
            )
        }
        LengthRule::PageData => unreachable!("PAGE_DATA has a body of its own"),
    };
    bad_len(w, at_header, &cond, &fmt, args);
}

/// The exact length a count field implies, and the spec errata's warning
/// for a variable-sized record with no content (no trailing elements).
fn count_checks(
    w: &mut Writer,
    r: &RecordLayout,
    layer: &Layer,
    fixed_items: &[Item],
    fixed: usize,
) {
    let warn_zero = |w: &mut Writer, cond: String| {
        w.block(format!("if {cond}:"), |w| {
            w.line("self._warn(\"%s record with zero content\" % (what, ))");
        });
    };
    if let LengthRule::Counted { field, element, .. } = r.length {
        let count_var = &fixed_items
            .iter()
            .find(|i| i.label == field)
            .expect("count field")
            .var;
        let need = format!("{fixed} + {count_var} * {element}");
        bad_len(
            w,
            layer.length_error_at_header,
            &format!("len(content) != {need}"),
            &format!("body is %d octets, {field} %d needs %d"),
            &["len(content)", count_var, &need],
        );
        if layer.warn_empty {
            warn_zero(w, format!("{count_var} == 0"));
        }
    }
    if let (LengthRule::Rest { .. }, true) = (r.length, layer.warn_empty) {
        warn_zero(w, format!("len(content) == {fixed}"));
    }
}

/// The constraint checks in field order: the fixed part, then the elements
/// of the trailing array, each element's fields in order.
fn constraint_checks(w: &mut Writer, st: &StructLayout, fixed_items: &[Item], layer: &Layer) {
    let fixed = st.size;
    emit_field_checks(w, fixed_items, Raise::Body, layer.consts);
    let Some(f) = st.trailing() else {
        return;
    };
    let elems = trailing_items(st, f);
    let checked = [Pass::Values, Pass::Reserved].iter().any(|&pass| {
        elems
            .iter()
            .any(|e| violation(e, pass, layer.consts).is_some())
    });
    if !checked {
        return;
    }
    let size = f.kind.element_size().expect("element size");
    let fmt: String = elems.iter().map(|e| e.prim.py_char()).collect();
    let vars: Vec<String> = elems.iter().map(|e| e.var.clone()).collect();
    let lhs = if vars.len() == 1 {
        format!("({},)", vars[0])
    } else {
        format!("({})", vars.join(", "))
    };
    let named: Vec<Item> = elems
        .iter()
        .map(|e| Item {
            label: format!("{}[%d].{}", f.name, e.label),
            ..e.clone()
        })
        .collect();
    let head = format!(
        "for elem, {lhs} in enumerate(\n        \
         iter_unpack(self.endian + \"{fmt}\", content[{fixed}:])):"
    );
    w.block(head, |w| {
        let raise = Raise::Element { base: fixed, size };
        emit_field_checks(w, &named, raise, layer.consts);
    });
}

/// What a record method prints: Xen's own words for the facts it prints,
/// else a one-line summary of the plain fields.
fn summary(
    w: &mut Writer,
    r: &RecordLayout,
    layer: &Layer,
    st: &StructLayout,
    fixed_items: &[Item],
) {
    let fixed = st.size;
    if let Some((fmt, args)) = xen_wording(layer.set, r) {
        let args = args.replace("{fixed}", &fixed.to_string());
        w.line(format!("self.info(\"{fmt}\"\n          % ({args}))"));
        return;
    }
    let shown: Vec<&Item> = fixed_items
        .iter()
        .filter(|i| match i.constraint {
            // Values worth reading: free, chosen from a few, or bounded.
            Constraint::None | Constraint::OneOf(_) | Constraint::AtMost(_) => true,
            Constraint::Reserved
            | Constraint::ReservedBits(_)
            | Constraint::Equals(_)
            | Constraint::Enum(_) => false,
        })
        .collect();
    let mut parts: Vec<String> = shown.iter().map(|i| format!("{} %d", i.label)).collect();
    let mut args: Vec<String> = shown.iter().map(|i| i.var.clone()).collect();
    if let Some(t) = st.trailing() {
        let size = t.kind.element_size().expect("element size");
        parts.push(format!("{} %d", t.name));
        args.push(if fixed == 0 {
            format!("len(content) // {size}")
        } else {
            format!("(len(content) - {fixed}) // {size}")
        });
    }
    if !parts.is_empty() {
        w.line(format!(
            "self.info(\"  {}\"\n          % ({}, ))",
            parts.join(", "),
            args.join(", ")
        ));
    }
}

/// The PAGE_DATA body checks (template `python/page_data_body.py`):
/// header length, pfn count, page types, the exact length the types
/// imply, then reserved fields and pfn bits.
fn page_data_body(w: &mut Writer, r: &RecordLayout) {
    let st = r.body.expect("PAGE_DATA has a body layout");
    assert_eq!(st.rust_name, PageDataHeader::LAYOUT.rust_name);
    let its = items(st);
    let fixed = st.size;
    let pfn_field = st.trailing().expect("pfn array");
    let count_var = match pfn_field.count {
        format_spec::layout::Count::Field(f) => its
            .iter()
            .find(|i| i.label == f)
            .expect("count field")
            .var
            .clone(),
        _ => panic!("PAGE_DATA pfn array has no count field"),
    };
    let pfn = pfn_field.name;
    let (pchar, psize) = match pfn_field.kind {
        FieldKind::TrailingPrim(p) => (p.py_char(), p.size()),
        _ => panic!("PAGE_DATA pfns are integers"),
    };
    let col = w.column();
    let values = [
        (
            "short_check",
            written(col, |w| {
                // `length`: the body's length (the verifier may hold
                // only its fixed part and pfn array, the page contents
                // skipped).
                bad_len(
                    w,
                    true,
                    &format!("length < {fixed}"),
                    &format!("body is %d octets, shorter than its {fixed}-octet header"),
                    &["length"],
                )
            }),
        ),
        (
            "unpack",
            written(col, |w| {
                w.line(unpack_line(st, &its, &format!("content[:{fixed}]")));
            }),
        ),
        (
            "length_check",
            written(col, |w| {
                bad_len(
                    w,
                    true,
                    "length != expected",
                    "body is %d octets, %d pfns with %d pages need %d",
                    &["length", &count_var, "nr_pages", "expected"],
                )
            }),
        ),
        (
            "field_checks",
            written(col, |w| {
                emit_field_checks(w, &its, Raise::Body, LIBXC_CONSTANTS);
            }),
        ),
        ("fixed", fixed.to_string()),
        ("count_var", count_var),
        ("psize", psize.to_string()),
        ("pchar", pchar.to_string()),
        ("pfn", pfn.to_string()),
        ("pfn_list", format!("{pfn}s")),
        ("type_mask", const_py("PAGE_DATA_TYPE_MASK").to_string()),
        ("resz", const_py("PAGE_DATA_PFN_RESERVED_MASK").to_string()),
    ];
    w.raw(&fill_in(
        crate::template!("python/page_data_body.py"),
        &values,
        &w.indent(),
    ));
}

/// The entries of the `record_verifiers` dict (the template holds its
/// braces), from record type to `(verifier, content)`, by record type.
pub(super) fn record_verifiers(layer: &Layer) -> String {
    let class = layer.class;
    let mut entries: Vec<(u32, String)> = Vec::new();
    for g in groups(layer) {
        for (r, arg) in &g.members {
            let f = if g.members.len() > 1 {
                format!(
                    "lambda s, x:\n        {class}.verify_record_{}(s, x, \"{arg}\")",
                    g.method
                )
            } else {
                format!("{class}.verify_record_{}", g.method)
            };
            entries.push((r.code, format!("    {}:\n        {f},\n", r.py_name)));
        }
    }
    entries.sort_by_key(|(c, _)| *c);
    entries.into_iter().map(|(_, e)| e).collect()
}

/// The slots of a record table: the `REC_TYPE_*` constants (aligned) and
/// the lines of `rec_type_to_str`, plus, with `versions`, the lines of
/// `REC_TYPE_SINCE` and `REC_TYPE_DEPRECATED`.
pub(super) fn record_table_slots(
    set: &RecordSetLayout,
    versions: bool,
) -> Vec<(&'static str, String)> {
    let records = set.records;
    let width = records.iter().map(|r| r.py_name.len()).max().unwrap_or(0);
    let each = |f: &dyn Fn(&RecordLayout) -> Option<String>| -> String {
        records.iter().filter_map(f).collect()
    };
    let mut v = vec![
        (
            "record_types",
            each(&|r| Some(format!("{:<width$} = 0x{:08x}\n", r.py_name, r.code))),
        ),
        (
            "rec_type_to_str",
            each(&|r| Some(format!("    {:<width$} : \"{}\",\n", r.py_name, r.human))),
        ),
    ];
    if versions {
        v.push((
            "rec_type_since",
            each(&|r| Some(format!("    {:<width$} : {},\n", r.py_name, r.since))),
        ));
        v.push((
            "rec_type_deprecated",
            each(&|r| {
                r.deprecated
                    .map(|d| format!("    {:<width$} : {d},\n", r.py_name))
            }),
        ));
    }
    v
}
