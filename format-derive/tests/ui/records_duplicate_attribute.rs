use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    #[record(code = 0x00, name = "END", human = "End")]
    #[record(since = 2, since = 3)]
    End,
}

fn main() {}
