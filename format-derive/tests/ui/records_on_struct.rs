use format_spec::RecordSet;

#[derive(RecordSet)]
struct R {
    code: u32,
}

fn main() {}
