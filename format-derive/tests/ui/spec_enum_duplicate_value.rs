use format_spec::SpecEnum;

#[derive(Clone, Copy, SpecEnum)]
enum E {
    #[spec(human = "one")]
    One = 0x1,
    #[spec(human = "also one")]
    Uno = 1,
}

fn main() {}
