use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    #[wire(one_of = [1, 2])]
    bytes: [u8; 4],
}

fn main() {}
