use format_spec::body::Opaque;
use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    #[record(code = 0x01, name = "PAIR", human = "Pair")]
    Pair(Opaque, Opaque),
    #[record(code = 0x02, name = "NAMED", human = "Named")]
    Named { body: Opaque },
}

fn main() {}
