//! Tests that run the generated C and Python outputs.
//!
//! * [`vectors`]: the shared set of valid and invalid libxc streams with
//!   the verdict every verifier must reach.
//! * [`python`]: helpers that run the machine's `python3` on the generated
//!   `xen.migration` package.

pub mod python;
pub mod vectors;
