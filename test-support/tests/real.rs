//! The real streams unpack to the files their README describes.

#[test]
fn real_streams_unpack_to_documented_sizes() {
    let sizes = [100_872_363u64, 142_582_589];
    for (name, size) in test_support::REAL_STREAMS.iter().zip(sizes) {
        let p = test_support::real_stream(name);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), size, "{name}");
    }
}
