use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    counts: [u32; 2],
    #[wire(count = counts)]
    pfn: Vec<u64>,
}

fn main() {}
