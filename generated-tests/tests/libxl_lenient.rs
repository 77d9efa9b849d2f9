//! Lenient verdicts on the outer vectors that libxl's reader refuses too
//! (the strict ones are checked against the generated Python in
//! `python_outer.rs`): emulator records in a PV guest's stream (or a PVH
//! one's, as the xl configuration says), unknown
//! optional libxl records, CHECKPOINT_STATE out of place or with a
//! secondary's state.

use format_spec::save::{verify, Options};
use format_spec::Mode;
use generated_tests::outer_vectors::outer_vectors;

#[test]
fn what_libxl_refuses_lenient_mode_refuses() {
    let wanted = [
        ("xl-pv-emulator-", "WrongGuestType"),
        ("libxl-pv-emulator-first-", "WrongGuestType"),
        ("xl-pvh-emulator-after-", "WrongGuestType"),
        ("xl-pvh-emulator-first-", "WrongGuestType"),
        ("libxl-unknown-optional-", "UnknownOptional"),
        ("libxl-checkpoint-state-inside-", "UnexpectedRecord"),
        ("libxl-checkpoint-state-ready-", "BadValue"),
        ("libxl-checkpoint-state-empty-", "CrashesXenRestore"),
    ];
    let mut seen = 0;
    for v in outer_vectors() {
        let Some((_, want)) = wanted.iter().find(|(p, _)| v.name.starts_with(p)) else {
            continue;
        };
        seen += 1;
        assert_eq!(v.expect, Some(*want), "{}", v.name);
        let e = verify(&v.bytes[..], Options::verify(Mode::Lenient))
            .err()
            .unwrap_or_else(|| panic!("{}: accepted leniently", v.name));
        assert_eq!(e.kind(), *want, "{}: {e}", v.name);
        let strict = verify(&v.bytes[..], Options::verify(Mode::Strict)).unwrap_err();
        assert_eq!(e.offset(), strict.offset(), "{}", v.name);
    }
    assert_eq!(seen, 2 * wanted.len());
}
