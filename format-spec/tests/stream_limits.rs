//! Hostile inputs: no panic, no allocation beyond the octets received,
//! no hang. A counting global allocator measures the peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use format_spec::libxc::{DomainType, LibxcRecord, REC_LENGTH_MAX};
use format_spec::stream::{verify, ErrorKind, StreamWriter, VerifyOptions, WriterOptions};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    // Forwarded, as the system allocator may grow large blocks in place
    // (mremap): counting old and new blocks at once would overstate it.
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let now = CURRENT.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Headers, STATIC_DATA_END, then a record header promising `length`
/// octets of `rtype`.
fn hostile(rtype: u32, length: u32) -> Vec<u8> {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(3),
    )
    .unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let mut bytes = w.finish().unwrap();
    bytes.truncate(bytes.len() - 8); // drop END
    bytes.extend_from_slice(&rtype.to_le_bytes());
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes
}

/// A reader that yields `n` zero octets, then ends.
struct Zeros(u64);

impl Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = (buf.len() as u64).min(self.0) as usize;
        buf[..k].fill(0);
        self.0 -= k as u64;
        Ok(k)
    }
}

/// Serialises the tests of this binary for their whole run: a test that
/// builds its input while another measures would inflate that peak.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Peak octets allocated while `f` runs; call with the [`serial`] guard held.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - base
}

#[test]
fn a_long_promise_allocates_only_what_arrives() {
    let _serial = serial();
    for rtype in [
        LibxcRecord::HVM_CONTEXT,
        LibxcRecord::PAGE_DATA,
        0x8000_4242,
    ] {
        let head = hostile(rtype, REC_LENGTH_MAX);
        let sent = 1 << 20;
        let peak = peak_during(|| {
            let input = (&head[..]).chain(Zeros(sent));
            let err = verify(input, VerifyOptions::strict()).unwrap_err();
            // PAGE_DATA with an all-zero count fails before reading on.
            assert!(
                matches!(err.kind(), ErrorKind::Truncated | ErrorKind::BadPageCount),
                "{err}"
            );
        });
        assert!(
            peak < 2 * sent as usize + (1 << 20),
            "type 0x{rtype:x}: {peak} octets allocated for {sent} received"
        );
    }
}

#[test]
fn a_full_length_record_stays_within_one_record_plus_slack() {
    let _serial = serial();
    // 100 MiB of HVM_CONTEXT actually sent: memory is one record, not more.
    let len = 100 << 20;
    let head = hostile(LibxcRecord::HVM_CONTEXT, len);
    let peak = peak_during(|| {
        let input = (&head[..]).chain(Zeros(len as u64 + 8)); // body + END header (zeros: END, length 0)
        verify(input, VerifyOptions::lenient()).unwrap();
    });
    // One record plus slack: no second copy, no doubled buffer.
    assert!(peak < len as usize + (16 << 20), "{peak}");
}

#[test]
fn too_long_is_refused_before_any_body_allocation() {
    let _serial = serial();
    let head = hostile(LibxcRecord::HVM_CONTEXT, u32::MAX);
    let peak = peak_during(|| {
        let err = verify(&head[..], VerifyOptions::lenient()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RecordTooLong);
    });
    assert!(peak < 1 << 20, "{peak}");
}
