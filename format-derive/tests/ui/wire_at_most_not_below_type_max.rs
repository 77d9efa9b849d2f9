use format_spec::Wire;

const LIMIT: u32 = 255;

// A bound the field's type cannot exceed is no rule: refused, whether a
// named constant or a literal. 254 on a u8 is a rule, and passes.
#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    #[wire(at_most = 0x1_0000_0000)]
    wide: u32,
    #[wire(at_most = LIMIT)]
    small: u8,
    #[wire(at_most = 254)]
    fine: u8,
    _pad: u16,
}

fn main() {}
