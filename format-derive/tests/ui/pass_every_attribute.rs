//! Every attribute of the three derives, used once, and a look at what
//! they produce.

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::layout::{
    ByteOrder, Constraint, Count, LengthRule, SpecEnum as _, ViolationRule, Wire as _,
};
use format_spec::{RecordSet, SpecEnum, Wire};

const MAGIC: u32 = 0x4142_4344;
const LIMIT: u8 = 200;

/// Kinds of thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, SpecEnum)]
#[spec(py_shift = 4, py_table = "kind_to_str")]
enum Kind {
    /// The first kind.
    #[spec(c = "KIND_A", py = "KIND_a", human = "Kind A")]
    A = 0x1,
    /// The second kind.
    #[spec(human = "Kind B")]
    B = 2,
}

/// One element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "elem_t", c_external, py_format = "ELEM_FORMAT", py_format_override = "Q")]
struct Elem {
    value: u64,
}

/// A header with every field attribute.
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
#[wire(c_name = "hdr", c_typedef, py_format = "HDR_FORMAT", byte_order = big)]
struct Hdr {
    #[wire(equals = MAGIC)]
    magic: u32,
    #[wire(one_of = [1, 2])]
    version: u16,
    #[wire(reserved_bits = 0xfffe)]
    options: u16,
    #[wire(values = Kind)]
    kind: u32,
    count: u32,
    #[wire(reserved)]
    _res: [u8; 8],
    #[wire(count = count)]
    elems: Vec<Elem>,
}

/// A body taking the rest of the record.
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
#[wire(c_name = "rest", byte_order = stream)]
struct Rest {
    id: u32,
    #[wire(reserved)]
    _res: u32,
    words: Vec<u32>,
}

/// A native-order struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "native", byte_order = native)]
struct Native {
    #[wire(at_most = LIMIT, error = "TooBig")]
    a: u8,
    b: u8,
    c: u16,
}

/// Records with every record attribute.
#[derive(Debug, Clone, PartialEq, Eq, RecordSet)]
#[records(c_prefix = "X_REC_", py_prefix = "X_REC_")]
enum Rec {
    /// End.
    #[record(code = 0x0, name = "END", human = "End")]
    End,
    /// Rest.
    #[record(code = 0x1, name = "REST", human = "Rest", py = "the_rest", since = 3)]
    Rest(Rest),
    /// A blob.
    #[record(code = 0x2, name = "BLOB", human = "Blob", length = non_empty, deprecated = 0)]
    Blob(Opaque),
    /// A page.
    #[record(code = 0x3, name = "PAGE", human = "Page", length = exact(4096), since = 2, deprecated = 4)]
    Page(Opaque),
    /// Pages.
    #[record(code = 0x4, name = "PAGES", human = "Pages", length = page_data)]
    Pages(Opaque),
    /// Optional.
    #[record(code = 0x80000005, name = "EXTRA", human = "Extra", optional)]
    Extra(Hdr),
    /// Native.
    #[record(code = 0x6, name = "NATIVE", human = "Native")]
    Native(Native),
}

fn main() {
    let h = Hdr::LAYOUT;
    assert_eq!(h.size, 24);
    assert_eq!(h.align, 8);
    assert_eq!(h.byte_order, ByteOrder::Big);
    assert!(h.c_typedef);
    assert_eq!(h.py_format(), "!IHHIIQ");
    assert!(matches!(h.fields[0].constraint, Constraint::Equals(m) if m == 0x4142_4344));
    assert!(matches!(h.fields[3].constraint, Constraint::Enum(_)));
    assert_eq!(h.fields[6].count, Count::Field("count"));
    assert_eq!(Elem::LAYOUT.py_format(), "Q");
    assert!(Elem::LAYOUT.c_external);
    assert_eq!(Rest::LAYOUT.fields[2].count, Count::Rest);
    assert_eq!(Native::LAYOUT.byte_order, ByteOrder::Native);
    let a = &Native::LAYOUT.fields[0];
    assert!(matches!(a.constraint, Constraint::AtMost(200)));
    assert_eq!(a.error, Some("TooBig"));
    assert!(a.lenient, "an upper bound is a value rule, lenient mode checks it");
    assert_eq!(Native { a: 200, b: 0, c: 0 }.check(), Ok(()));
    let e = Native { a: 201, b: 0, c: 0 }.check().unwrap_err();
    assert_eq!((e.field, e.offset, e.value, e.rule), ("a", 0, 201, ViolationRule::TooLarge));
    assert_eq!(Kind::LAYOUT.py_shift, 4);
    assert_eq!(Kind::LAYOUT.py_table, Some("kind_to_str"));
    assert_eq!(Kind::from_value(2), Some(Kind::B));
    assert_eq!(Kind::A.value(), 1);

    let recs = Rec::LAYOUT.records;
    assert_eq!(recs[1].py_name, "X_REC_the_rest");
    assert_eq!(recs[1].c_name, "X_REC_REST");
    assert_eq!(recs[1].since, 3);
    assert_eq!(recs[2].length, LengthRule::NonEmpty);
    assert_eq!(recs[2].deprecated, Some(0));
    assert_eq!(recs[3].length, LengthRule::Exact(4096));
    assert_eq!(recs[4].length, LengthRule::PageData);
    assert!(!recs[5].mandatory);
    assert_eq!(Rec::EXTRA, 0x8000_0005);

    let extra = Rec::Extra(Hdr {
        magic: MAGIC,
        version: 2,
        options: 1,
        kind: 2,
        count: 1,
        _res: [0; 8],
        elems: vec![Elem { value: 9 }],
    });
    let mut body = Vec::new();
    extra.write_body(&mut body, Endian::Little).unwrap();
    assert_eq!(&body[..4], &[0x41, 0x42, 0x43, 0x44]);
    assert_eq!(Rec::parse_body(Rec::EXTRA, &body, Endian::Little).unwrap(), Some(extra.clone()));
    assert_eq!(extra.check(), Ok(()));
}
