//! `advance`: the virtual clock moved on every member.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn advance(&mut self, advance: Advance) -> StepEnd {
        if self.target.clock().is_none() {
            return self.lacks(Capability::VirtualTime);
        }
        let now = self.target.now_millis();
        let to = match advance {
            Advance::By(by) => {
                now.saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX))
            }
            Advance::To(mark) => mark.after(now),
        };
        let Some(clock) = self.target.clock() else {
            return self.lacks(Capability::VirtualTime);
        };
        match clock.move_to(to).await {
            Ok(()) => {
                // The Traffic Managers roll their windows now, so the decisions releasing ended
                // windows are on their way.
                clock.roll_traffic_managers();
                StepEnd::Passed
            }
            Err(reason) => StepEnd::Failed(failure(format!(
                "the topology's clock did not move to {to}: {reason}"
            ))),
        }
    }
}
