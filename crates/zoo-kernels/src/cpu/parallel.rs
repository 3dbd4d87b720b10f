//! The few parallel patterns the kernels use, on rayon's global pool (the one flex computes
//! with). Every output element is written by exactly one task and every reduction runs in a
//! fixed order, so results never depend on how the threads were scheduled.

use rayon::prelude::*;

/// A pointer that may cross threads because the tasks holding it write disjoint parts of the
/// buffer behind it.
#[derive(Clone, Copy)]
pub struct SharedMut(*mut f32);

// SAFETY: used only where every task writes a disjoint set of indices and the buffer outlives
// the parallel section (see each use).
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// Wraps a buffer that the tasks will split between them.
    pub fn new(buffer: &mut [f32]) -> Self {
        Self(buffer.as_mut_ptr())
    }

    /// `len` elements from `start`.
    ///
    /// # Safety
    /// The range must be in bounds and no other task may access it while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

/// Threads in rayon's pool.
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Runs `task(i)` for `i < count` in parallel.
pub fn for_each_index(count: usize, task: impl Fn(usize) + Sync + Send) {
    if count == 1 {
        task(0);
    } else {
        (0..count).into_par_iter().for_each(task);
    }
}

/// Splits `len` items into `parts` near-equal contiguous ranges; part `i` is `range(i)`.
#[derive(Debug, Clone, Copy)]
pub struct Split {
    len: usize,
    parts: usize,
}

impl Split {
    /// `len` items in `parts` ranges (at least one, at most `len` when `len > 0`).
    pub fn new(len: usize, parts: usize) -> Self {
        Self { len, parts: parts.clamp(1, len.max(1)) }
    }

    /// Number of ranges.
    pub fn parts(&self) -> usize {
        self.parts
    }

    /// The `i`-th range.
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start = i * self.len / self.parts;
        let end = (i + 1) * self.len / self.parts;
        start..end
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A scratch buffer of `len` values from this thread's pool: its contents are whatever an earlier
/// user left (always initialised numbers), so callers write every value they read. Buffers are
/// taken out of the pool, not borrowed, so a rayon task stolen while one is in use (nested
/// parallelism) gets a buffer of its own.
pub fn take_scratch(len: usize) -> Vec<f32> {
    let mut buffer = SCRATCH.with(|pool| pool.borrow_mut().pop()).unwrap_or_default();
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    buffer.truncate(len);
    buffer
}

/// Returns a buffer from [`take_scratch`] to this thread's pool (a few per thread at most).
pub fn give_back(buffer: Vec<f32>) {
    const KEEP: usize = 4;
    SCRATCH.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < KEEP {
            pool.push(buffer);
        }
    });
}
