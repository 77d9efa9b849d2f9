use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    count: u32,
    _res: u32,
    #[wire(count = number)]
    pfn: Vec<u64>,
}

fn main() {}
