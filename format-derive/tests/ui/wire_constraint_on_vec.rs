use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    #[wire(reserved)]
    pfn: Vec<u64>,
}

fn main() {}
