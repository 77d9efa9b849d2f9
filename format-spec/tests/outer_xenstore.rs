//! EMULATOR_XENSTORE_DATA key/value decoding, and the reader's behaviour
//! on arbitrary damage (typed errors, no panics).

mod outer_support;

use format_spec::binrw::Endian;
use format_spec::libxl::{
    EmulatorHeader, EmulatorId, EmulatorXenstoreData, XenstoreErrorKind, XenstoreScan,
};
use format_spec::outer::{FormatChoice, Mode, OuterEvent, OuterReader, OuterWriter};
use format_spec::xl::XlPreamble;
use outer_support::{write_small_libxc, LibxcSkipper};
use proptest::prelude::*;

fn data(bytes: &[u8]) -> EmulatorXenstoreData {
    EmulatorXenstoreData {
        header: EmulatorHeader { id: 2, index: 0 },
        data: bytes.to_vec(),
    }
}

#[test]
fn empty_data_has_no_pairs() {
    assert_eq!(data(b"").pairs().unwrap(), Vec::<(&[u8], &[u8])>::new());
}

#[test]
fn empty_values_are_allowed() {
    let d = data(b"k\0\0k2\0v\0");
    assert_eq!(
        d.pairs().unwrap(),
        [(&b"k"[..], &b""[..]), (&b"k2"[..], &b"v"[..])]
    );
}

#[test]
fn decode_errors_name_kind_offset_and_string() {
    let cases: [(&[u8], XenstoreErrorKind, usize, usize); 6] = [
        (b"key", XenstoreErrorKind::NotNulTerminated, 0, 0),
        (b"k\0v\0k2\0v2", XenstoreErrorKind::NotNulTerminated, 7, 3),
        (b"k\0v\0k2\0", XenstoreErrorKind::OddStringCount, 4, 2),
        (b"\0v\0", XenstoreErrorKind::EmptyKey, 0, 0),
        (b"k\0v\0/abs\0v\0", XenstoreErrorKind::AbsoluteKey, 4, 2),
        (b"k\0", XenstoreErrorKind::OddStringCount, 0, 0),
    ];
    for (bytes, kind, offset, string) in cases {
        let e = data(bytes).pairs().unwrap_err();
        assert_eq!(
            (e.kind, e.offset, e.string),
            (kind, offset, string),
            "{bytes:?}"
        );
        assert!(e.to_string().contains(&format!("offset {offset}")), "{e}");
    }
}

#[test]
fn key_characters_strict_rule() {
    assert!(data(b"device-model/0_x@y/Z9\0any value at all!\0")
        .check_key_characters()
        .is_ok());
    let e = data(b"ok\0v\0n\xc3\xa9\0v\0")
        .check_key_characters()
        .unwrap_err();
    assert_eq!(
        (e.kind, e.offset, e.string),
        (XenstoreErrorKind::KeyCharacter, 6, 2)
    );
    // Values are not restricted.
    assert!(data(b"k\0sp ace\0").check_key_characters().is_ok());
}

#[test]
fn encoder_refuses_what_the_decoder_rejects() {
    let h = EmulatorHeader { id: 2, index: 0 };
    let kind =
        |pairs: &[(&str, &str)]| EmulatorXenstoreData::from_pairs(h, pairs).unwrap_err().kind;
    assert_eq!(kind(&[("", "v")]), XenstoreErrorKind::EmptyKey);
    assert_eq!(kind(&[("/abs", "v")]), XenstoreErrorKind::AbsoluteKey);
    assert_eq!(kind(&[("a\0b", "v")]), XenstoreErrorKind::EmbeddedNul);
    assert_eq!(kind(&[("k", "v\0")]), XenstoreErrorKind::EmbeddedNul);
}

/// libxl's rules on the data (`libxl__restore_emulator_xenstore_data`),
/// string by string: the number of pairs, or the broken rule with the
/// offset and index of its string.
fn plain_rules(bytes: &[u8]) -> Result<usize, (XenstoreErrorKind, usize, usize)> {
    let (mut pos, mut string, mut key) = (0, 0, 0);
    while pos < bytes.len() {
        let Some(len) = bytes[pos..].iter().position(|&b| b == 0) else {
            return Err((XenstoreErrorKind::NotNulTerminated, pos, string));
        };
        if string % 2 == 0 {
            if len == 0 {
                return Err((XenstoreErrorKind::EmptyKey, pos, string));
            }
            if bytes[pos] == b'/' {
                return Err((XenstoreErrorKind::AbsoluteKey, pos, string));
            }
            key = pos;
        }
        pos += len + 1;
        string += 1;
    }
    if string % 2 == 1 {
        return Err((XenstoreErrorKind::OddStringCount, key, string - 1));
    }
    Ok(string / 2)
}

proptest! {
    #[test]
    fn pairs_round_trip(
        pairs in prop::collection::vec(("[a-z0-9_@-][a-z0-9/_@-]{0,20}", "[ -~]{0,30}"), 0..10)
    ) {
        let h = EmulatorHeader { id: EmulatorId::QemuUpstream as u32, index: 1 };
        let d = EmulatorXenstoreData::from_pairs(h, &pairs).unwrap();
        let back = d.pairs().unwrap();
        prop_assert_eq!(back.len(), pairs.len());
        for ((k, v), (pk, pv)) in back.iter().zip(&pairs) {
            prop_assert_eq!(*k, pk.as_bytes());
            prop_assert_eq!(*v, pv.as_bytes());
        }
        prop_assert!(d.check_key_characters().is_ok());
    }

    #[test]
    fn arbitrary_data_decodes_or_fails_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let d = data(&bytes);
        if let Ok(pairs) = d.pairs() {
            // Whatever decodes re-encodes to the same octets.
            let again = EmulatorXenstoreData::from_pairs(d.header, &pairs).unwrap();
            prop_assert_eq!(again.data, bytes);
        }
    }

    /// The streaming check (what the reader applies to records over
    /// 128 MiB) gives the verdict of the rules written out plainly here,
    /// however the data is cut into pieces.
    #[test]
    fn the_streaming_check_agrees_with_the_rules_in_any_pieces(
        bytes in prop::collection::vec(prop::sample::select(vec![0u8, 0, b'/', b'k', b'v']), 0..40),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.push(0);
        at.push(bytes.len());
        at.sort_unstable();
        let mut scan = XenstoreScan::default();
        let mut res = Ok(());
        for w in at.windows(2) {
            res = res.and_then(|_| scan.feed(&bytes[w[0]..w[1]]));
        }
        let got = res
            .and_then(|_| scan.finish())
            .map_err(|e| (e.kind, e.offset, e.string));
        prop_assert_eq!(got, plain_rules(&bytes));
        prop_assert_eq!(
            data(&bytes).pairs().map(|p| p.len()).map_err(|e| (e.kind, e.offset, e.string)),
            plain_rules(&bytes)
        );
    }

    /// Damage anywhere in a small save file: the reader returns a typed
    /// error or a stream, never panics or reads past the input.
    #[test]
    fn damaged_files_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        lenient: bool,
    ) {
        let pre = XlPreamble::with_json_config(Endian::Little, "{\"k\": 1}");
        let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
        w.emulator_xenstore_data(EmulatorId::QemuUpstream, 0, &[("a", "b")]).unwrap();
        write_small_libxc(w.libxc_context().unwrap(), Endian::Little).unwrap();
        w.emulator_context(EmulatorId::QemuUpstream, 0, b"blob").unwrap();
        let mut f = w.finish().unwrap();
        for (i, b) in &edits {
            let at = i.index(f.len());
            f[at] = *b;
        }
        f.truncate(cut.index(f.len() + 1));
        let mode = if lenient { Mode::Lenient } else { Mode::Strict };
        let len = f.len() as u64;
        let result = (|| {
            let mut r = OuterReader::open(&f[..], FormatChoice::Auto, mode)?;
            while let Some(ev) = r.next()? {
                if let OuterEvent::Libxc(_) = ev {
                    let Ok(s) = LibxcSkipper::start(r.inner()) else { return Ok(()) };
                    let Ok((stop, _)) = s.records(r.inner()) else { return Ok(()) };
                    r.libxc_finished(stop)?;
                }
                assert!(r.offset() <= len);
            }
            Ok(())
        })();
        if let Err(e) = result {
            // Errors point into the input (or just past its end).
            let e: format_spec::outer::OuterError = e;
            prop_assert!(e.offset() <= len, "{}", e);
            prop_assert!(!e.kind().is_empty());
        }
    }
}
