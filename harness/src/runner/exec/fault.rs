//! `fault`: a kill, restart, pause, partition or backend fault injected through the driver.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn fault(&mut self, fault: &Fault) -> Result<StepEnd, Box<Failure>> {
        let Some(faults) = self.target.faults() else {
            return Ok(self.lacks(Capability::Faults));
        };
        if let Some(reason) = faults.cannot(fault) {
            return Ok(StepEnd::Skipped(format!(
                "driver `{}`: {reason}",
                self.driver.kind().name()
            )));
        }
        faults
            .inject(fault)
            .await
            .map_err(|e| failure(format!("the fault could not be injected: {e}")))?;
        if let Some(transcript) = &self.transcript {
            // The model's own spelling (`Kill("gateway-1")`): stable, and names the members.
            transcript.record(
                "fault",
                serde_json::json!({ "fault": format!("{fault:?}") }),
            );
        }
        Ok(StepEnd::Passed)
    }
}
