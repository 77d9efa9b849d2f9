use format_spec::Wire;

const N: usize = 4;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    a: u32,
    #[wire(reserved)]
    _res: [u8; N],
}

fn main() {}
