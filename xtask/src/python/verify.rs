//! `verify.py`: the exception classes and the reading base class
//! (template `python/verify.py`). Not derived from the description (it
//! holds no format facts), but generated so that the package stays one
//! consistent unit.

use super::banner;
use super::emit::py_class;
use crate::template::fill;

pub(super) fn verify_py() -> String {
    // The template raises these two itself; the catalogue must agree.
    assert_eq!(py_class("TrailingData", false), "StreamError");
    assert_eq!(py_class("Truncated", true), "TruncatedError");
    banner() + &fill::<&str>(crate::template!("python/verify.py"), &[])
}
