use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    #[wire(at_most = 16)]
    lengths: [u32; 2],
}

fn main() {}
