use format_spec::SpecEnum;

#[derive(Clone, Copy, SpecEnum)]
#[spec(py_shift = 64)]
enum E {
    #[spec(human = "one")]
    One = 1,
}

fn main() {}
