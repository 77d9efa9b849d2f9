//! The conversion's memory: a counting allocator measures the peak of live
//! heap octets and the number of allocations while a 48 MiB stream (PAGE_DATA
//! records of 4 MiB each) is converted both ways. Page data must be copied
//! through a fixed buffer: the peak stays far below one PAGE_DATA record and
//! the allocations do not grow with the pages.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use format_spec::convert::{convert, ConvertOptions};
use format_spec::libxc::{DomainType, LibxcRecord as L, PAGE_SIZE};
use format_spec::stream::{StreamWriter, WriterOptions};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
            ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak growth of live heap octets and allocations made while `f` runs.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let allocs = ALLOCS.load(Ordering::SeqCst);
    let out = f();
    (
        out,
        PEAK.load(Ordering::SeqCst) - base,
        ALLOCS.load(Ordering::SeqCst) - allocs,
    )
}

const PAGES_PER_RECORD: usize = 1024;
const RECORDS: usize = 12;

fn big_hvm_v3() -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    let contents = vec![0x5au8; PAGES_PER_RECORD * PAGE_SIZE];
    for r in 0..RECORDS {
        let pfns: Vec<u64> = (0..PAGES_PER_RECORD)
            .map(|i| (r * PAGES_PER_RECORD + i) as u64)
            .collect();
        w.write_page_data(&pfns, &contents).unwrap();
    }
    common::finish_hvm(w)
}

#[test]
fn memory_is_bounded_and_pages_cause_no_allocations() {
    let v3 = big_hvm_v3();
    let record = PAGES_PER_RECORD * PAGE_SIZE;
    assert!(v3.len() > RECORDS * record);

    // Into a sink: only the conversion's own memory counts.
    let (rep, peak, allocs) =
        measure(|| convert(&v3[..], std::io::sink(), ConvertOptions::to(4)).unwrap());
    eprintln!("to 4: peak {peak} octets, {allocs} allocations");
    assert_eq!(rep.data_pages, (RECORDS * PAGES_PER_RECORD) as u64);
    assert!(
        peak < record / 4,
        "peak {peak} octets for {record}-octet records"
    );
    assert!(
        allocs < 200,
        "{allocs} allocations for {} pages",
        rep.data_pages
    );

    let mut v4 = Vec::with_capacity(v3.len() + 4096);
    convert(&v3[..], &mut v4, ConvertOptions::to(4)).unwrap();
    let (rep, peak, allocs) =
        measure(|| convert(&v4[..], std::io::sink(), ConvertOptions::to(3)).unwrap());
    eprintln!("to 3: peak {peak} octets, {allocs} allocations");
    assert_eq!(rep.records_out, rep.records_in);
    assert!(peak < record / 4, "peak {peak} octets");
    assert!(allocs < 200, "{allocs} allocations");
}
