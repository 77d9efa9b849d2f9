use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
#[wire(c_name = "t")]
struct S {
    a: u32,
}

fn main() {}
