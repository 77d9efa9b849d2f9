use format_spec::SpecEnum;

#[derive(Clone, Copy, SpecEnum)]
struct E {
    value: u32,
}

fn main() {}
