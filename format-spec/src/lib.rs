//! The Xen migration stream, described once.
//!
//! `format-spec` holds one annotated Rust item per item of Xen's stream
//! specifications. The derives of `format-derive` turn the annotations into
//! binrw readers and writers and into `const` layout descriptors
//! ([`layout`]), from which `cargo xtask codegen` writes Xen's C header and
//! Python modules.
//!
//! * [`libxc`]: the libxc domain image format (spec revision 4).
//! * [`libxl`]: the libxl stream that wraps it (spec revision 2).
//! * [`xl`]: the xl save file header in front of both.
//! * [`save`]: a whole input (`xl save` file, libxl stream or bare libxc
//!   stream) read with one reader, every layer's events in order; whole
//!   inputs verified in one call; [`Error`], the one error type of every
//!   layer, and [`Mode`], the one checking mode.
//! * [`outer`]: the xl header and libxl stream, read and written layer by
//!   layer.
//! * [`convert`]: converting streams between the versions
//!   [`convert::TARGET_VERSIONS`] lists.
//! * [`domain_context`]: the blob inside the DOMAIN_CONTEXT record.
//! * [`hvm_context`]: the blob inside the HVM_CONTEXT record.
//! * [`blob`]: the entry tables and rule tables of both blobs, and their
//!   one interpreter.
//! * [`stream`]: the forward-only reader, writer and verifier of libxc streams.
//! * [`layout`]: the descriptor types the derives produce.
//! * [`body`]: parsing and writing one record body from memory.
//! * [`memory`]: the guest's memory out of a stream (raw or ELF core image).
//!
//! ```
//! use format_spec::libxc::{LibxcRecord, X86TscInfo};
//! use format_spec::binrw::Endian;
//!
//! let rec = LibxcRecord::X86TscInfo(X86TscInfo {
//!     mode: 0, khz: 2_000_000, nsec: 42, incarnation: 1, _res1: 0,
//! });
//! let mut body = Vec::new();
//! rec.write_body(&mut body, Endian::Little).unwrap();
//! assert_eq!(body.len(), 24);
//! let back = LibxcRecord::parse_body(LibxcRecord::X86_TSC_INFO, &body, Endian::Little).unwrap();
//! assert_eq!(back, Some(rec));
//! ```

#![warn(missing_docs)]

extern crate self as format_spec;

pub use binrw;
pub use format_derive::{RecordSet, SpecEnum, Wire};
pub use save::Error;

/// The version of this crate, and so of the description (the generated
/// Python package carries it too).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub use stream::Mode;

/// Declares an enumeration of error kinds (unit variants) with the list
/// of every variant (`ALL`), its name (`as_str`, the variant's name, which
/// is the KIND string the generated Python verifier reports) and the
/// reverse lookup (`from_name`). One declaration, so the list cannot miss
/// a variant and a name cannot be misspelled.
macro_rules! kind_names {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident {
            $($(#[doc = $doc:literal])* $name:ident,)*
        }
    ) => {
        $(#[$meta])*
        pub enum $ty {
            $($(#[doc = $doc])* $name,)*
        }

        impl $ty {
            /// Every kind, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$name,)*];

            /// The kind's name (its variant's name), as the generated
            /// Python verifier and the test vectors spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$name => stringify!($name),)*
                }
            }

            /// The kind named `name`.
            pub fn from_name(name: &str) -> Option<$ty> {
                $ty::ALL.iter().copied().find(|k| k.as_str() == name)
            }
        }

        impl ::core::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(feature = "tokio")]
pub mod asynchronous;
pub mod blob;
pub mod body;
mod bytes;
pub mod convert;
pub mod domain_context;
mod drive;
pub mod hvm_context;
pub mod layout;
pub mod libxc;
pub mod libxl;
pub mod memory;
pub mod outer;
pub mod save;
pub mod stream;
pub mod xl;
#[cfg(unix)]
mod zero_copy;

/// Declares named constants once: the Rust `const` items and a table of
/// [`layout::ConstLayout`] descriptors with their C and Python spellings.
#[macro_export]
macro_rules! spec_consts {
    (
        $(#[doc = $tdoc:literal])*
        $table:ident;
        $(
            $(#[doc = $doc:literal])*
            $name:ident : $ty:ty = $value:expr,
                c: $c:expr, c_expr: $ce:expr,
                py: $py:expr, py_expr: $pe:expr;
        )*
    ) => {
        $(
            $(#[doc = $doc])*
            pub const $name: $ty = $value;
        )*

        $(#[doc = $tdoc])*
        pub const $table: &[$crate::layout::ConstLayout] = &[
            $(
                $crate::layout::ConstLayout {
                    rust_name: stringify!($name),
                    value: $name as u64,
                    size: ::core::mem::size_of::<$ty>(),
                    c_name: $c,
                    c_expr: $ce,
                    py_name: $py,
                    py_expr: $pe,
                    doc: concat!($($doc, "\n"),*),
                },
            )*
        ];
    };
}
