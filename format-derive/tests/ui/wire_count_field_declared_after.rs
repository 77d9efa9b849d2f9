use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    #[wire(count = count)]
    pfn: Vec<u64>,
    count: u64,
}

fn main() {}
