use format_spec::Wire;

// The unsupported field is in the middle: only it is reported, not the
// misalignment of `b` that skipping it would seem to cause.
#[derive(Wire)]
#[wire(c_name = "s")]
struct S {
    a: u8,
    name: String,
    b: u32,
}

fn main() {}
