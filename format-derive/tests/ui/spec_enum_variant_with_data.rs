use format_spec::SpecEnum;

#[derive(Clone, Copy, SpecEnum)]
enum E {
    #[spec(human = "one")]
    One(u32),
}

fn main() {}
