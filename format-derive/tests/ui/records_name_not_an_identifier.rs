use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    #[record(code = 0x01, name = "PAGE DATA", human = "Page data")]
    PageData,
}

fn main() {}
