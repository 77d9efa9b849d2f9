use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    width: u8,
    levels: u32,
    flags: u8,
    mode: u16,
}

fn main() {}
