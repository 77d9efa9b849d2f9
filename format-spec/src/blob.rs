//! The shape the two blobs of a libxc stream share, and the one interpreter
//! of their rules.
//!
//! The DOMAIN_CONTEXT blob ([`crate::domain_context`]) and the HVM_CONTEXT
//! blob ([`crate::hvm_context`]) are both a run of entries, each an 8-octet
//! descriptor (type code, instance, length) and a body, the first a HEADER
//! and the last an END. Each blob module describes its format once as a
//! [`BlobFormat`]: the descriptor, the entry table ([`EntryRule`]: per type
//! its body struct, its size rule and whether it may appear more than
//! once), whether bodies are padded, and the rule table ([`BlobRule`]: per
//! rule what it checks, whether a restore checks it or only a strict
//! verifier, what it says, its source and the error it reports).
//!
//! [`BlobFormat::walk`] applies the rules a restore applies, entry by entry
//! ([`Modes::Both`]); [`BlobFormat::check`] then applies the strict ones
//! ([`Modes::StrictOnly`]) to the walked entries, in the order of the
//! table. `cargo xtask codegen` writes the same tables into the generated
//! Python (`domain_context.py`, `hvm_context.py`), whose interpreter
//! (`xen.migration.verify.walk_blob` and `check_blob`) reads them: a rule
//! changed here reaches both verifiers.
//!
//! No function here panics on any input or allocates more than the entries
//! it returns (at most one per 8 octets of input).
//!
//! ```
//! use format_spec::binrw::Endian;
//! use format_spec::blob::Check;
//! use format_spec::domain_context::{self as dc, DcEntry, DcErrorKind, DcHeader, DC_FORMAT};
//!
//! let mut blob = Vec::new();
//! dc::write(&[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End], Endian::Little, &mut blob)
//!     .unwrap();
//! let entries: Vec<_> = DC_FORMAT.walk(&blob, Endian::Little).collect::<Result<_, _>>().unwrap();
//! assert_eq!(entries.len(), 2);
//! DC_FORMAT.check(&blob, Endian::Little, &entries).unwrap();
//!
//! // The rule a blob without END breaks, and what it reports.
//! let rule = DC_FORMAT.rule(Check::MissingEnd).unwrap();
//! assert_eq!(rule.kind_name(), "MissingEnd");
//! let broken = DC_FORMAT.walk(&blob[..24], Endian::Little).last().unwrap().unwrap_err();
//! assert_eq!((broken.offset, broken.kind), (24, DcErrorKind::MissingEnd));
//! ```

use binrw::Endian;

use crate::bytes::{u32_at, uint_at};
use crate::layout::{check_value, field_index, field_of, StructLayout};
use crate::stream::rules::Source;
use crate::stream::ErrorModes as Modes;

/// The body length rule of one entry type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// One of these sizes: `size` (the current one) or one of `older`.
    /// In a padded blob the body is `size` octets and the padding follows.
    Fixed {
        /// The current size.
        size: usize,
        /// Earlier sizes still accepted.
        older: &'static [usize],
    },
    /// At least this many octets; the whole length is body.
    AtLeast(usize),
    /// A fixed part of `fixed` octets holding a 32-bit count at offset
    /// `count_at`, then `count` elements of `element` octets.
    Counted {
        /// Octets before the first element.
        fixed: usize,
        /// Offset of the 32-bit count in the body.
        count_at: usize,
        /// Octets per element.
        element: usize,
    },
}

impl Size {
    /// One fixed size.
    pub const fn exact(size: usize) -> Size {
        Size::Fixed { size, older: &[] }
    }

    /// The smallest body the rule allows.
    pub const fn min(&self) -> usize {
        match *self {
            Size::Fixed { size, older } => {
                let mut min = size;
                let mut i = 0;
                while i < older.len() {
                    if older[i] < min {
                        min = older[i];
                    }
                    i += 1;
                }
                min
            }
            Size::AtLeast(n) => n,
            Size::Counted { fixed, .. } => fixed,
        }
    }

    /// Whether a body of exactly `length` octets is allowed (counts are
    /// checked by [`Check::CountMatches`]: a counted body needs its fixed
    /// part here).
    pub fn allows(&self, length: usize) -> bool {
        match *self {
            Size::Fixed { size, older } => length == size || older.contains(&length),
            Size::AtLeast(n) | Size::Counted { fixed: n, .. } => length >= n,
        }
    }

    /// The octets of body (padding excluded) of an entry of `length` octets
    /// whose count field (if any) holds `count`.
    pub fn body_len(&self, length: usize, count: u32) -> u64 {
        match *self {
            Size::Fixed { size, .. } => size as u64,
            Size::AtLeast(_) => length as u64,
            Size::Counted { fixed, element, .. } => {
                fixed as u64 + u64::from(count) * element as u64
            }
        }
    }
}

/// One entry type of a blob.
#[derive(Debug, Clone, Copy)]
pub struct EntryRule {
    /// The type code.
    pub typecode: u16,
    /// The body's struct, if the description has one (its fields are
    /// decoded and the [`Check::BodyField`] rules read them).
    pub body: Option<&'static StructLayout>,
    /// The body length rule.
    pub size: Size,
    /// Whether the type may appear at most once ([`Check::AtMostOnce`]).
    pub at_most_once: bool,
}

/// What a rule checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The blob does not end before an END entry.
    MissingEnd,
    /// A whole descriptor remains where an entry starts.
    TruncatedDescriptor,
    /// The length stays within the blob.
    Overrun,
    /// The type code is in the entry table.
    KnownType,
    /// The first entry is HEADER.
    HeaderFirst,
    /// No HEADER after the first entry.
    HeaderOnce,
    /// The descriptor field of this index meets its constraint.
    DescriptorField(usize),
    /// The length holds the type's smallest body ([`Size::min`]).
    MinBody,
    /// The length is one the type's size rule allows ([`Size::allows`]).
    BodySize,
    /// The body field of this index, of the entries of this type, meets
    /// its constraint.
    BodyField {
        /// The entry type.
        typecode: u16,
        /// The field's index in the body struct.
        field: usize,
    },
    /// A counted body's elements fit in the length.
    CountFits,
    /// A counted body's length is exactly its fixed part and elements.
    CountMatches,
    /// The length is a multiple of the blob's alignment.
    LengthAligned,
    /// The padding after the body is zero.
    PaddingZero,
    /// The length is the body rounded up to the alignment.
    LengthExact,
    /// A type of [`EntryRule::at_most_once`] appears once at most.
    AtMostOnce,
    /// Nothing follows END.
    NothingAfterEnd,
}

/// What a broken rule found, for its error value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Found {
    /// The entry's type code.
    pub typecode: u16,
    /// The entry's instance.
    pub instance: u16,
    /// The entry's length.
    pub length: u32,
    /// Octets there are: left in the blob ([`Check::TruncatedDescriptor`]),
    /// after the descriptor ([`Check::Overrun`]), after the fixed part
    /// ([`Check::CountFits`]).
    pub available: usize,
    /// The value found: the field, the count, the padding octet, the
    /// octets after END.
    pub value: u64,
    /// Octets the rule wanted: the smallest body, the exact length.
    pub expected: usize,
}

/// One rule of a blob, with the error (`K`, the blob's error kind) it
/// reports.
#[derive(Debug, Clone, Copy)]
pub struct BlobRule<K: 'static> {
    /// What it checks.
    pub check: Check,
    /// [`Modes::Both`]: a restore checks it ([`BlobFormat::walk`]);
    /// [`Modes::StrictOnly`]: only [`BlobFormat::check`].
    pub modes: Modes,
    /// What the rule says.
    pub statement: &'static str,
    /// Where it comes from.
    pub source: Source,
    /// The error it reports, from what it found.
    pub error: fn(&Found) -> K,
}

impl<K: std::fmt::Debug> BlobRule<K> {
    /// The KIND the rule reports: the name of its error's variant (the
    /// `kind` of the generated Python's error, the `detail` of the stream
    /// verifier's).
    pub fn kind_name(&self) -> String {
        let debug = format!("{:?}", (self.error)(&Found::default()));
        let end = debug
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(debug.len());
        debug[..end].to_string()
    }
}

/// A blob format: its descriptor, entry types and rules.
#[derive(Debug, Clone, Copy)]
pub struct BlobFormat<K: 'static> {
    /// The descriptor struct (type code, instance, length).
    pub descriptor: &'static StructLayout,
    /// Offset of the 16-bit type code in the descriptor.
    pub type_at: usize,
    /// Offset of the 16-bit instance.
    pub instance_at: usize,
    /// Offset of the 32-bit length.
    pub length_at: usize,
    /// The HEADER type code.
    pub header: u16,
    /// The END type code.
    pub end: u16,
    /// `Some(n)`: the length counts the body and zero padding up to a
    /// multiple of `n`; `None`: no padding, the length is the body's.
    pub align: Option<usize>,
    /// The entry types.
    pub entries: &'static [EntryRule],
    /// The rules, in the order they are checked.
    pub rules: &'static [BlobRule<K>],
}

impl<K> BlobFormat<K> {
    /// The format whose entries start with `descriptor`, a struct with
    /// the fields `typecode` (16 bits), `instance` (16 bits) and `length`
    /// (32 bits), wherever it places them; the other arguments are the
    /// fields of the same names. A descriptor without one of those
    /// fields does not compile (in a `const`).
    pub const fn new(
        descriptor: &'static StructLayout,
        header: u16,
        end: u16,
        align: Option<usize>,
        entries: &'static [EntryRule],
        rules: &'static [BlobRule<K>],
    ) -> Self {
        // The walk reads the three fields with these widths.
        assert!(field_of(descriptor, "typecode").size() == 2);
        assert!(field_of(descriptor, "instance").size() == 2);
        assert!(field_of(descriptor, "length").size() == 4);
        BlobFormat {
            descriptor,
            type_at: field_of(descriptor, "typecode").offset,
            instance_at: field_of(descriptor, "instance").offset,
            length_at: field_of(descriptor, "length").offset,
            header,
            end,
            align,
            entries,
            rules,
        }
    }
}

/// One entry of a blob, as the walk found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Index of the entry (0 for the first).
    pub index: usize,
    /// Offset of its descriptor in the blob.
    pub offset: usize,
    /// The type code.
    pub typecode: u16,
    /// The instance.
    pub instance: u16,
    /// The length (body and any padding).
    pub length: u32,
}

/// A broken rule: which, where, and the error it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Broken<K> {
    /// Offset in the blob of the offending octets.
    pub offset: usize,
    /// Index of the entry (for errors after the last entry, the index the
    /// next one would have).
    pub entry: usize,
    /// The error.
    pub kind: K,
}

/// A rule table (`&[BlobRule<K>]`) of rows `check, modes, statement,
/// source, |found| error;`, one a rule, in the order they are checked.
///
/// Two shorthands stand for rules every blob has, with the errors of the
/// same name in both blobs' error kinds:
/// * `common MODES, SOURCE;`, first: the framing (in both modes), then a
///   known type code and HEADER first and once (in `MODES`);
/// * `header TYPECODE, LAYOUT, MODES, SOURCE;`, anywhere: HEADER's `magic`
///   and `version` fields (of body struct `LAYOUT`) meet their annotations.
macro_rules! blob_rules {
    ($kind:ident; common $modes:ident, $source:expr; $($rest:tt)*) => {
        $crate::blob::blob_rules! { @rows $kind; [
            Check::MissingEnd, Both, "the blob ends with an END entry", $source,
                |_| $kind::MissingEnd;
            Check::TruncatedDescriptor, Both, "every entry starts with a whole descriptor", $source,
                |f| $kind::TruncatedDescriptor { available: f.available };
            Check::Overrun, Both, "the entry's length lies within the blob", $source,
                |f| $kind::Overrun { length: f.length, available: f.available };
            Check::KnownType, $modes, "the type code is one the format defines", $source,
                |f| $kind::UnknownType { typecode: f.typecode };
            Check::HeaderFirst, $modes, "the first entry is HEADER", $source,
                |f| $kind::HeaderNotFirst { typecode: f.typecode };
            Check::HeaderOnce, $modes, "HEADER appears once", $source,
                |_| $kind::DuplicateHeader;
        ] $($rest)* }
    };
    (@rows $kind:ident; [$($done:tt)*] header $typecode:expr, $layout:expr, $modes:ident, $source:expr; $($rest:tt)*) => {
        $crate::blob::blob_rules! { @rows $kind; [$($done)*
            $crate::blob::body_field($typecode, $layout, "magic"), $modes,
                "HEADER magic is the format's", $source,
                |f| $kind::BadMagic { found: f.value as u32 };
            $crate::blob::body_field($typecode, $layout, "version"), $modes,
                "HEADER version is the format's", $source,
                |f| $kind::BadVersion { found: f.value as u32 };
        ] $($rest)* }
    };
    (@rows $kind:ident; [$($done:tt)*] $check:expr, $modes:ident, $statement:literal, $source:expr, |$f:tt| $error:expr; $($rest:tt)*) => {
        $crate::blob::blob_rules! { @rows $kind; [$($done)*
            $check, $modes, $statement, $source, |$f| $error;
        ] $($rest)* }
    };
    (@rows $kind:ident; [$($check:expr, $modes:ident, $statement:literal, $source:expr, |$f:tt| $error:expr;)*]) => {
        &[$($crate::blob::BlobRule::<$kind> {
            check: $check,
            modes: $crate::stream::ErrorModes::$modes,
            statement: $statement,
            source: $source,
            error: |$f: &$crate::blob::Found| $error,
        },)*]
    };
}
pub(crate) use blob_rules;

/// The [`Check::BodyField`] of field `name` of `layout`, the body of the
/// entries of type `typecode`.
pub const fn body_field(typecode: u16, layout: &StructLayout, name: &str) -> Check {
    Check::BodyField {
        typecode,
        field: field_index(layout, name),
    }
}

/// Walks a blob under the rules a restore applies; made by
/// [`BlobFormat::walk`].
#[derive(Debug, Clone)]
pub struct Walk<'a, K: 'static> {
    format: &'static BlobFormat<K>,
    blob: &'a [u8],
    endian: Endian,
    pos: usize,
    index: usize,
    done: bool,
    seen: Vec<u16>,
}

impl<K: 'static> BlobFormat<K> {
    /// Walks `blob` (byte order `endian`) entry by entry, applying the
    /// rules of [`Modes::Both`]; stops after END or at the first broken
    /// rule.
    pub fn walk<'a>(&'static self, blob: &'a [u8], endian: Endian) -> Walk<'a, K> {
        Walk {
            format: self,
            blob,
            endian,
            pos: 0,
            index: 0,
            done: false,
            seen: Vec::new(),
        }
    }

    /// The entry type of `typecode`, if the table has it.
    pub fn entry(&self, typecode: u16) -> Option<&'static EntryRule> {
        self.entries.iter().find(|e| e.typecode == typecode)
    }

    /// The first rule that checks `check`.
    pub fn rule(&self, check: Check) -> Option<&'static BlobRule<K>> {
        self.rules.iter().find(|r| r.check == check)
    }

    /// Applies the rules of [`Modes::StrictOnly`] to `entries` (those the
    /// walk of `blob` returned), entry by entry, rule by rule.
    pub fn check(&self, blob: &[u8], endian: Endian, entries: &[Entry]) -> Result<(), Broken<K>> {
        let mut seen = Vec::new();
        for e in entries {
            for r in self.rules.iter().filter(|r| r.modes == Modes::StrictOnly) {
                self.apply(r, blob, endian, e, &mut seen)?;
            }
        }
        Ok(())
    }

    /// The body octets (padding excluded) of entry `e` of `blob`.
    pub fn body_len(&self, blob: &[u8], endian: Endian, e: &Entry) -> u64 {
        let Some(rule) = self.entry(e.typecode) else {
            return u64::from(e.length);
        };
        rule.size
            .body_len(e.length as usize, self.count(blob, endian, e, rule))
    }

    /// The count field of a counted entry (0 where there is none).
    fn count(&self, blob: &[u8], endian: Endian, e: &Entry, rule: &EntryRule) -> u32 {
        match rule.size {
            Size::Counted { count_at, .. } => {
                u32_at(blob, e.offset + self.descriptor.size + count_at, endian).unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Checks rule `r` on entry `e`; `seen` holds the types of
    /// [`EntryRule::at_most_once`] met so far.
    fn apply(
        &self,
        r: &BlobRule<K>,
        blob: &[u8],
        endian: Endian,
        e: &Entry,
        seen: &mut Vec<u16>,
    ) -> Result<(), Broken<K>> {
        let body_at = e.offset + self.descriptor.size;
        let mut found = Found {
            typecode: e.typecode,
            instance: e.instance,
            length: e.length,
            ..Found::default()
        };
        let mut entry = e.index;
        let rule = self.entry(e.typecode);
        let at = match (r.check, rule) {
            (Check::KnownType, None) => Some(e.offset + self.type_at),
            (Check::HeaderFirst, _) if e.index == 0 && e.typecode != self.header => {
                Some(e.offset + self.type_at)
            }
            (Check::HeaderOnce, _) if e.index > 0 && e.typecode == self.header => {
                Some(e.offset + self.type_at)
            }
            (Check::DescriptorField(i), _) => {
                let f = self.descriptor.fields.get(i);
                let value = f.and_then(|f| uint_at(blob, e.offset + f.offset, f.size(), endian));
                found.value = value.unwrap_or(0);
                (f.is_some() && check_value(self.descriptor, i, found.value).is_err())
                    .then(|| e.offset + f.map_or(0, |f| f.offset))
            }
            (Check::MinBody, Some(t)) if (e.length as usize) < t.size.min() => {
                found.expected = t.size.min();
                Some(e.offset)
            }
            (Check::BodySize, Some(t)) if !t.size.allows(e.length as usize) => {
                Some(e.offset + self.length_at)
            }
            (Check::BodyField { typecode, field }, Some(t)) if typecode == e.typecode => {
                let layout = t.body.filter(|b| field < b.fields.len());
                let f = layout.map(|b| &b.fields[field]);
                let value = f.and_then(|f| uint_at(blob, body_at + f.offset, f.size(), endian));
                found.value = value.unwrap_or(0);
                match (layout, f) {
                    (Some(b), Some(f)) if check_value(b, field, found.value).is_err() => {
                        Some(body_at + f.offset)
                    }
                    _ => None,
                }
            }
            (Check::CountFits, Some(t)) => match t.size {
                Size::Counted {
                    fixed,
                    count_at,
                    element,
                } => {
                    let count = self.count(blob, endian, e, t);
                    found.value = u64::from(count);
                    found.available = (e.length as usize).saturating_sub(fixed);
                    (u64::from(count) * element as u64 > found.available as u64)
                        .then_some(body_at + count_at)
                }
                _ => None,
            },
            (Check::CountMatches, Some(t)) => match t.size {
                Size::Counted { count_at, .. } => {
                    let count = self.count(blob, endian, e, t);
                    found.value = u64::from(count);
                    (t.size.body_len(0, count) != u64::from(e.length)).then_some(body_at + count_at)
                }
                _ => None,
            },
            (Check::LengthAligned, _) => self
                .align
                .filter(|a| !(e.length as usize).is_multiple_of(*a))
                .map(|_| e.offset + self.length_at),
            (Check::PaddingZero, Some(_)) => {
                let entry_end = body_at + e.length as usize;
                let body_len = self.body_len(blob, endian, e).min(u64::from(e.length));
                let body_end = body_at + body_len as usize;
                let padding = blob.get(body_end..entry_end).unwrap_or_default();
                padding.iter().position(|b| *b != 0).map(|i| {
                    found.value = u64::from(padding[i]);
                    body_end + i
                })
            }
            (Check::LengthExact, Some(t)) => {
                let body_len = self.body_len(blob, endian, e);
                let align = self.align.unwrap_or(1) as u64;
                let expected = body_len
                    .checked_add(align - 1)
                    .map_or(u64::MAX, |n| n / align * align);
                found.expected = usize::try_from(expected).unwrap_or(usize::MAX);
                (expected != u64::from(e.length)).then(|| match t.size {
                    Size::Counted { count_at, .. } => body_at + count_at,
                    _ => e.offset + self.length_at,
                })
            }
            (Check::AtMostOnce, Some(t)) if t.at_most_once => {
                if seen.contains(&e.typecode) {
                    Some(e.offset + self.type_at)
                } else {
                    seen.push(e.typecode);
                    None
                }
            }
            (Check::NothingAfterEnd, _) if e.typecode == self.end => {
                let end = body_at + e.length as usize;
                found.value = blob.len().saturating_sub(end) as u64;
                entry = e.index + 1;
                (end < blob.len()).then_some(end)
            }
            _ => None,
        };
        match at {
            Some(offset) => Err(Broken {
                offset,
                entry,
                kind: (r.error)(&found),
            }),
            None => Ok(()),
        }
    }
}

impl<'a, K: 'static> Walk<'a, K> {
    /// Offset where the next entry would start (after END: the end of it).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Ends the walk with the error of the rule that checks `check` (or
    /// silently, if the table has no such rule).
    fn fail(
        &mut self,
        check: Check,
        offset: usize,
        found: Found,
    ) -> Option<Result<Entry, Broken<K>>> {
        self.done = true;
        let r = self.format.rule(check)?;
        Some(Err(Broken {
            offset,
            entry: self.index,
            kind: (r.error)(&found),
        }))
    }
}

impl<'a, K: 'static> Iterator for Walk<'a, K> {
    type Item = Result<Entry, Broken<K>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (f, at) = (self.format, self.pos);
        let rest = self.blob.len().saturating_sub(at);
        let desc = f.descriptor.size;
        if rest == 0 {
            return self.fail(Check::MissingEnd, at, Found::default());
        }
        let truncated = Found {
            available: rest,
            ..Found::default()
        };
        if rest < desc {
            return self.fail(Check::TruncatedDescriptor, at, truncated);
        }
        let read = |off: usize, size| uint_at(self.blob, at + off, size, self.endian);
        let (Some(typecode), Some(instance), Some(length)) = (
            read(f.type_at, 2),
            read(f.instance_at, 2),
            read(f.length_at, 4),
        ) else {
            return self.fail(Check::TruncatedDescriptor, at, truncated);
        };
        let e = Entry {
            index: self.index,
            offset: at,
            typecode: typecode as u16,
            instance: instance as u16,
            length: length as u32,
        };
        if length > (rest - desc) as u64 {
            let found = Found {
                typecode: e.typecode,
                instance: e.instance,
                length: e.length,
                available: rest - desc,
                ..Found::default()
            };
            return self.fail(Check::Overrun, at, found);
        }
        for r in f.rules.iter().filter(|r| r.modes == Modes::Both) {
            if let Err(b) = f.apply(r, self.blob, self.endian, &e, &mut self.seen) {
                self.done = true;
                return Some(Err(b));
            }
        }
        self.pos = at + desc + length as usize;
        self.index += 1;
        if e.typecode == f.end {
            self.done = true;
        }
        Some(Ok(e))
    }
}
