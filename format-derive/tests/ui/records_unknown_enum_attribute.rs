use format_spec::RecordSet;

#[derive(RecordSet)]
#[records(prefix = "REC_TYPE_")]
enum R {
    #[record(code = 0x00, name = "END", human = "End")]
    End,
}

fn main() {}
