//! Record bodies: parsing one body from memory and writing it back.
//!
//! The stream layer frames records itself (forward-only, no `Seek` on the
//! input) and hands each body to [`RecordBody::read_body`] as a byte slice.
//! The helpers below are what the derived binrw code calls; they check
//! counts against the bytes actually present *before* allocating, so a
//! hostile count cannot force a large allocation.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use binrw::{BinRead, BinResult, BinWrite, Endian};

use crate::layout::{LengthRule, StructLayout, Violation, Wire};

/// Why a record body could not be parsed or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body is shorter than its fixed part.
    #[error("body is {len} octets, shorter than the {min} its fixed part needs")]
    TooShort {
        /// Body length.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// The body length is not what the record's rule requires.
    #[error("body is {len} octets, expected {expected}")]
    Length {
        /// Body length.
        len: usize,
        /// Expected length.
        expected: usize,
    },
    /// Octets remain after the last field.
    #[error("{extra} octets follow the last field")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// A count field promises more elements than the body holds, or fewer.
    #[error("{structure}.{field} = {count} does not match the {available} octets of {element}-octet elements that follow")]
    Count {
        /// The struct.
        structure: &'static str,
        /// The count field.
        field: &'static str,
        /// Its value.
        count: u64,
        /// Octets available for the array.
        available: u64,
        /// Element size.
        element: usize,
    },
    /// A trailing array's length is not a whole number of elements.
    #[error("{structure}.{field}: {len} octets is not a whole number of {element}-octet elements")]
    Ragged {
        /// The struct.
        structure: &'static str,
        /// The array field.
        field: &'static str,
        /// Octets available.
        len: u64,
        /// Element size.
        element: usize,
    },
    /// The body is empty but must not be.
    #[error("body is empty but must not be")]
    Empty,
    /// Any other failure (I/O on the in-memory buffer, which cannot happen).
    #[error("{0}")]
    Other(String),
}

/// A record body type: implemented by `#[derive(Wire)]` and by hand for
/// bodies that are not a single struct (PAGE_DATA, opaque blobs).
pub trait RecordBody: Sized {
    /// The body's struct layout, if it has one.
    const BODY_LAYOUT: Option<&'static StructLayout>;
    /// The rule the body length must follow.
    const BODY_LENGTH: LengthRule;

    /// Parses a body (without padding) from memory.
    fn read_body(body: &[u8], endian: Endian) -> Result<Self, BodyError>;

    /// Appends the body (without padding) to `out`.
    fn write_body(&self, out: &mut Vec<u8>, endian: Endian) -> Result<(), BodyError>;

    /// Checks field constraints (reserved fields zero, allowed values).
    fn check_body(&self) -> Result<(), Violation> {
        Ok(())
    }
}

/// An opaque body: octets the format does not look into (HVM context,
/// shared info, toolstack data, the domain context blob).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Opaque(pub Vec<u8>);

impl RecordBody for Opaque {
    const BODY_LAYOUT: Option<&'static StructLayout> = None;
    const BODY_LENGTH: LengthRule = LengthRule::NonEmpty;

    fn read_body(body: &[u8], _endian: Endian) -> Result<Self, BodyError> {
        Ok(Opaque(body.to_vec()))
    }

    fn write_body(&self, out: &mut Vec<u8>, _endian: Endian) -> Result<(), BodyError> {
        out.extend_from_slice(&self.0);
        Ok(())
    }
}

/// Parses a [`Wire`] struct that must fill `body` exactly.
pub fn read_wire<T>(body: &[u8], endian: Endian) -> Result<T, BodyError>
where
    T: Wire + for<'a> BinRead<Args<'a> = ()>,
{
    if body.len() < T::LAYOUT.size {
        return Err(BodyError::TooShort {
            len: body.len(),
            min: T::LAYOUT.size,
        });
    }
    let mut cur = Cursor::new(body);
    let value = T::read_options(&mut cur, endian, ()).map_err(from_binrw)?;
    let used = cur.position() as usize;
    if used != body.len() {
        return Err(BodyError::TrailingBytes {
            extra: body.len() - used,
        });
    }
    Ok(value)
}

/// Appends a [`Wire`] struct to `out`.
pub fn write_wire<T>(value: &T, out: &mut Vec<u8>, endian: Endian) -> Result<(), BodyError>
where
    T: for<'a> BinWrite<Args<'a> = ()>,
{
    let start = out.len();
    let mut cur = Cursor::new(out);
    cur.set_position(start as u64);
    value
        .write_options(&mut cur, endian, ())
        .map_err(from_binrw)
}

/// Maps a binrw error back to a [`BodyError`].
pub fn from_binrw(err: binrw::Error) -> BodyError {
    if let Some(e) = err.custom_err::<BodyError>() {
        return e.clone();
    }
    match err {
        binrw::Error::AssertFail { message, .. } => BodyError::Other(message),
        other => BodyError::Other(other.to_string()),
    }
}

fn custom(reader: &mut impl Seek, err: BodyError) -> binrw::Error {
    let pos = reader.stream_position().unwrap_or(0);
    binrw::Error::Custom {
        pos,
        err: Box::new(err),
    }
}

fn remaining(reader: &mut (impl Read + Seek)) -> BinResult<u64> {
    let pos = reader.stream_position()?;
    let end = reader.seek(SeekFrom::End(0))?;
    reader.seek(SeekFrom::Start(pos))?;
    Ok(end.saturating_sub(pos))
}

/// How many elements a trailing array holds, for [`read_array`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// As many as the count field `field` says: `count`.
    Counted {
        /// The count field's value.
        count: u64,
        /// The count field.
        field: &'static str,
    },
    /// Whole elements up to the end of the body; `field` is the array.
    Rest {
        /// The array field.
        field: &'static str,
    },
}

/// Reads the trailing array of a struct `structure`, `element` octets an
/// element, after checking that the rest of the reader holds exactly the
/// array: `count` elements ([`BodyError::Count`] otherwise), or a whole
/// number of them ([`BodyError::Ragged`] otherwise). Used by derived code.
pub fn read_array<R, T>(
    reader: &mut R,
    endian: Endian,
    extent: Extent,
    element: usize,
    structure: &'static str,
) -> BinResult<Vec<T>>
where
    R: Read + Seek,
    T: for<'a> BinRead<Args<'a> = ()>,
{
    let available = remaining(reader)?;
    let n = match extent {
        Extent::Counted { count, field } => {
            let fits = count
                .checked_mul(element as u64)
                .is_some_and(|need| need == available);
            if !fits {
                let err = BodyError::Count {
                    structure,
                    field,
                    count,
                    available,
                    element,
                };
                return Err(custom(reader, err));
            }
            count
        }
        Extent::Rest { field } => {
            if element == 0 || available % element as u64 != 0 {
                let err = BodyError::Ragged {
                    structure,
                    field,
                    len: available,
                    element,
                };
                return Err(custom(reader, err));
            }
            available / element as u64
        }
    };
    (0..n)
        .map(|_| T::read_options(reader, endian, ()))
        .collect()
}

/// Reads all remaining octets. Used by derived code.
pub fn read_rest_bytes<R: Read + Seek>(reader: &mut R) -> BinResult<Vec<u8>> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok(out)
}

/// Writes octets. Used by derived code.
pub fn write_bytes<W: Write>(writer: &mut W, bytes: &[u8]) -> BinResult<()> {
    writer.write_all(bytes)?;
    Ok(())
}

/// Refuses to write a struct whose count field disagrees with its array.
/// Used by derived code.
pub fn check_count<W: Seek>(
    writer: &mut W,
    count: u64,
    len: usize,
    structure: &'static str,
    field: &'static str,
) -> BinResult<()> {
    if count != len as u64 {
        return Err(binrw::Error::AssertFail {
            pos: writer.stream_position().unwrap_or(0),
            message: format!("{structure}.{field} is {count} but the array holds {len} elements"),
        });
    }
    Ok(())
}

/// `max` usable in `const` context. Used by derived code.
pub const fn const_max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}
