//! `__init__.py`: the package's docstring.

use super::banner;

pub(super) fn init_py() -> String {
    let mut s = banner();
    s.push_str(
        "\n\"\"\"\nXen migration streams: the libxc domain image format (revisions 2 to 4,\n\
         libxc.py, with its DOMAIN_CONTEXT blob in domain_context.py and its\n\
         HVM_CONTEXT blob in hvm_context.py), the libxl\n\
         stream around it (libxl.py) and the xl save file header (xl.py): record\n\
         tables and strict verifiers. Generated from one Rust description of the\n\
         format, like the C headers xg_sr_stream_format.h and\n\
         libxl_sr_stream_format.h.\n\"\"\"\n",
    );
    s
}
