use format_spec::SpecEnum;

#[derive(Clone, Copy, SpecEnum)]
#[spec(py_shift = 4, py_shift = 8)]
enum E {
    #[spec(human = "one", human = "uno")]
    One = 1,
}

fn main() {}
