//! Tallies: what a set of minute slots adds up to, and the metrics they report.

use genesys_wire::Stats;

/// A timer metric: how many segments were measured and their sum, min and max (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Timer {
    count: u64,
    sum: u64,
    min: u64,
    max: u64,
}

impl Timer {
    pub(super) fn count(&self) -> u64 {
        self.count
    }

    pub(super) fn record(&mut self, ms: u64) {
        self.merge(&Timer {
            count: 1,
            sum: ms,
            min: ms,
            max: ms,
        });
    }

    pub(super) fn merge(&mut self, other: &Timer) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// `None` when nothing was measured: the API leaves such a metric out.
    pub(super) fn stats(&self) -> Option<Stats> {
        (self.count > 0).then(|| Stats {
            max: Some(self.max as f64),
            min: Some(self.min as f64),
            count: Some(self.count as f64),
            sum: Some(self.sum as f64),
            ..Stats::default()
        })
    }
}

/// Which count a conversation error adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrorKind {
    /// `nError`.
    Error,
    /// `nStateTransitionError`.
    StateTransition,
}

/// The service-level target of a tally: merging queues with different targets leaves no
/// single target to report.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) enum Target {
    #[default]
    None,
    One(f64),
    Mixed,
}

impl Target {
    pub(super) fn merge(self, other: Target) -> Target {
        match (self, other) {
            (Target::None, t) | (t, Target::None) => t,
            (Target::One(a), Target::One(b)) if a == b => Target::One(a),
            _ => Target::Mixed,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Tally {
    pub(super) offered: u64,
    pub(super) connected: u64,
    pub(super) over_sla: u64,
    pub(super) transferred: u64,
    pub(super) wait: Timer,
    pub(super) answered: Timer,
    pub(super) abandon: Timer,
    pub(super) talk: Timer,
    pub(super) held: Timer,
    pub(super) acw: Timer,
    pub(super) handle: Timer,
    pub(super) target: Target,
    /// Conversation errors (`nError`) and state transition errors (`nStateTransitionError`).
    pub(super) errors: u64,
    pub(super) state_transition_errors: u64,
}

impl Tally {
    pub(super) fn is_empty(&self) -> bool {
        self.offered == 0
            && self.connected == 0
            && self.errors == 0
            && self.state_transition_errors == 0
    }

    pub(super) fn add_error(&mut self, kind: ErrorKind) {
        match kind {
            ErrorKind::Error => self.errors += 1,
            ErrorKind::StateTransition => self.state_transition_errors += 1,
        }
    }

    pub(super) fn merge(&mut self, other: &Tally) {
        self.offered += other.offered;
        self.connected += other.connected;
        self.over_sla += other.over_sla;
        self.transferred += other.transferred;
        self.wait.merge(&other.wait);
        self.answered.merge(&other.answered);
        self.abandon.merge(&other.abandon);
        self.talk.merge(&other.talk);
        self.held.merge(&other.held);
        self.acw.merge(&other.acw);
        self.handle.merge(&other.handle);
        self.target = self.target.merge(other.target);
        self.errors += other.errors;
        self.state_transition_errors += other.state_transition_errors;
    }

    /// The stats of one catalogue metric, or `None` when there is nothing to report: a
    /// zero count, a timer with no segments, or a metric the model does not produce.
    pub(super) fn metric(&self, name: &str) -> Option<Stats> {
        let count = |n: u64| {
            (n > 0).then(|| Stats {
                count: Some(n as f64),
                ..Stats::default()
            })
        };
        match name {
            "nOffered" => count(self.offered),
            "nConnected" => count(self.connected),
            "nOverSla" => count(self.over_sla),
            "nTransferred" => count(self.transferred),
            "nError" => count(self.errors),
            "nStateTransitionError" => count(self.state_transition_errors),
            "tWait" => self.wait.stats(),
            "tAnswered" => self.answered.stats(),
            "tAbandon" => self.abandon.stats(),
            "tTalk" => self.talk.stats(),
            "tHeld" => self.held.stats(),
            "tAcw" => self.acw.stats(),
            "tHandle" => self.handle.stats(),
            "oServiceLevel" => {
                let denominator = self.answered.count + self.abandon.count;
                if denominator == 0 {
                    return None;
                }
                let numerator = self.answered.count - self.over_sla;
                Some(Stats {
                    ratio: Some(numerator as f64 / denominator as f64),
                    numerator: Some(numerator as f64),
                    denominator: Some(denominator as f64),
                    target: match self.target {
                        Target::One(t) => Some(t),
                        _ => None,
                    },
                    ..Stats::default()
                })
            }
            _ => None,
        }
    }
}
