//! Tests that run the generated C and Python outputs.
