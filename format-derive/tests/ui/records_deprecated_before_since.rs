use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    #[record(code = 0x10, name = "NEWER", human = "Newer", since = 3, deprecated = 2)]
    Newer,
}

fn main() {}
