//! `xl.py`: the xl save file header in front of the libxl stream, a
//! drop-in for Xen's module of the same name.

use std::fmt::Write as _;

use format_spec::layout::Wire;
use format_spec::xl::{
    XlHeader, XL_CONSTANTS, XL_OPTIONAL_DATA_MAX, XL_STRUCTS, XL_TEXT_CONSTANTS,
};

use super::banner;
use super::emit::*;

/// The generated `xl.py`.
pub(super) fn xl_py() -> String {
    let st = &XlHeader::LAYOUT;
    let its = items(st);
    let var = |f: &str| {
        its.iter()
            .find(|i| i.field == f)
            .unwrap_or_else(|| panic!("XlHeader.{f}"))
            .var
            .clone()
    };
    let marker_item = its
        .iter()
        .find(|i| i.field == "byteorder")
        .expect("byteorder");
    let marker = match marker_item.constraint {
        format_spec::layout::Constraint::Equals(v) => v,
        _ => panic!("XlHeader.byteorder has no Equals rule"),
    };
    let marker_name = XL_CONSTANTS
        .iter()
        .find(|c| c.value == marker)
        .and_then(|c| c.py_name)
        .expect("the byte-order marker has a Python name");
    let body_fmt: String = st.py_items().iter().map(|(_, _, p)| p.py_char()).collect();
    let magic = XL_TEXT_CONSTANTS
        .iter()
        .find(|c| c.rust_name == "XL_MAGIC")
        .and_then(|c| c.py_name)
        .expect("MAGIC");

    let mut s = banner();
    s.push_str(
        "\n\"\"\"\nThe xl save file header: the magic, a byte-order marker, mandatory and\n\
         optional flags and optional data (the domain configuration) in front\n\
         of the libxl stream. No Xen document specifies it; format-spec's xl\n\
         module does. VerifyXl verifies a whole xl save file.\n\"\"\"\n\n",
    );
    s.push_str("from struct import pack, unpack\n\n");
    s.push_str("from xen.migration.verify import StreamError, VerifyBase, prepend\n");
    s.push_str("from xen.migration.libxc import VerifyLibxc, IHDR_MARKER\n");
    s.push_str("from xen.migration.libxl import VerifyLibxl\n\n");
    s.push_str("#\n# Constants\n#\n\n");
    emit_text_consts(&mut s, XL_TEXT_CONSTANTS);
    emit_consts(&mut s, XL_CONSTANTS);
    s.push_str(
        "# The most optional data the verifier accepts (a bound of this package;\n\
         # xl sets none).\n",
    );
    writeln!(
        s,
        "OPTIONAL_DATA_MAX = {}\n",
        int_lit(u64::from(XL_OPTIONAL_DATA_MAX))
    )
    .unwrap();
    s.push_str("#\n# Struct formats\n#\n\n");
    emit_formats(&mut s, XL_STRUCTS);
    writeln!(
        s,
        "# Size of the magic and the header fields: the optional data starts here.\n\
         PREAMBLE_SIZE = len({magic}) + {}\n",
        st.size
    )
    .unwrap();

    write!(
        s,
        r#"
class VerifyXl(VerifyBase):
    """
    Verify a whole xl save file in strict mode: the xl header (magic,
    byte-order marker, flags, optional data and configuration), then the
    libxl stream with VerifyLibxl or, without the stream-v2 flag, a bare
    libxc stream with VerifyLibxc. Stops after the last END record.
    """

    def __init__(self, info, read):
        VerifyBase.__init__(self, info, read)
        self.endian = None
        self.mandatory_flags = 0
        self.optional_data = b""
        self.config = None
        self.inner = None


    def verify(self):
        """Verify the header and the stream after it."""
        self.verify_hdr()
        if self.mandatory_flags & {v2}:
            self.inner = VerifyLibxl(self.info, self.read)
        else:
            at = self.offset
            first = self.rdexact(8)
            if first != pack("!Q", IHDR_MARKER):
                raise StreamError("the xl header lacks the stream-v2 flag and "
                                  "no libxc v2 stream follows at offset %d: "
                                  "a legacy stream" % (at, ),
                                  "LegacyStream", at)
            self.offset = at
            self.inner = VerifyLibxc(self.info, prepend(first, self.read))
        self.inner.offset = self.offset
        self.inner.verify()
        self.offset = self.inner.offset


    def verify_hdr(self):
"#,
        v2 = const_of(XL_CONSTANTS, "XL_MANDATORY_FLAG_STREAMV2"),
    )
    .unwrap();
    s.push_str(&docstring(st.doc, "        "));
    write!(
        s,
        r#"        start = self.offset
        magic = self.rdexact(len({magic}))
        if magic != {magic}:
            raise StreamError("bad xl magic at offset %d: %r" % (start, magic),
                              "BadXlMagic", start)
        base = self.offset
        raw = self.rdexact({size})
        if unpack("<I", raw[:4])[0] == {marker_name}:
            self.endian = "<"
        elif unpack(">I", raw[:4])[0] == {marker_name}:
            self.endian = ">"
        else:
            raise StreamError("bad xl byte-order marker %r at offset %d"
                              % (raw[:4], base + {marker_off}),
                              "BadByteOrderMarker", base + {marker_off})
        {vars} = \
            unpack(self.endian + "{body_fmt}", raw)
"#,
        size = st.size,
        marker_off = marker_item.offset,
        vars = its
            .iter()
            .map(|i| i.var.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    )
    .unwrap();
    let rest: Vec<_> = its
        .iter()
        .filter(|i| i.field != "byteorder")
        .cloned()
        .collect();
    for pass in [Pass::Values, Pass::Reserved] {
        let mut chk = String::new();
        emit_checks(
            &mut chk,
            "        ",
            &rest,
            pass,
            Raise::Header("xl header"),
            XL_CONSTANTS,
        );
        s.push_str(&chk.replace("start + ", "base + "));
    }
    let len_var = var("optional_data_len");
    let flags_var = var("mandatory_flags");
    let flags_off = its
        .iter()
        .find(|i| i.field == "mandatory_flags")
        .expect("flags")
        .offset;
    let len_off = its
        .iter()
        .find(|i| i.field == "optional_data_len")
        .expect("len")
        .offset;
    write!(
        s,
        r#"        if {len_var} > OPTIONAL_DATA_MAX:
            raise StreamError("xl optional_data_len is %d, more than the %d "
                              "octets accepted"
                              % ({len_var}, OPTIONAL_DATA_MAX),
                              "OptionalDataTooLong", base + {len_off})
        self.mandatory_flags = {flags_var}
        data_at = self.offset
        self.optional_data = self.rdexact({len_var})
        self.config = self._config(data_at)
        json = {flags_var} & {json}
        if json and self.config is None:
            raise StreamError("xl mandatory_flags say the configuration is "
                              "JSON, but the file holds none",
                              "MissingConfig", base + {flags_off})
        if json and self.config[-1:] != b"\x00":
            raise StreamError("xl JSON configuration at offset %d is not "
                              "NUL-terminated" % (data_at + 4, ),
                              "ConfigNotTerminated", data_at + 4)
        self.info("Xl Header: %s endian, mandatory flags 0x%x, %d octets of "
                  "optional data%s"
                  % ({{"<": "little", ">": "big"}}[self.endian], {flags_var},
                     {len_var},
                     ", JSON configuration" if json else ""))


    def _config(self, data_at):
        """
        The configuration octets of the optional data (config_len, then
        that many octets; anything after them is skipped), or None when the
        optional data is empty.
        """
        data = self.optional_data
        if not data:
            return None
        if len(data) < 4:
            raise StreamError("xl optional data at offset %d is %d octets, "
                              "too short for config_len"
                              % (data_at, len(data)),
                              "BadConfig", data_at)
        config_len, = unpack(self.endian + "I", data[:4])
        if config_len > len(data) - 4:
            raise StreamError("xl config_len %d at offset %d exceeds the %d "
                              "octets of optional data after it"
                              % (config_len, data_at, len(data) - 4),
                              "BadConfig", data_at)
        return data[4:4 + config_len]
"#,
        json = const_of(XL_CONSTANTS, "XL_MANDATORY_FLAG_JSON"),
    )
    .unwrap();
    s
}
