//! Per-thread allocation metering, the memory limit for Rhai.
//!
//! Rhai has no memory limit of its own, and its size limits do not cover every path: assigning a
//! new key into a map (`m[k] = v`) is never size-checked, so a loop can grow a map until only the
//! operation limit stops it — with megabyte keys, long after the machine ran out of memory. The
//! binary installs [`MeteredAlloc`] as its global allocator; it keeps a per-thread count of live
//! bytes, and the Rhai sandbox stops a script whose allocations since it started exceed
//! [`crate::Limits::max_memory_bytes`].
//!
//! The count is of requested bytes (allocator overhead excluded), so for a given build it depends
//! only on what the script does. When the allocator is not installed (a library user that did not
//! opt in), Rhai scripts run without a memory limit and are bounded by their other limits only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator plus a per-thread live-bytes count. Install it in a binary with
/// `#[global_allocator] static ALLOC: gait_sandbox::MeteredAlloc = gait_sandbox::MeteredAlloc;`.
pub struct MeteredAlloc;

#[inline]
fn add(delta: isize) {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    // `try_with`: during thread teardown the slot may be gone; the count then simply stops.
    let _ = LIVE.try_with(|c| c.set(c.get().wrapping_add(delta)));
}

// SAFETY: every method forwards to `System` with the same arguments; the counting has no effect
// on the memory handed out.
unsafe impl GlobalAlloc for MeteredAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Live bytes allocated by this thread (allocations minus frees), or `None` when [`MeteredAlloc`]
/// is not the global allocator.
pub fn thread_live_bytes() -> Option<isize> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    LIVE.try_with(Cell::get).ok()
}
