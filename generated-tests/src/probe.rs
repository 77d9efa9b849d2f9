//! A C (or C++) source that checks the generated header against the Rust
//! descriptors at compile time.
//!
//! Each [`Expect`] pairs a C expression (a `sizeof`, an `offsetof`, a type
//! test or a macro) with the value the descriptors give; the probe turns each
//! into a static assertion. Nothing here is typed by hand: the list is a
//! walk over the description's tables of structs, constants, records and
//! enumerations, gathered per header in [`Contents`] ([`LIBXC`], [`LIBXL`]).

use format_spec::domain_context::{DcType, DOMAIN_CONTEXT_CONSTANTS, DOMAIN_CONTEXT_STRUCTS};
use format_spec::hvm_context::{HvmType, HVM_CONTEXT_CONSTANTS};
use format_spec::layout::{
    ConstLayout, EnumLayout, FieldKind, RecordLayout, SpecEnum, StructLayout,
};
use format_spec::libxc::{DomainType, LibxcRecord, PageType, LIBXC_CONSTANTS, LIBXC_STRUCTS};
use format_spec::libxl::{
    CheckpointStateId, EmulatorId, LibxlRecord, LIBXL_CONSTANTS, LIBXL_STRUCTS,
};

use crate::cc::Lang;

/// One compile-time expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// A C expression of integer type.
    pub expr: String,
    /// The value it must have.
    pub value: u64,
}

impl Expect {
    fn new(expr: String, value: u64) -> Self {
        Expect { expr, value }
    }
}

/// What the description says one generated header holds.
#[derive(Debug, Clone, Copy)]
pub struct Contents {
    /// The header's file name.
    pub file: &'static str,
    /// Tables of structs; those with a C name that Xen's public headers do
    /// not provide are declared by the header.
    pub structs: &'static [&'static [&'static StructLayout]],
    /// Tables of constants; those with a C name are macros.
    pub constants: &'static [&'static [ConstLayout]],
    /// Tables of record types.
    pub records: &'static [&'static [RecordLayout]],
    /// Enumerations whose C-named values are macros.
    pub enums: &'static [&'static EnumLayout],
}

/// The libxc header: the stream, the DOMAIN_CONTEXT blob (structs and
/// constants) and the HVM_CONTEXT blob (constants and type codes only; its
/// structs are Xen's `public/hvm/save.h`'s).
pub const LIBXC: Contents = Contents {
    file: "xg_sr_stream_format.h",
    structs: &[LIBXC_STRUCTS, DOMAIN_CONTEXT_STRUCTS],
    constants: &[
        LIBXC_CONSTANTS,
        DOMAIN_CONTEXT_CONSTANTS,
        HVM_CONTEXT_CONSTANTS,
    ],
    records: &[LibxcRecord::LAYOUT.records],
    enums: &[
        &DomainType::LAYOUT,
        &PageType::LAYOUT,
        &DcType::LAYOUT,
        &HvmType::LAYOUT,
    ],
};

/// The libxl header.
pub const LIBXL: Contents = Contents {
    file: "libxl_sr_stream_format.h",
    structs: &[LIBXL_STRUCTS],
    constants: &[LIBXL_CONSTANTS],
    records: &[LibxlRecord::LAYOUT.records],
    enums: &[&EmulatorId::LAYOUT, &CheckpointStateId::LAYOUT],
};

impl Contents {
    /// The structs the header declares: those with a C name that the
    /// header does not take from Xen's public headers.
    pub fn header_structs(&self) -> Vec<&'static StructLayout> {
        self.structs
            .iter()
            .flat_map(|t| t.iter().copied())
            .filter(|s| s.c_name.is_some() && !s.c_external)
            .collect()
    }

    /// Every record type.
    pub fn all_records(&self) -> impl Iterator<Item = &'static RecordLayout> + '_ {
        self.records.iter().flat_map(|t| t.iter())
    }
}

/// The type test of a field's element for `lang`, as an expression that
/// is 1 when the C type is the expected one.
fn type_test(lang: Lang, member: &str, c_type: &str) -> String {
    match lang {
        Lang::C => format!("_Generic({member}, {c_type}: 1, default: 0)"),
        Lang::Cxx => format!(
            "std::is_same<std::remove_cv<std::remove_reference<decltype({member})>::type>::type, \
             {c_type}>::value"
        ),
    }
}

/// Every expectation of a header, in a fixed order.
pub fn expectations(lang: Lang, contents: &Contents) -> Vec<Expect> {
    let mut out = Vec::new();
    for s in contents.header_structs() {
        let ty = s.c_type();
        out.push(Expect::new(format!("sizeof({ty})"), s.size as u64));
        for f in s.fields {
            let name = f.name;
            out.push(Expect::new(
                format!("offsetof({ty}, {name})"),
                f.offset as u64,
            ));
            let member = format!("(({ty} *)0)->{name}");
            let (element, elem_type, elem_size) = match f.kind {
                FieldKind::Prim(p) => (member.clone(), p.c_type().to_string(), p.size()),
                FieldKind::Array(p, _) | FieldKind::TrailingPrim(p) => {
                    (format!("{member}[0]"), p.c_type().to_string(), p.size())
                }
                FieldKind::TrailingStruct(e) => (format!("{member}[0]"), e.c_type(), e.size),
            };
            if !f.kind.is_trailing() {
                out.push(Expect::new(format!("sizeof({member})"), f.size() as u64));
            }
            out.push(Expect::new(format!("sizeof({element})"), elem_size as u64));
            out.push(Expect::new(type_test(lang, &element, &elem_type), 1));
        }
    }
    for c in contents.constants.iter().flat_map(|t| t.iter()) {
        if let Some(name) = c.c_name {
            out.push(Expect::new(name.to_string(), c.value));
        }
    }
    for r in contents.all_records() {
        out.push(Expect::new(r.c_name.to_string(), u64::from(r.code)));
    }
    for e in contents.enums {
        for v in e.variants {
            if let Some(name) = v.c_name {
                out.push(Expect::new(name.to_string(), v.value));
            }
        }
    }
    out
}

/// The probe source for `lang`: includes the headers (by their file names;
/// the caller passes their directories with `-I`) and asserts every
/// expectation.
pub fn source(lang: Lang, header_names: &[&str], expects: &[Expect]) -> String {
    let mut src =
        String::from("/* Generated by the generated-tests crate; checks the header. */\n");
    let assert = match lang {
        Lang::C => {
            src.push_str("#include <stddef.h>\n");
            "_Static_assert"
        }
        Lang::Cxx => {
            src.push_str("#include <cstddef>\n#include <type_traits>\n");
            "static_assert"
        }
    };
    for name in header_names {
        src.push_str(&format!("#include \"{name}\"\n"));
    }
    src.push('\n');
    for e in expects {
        let message = format!("{} == {:#x}", e.expr, e.value).replace('"', "'");
        src.push_str(&format!(
            "{assert}((unsigned long long)({}) == {:#x}ULL, \"{message}\");\n",
            e.expr, e.value
        ));
    }
    src
}
