use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    a: u32,
    #[wire(reserved)]
    #[wire(reserved)]
    _res: u32,
}

fn main() {}
