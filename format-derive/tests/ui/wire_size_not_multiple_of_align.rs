use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    nsec: u64,
    mode: u32,
}

fn main() {}
