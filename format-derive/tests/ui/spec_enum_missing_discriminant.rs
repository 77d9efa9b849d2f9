use format_spec::SpecEnum;

#[derive(Clone, Copy, SpecEnum)]
enum E {
    #[spec(human = "one")]
    One = 1,
    #[spec(human = "two")]
    Two,
}

fn main() {}
