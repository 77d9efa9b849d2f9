use format_spec::SpecEnum;

#[derive(Clone, Copy, SpecEnum)]
enum E {
    #[spec(c = "E_ONE", py = "E_one")]
    One = 1,
}

fn main() {}
