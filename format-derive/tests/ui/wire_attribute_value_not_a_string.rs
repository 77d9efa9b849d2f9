use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = xc_sr_s)]
struct S {
    a: u32,
}

fn main() {}
