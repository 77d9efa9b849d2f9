//! `xl_save_format.h`: the facts of the xl save header as C, written from
//! the description (`format_spec::xl`) for the C reader.
//!
//! Xen keeps its xl header struct in `tools/xl/xl.h`, next to much that has
//! nothing to do with the stream, and libxl never sees the xl header. So
//! this is not one of the generated drop-ins: it is a test fixture that
//! lets the C reader use the magic, the flags and the field layout without
//! retyping them. The struct holds the four fields after the magic (the
//! description's `XlHeader`), under a name of the tests' own.

use format_spec::layout::Wire;
use format_spec::xl::{XlHeader, XL_CONSTANTS, XL_TEXT_CONSTANTS};

/// The file name the C reader includes.
pub const FILE_NAME: &str = "xl_save_format.h";

/// The C name of the struct of the fixed fields.
pub const STRUCT_NAME: &str = "xl_save_header";

/// The text of the header.
pub fn header_text() -> String {
    let mut out = String::from(
        "/* Facts of the xl save header, written by generated-tests from\n \
         * format-spec/src/xl.rs. Not a Xen header. */\n\
         #ifndef XL_SAVE_FORMAT_H\n#define XL_SAVE_FORMAT_H\n\n#include <stdint.h>\n\n",
    );
    for t in XL_TEXT_CONSTANTS {
        let Some(name) = t.c_name else { continue };
        let octets: Vec<String> = t.value.iter().map(|b| format!("0x{b:02x}")).collect();
        out.push_str(&format!(
            "/* {} */\nstatic const char {name}[{}] = {{\n",
            t.doc,
            t.value.len()
        ));
        for chunk in octets.chunks(8) {
            out.push_str(&format!("    {},\n", chunk.join(", ")));
        }
        out.push_str("};\n\n");
    }
    out.push_str(&format!("struct {STRUCT_NAME}\n{{\n"));
    for f in XlHeader::LAYOUT.fields {
        out.push_str(&format!("    {};\n", f.c_decl()));
    }
    out.push_str("};\n\n");
    for c in XL_CONSTANTS {
        let Some(name) = c.c_name else { continue };
        let value = match c.c_expr {
            Some(e) => e.to_string(),
            None => format!("0x{:x}U", c.value),
        };
        out.push_str(&format!("#define {name} {value}\n"));
    }
    out.push_str("\n#endif\n");
    out
}

/// Writes the header into `dir` (which the caller passes with `-I`).
pub fn write_into(dir: &std::path::Path) {
    std::fs::write(dir.join(FILE_NAME), header_text()).expect("write xl_save_format.h");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_every_c_named_fact() {
        let h = header_text();
        for c in XL_CONSTANTS {
            if let Some(name) = c.c_name {
                assert!(h.contains(&format!("#define {name} ")), "{name}");
            }
        }
        for f in XlHeader::LAYOUT.fields {
            assert!(h.contains(&format!("    {};\n", f.c_decl())), "{}", f.name);
        }
        // Every octet of the magic, in order.
        let octets: Vec<String> = format_spec::xl::XL_MAGIC
            .iter()
            .map(|b| format!("0x{b:02x}"))
            .collect();
        assert!(h.contains(&octets[..8].join(", ")));
        assert!(h.contains(&format!("[{}]", octets.len())));
    }
}
