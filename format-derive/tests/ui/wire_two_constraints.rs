use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    #[wire(reserved, equals = 7)]
    magic: u32,
    _res: u32,
}

fn main() {}
