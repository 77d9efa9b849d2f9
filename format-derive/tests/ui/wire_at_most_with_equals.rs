use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    #[wire(equals = 4, at_most = 16)]
    length: u32,
}

fn main() {}
