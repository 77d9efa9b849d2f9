use format_spec::Wire;

#[derive(Wire)]
#[wire(c_name = "s")]
struct S(u32, u32);

fn main() {}
