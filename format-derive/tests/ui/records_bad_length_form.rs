use format_spec::body::Opaque;
use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    #[record(code = 0x01, name = "BLOB", human = "Blob", length = at_least(8))]
    Blob(Opaque),
    #[record(code = 0x02, name = "PAGE", human = "Page", length = exact("N"))]
    Page(Opaque),
}

fn main() {}
