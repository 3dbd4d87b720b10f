//! Peak host memory: a counting global allocator, since the CPU backends' tensors live on the heap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static HEAP_CURRENT: AtomicUsize = AtomicUsize::new(0);
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);

/// A global allocator that counts live heap bytes and their peak, so that `zoo bench` can report
/// the peak memory of the CPU backends (whose tensors live on the heap). A program opts in with
/// `#[global_allocator]`; without it, peak memory on CPU backends is reported as unknown.
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: zoo_bench::PeakAlloc = zoo_bench::PeakAlloc;
/// ```
pub struct PeakAlloc;

impl PeakAlloc {
    fn grew(bytes: usize) {
        let now = HEAP_CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
        HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
    }

    fn shrank(bytes: usize) {
        HEAP_CURRENT.fetch_sub(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            Self::grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            Self::grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        Self::shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                Self::grew(new_size - layout.size());
            } else {
                Self::shrank(layout.size() - new_size);
            }
        }
        new
    }
}

/// Starts a peak-memory window: returns the live heap bytes now, or `None` when [`PeakAlloc`]
/// is not the global allocator.
pub(crate) fn heap_window_start() -> Option<usize> {
    let now = HEAP_CURRENT.load(Ordering::Relaxed);
    // Any program has allocated by the time it benchmarks, so zero means "not counting".
    (now > 0).then(|| {
        HEAP_PEAK.store(now, Ordering::Relaxed);
        now
    })
}

/// Runs `f` and returns its result with the peak of live heap bytes while it ran, above what was
/// live when it started: `None` unless [`PeakAlloc`] is the global allocator. Allocations of
/// other threads in the meantime count too.
///
/// ```
/// let (buffer, peak) = zoo_bench::peak_heap_during(|| vec![0u8; 1 << 20]);
/// assert_eq!(buffer.len(), 1 << 20);
/// assert_eq!(peak, None); // this doctest does not install PeakAlloc
/// ```
pub fn peak_heap_during<R>(f: impl FnOnce() -> R) -> (R, Option<usize>) {
    let before = heap_window_start();
    let out = f();
    (out, before.map(heap_peak_since))
}

/// The peak of live heap bytes since [`heap_window_start`] returned `before`, above `before`.
pub(crate) fn heap_peak_since(before: usize) -> usize {
    HEAP_PEAK.load(Ordering::Relaxed).saturating_sub(before)
}
