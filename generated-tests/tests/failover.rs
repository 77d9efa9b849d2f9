//! Checkpointed (Remus/COLO) streams that end without END, as such a
//! stream ends at failover: at a checkpoint boundary they are valid in
//! both modes ("N checkpoints, ending at a checkpoint boundary"); cut
//! inside a segment they are invalid strictly, while lenient mode follows
//! Xen's restore, which drops the buffered segment and restores the last
//! checkpoint (`Report::failover` names the segment and the reason).

use format_spec::binrw::Endian;
use format_spec::libxc::LibxcRecord;
use format_spec::save::{verify, Options};
use format_spec::stream::{self, ErrorKind, FailoverReason, VerifyOptions};
use format_spec::Mode;
use generated_tests::outer_vectors::outer_vectors;
use generated_tests::vectors::{base, Guest};

/// The offsets just after each libxl CHECKPOINT_END (type 4, no body) of
/// a little-endian libxl stream, and after the CHECKPOINT_STATE (type 5,
/// 4 octets and padding) that follows it in Xen's COLO layout: where the
/// next segment starts.
fn after_checkpoint_ends(b: &[u8]) -> Vec<usize> {
    (0..b.len() - 8)
        .step_by(8)
        .filter(|&i| b[i..i + 8] == [4, 0, 0, 0, 0, 0, 0, 0])
        .map(|i| match b.get(i + 8..i + 16) {
            Some([5, 0, 0, 0, 4, 0, 0, 0]) => i + 24,
            _ => i + 8,
        })
        .collect()
}

#[test]
fn a_libxl_remus_stream_ending_at_a_checkpoint_boundary_is_valid() {
    let v = outer_vectors()
        .into_iter()
        .find(|v| v.name == "libxl-hvm-v3-checkpointed-le")
        .expect("the vector");
    let cuts = after_checkpoint_ends(&v.bytes);
    assert_eq!(cuts.len(), 1);
    let cut = cuts[0];
    for mode in [Mode::Lenient, Mode::Strict] {
        let r = verify(&v.bytes[..cut], Options::verify(mode))
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        let f = r
            .libxc
            .as_ref()
            .expect("a libxc stream")
            .failover
            .clone()
            .expect("a failover report");
        assert!(f.at_boundary(), "{mode:?}: {f}");
        assert_eq!(f.checkpoints, 1);
        assert_eq!(
            f.to_string(),
            "1 checkpoint, ending at a checkpoint boundary"
        );
    }
    // Cut inside the next segment (in its first PAGE_DATA): invalid
    // strictly, a failover leniently.
    let inside = cut + 100;
    let e = verify(&v.bytes[..inside], Options::verify(Mode::Strict)).unwrap_err();
    assert_eq!(e.kind(), "Truncated", "{e}");
    let r = verify(&v.bytes[..inside], Options::verify(Mode::Lenient)).expect("lenient");
    let f = r
        .libxc
        .as_ref()
        .expect("a libxc stream")
        .failover
        .clone()
        .expect("a failover report");
    assert!(
        matches!(&f.reason, FailoverReason::CutShort(n) if n.kind == ErrorKind::Truncated),
        "{f}"
    );
    assert_eq!(f.dropped_segment, 1);
    assert_eq!(f.dropped_at, cut as u64, "{f}");
    assert!(f.to_string().contains("segment 1"), "{f}");
    assert!(f.to_string().contains("dropped on failover"), "{f}");
}

#[test]
fn a_bare_checkpointed_stream_fails_over_like_xens_restore() {
    let s = base(Guest::Hvm, 3, Endian::Little, 2);
    let (bytes, offsets) = s.to_bytes_with_offsets();
    let cps: Vec<usize> = s
        .records
        .iter()
        .zip(&offsets)
        .filter(|(r, _)| r.code == LibxcRecord::CHECKPOINT)
        .map(|(_, &o)| o + 8)
        .collect();
    for (n, &cut) in cps.iter().enumerate() {
        for mode in [VerifyOptions::strict(), VerifyOptions::lenient()] {
            let r = stream::verify(&bytes[..cut], mode).expect("boundary");
            let f = r.failover.expect("failover");
            assert_eq!(
                f.to_string(),
                format!(
                    "{} checkpoint{}, ending at a checkpoint boundary",
                    n + 1,
                    if n == 0 { "" } else { "s" }
                )
            );
        }
        // Told it is a plain stream, the CHECKPOINT itself is refused.
        let plain = VerifyOptions::lenient().checkpointed(stream::Checkpointed::No);
        let e = stream::verify(&bytes[..cut], plain).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedCheckpoint);
    }
    // A record broken in the last segment: Xen's restore never replays it
    // when the stream ends there (here with END), so lenient mode accepts
    // the stream and names the segment; strict mode refuses it.
    let mut broken = bytes.clone();
    let last_pd = offsets[s.find_last(LibxcRecord::PAGE_DATA)];
    broken[last_pd + 16 + 7] = 0x50; // page type 5 in its first pfn entry
    assert_eq!(
        stream::verify(&broken[..], VerifyOptions::strict())
            .unwrap_err()
            .kind(),
        ErrorKind::BadPageType
    );
    let r = stream::verify(&broken[..], VerifyOptions::lenient()).expect("lenient");
    let f = r.failover.expect("failover");
    assert!(
        matches!(&f.reason, FailoverReason::Buffered(n) if n.kind == ErrorKind::BadPageType),
        "{f}"
    );
    assert_eq!(f.checkpoints, 2);
}

/// A lenient conversion of a checkpointed stream cut inside a segment
/// writes what Xen's restore restores, up to the last checkpoint
/// boundary: Xen's own restore code (the kit's harness, a Remus restore)
/// accepts that output, and the verifier's lenient verdict on it agrees.
/// (Version 4 input converted to 3: the harness is Xen's restore, which
/// reads up to version 3.)
#[test]
fn xens_restore_takes_what_a_lenient_failover_conversion_writes() {
    use format_spec::convert::{convert, ConvertError, ConvertOptions};
    use generated_tests::xen_restore::{harness, Setup};
    for guest in [Guest::Hvm, Guest::Pv] {
        let s = base(guest, 4, Endian::Little, 2);
        let (bytes, offsets) = s.to_bytes_with_offsets();
        let last_pd = offsets[s.find_last(LibxcRecord::PAGE_DATA)];
        let cut = &bytes[..last_pd + 20];
        let opts = ConvertOptions::to(3).mode(Mode::Lenient);
        let mut out = Vec::new();
        let Err(ConvertError::FailedOver { failover, report }) = convert(cut, &mut out, opts)
        else {
            panic!("{guest:?}: no failover");
        };
        assert_eq!(failover.checkpoints, 2, "{failover}");
        out.truncate(report.bytes_out as usize);
        let setup = Setup {
            hvm: guest == Guest::Hvm,
            vcpus: 1,
            stream_type: "remus",
            checkpoints: None,
        };
        let run = harness().run(&out, 0, &setup);
        assert!(
            run.accepted(),
            "{guest:?}: {:?}\n{}",
            run.outcome,
            run.stderr
        );
        let lenient = VerifyOptions::lenient().checkpointed(stream::Checkpointed::Remus);
        let r = stream::verify(&out[..], lenient).expect("lenient");
        assert!(r.failover.expect("boundary").at_boundary());
        // The whole input, converted, is taken too.
        let mut whole = Vec::new();
        convert(&bytes[..], &mut whole, ConvertOptions::to(3)).unwrap();
        let run = harness().run(&whole, 0, &setup);
        assert!(
            run.accepted(),
            "{guest:?}: {:?}\n{}",
            run.outcome,
            run.stderr
        );
    }
}
