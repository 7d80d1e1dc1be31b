//! Blocking waits (for a render, for the plain text's inflation) that leave tokio's async
//! workers free for the scrapes.

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
