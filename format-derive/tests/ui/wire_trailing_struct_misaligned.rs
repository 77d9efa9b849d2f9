use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "entry")]
struct Entry {
    index: u64,
    value: u64,
}

#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    count: u32,
    #[wire(count = count)]
    entries: Vec<Entry>,
}

fn main() {}
