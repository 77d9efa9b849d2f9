use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    #[record(code = 0x100000000, name = "HUGE", human = "Huge")]
    Huge,
}

fn main() {}
