//! The C headers: `xg_sr_stream_format.h` (and later libxl's).

use crate::Output;

/// The C outputs.
pub fn outputs() -> Vec<Output> {
    Vec::new()
}
