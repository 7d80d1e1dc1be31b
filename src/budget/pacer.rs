//! The start-up pacer: each org's collectors send their first collection through it, so
//! that starting (or restarting, after a reload or a panic) many sources at once stays
//! inside the org's API budget. Without it, 400 P1D queries sent 400 requests in the first
//! seconds, and a quarter of them were answered 429.
//!
//! It admits at most `capacity` requests in any 60 seconds: the room the budget leaves,
//! `api_budget_share` × 300 a minute less the steady state, so that with the collections
//! already started no minute goes over the share. The first collections take turns in the
//! order they asked; a small configuration's all go at once.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{Cost, chunks};

/// The window the capacity is counted over: the rate limit's minute.
pub const PACER_WINDOW: Duration = Duration::from_secs(60);

pub struct Pacer {
    /// Requests admitted in any [`PACER_WINDOW`]; at least 1.
    capacity: Mutex<u64>,
    /// What was admitted in the last window, oldest first; held while a turn waits, so
    /// that turns are taken in order.
    sent: tokio::sync::Mutex<VecDeque<(Instant, u64)>>,
    /// The queues known, for what the observations' first collection costs.
    queues: AtomicUsize,
}

impl Pacer {
    /// A pacer that admits `capacity` requests a minute (at least 1).
    pub fn new(capacity: u64) -> Pacer {
        Pacer {
            capacity: Mutex::new(capacity.max(1)),
            sent: tokio::sync::Mutex::default(),
            queues: AtomicUsize::new(0),
        }
    }

    /// A pacer that never holds anything back (the report, and tests).
    pub fn unlimited() -> Pacer {
        Pacer::new(u64::MAX)
    }

    /// Sets the capacity anew, after the budget changed (a reload, the queue list read).
    pub fn set_capacity(&self, capacity: u64) {
        *self.capacity.lock().unwrap_or_else(|p| p.into_inner()) = capacity.max(1);
    }

    /// Sets the queues known, which the observations' first collection asks about.
    pub fn set_queues(&self, queues: usize) {
        self.queues.store(queues, Ordering::Relaxed);
    }

    /// The requests one collection of a source of `cost` sends: its line's, or for the
    /// observations a request per chunk of the queues known.
    pub fn requests_of(&self, cost: &Cost) -> u64 {
        match cost {
            Cost::Every(line) => line.requests,
            Cost::PerQueues(load) => {
                chunks(self.queues.load(Ordering::Relaxed), load.queues_per_request)
            }
        }
        .max(1)
    }

    pub fn capacity(&self) -> u64 {
        *self.capacity.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `requests` more fit in the last minute, and counts them. A collection
    /// of more requests than the capacity waits for a whole window to itself.
    pub async fn admit(&self, requests: u64) {
        if self.capacity() == u64::MAX {
            return;
        }
        let mut sent = self.sent.lock().await;
        loop {
            let capacity = self.capacity();
            let requests = requests.clamp(1, capacity);
            let now = Instant::now();
            while sent
                .front()
                .is_some_and(|(at, _)| at.checked_add(PACER_WINDOW).is_none_or(|end| end <= now))
            {
                sent.pop_front();
            }
            let used: u64 = sent
                .iter()
                .fold(0, |total, (_, n)| total.saturating_add(*n));
            if used.saturating_add(requests) <= capacity {
                sent.push_back((now, requests));
                return;
            }
            // Full: wait for the oldest to leave the window.
            let oldest = sent.front().map_or(now, |(at, _)| *at);
            let frees = oldest.checked_add(PACER_WINDOW).unwrap_or(now);
            tokio::time::sleep_until(frees).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// The most admitted in any window of a minute, from the instants of admission.
    fn busiest_minute(admitted: &[Instant]) -> usize {
        admitted
            .iter()
            .map(|start| {
                admitted
                    .iter()
                    .filter(|at| **at >= *start && at.duration_since(*start) < PACER_WINDOW)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn four_hundred_first_polls_at_150_a_minute_take_three_minutes_never_more_in_one() {
        let pacer = Arc::new(Pacer::new(150));
        let began = Instant::now();
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..400)
            .map(|_| {
                let (pacer, admitted) = (pacer.clone(), admitted.clone());
                tokio::spawn(async move {
                    pacer.admit(1).await;
                    admitted.lock().unwrap().push(Instant::now());
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let admitted = admitted.lock().unwrap().clone();
        assert_eq!(admitted.len(), 400);
        assert_eq!(busiest_minute(&admitted), 150);
        let first_minute = admitted.iter().filter(|at| **at == began).count();
        assert_eq!(first_minute, 150, "as many as fit go at once");
        let last = admitted.iter().max().unwrap().duration_since(began);
        assert_eq!(last, Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn a_collection_larger_than_the_capacity_waits_for_a_window_of_its_own() {
        let pacer = Pacer::new(3);
        let began = Instant::now();
        pacer.admit(1).await;
        pacer.admit(10).await;
        assert_eq!(began.elapsed(), PACER_WINDOW);
        pacer.set_capacity(20);
        pacer.admit(5).await;
        assert_eq!(began.elapsed(), PACER_WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let pacer = Pacer::unlimited();
        let began = Instant::now();
        for _ in 0..10_000 {
            pacer.admit(u64::MAX).await;
        }
        assert_eq!(began.elapsed(), Duration::ZERO);
    }
}
