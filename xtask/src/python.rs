//! The Python package `xen.migration`.

use crate::Output;

/// The Python outputs.
pub fn outputs() -> Vec<Output> {
    Vec::new()
}
