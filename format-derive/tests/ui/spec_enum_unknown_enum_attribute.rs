use format_spec::SpecEnum;

#[derive(Clone, Copy, SpecEnum)]
#[spec(c_table = "names")]
enum E {
    #[spec(human = "one")]
    One = 1,
}

fn main() {}
