use format_spec::SpecEnum;

const BASE: isize = 1;

#[derive(Clone, Copy, SpecEnum)]
enum E {
    #[spec(human = "one")]
    One = BASE,
}

fn main() {}
