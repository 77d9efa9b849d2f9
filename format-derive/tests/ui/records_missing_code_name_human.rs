use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    #[record(py = "end")]
    End,
}

fn main() {}
