//! `advance`: the virtual clock moved on every member.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn advance(&mut self, advance: Advance) -> StepEnd {
        if !self.driver.has(Capability::VirtualTime) {
            return StepEnd::Skipped(format!(
                "driver `{}` has no {}",
                self.driver.kind().name(),
                Capability::VirtualTime
            ));
        }
        let now = self.target.now_millis();
        let to = match advance {
            Advance::By(by) => {
                now.saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX))
            }
            Advance::To(mark) => mark.after(now),
        };
        match self.target.set_clock(to).await {
            Ok(()) => {
                crate::runner::throttle::clock_moved(self.target);
                StepEnd::Passed
            }
            Err(reason) => StepEnd::Failed(failure(format!(
                "the topology's clock did not move to {to}: {reason}"
            ))),
        }
    }
}
