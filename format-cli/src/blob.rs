//! The entries of the blobs inside DOMAIN_CONTEXT and HVM_CONTEXT records,
//! as `xenstream dump` shows them: one indented text line per entry under
//! the record, and an `entries` array on the record's JSON object.
//!
//! The blobs are walked with the lenient walkers of the description
//! (`domain_context::entries`, `hvm_context::entries`): every entry up to
//! the first one that cannot be read is shown, then the error (as
//! `entries_error`), never a panic. `verify --strict` applies the full
//! rules.

use format_spec::binrw::Endian;
use format_spec::domain_context::{self as dc, DcEntry, DcType};
use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
use format_spec::layout::{SpecEnum, Wire};
use serde_json::{json, Map, Value};

/// One entry of a blob, ready to print.
#[derive(Debug, Clone)]
pub struct BlobEntry {
    /// Index of the entry in the blob.
    pub index: usize,
    /// Offset of its descriptor in the blob.
    pub offset: usize,
    /// The type's name (`UNKNOWN_<code>` for a code the description lacks).
    pub type_name: String,
    /// The raw type code.
    pub code: u16,
    /// The descriptor's instance.
    pub instance: u16,
    /// The descriptor's length.
    pub length: u32,
    /// Decoded fields, in wire order.
    pub fields: Vec<(&'static str, Value)>,
}

/// A walked blob: its entries, and the error that stopped the walk.
#[derive(Debug, Clone, Default)]
pub struct BlobView {
    /// The entries read.
    pub entries: Vec<BlobEntry>,
    /// Why the walk stopped early: offset in the blob, entry index, rule
    /// (error kind variant) and message.
    pub error: Option<(usize, usize, String, String)>,
}

/// The name of an error kind's variant (`BadMagic { found: 1 }` ->
/// `BadMagic`).
fn variant(debug: String) -> String {
    debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The SpecEnum spec name of a code, or `UNKNOWN_<code>`.
fn name_of(layout: &format_spec::layout::EnumLayout, code: u16) -> String {
    layout
        .variant(u64::from(code))
        .map(|v| v.human.to_string())
        .unwrap_or_else(|| format!("UNKNOWN_{code}"))
}

/// Walks a DOMAIN_CONTEXT blob.
pub fn domain_context(blob: &[u8], endian: Endian) -> BlobView {
    let mut view = BlobView::default();
    for item in dc::entries(blob, endian) {
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                view.error = Some((
                    e.offset,
                    e.entry,
                    variant(format!("{:?}", e.kind)),
                    e.kind.to_string(),
                ));
                break;
            }
        };
        let typ = item.entry.kind();
        let fields = match item.entry {
            DcEntry::End => Vec::new(),
            DcEntry::Header(h) => vec![
                ("magic", json!(h.magic)),
                ("version", json!(h.version)),
                ("xen_major", json!(h.xen_major)),
                ("xen_minor", json!(h.xen_minor)),
            ],
            DcEntry::SharedInfo(s) => vec![
                ("flags", json!(s.flags)),
                ("compat", json!(s.compat())),
                ("buffer_size", json!(s.buffer.len())),
            ],
            DcEntry::TscInfo(t) => vec![
                ("mode", json!(t.mode)),
                ("incarnation", json!(t.incarnation)),
                ("elapsed_nsec", json!(t.elapsed_nsec)),
                ("khz", json!(t.khz)),
            ],
        };
        view.entries.push(BlobEntry {
            index: item.index,
            offset: item.offset,
            type_name: dc_type_name(typ),
            code: typ as u16,
            instance: item.instance,
            length: item.length,
            fields,
        });
    }
    view
}

/// The spec name of a DOMAIN_CONTEXT entry type, in the C constant's
/// spelling (`SHARED_INFO`), like the HVM ones.
fn dc_type_name(t: DcType) -> String {
    let v = DcType::LAYOUT.variant(t as u64).expect("a known type");
    v.c_name
        .and_then(|c| c.strip_prefix("XC_SR_DC_TYPE_"))
        .map(str::to_string)
        .unwrap_or_else(|| v.human.to_string())
}

/// Walks an HVM_CONTEXT blob.
pub fn hvm_context(blob: &[u8], endian: Endian) -> BlobView {
    let mut view = BlobView::default();
    for item in hvm::entries(blob, endian) {
        let e = match item {
            Ok(e) => e,
            Err(err) => {
                view.error = Some((
                    err.offset,
                    err.entry,
                    variant(format!("{:?}", err.kind)),
                    err.kind.to_string(),
                ));
                break;
            }
        };
        let mut fields = Vec::new();
        if e.typ == Some(HvmType::Header) {
            let body = e.body(blob).unwrap_or_default();
            let size = HvmHeader::LAYOUT.size;
            match body
                .get(..size)
                .map(|b| format_spec::body::read_wire::<HvmHeader>(b, endian))
            {
                Some(Ok(h)) => {
                    fields = vec![
                        ("magic", json!(h.magic)),
                        ("version", json!(h.version)),
                        ("changeset", json!(h.changeset)),
                        ("cpuid", json!(h.cpuid)),
                        ("gtsc_khz", json!(h.gtsc_khz)),
                    ];
                }
                _ => fields.push(("header_unreadable", json!(true))),
            }
        }
        view.entries.push(BlobEntry {
            index: e.index,
            offset: e.offset,
            type_name: name_of(&HvmType::LAYOUT, e.typecode),
            code: e.typecode,
            instance: e.instance,
            length: e.length,
            fields,
        });
    }
    view
}

/// Fields the text output shows in hexadecimal.
const HEX_FIELDS: &[&str] = &["magic", "changeset", "cpuid", "flags"];

impl BlobView {
    /// The indented text lines shown under the record.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for e in &self.entries {
            s.push_str(&format!(
                "\n    [{}] +0x{:x} {} instance {} length {}",
                e.index, e.offset, e.type_name, e.instance, e.length
            ));
            for (k, v) in &e.fields {
                match v.as_u64() {
                    Some(n) if HEX_FIELDS.contains(k) => s.push_str(&format!(" {k}=0x{n:x}")),
                    _ => s.push_str(&format!(" {k}={v}")),
                }
            }
        }
        if let Some((offset, entry, rule, msg)) = &self.error {
            s.push_str(&format!(
                "\n    blob does not parse: entry {entry}, offset 0x{offset:x}: {msg} ({rule})"
            ));
        }
        s
    }

    /// The JSON fields added to the record object: `entries`, and
    /// `entries_error` when the walk stopped early.
    pub fn json_into(&self, obj: &mut Map<String, Value>) {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                json!({
                    "index": e.index,
                    "offset": e.offset,
                    "type": e.type_name,
                    "code": e.code,
                    "instance": e.instance,
                    "length": e.length,
                    "fields": Value::Object(
                        e.fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
                    ),
                })
            })
            .collect();
        obj.insert("entries".into(), Value::Array(entries));
        if let Some((offset, entry, rule, msg)) = &self.error {
            obj.insert(
                "entries_error".into(),
                json!({
                    "offset": offset,
                    "entry": entry,
                    "rule": rule,
                    "message": msg,
                }),
            );
        }
    }
}
