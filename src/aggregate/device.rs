//! Where an aggregation runs: [`Device`], in every build. The GPU itself
//! ([`super::gpu`]) is there only with the `gpu` feature; without it
//! [`Device::Gpu`] is an error ([`super::AggError::NoGpuSupport`]) and
//! [`Device::Auto`] stays on the CPU.

use std::fmt;

/// Where an aggregation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The multi-core CPU kernels.
    #[default]
    Cpu,
    /// The GPU; an error when there is no adapter, or when pointillist was
    /// built without the `gpu` feature.
    Gpu,
    /// The GPU when a hardware adapter exists and the job is large enough
    /// to pay for the transfers ([`AUTO_MIN_ROWS`]); else the CPU (always
    /// the CPU without the `gpu` feature).
    Auto,
}

/// Rows below which `auto` keeps a job on the CPU: under this the CPU path
/// finishes in tens of milliseconds, about what starting a device costs.
pub const AUTO_MIN_ROWS: u64 = 20_000_000;

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "gpu" => Ok(Device::Gpu),
            "auto" => Ok(Device::Auto),
            other => Err(format!("unknown device '{other}'; use cpu, gpu or auto")),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
            Device::Auto => "auto",
        })
    }
}

#[cfg(all(test, not(feature = "gpu")))]
mod tests {
    use crate::aggregate::{AggError, AggregateRequest, AggregationPlan, Device};
    use crate::source::Source;

    #[test]
    fn without_the_gpu_feature_gpu_is_a_typed_error_and_auto_the_cpu() {
        let source = Source::sample().expect("sample");
        let mut req = AggregateRequest::new(40, 30);
        req.device = Device::Gpu;
        let e = crate::aggregate::aggregate(&source, &req).expect_err("no GPU in this build");
        assert!(matches!(e, AggError::NoGpuSupport), "{e:?}");
        assert!(e.to_string().contains("`gpu` Cargo feature"), "{e}");

        req.device = Device::Auto;
        let plan = AggregationPlan::new(&source, &req).expect("plan");
        let choice = plan.choose_engine(&plan.units(&source)).expect("auto");
        assert!(
            choice.reason.starts_with("cpu (auto: "),
            "{}",
            choice.reason
        );
        assert!(
            choice.reason.contains("no GPU support"),
            "{}",
            choice.reason
        );
        let auto = plan
            .run_units_on(choice.engine, &source, &plan.units(&source), &|_| {})
            .expect("auto runs on the CPU");
        req.device = Device::Cpu;
        let cpu = crate::aggregate::aggregate(&source, &req).expect("cpu");
        assert_eq!(auto.values, cpu.values);
    }
}
