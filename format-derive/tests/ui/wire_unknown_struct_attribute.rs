use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s", python_name = "S")]
struct S {
    a: u32,
}

fn main() {}
