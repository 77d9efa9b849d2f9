use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    count: u32,
    #[wire(count = count)]
    first: u32,
}

fn main() {}
