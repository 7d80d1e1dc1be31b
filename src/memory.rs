//! glibc's allocator, tuned at start and asked to give free memory back after each
//! publish, so that the resident set follows what the exporter holds rather than the
//! largest poll it ever made. Elsewhere (musl, other systems) both do nothing.

/// Sets glibc's allocator to give memory back to the system. Call it first thing in `main`,
/// before any other thread starts:
/// - one arena (not one per thread, up to 8 per core): the holes a poll leaves in an arena
///   are reused by the next, instead of sitting in another thread's arena;
/// - blocks of 128 KiB and more (an answer's body, an exposition) in their own mappings,
///   returned whole when freed. glibc's default threshold starts there but rises up to
///   32 MiB with each large block freed, after which such blocks come from the arena and
///   its holes keep the pages;
/// - the free top of the arena returned past 128 KiB.
///
/// Tiny blocks still come from each thread's cache, without the arena's lock.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before any other thread starts; mallopt only sets parameters.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// Returns to the system the free pages of glibc's arenas, wherever they are in them: the
/// samples and exposition that a publish replaced, and what reading the answer used, leave
/// holes that trimming the arena's top alone does not reach. Called before a render, and
/// once the new exposition is in, when what it replaced is free (but for a scrape still
/// sending the old one). A few hundred microseconds each.
pub fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes and returns plain integers, and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
