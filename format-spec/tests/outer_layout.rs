//! The libxl and xl descriptions against the reference: every C and
//! Python name and value of `reference/upstream-api.md` (parsed here, not
//! retyped), struct layouts, round trips in both byte orders and golden
//! bytes written by hand from the libxl spec's diagrams.

use std::collections::BTreeMap;

use format_spec::binrw::Endian;
use format_spec::body::{read_wire, write_wire};
use format_spec::layout::{SpecEnum, StructLayout, Wire};
use format_spec::libxl::*;
use format_spec::outer::OuterWriter;
use format_spec::xl::*;
use proptest::prelude::*;

fn upstream_api() -> String {
    let path = test_support::shared_dir().join("reference/upstream-api.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of one `## ` section of the reference.
fn section(doc: &str, title: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in doc.lines() {
        if let Some(t) = line.strip_prefix("## ") {
            inside = t.trim() == title;
            continue;
        }
        if inside {
            out.push(line.to_string());
        }
    }
    assert!(!out.is_empty(), "section {title} not found");
    out
}

/// Table rows `| a | b | ... |` with backticks removed, header and rule
/// rows dropped.
fn rows(lines: &[String]) -> Vec<Vec<String>> {
    lines
        .iter()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().replace('`', ""))
                .collect::<Vec<_>>()
        })
        .filter(|r| !matches!(r[0].as_str(), "struct" | "macro" | "name"))
        .collect()
}

fn parse_int(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

/// Every C macro name the libxl description defines, with its value.
fn c_names() -> BTreeMap<&'static str, u64> {
    let mut m = BTreeMap::new();
    for c in LIBXL_CONSTANTS {
        if let Some(n) = c.c_name {
            assert!(m.insert(n, c.value).is_none(), "{n} twice");
        }
    }
    for r in LibxlRecord::LAYOUT.records {
        assert!(m.insert(r.c_name, u64::from(r.code)).is_none());
    }
    for v in EmulatorId::LAYOUT
        .variants
        .iter()
        .chain(CheckpointStateId::LAYOUT.variants)
    {
        assert!(m.insert(v.c_name.unwrap(), v.value).is_none());
    }
    m
}

enum PyValue {
    Int(u64),
    Text(String),
}

/// Every Python name the libxl module defines, with its value.
fn py_names() -> BTreeMap<&'static str, PyValue> {
    let mut m = BTreeMap::new();
    for c in LIBXL_CONSTANTS {
        if let Some(n) = c.py_name {
            m.insert(n, PyValue::Int(c.value));
        }
    }
    for r in LibxlRecord::LAYOUT.records {
        m.insert(r.py_name, PyValue::Int(u64::from(r.code)));
    }
    for v in EmulatorId::LAYOUT.variants {
        m.insert(v.py_name.unwrap(), PyValue::Int(v.value));
    }
    for s in LIBXL_STRUCTS {
        if let Some(n) = s.py_format_name {
            m.insert(n, PyValue::Text(s.py_format()));
        }
    }
    for t in LIBXL_TEXT_CONSTANTS {
        let text = String::from_utf8(t.value.to_vec()).unwrap();
        m.insert(t.py_name.unwrap(), PyValue::Text(text));
    }
    m
}

#[test]
fn c_header_names_and_values_match_upstream() {
    let doc = upstream_api();
    let sec = section(&doc, "C: libxl_sr_stream_format.h (libxl stream)");
    let ours = c_names();
    let mut macros = 0;
    for row in rows(&sec) {
        if row.len() == 2 {
            let v = ours
                .get(row[0].as_str())
                .unwrap_or_else(|| panic!("C macro {} missing", row[0]));
            assert_eq!(*v, parse_int(&row[1]), "{}", row[0]);
            macros += 1;
        }
    }
    assert_eq!(macros, 18);
}

#[test]
fn c_structs_match_upstream() {
    let doc = upstream_api();
    let sec = section(&doc, "C: libxl_sr_stream_format.h (libxl stream)");
    let mut structs = 0;
    for row in rows(&sec).into_iter().filter(|r| r.len() == 3) {
        let s: &StructLayout = LIBXL_STRUCTS
            .iter()
            .find(|s| s.c_name == Some(row[0].as_str()))
            .unwrap_or_else(|| panic!("struct {} missing", row[0]));
        assert!(s.c_typedef, "{} is typedef'd", row[0]);
        assert_eq!(s.size, parse_int(&row[1]) as usize, "sizeof {}", row[0]);
        let fields: Vec<String> = s
            .fields
            .iter()
            .map(|f| format!("{} @{}", f.c_decl(), f.offset))
            .collect();
        assert_eq!(fields.join(", "), row[2], "{}", row[0]);
        structs += 1;
    }
    assert_eq!(structs, LIBXL_STRUCTS.len());
}

#[test]
fn python_names_and_values_match_upstream() {
    let doc = upstream_api();
    let sec = section(&doc, "Python: xen/migration/libxl.py");
    let ours = py_names();
    let mut n = 0;
    for row in rows(&sec).into_iter().filter(|r| r.len() == 2) {
        let v = ours
            .get(row[0].as_str())
            .unwrap_or_else(|| panic!("Python name {} missing", row[0]));
        match v {
            PyValue::Int(i) => assert_eq!(*i, parse_int(&row[1]), "{}", row[0]),
            PyValue::Text(t) => assert_eq!(format!("'{t}'"), row[1], "{}", row[0]),
        }
        n += 1;
    }
    assert_eq!(n, 22);

    // The two name tables.
    let dict = |name: &str| -> Vec<(u64, String)> {
        let line = sec
            .iter()
            .find(|l| l.starts_with(&format!("`{name}`")))
            .unwrap();
        let body = line.split("): ").nth(1).unwrap();
        body.split("; ")
            .map(|kv| {
                let (k, v) = kv.split_once(": ").unwrap();
                (parse_int(k), v.trim_matches('"').to_string())
            })
            .collect()
    };
    let emu: Vec<_> = EmulatorId::LAYOUT
        .variants
        .iter()
        .map(|v| (v.value, v.human.to_string()))
        .collect();
    assert_eq!(dict("emulator_id_to_str"), emu);
    assert_eq!(EmulatorId::LAYOUT.py_table, Some("emulator_id_to_str"));
    let recs: Vec<_> = LibxlRecord::LAYOUT
        .records
        .iter()
        .map(|r| (u64::from(r.code), r.human.to_string()))
        .collect();
    assert_eq!(dict("rec_type_to_str"), recs);
}

#[test]
fn xl_python_names_match_upstream() {
    let doc = upstream_api();
    let sec = section(&doc, "Python: xen/migration/xl.py").join("\n");
    let fmt = format!("`HEADER_FORMAT = \"{}\"`", XlHeader::LAYOUT.py_format());
    assert!(sec.contains(&fmt), "{fmt}");
    assert_eq!(XlHeader::LAYOUT.py_format_name, Some("HEADER_FORMAT"));
    let flag = XL_CONSTANTS
        .iter()
        .find(|c| c.py_name == Some("MANDATORY_FLAG_STREAMV2"))
        .unwrap();
    assert!(sec.contains(&format!("`MANDATORY_FLAG_STREAMV2 = {}`", flag.value)));
    // MAGIC, as the reference spells it with C escapes.
    let magic = XL_TEXT_CONSTANTS[0];
    assert_eq!(magic.py_name, Some("MAGIC"));
    let escaped: String = magic
        .value
        .iter()
        .map(|&b| match b {
            b'\n' => "\\n".to_string(),
            b'\r' => "\\r".to_string(),
            0 => "\\0".to_string(),
            b => (b as char).to_string(),
        })
        .collect();
    assert!(sec.contains(&format!("`MAGIC = \"{escaped}\"` (32 octets)")));
    assert_eq!(magic.value.len(), 32);
    assert!(sec.contains("byteorder marker 0x01020304"));
    assert_eq!(XL_BYTEORDER_MARKER, 0x0102_0304);
    assert!(sec.contains("JSON-config mandatory flag, bit 0"));
    assert_eq!(XL_MANDATORY_FLAG_JSON, 1 << 0);
}

#[test]
fn qemu_record_header_format_follows_the_signature() {
    let hdr = std::str::from_utf8(LIBXL_QEMU_RECORD_HDR).unwrap();
    assert_eq!(hdr, format!("={}sI", LIBXL_QEMU_SIGNATURE.len()));
    let expr = LIBXL_TEXT_CONSTANTS[1].py_expr.unwrap();
    assert!(expr.contains("len(LIBXL_QEMU_SIGNATURE)"));
}

#[test]
fn python_reserved_mask_is_narrower_than_the_spec() {
    // Xen's Python mask covers bits 2-15; the spec reserves bits 2-31.
    assert_eq!(PY_HDR_OPT_RESZ_MASK & !HDR_OPT_RESERVED_MASK, 0);
    assert_eq!(
        HDR_OPT_RESERVED_MASK,
        !(HDR_OPT_BIG_ENDIAN | HDR_OPT_LEGACY)
    );
    assert!(REC_ALIGN.is_power_of_two());
}

// ---- round trips ----------------------------------------------------------

fn round_trip<T>(value: &T, endian: Endian) -> Vec<u8>
where
    T: Wire
        + PartialEq
        + std::fmt::Debug
        + for<'a> format_spec::binrw::BinRead<Args<'a> = ()>
        + for<'a> format_spec::binrw::BinWrite<Args<'a> = ()>,
{
    let mut buf = Vec::new();
    write_wire(value, &mut buf, endian).unwrap();
    assert_eq!(buf.len(), T::LAYOUT.size);
    let back: T = read_wire(&buf, endian).unwrap();
    assert_eq!(&back, value);
    buf
}

/// Reverses each field's octets: the same struct in the other byte order.
fn swapped(layout: &StructLayout, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for f in layout.fixed_fields() {
        out[f.offset..f.offset + f.size()].reverse();
    }
    out
}

proptest! {
    #[test]
    fn libxl_header_is_big_endian_in_both_stream_orders(
        ident: u64, version: u32, options: u32
    ) {
        let h = LibxlHeader { ident, version, options };
        let le = round_trip(&h, Endian::Little);
        let be = round_trip(&h, Endian::Big);
        prop_assert_eq!(&le, &be);
        prop_assert_eq!(&be[..8], &ident.to_be_bytes()[..]);
    }

    #[test]
    fn stream_order_structs_round_trip_in_both_orders(a: u32, b: u32) {
        let rh = LibxlRecordHeader { r#type: a, length: b };
        let le = round_trip(&rh, Endian::Little);
        let be = round_trip(&rh, Endian::Big);
        prop_assert_eq!(swapped(&LibxlRecordHeader::LAYOUT, &le), be);
        let eh = EmulatorHeader { id: a, index: b };
        let le = round_trip(&eh, Endian::Little);
        let be = round_trip(&eh, Endian::Big);
        prop_assert_eq!(swapped(&EmulatorHeader::LAYOUT, &le), be);
        let cs = CheckpointState { id: a };
        let le = round_trip(&cs, Endian::Little);
        let be = round_trip(&cs, Endian::Big);
        prop_assert_eq!(swapped(&CheckpointState::LAYOUT, &le), be);
    }

    #[test]
    fn xl_header_round_trips_in_both_orders(m: u32, o: u32, l: u32) {
        let h = XlHeader::new(m, o, l);
        let le = h.to_bytes(Endian::Little);
        let be = h.to_bytes(Endian::Big);
        prop_assert_eq!(&le[..4], &[4, 3, 2, 1]);
        prop_assert_eq!(&be[..4], &[1, 2, 3, 4]);
        prop_assert_eq!(&le[4..8], &m.to_le_bytes());
        prop_assert_eq!(&be[12..16], &l.to_be_bytes());
        prop_assert_eq!(XlHeader::detect(le), Some((h, Endian::Little)));
        prop_assert_eq!(XlHeader::detect(be), Some((h, Endian::Big)));
    }

    #[test]
    fn xl_preamble_config_round_trips(json in "[ -~]{0,200}", big: bool) {
        let endian = if big { Endian::Big } else { Endian::Little };
        let pre = XlPreamble::with_json_config(endian, &json);
        let bytes = pre.to_bytes();
        prop_assert_eq!(&bytes[..32], &XL_MAGIC[..]);
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&bytes[32..48]);
        let (h, e) = XlHeader::detect(raw).unwrap();
        prop_assert_eq!(h, pre.header);
        prop_assert_eq!(e, endian);
        prop_assert_eq!(bytes.len(), XL_PREAMBLE_SIZE + h.optional_data_len as usize);
        if json.is_empty() {
            prop_assert_eq!(pre.json_config(), None);
        } else {
            prop_assert_eq!(pre.json_config(), Some(json.as_str()));
        }
    }
}

#[test]
fn xl_header_rejects_other_markers() {
    let mut raw = XlHeader::new(3, 0, 0).to_bytes(Endian::Little);
    raw[..4].copy_from_slice(&[1, 2, 4, 3]);
    assert_eq!(XlHeader::detect(raw), None);
    assert_eq!(marker_endian([0, 0, 0, 0]), None);
}

#[test]
fn header_constraints_name_the_field() {
    let v = LibxlHeader {
        ident: 1,
        version: 2,
        options: 0,
    }
    .check()
    .unwrap_err();
    assert_eq!((v.field, v.offset), ("ident", 0));
    let v = LibxlHeader {
        version: 3,
        ..LibxlHeader::new(Endian::Big)
    }
    .check()
    .unwrap_err();
    assert_eq!((v.field, v.offset), ("version", 8));
    let v = LibxlHeader {
        options: 1 << 20,
        ..LibxlHeader::new(Endian::Big)
    }
    .check()
    .unwrap_err();
    assert_eq!((v.field, v.offset, v.value), ("options", 12, 1 << 20));
    assert!(LibxlHeader::new(Endian::Little).check().is_ok());
    let v = XlHeader::new(1 << 5, 0, 0).check().unwrap_err();
    assert_eq!((v.field, v.offset, v.value), ("mandatory_flags", 4, 1 << 5));
    let v = EmulatorHeader { id: 3, index: 0 }.check().unwrap_err();
    assert_eq!(v.field, "id");
}

/// `optional_data_len`'s bound is its annotation: the layout carries it
/// (with its KIND, checked in both modes) and `check()` applies it,
/// inclusive.
#[test]
fn xl_optional_data_len_is_bounded_by_its_annotation() {
    let f = XlHeader::LAYOUT.field("optional_data_len").unwrap();
    assert!(
        matches!(f.constraint, format_spec::layout::Constraint::AtMost(m) if m == u64::from(XL_OPTIONAL_DATA_MAX)),
        "{:?}",
        f.constraint
    );
    assert_eq!(f.error, Some("OptionalDataTooLong"));
    assert!(f.lenient);
    assert!(XlHeader::new(3, 0, XL_OPTIONAL_DATA_MAX).check().is_ok());
    let v = XlHeader::new(3, 0, XL_OPTIONAL_DATA_MAX + 1)
        .check()
        .unwrap_err();
    assert_eq!(
        (v.field, v.offset, v.value, v.rule),
        (
            "optional_data_len",
            12,
            u64::from(XL_OPTIONAL_DATA_MAX) + 1,
            format_spec::layout::ViolationRule::TooLarge
        )
    );
    // The Python name the generated check spells the bound with.
    let c = XL_CONSTANTS
        .iter()
        .find(|c| c.rust_name == "XL_OPTIONAL_DATA_MAX")
        .unwrap();
    assert_eq!(
        (c.py_name, c.value),
        (Some("OPTIONAL_DATA_MAX"), u64::from(XL_OPTIONAL_DATA_MAX))
    );
}

// ---- golden bytes, written by hand from the spec's diagrams ---------------

#[test]
fn golden_libxl_header_and_records_little_endian() {
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    w.libxc_context().unwrap();
    w.emulator_xenstore_data(EmulatorId::QemuUpstream, 0, &[("a", "b")])
        .unwrap();
    w.checkpoint_state(CheckpointStateId::SvmReady).unwrap();
    w.checkpoint_end().unwrap();
    let got = w.finish().unwrap();
    #[rustfmt::skip]
    let want: Vec<u8> = [
        // header: ident "LibxlFmt", version 2, options 0 (all big-endian)
        &b"LibxlFmt"[..], &[0, 0, 0, 2], &[0, 0, 0, 0],
        // LIBXC_CONTEXT: type 1, length 0
        &[1, 0, 0, 0, 0, 0, 0, 0],
        // EMULATOR_XENSTORE_DATA: type 2, length 12; emulator_id 2, index 0;
        // "a\0b\0"; 4 octets of padding
        &[2, 0, 0, 0, 12, 0, 0, 0], &[2, 0, 0, 0, 0, 0, 0, 0], b"a\0b\0", &[0; 4],
        // CHECKPOINT_STATE: type 5, length 4; control_id 2; padding
        &[5, 0, 0, 0, 4, 0, 0, 0], &[2, 0, 0, 0], &[0; 4],
        // CHECKPOINT_END: type 4, length 0
        &[4, 0, 0, 0, 0, 0, 0, 0],
        // END: type 0, length 0
        &[0; 8],
    ]
    .concat();
    assert_eq!(got, want);
}

#[test]
fn golden_libxl_records_big_endian() {
    let mut w = OuterWriter::libxl(Vec::new(), Endian::Big).unwrap();
    w.emulator_context(EmulatorId::QemuTraditional, 3, b"xyz")
        .unwrap();
    let got = w.finish().unwrap();
    #[rustfmt::skip]
    let want: Vec<u8> = [
        // header: options bit 0 set
        &b"LibxlFmt"[..], &[0, 0, 0, 2], &[0, 0, 0, 1],
        // EMULATOR_CONTEXT: type 3, length 11; emulator_id 1, index 3;
        // "xyz"; 5 octets of padding
        &[0, 0, 0, 3, 0, 0, 0, 11], &[0, 0, 0, 1, 0, 0, 0, 3], b"xyz", &[0; 5],
        // END
        &[0; 8],
    ]
    .concat();
    assert_eq!(got, want);
}

#[test]
fn golden_xl_preamble_both_orders() {
    let le = XlPreamble::with_json_config(Endian::Little, "{}").to_bytes();
    #[rustfmt::skip]
    let want_le: Vec<u8> = [
        &b"Xen saved domain, xl format\n \0 \r"[..],
        &[4, 3, 2, 1],      // byteorder
        &[3, 0, 0, 0],      // mandatory_flags: JSON | STREAMv2
        &[0, 0, 0, 0],      // optional_flags
        &[7, 0, 0, 0],      // optional_data_len: 4 + 3
        &[3, 0, 0, 0],      // config_len: "{}" and its NUL
        b"{}\0",
    ]
    .concat();
    assert_eq!(le, want_le);
    let be = XlPreamble::with_json_config(Endian::Big, "{}").to_bytes();
    #[rustfmt::skip]
    let want_be: Vec<u8> = [
        &b"Xen saved domain, xl format\n \0 \r"[..],
        &[1, 2, 3, 4], &[0, 0, 0, 3], &[0, 0, 0, 0], &[0, 0, 0, 7],
        &[0, 0, 0, 3], b"{}\0",
    ]
    .concat();
    assert_eq!(be, want_be);
}

#[test]
fn record_table_matches_the_spec() {
    // Codes and spec names from the spec's record overview table; all
    // mandatory, all version 2.
    let table: Vec<(u32, &str)> = LibxlRecord::LAYOUT
        .records
        .iter()
        .map(|r| (r.code, r.spec_name))
        .collect();
    assert_eq!(
        table,
        [
            (0, "END"),
            (1, "LIBXC_CONTEXT"),
            (2, "EMULATOR_XENSTORE_DATA"),
            (3, "EMULATOR_CONTEXT"),
            (4, "CHECKPOINT_END"),
            (5, "CHECKPOINT_STATE"),
        ]
    );
    for r in LibxlRecord::LAYOUT.records {
        assert!(
            r.mandatory && r.since == 2 && r.deprecated.is_none(),
            "{}",
            r.spec_name
        );
    }
    use format_spec::layout::LengthRule;
    let rule = |code| LibxlRecord::LAYOUT.by_code(code).unwrap().length;
    assert_eq!(rule(LibxlRecord::END), LengthRule::Exact(0));
    assert_eq!(rule(LibxlRecord::CHECKPOINT_STATE), LengthRule::Exact(4));
    assert_eq!(
        rule(LibxlRecord::EMULATOR_CONTEXT),
        LengthRule::Rest {
            fixed: 8,
            element: 1
        }
    );
    assert_eq!(rule(LibxlRecord::EMULATOR_XENSTORE_DATA).min(), 8);
}
