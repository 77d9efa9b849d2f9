//! The blob rule tables (`format_spec::blob`): each table is consistent
//! with its blob's description, and the one interpreter follows a changed
//! table with no other edit (a new entry type, a changed size).

use format_spec::binrw::Endian;
use format_spec::blob::{BlobFormat, BlobRule, Check, EntryRule, Size};
use format_spec::domain_context::{DcErrorKind, DcTscInfo, DcType, DC_ENTRIES, DC_FORMAT};
use format_spec::hvm_context::{HvmType, HVM_FORMAT, HVM_TYPE_RULES};
use format_spec::layout::{Constraint, EnumLayout, SpecEnum, Wire};
use format_spec::stream::rules::Source;
use format_spec::stream::ErrorModes;

/// Checks what every blob table must hold.
fn consistent<K: std::fmt::Debug>(f: &BlobFormat<K>, types: &EnumLayout) -> Vec<String> {
    // One entry type per value of the enumeration, none other.
    let mut codes: Vec<u64> = f.entries.iter().map(|e| u64::from(e.typecode)).collect();
    codes.sort_unstable();
    let mut want: Vec<u64> = types.variants.iter().map(|v| v.value).collect();
    want.sort_unstable();
    assert_eq!(codes, want, "{}: entry types", types.rust_name);
    // Framing is checked by the walk, in both modes.
    for c in [
        Check::MissingEnd,
        Check::TruncatedDescriptor,
        Check::Overrun,
    ] {
        let r = f
            .rule(c)
            .unwrap_or_else(|| panic!("{}: no {c:?}", types.rust_name));
        assert_eq!(r.modes, ErrorModes::Both, "{c:?}");
    }
    // Body field rules name a field with a rule of a type with a body.
    for r in f.rules {
        if let Check::BodyField { typecode, field } = r.check {
            let body = f.entry(typecode).and_then(|e| e.body).expect("a body");
            assert!(
                !matches!(body.fields[field].constraint, Constraint::None),
                "{r:?}"
            );
        }
        assert!(
            matches!(r.modes, ErrorModes::Both | ErrorModes::StrictOnly),
            "{r:?}"
        );
        // A blob is defined outside the stream specification: its rules
        // cite that definition, or are the project's.
        assert!(
            matches!(r.source, Source::Definition { .. } | Source::Project { .. }),
            "{r:?}"
        );
    }
    // One KIND per rule.
    let kinds: Vec<String> = f.rules.iter().map(BlobRule::kind_name).collect();
    let mut unique = kinds.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), kinds.len(), "{kinds:?}");
    kinds
}

#[test]
fn the_tables_agree_with_the_descriptions() {
    let dc = consistent(&DC_FORMAT, &DcType::LAYOUT);
    assert_eq!(dc.len(), 16);
    assert_eq!(dc[0], "MissingEnd");
    let hvm = consistent(&HVM_FORMAT, &HvmType::LAYOUT);
    assert_eq!(hvm.len(), 11);
    // The HVM entry types carry the size table's rules.
    for r in HVM_TYPE_RULES {
        let e = HVM_FORMAT.entry(r.typ as u16).expect("entry");
        assert_eq!(e.size, r.size.generic(), "{:?}", r.typ);
    }
    // The strict rules come after the walk's, as the interpreter applies
    // them (walk first, then check).
    for f in [
        DC_FORMAT.rules.iter().map(|r| r.modes).collect::<Vec<_>>(),
        HVM_FORMAT.rules.iter().map(|r| r.modes).collect(),
    ] {
        let first_strict = f.iter().position(|m| *m == ErrorModes::StrictOnly);
        let last_both = f.iter().rposition(|m| *m == ErrorModes::Both);
        assert!(last_both < first_strict, "{f:?}");
    }
}

/// A blob of HEADER, an entry of type `typecode` with `body`, then END, in
/// the DOMAIN_CONTEXT layout (little-endian).
fn dc_blob(typecode: u16, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    let desc = |b: &mut Vec<u8>, t: u16, len: usize| {
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
    };
    desc(&mut b, DcType::Header as u16, 16);
    b.extend_from_slice(&0x5341_5645u32.to_le_bytes());
    b.extend_from_slice(&[4, 0, 17, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    desc(&mut b, typecode, body.len());
    b.extend_from_slice(body);
    desc(&mut b, DcType::End as u16, 0);
    b
}

/// DC_ENTRIES plus a type 4 of exactly 8 octets.
const WITH_TYPE_4: &[EntryRule] = &[
    DC_ENTRIES[0],
    DC_ENTRIES[1],
    DC_ENTRIES[2],
    DC_ENTRIES[3],
    EntryRule {
        typecode: 4,
        body: None,
        size: Size::exact(8),
        at_most_once: true,
    },
];

/// DC_ENTRIES with a TSC_INFO of 32 octets.
const TSC_32: &[EntryRule] = &[
    DC_ENTRIES[0],
    DC_ENTRIES[1],
    DC_ENTRIES[2],
    EntryRule {
        typecode: DcType::TscInfo as u16,
        body: Some(&DcTscInfo::LAYOUT),
        size: Size::exact(32),
        at_most_once: true,
    },
];

const NEW_TYPE: BlobFormat<DcErrorKind> = BlobFormat {
    entries: WITH_TYPE_4,
    ..DC_FORMAT
};

const BIGGER_TSC: BlobFormat<DcErrorKind> = BlobFormat {
    entries: TSC_32,
    ..DC_FORMAT
};

/// Walks then checks `blob` with `f`: the entries' type codes, or the
/// error.
fn run(f: &'static BlobFormat<DcErrorKind>, blob: &[u8]) -> Result<Vec<u16>, (usize, DcErrorKind)> {
    let endian = Endian::Little;
    let entries: Vec<_> = f
        .walk(blob, endian)
        .collect::<Result<_, _>>()
        .map_err(|b| (b.offset, b.kind))?;
    f.check(blob, endian, &entries)
        .map_err(|b| (b.offset, b.kind))?;
    Ok(entries.iter().map(|e| e.typecode).collect())
}

#[test]
fn a_changed_table_is_followed_by_the_interpreter() {
    // A new entry type: unknown to the description, known to the changed
    // table, whose size and at-most-once rules then apply to it.
    let blob = dc_blob(4, &[0; 8]);
    assert_eq!(
        run(&DC_FORMAT, &blob),
        Err((24, DcErrorKind::UnknownType { typecode: 4 }))
    );
    assert_eq!(run(&NEW_TYPE, &blob), Ok(vec![1, 4, 0]));
    let short = dc_blob(4, &[0; 0]);
    assert_eq!(
        run(&NEW_TYPE, &short),
        Err((
            24,
            DcErrorKind::BodyTooShort {
                typ: DcType::End,
                length: 0,
                min: 8
            }
        ))
    );
    let long = dc_blob(4, &[0; 16]);
    assert!(matches!(
        run(&NEW_TYPE, &long),
        Err((
            28,
            DcErrorKind::LengthMismatch {
                length: 16,
                expected: 8,
                ..
            }
        ))
    ));

    // A bigger TSC_INFO: the description's 24-octet body is now short, a
    // 32-octet one passes.
    let tsc24 = dc_blob(DcType::TscInfo as u16, &[0; 24]);
    assert_eq!(run(&DC_FORMAT, &tsc24), Ok(vec![1, 3, 0]));
    assert_eq!(
        run(&BIGGER_TSC, &tsc24),
        Err((
            24,
            DcErrorKind::BodyTooShort {
                typ: DcType::TscInfo,
                length: 24,
                min: 32
            }
        ))
    );
    let tsc32 = dc_blob(DcType::TscInfo as u16, &[0; 32]);
    assert_eq!(run(&BIGGER_TSC, &tsc32), Ok(vec![1, 3, 0]));
    assert!(matches!(
        run(&DC_FORMAT, &tsc32),
        Err((
            28,
            DcErrorKind::LengthMismatch {
                length: 32,
                expected: 24,
                ..
            }
        ))
    ));
}
