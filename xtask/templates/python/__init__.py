
"""
Xen migration streams: the libxc domain image format (revisions SLOT_revisions,
libxc.py, with its DOMAIN_CONTEXT blob in domain_context.py and its
HVM_CONTEXT blob in hvm_context.py), the libxl
stream around it (libxl.py) and the xl save file header (xl.py): record
tables and strict verifiers. Generated from one Rust description of the
format, like the C headers xg_sr_stream_format.h and
libxl_sr_stream_format.h.
"""
