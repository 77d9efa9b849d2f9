use format_spec::SpecEnum;

#[derive(Clone, Copy, SpecEnum)]
enum E {
    #[spec(human = "one", python = "E_one")]
    One = 1,
}

fn main() {}
