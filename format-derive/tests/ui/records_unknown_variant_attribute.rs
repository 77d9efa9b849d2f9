use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    #[record(code = 0x00, name = "END", human = "End", mandatory)]
    End,
}

fn main() {}
