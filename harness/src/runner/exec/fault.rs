//! `fault`: a kill, restart, pause, partition or backend fault injected through the driver.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn fault(&mut self, fault: &Fault) -> Result<StepEnd, Box<Failure>> {
        let needs = if fault.needs_crash_restart() {
            Some(Capability::CrashRestart)
        } else if fault.needs_partition() {
            Some(Capability::Partition)
        } else {
            None
        };
        if let Some(capability) = needs.filter(|c| !self.driver.has(*c)) {
            return Ok(StepEnd::Skipped(format!(
                "driver `{}` has no {capability}",
                self.driver.kind().name()
            )));
        }
        if let Some(reason) = self.target.cannot(fault) {
            return Ok(StepEnd::Skipped(format!(
                "driver `{}`: {reason}",
                self.driver.kind().name()
            )));
        }
        self.target
            .inject(fault)
            .await
            .map_err(|e| failure(format!("the fault could not be injected: {e}")))?;
        Ok(StepEnd::Passed)
    }
}
