use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    #[wire(must_be_zero)]
    a: u32,
}

fn main() {}
