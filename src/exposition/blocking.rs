//! How rendering is scheduled and memory given back, apart from what is rendered: blocking
//! waits (for a render, for the plain text's inflation) that leave tokio's async workers
//! free for the scrapes, and the render itself on a thread at a lower priority.

use crate::memory;

/// Runs `wait`, which blocks (for the render lock, a render, an inflation), without holding
/// up the other tasks of the tokio worker it is called on: on a multi-threaded runtime, the
/// worker hands them to another thread first ([`tokio::task::block_in_place`]).
pub(super) fn off_the_workers<T>(wait: impl FnOnce() -> T) -> T {
    if on_a_multi_threaded_runtime() {
        tokio::task::block_in_place(wait)
    } else {
        wait()
    }
}

/// Whether this thread is in a multi-threaded tokio runtime, as the exporter's own is.
pub(super) fn on_a_multi_threaded_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|runtime| runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Renders with `render` and hands the result to `swap`, which puts it in place of what
/// it replaces and drops that. Memory is given back before rendering (what reading the
/// answer used is free by now, so the two never add up) and after the swap (what it
/// replaced, but for a scrape still sending it). In a multi-threaded runtime (the
/// exporter's own) the render runs on a thread of its own at a lower priority; elsewhere
/// (a test, a tool) on the caller's thread, where per-thread allocation counters see it.
pub(super) fn render_off_the_workers<R: Send, T>(
    render: impl FnOnce() -> R + Send,
    swap: impl FnOnce(R) -> T,
) -> T {
    let render = || {
        memory::give_back_free_memory();
        render()
    };
    let rendered = if on_a_multi_threaded_runtime() {
        on_a_lower_priority_thread(render)
    } else {
        render()
    };
    let swapped = swap(rendered);
    memory::give_back_free_memory();
    swapped
}

/// Runs `render` on a thread of its own, at a lower priority, and waits for it; the caller
/// waits off the async workers ([`off_the_workers`]), so that no scrape waits behind a
/// render.
///
/// Rendering 200k series takes about 90 ms of CPU (both formats and gzip). On a worker,
/// the scrapes queued on it waited that long; on a thread at the same priority, it still
/// took a core's share from the scrapes on a small machine. At nice 10 (the kernel gives
/// it a tenth of a core's share against a busy worker), scrapes keep their latency, and the
/// render takes the CPU they leave; the previous exposition is served whole until then.
fn on_a_lower_priority_thread<T: Send>(render: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let rendering = std::thread::Builder::new()
            .name("render".into())
            .spawn_scoped(scope, || {
                lower_priority();
                render()
            })
            .expect("a thread starts");
        match rendering.join() {
            Ok(rendered) => rendered,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Lowers the calling thread's priority (its nice value) by 10; Linux only, where a
/// thread has its own nice value. Raising a nice value needs no privilege.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take and return plain integers.
    unsafe {
        let thread = libc::gettid();
        let nice = libc::getpriority(libc::PRIO_PROCESS, thread as libc::id_t);
        libc::setpriority(
            libc::PRIO_PROCESS,
            thread as libc::id_t,
            (nice + 10).min(19),
        );
    }
}
