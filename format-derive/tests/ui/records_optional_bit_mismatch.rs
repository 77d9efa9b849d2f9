use format_spec::RecordSet;

#[derive(RecordSet)]
enum R {
    // Bit 31 set but not marked optional.
    #[record(code = 0x80000001, name = "EXTRA", human = "Extra")]
    Extra,
    // Marked optional but bit 31 clear.
    #[record(code = 0x02, name = "MORE", human = "More", optional)]
    More,
}

fn main() {}
