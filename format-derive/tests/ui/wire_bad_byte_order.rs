use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s", byte_order = little)]
struct S {
    a: u32,
}

fn main() {}
