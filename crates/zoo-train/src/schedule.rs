//! Learning-rate schedules as Burn [`LrScheduler`]s, stepped once per optimizer step.

use std::f64::consts::PI;

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::LearningRate;

use crate::config::{ScheduleConfig, Unit};

/// A [`ScheduleConfig`] resolved to iterations: the learning rate of every optimizer step.
/// Its only state is the step counter, which checkpoints save and `--resume` restores.
///
/// ```
/// use zoo_train::config::{ScheduleConfig, Unit};
/// use zoo_train::schedule::Schedule;
/// let config = ScheduleConfig::MultiStep {
///     milestones: vec![2.0], gamma: 0.1, unit: Unit::Epochs, warmup: 0.0, warmup_factor: 1.0,
/// };
/// let schedule = Schedule::new(&config, 0.1, 10, 3);
/// assert_eq!(schedule.lr_at(19), 0.1);
/// assert!((schedule.lr_at(20) - 0.01).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    config: ScheduleConfig,
    base_lr: f64,
    iters_per_epoch: usize,
    total_iters: usize,
    step: usize,
}

impl Schedule {
    /// The schedule of a run of `epochs` epochs of `iters_per_epoch` steps at base rate `base_lr`.
    pub fn new(config: &ScheduleConfig, base_lr: f64, iters_per_epoch: usize, epochs: usize) -> Self {
        Self {
            config: config.clone(),
            base_lr,
            iters_per_epoch: iters_per_epoch.max(1),
            total_iters: (iters_per_epoch * epochs).max(1),
            step: 0,
        }
    }

    fn iters(&self, value: f64, unit: Unit) -> f64 {
        match unit {
            Unit::Epochs => value * self.iters_per_epoch as f64,
            Unit::Iterations => value,
        }
    }

    /// The learning rate of optimizer step `t` (0-based).
    pub fn lr_at(&self, t: usize) -> f64 {
        let lr = self.base_lr;
        let t_f = t as f64;
        match &self.config {
            ScheduleConfig::Constant => lr,
            ScheduleConfig::Step { step_size, gamma, unit } => {
                let size = self.iters(*step_size, *unit).max(1.0);
                lr * gamma.powi((t_f / size).floor() as i32)
            }
            ScheduleConfig::MultiStep { milestones, gamma, unit, warmup, warmup_factor } => {
                if t_f < self.iters(*warmup, *unit) {
                    return lr * warmup_factor;
                }
                let passed = milestones.iter().filter(|&&m| t_f >= self.iters(m, *unit)).count();
                lr * gamma.powi(passed as i32)
            }
            ScheduleConfig::Cosine { warmup, unit, warmup_start_factor, min_lr } => {
                let warmup = self.iters(*warmup, *unit);
                if t_f < warmup {
                    let f = warmup_start_factor + (1.0 - warmup_start_factor) * t_f / warmup;
                    return lr * f;
                }
                let span = (self.total_iters as f64 - warmup).max(1.0);
                let progress = ((t_f - warmup) / span).min(1.0);
                min_lr + (lr - min_lr) * 0.5 * (1.0 + (PI * progress).cos())
            }
            ScheduleConfig::OneCycle { pct_start, div_factor, final_div_factor } => {
                let initial = lr / div_factor;
                let last = initial / final_div_factor;
                let peak_at = (pct_start * self.total_iters as f64 - 1.0).max(1.0);
                let end = (self.total_iters as f64 - 1.0).max(peak_at + 1.0);
                let anneal = |from: f64, to: f64, p: f64| to + (from - to) * 0.5 * (1.0 + (PI * p).cos());
                if t_f <= peak_at {
                    anneal(initial, lr, t_f / peak_at)
                } else {
                    anneal(lr, last, ((t_f - peak_at) / (end - peak_at)).min(1.0))
                }
            }
        }
    }
}

impl LrScheduler for Schedule {
    fn step(&mut self) -> LearningRate {
        let lr = self.lr_at(self.step);
        self.step += 1;
        lr
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar("step", self.step as u64)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn he_et_al_resnet_schedule_drops_at_32k_and_48k() {
        let config = ScheduleConfig::MultiStep {
            milestones: vec![32_000.0, 48_000.0],
            gamma: 0.1,
            unit: Unit::Iterations,
            warmup: 0.0,
            warmup_factor: 1.0,
        };
        let s = Schedule::new(&config, 0.1, 391, 164);
        assert!(close(s.lr_at(31_999), 0.1));
        assert!(close(s.lr_at(32_000), 0.01));
        assert!(close(s.lr_at(47_999), 0.01));
        assert!(close(s.lr_at(48_000), 0.001));
    }

    #[test]
    fn resnet110_warmup_then_base_rate() {
        let config = ScheduleConfig::MultiStep {
            milestones: vec![32_000.0],
            gamma: 0.1,
            unit: Unit::Iterations,
            warmup: 400.0,
            warmup_factor: 0.1,
        };
        let s = Schedule::new(&config, 0.1, 391, 164);
        assert!(close(s.lr_at(0), 0.01));
        assert!(close(s.lr_at(399), 0.01));
        assert!(close(s.lr_at(400), 0.1));
    }

    #[test]
    fn step_schedule_in_epochs() {
        let config = ScheduleConfig::Step { step_size: 2.0, gamma: 0.5, unit: Unit::Epochs };
        let s = Schedule::new(&config, 1.0, 10, 6);
        assert!(close(s.lr_at(19), 1.0));
        assert!(close(s.lr_at(20), 0.5));
        assert!(close(s.lr_at(45), 0.25));
    }

    #[test]
    fn cosine_warms_up_linearly_and_ends_at_min_lr() {
        let config =
            ScheduleConfig::Cosine { warmup: 10.0, unit: Unit::Iterations, warmup_start_factor: 0.0, min_lr: 0.001 };
        let s = Schedule::new(&config, 0.1, 100, 1);
        assert!(close(s.lr_at(0), 0.0));
        assert!(close(s.lr_at(5), 0.05));
        assert!(close(s.lr_at(10), 0.1));
        assert!(close(s.lr_at(55), 0.001 + 0.099 * 0.5));
        assert!(close(s.lr_at(100), 0.001));
    }

    #[test]
    fn one_cycle_peaks_at_pct_start_and_ends_at_the_floor() {
        let config = ScheduleConfig::OneCycle { pct_start: 0.3, div_factor: 25.0, final_div_factor: 1e4 };
        let s = Schedule::new(&config, 0.1, 100, 1);
        assert!(close(s.lr_at(0), 0.004));
        assert!(close(s.lr_at(29), 0.1));
        assert!(close(s.lr_at(99), 0.004 / 1e4));
        assert!(s.lr_at(60) < 0.1 && s.lr_at(60) > 0.004 / 1e4);
    }

    #[test]
    fn the_step_counter_survives_a_checkpoint() {
        let config = ScheduleConfig::Step { step_size: 3.0, gamma: 0.1, unit: Unit::Iterations };
        let mut a = Schedule::new(&config, 1.0, 10, 1);
        for _ in 0..4 {
            a.step();
        }
        let mut b = Schedule::new(&config, 1.0, 10, 1);
        b.load_record(a.to_record());
        assert_eq!(a.step(), b.step());
        assert!(close(b.step(), 0.1));
    }
}
