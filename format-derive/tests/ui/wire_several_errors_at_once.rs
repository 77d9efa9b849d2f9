use format_spec::Wire;

// Four independent mistakes: all are reported in one compilation.
#[derive(Wire)]
#[wire(c_name = "s", byte_order = middle)]
struct S {
    #[wire(one_of = [4, 8], reserved)]
    width: u8,
    levels: u32,
    #[wire(count = missing)]
    items: Vec<u64>,
}

fn main() {}
