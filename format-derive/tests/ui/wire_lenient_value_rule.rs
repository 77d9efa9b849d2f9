use format_spec::Wire;

#[derive(Wire)]
struct Header {
    #[wire(equals = 1, lenient)]
    marker: u32,
}

fn main() {}
