//! `__init__.py`: the package's docstring (template `python/__init__.py`).

use super::banner;
use crate::template::fill;

pub(super) fn init_py() -> String {
    let body = fill(
        crate::template!("python/__init__.py"),
        &[("revisions", &super::libxc::revisions())],
    );
    banner() + &body
}
