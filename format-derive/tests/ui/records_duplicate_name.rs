use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    #[record(code = 0x00, name = "END", human = "End")]
    End,
    #[record(code = 0x01, name = "END", human = "End again")]
    EndAgain,
}

fn main() {}
